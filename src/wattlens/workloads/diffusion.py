"""Text-to-image: a Stable-Diffusion-structured pipeline with random weights (diffusers building blocks).

Per image: CLIP text encoder (prompt + empty prompt for classifier-free guidance), ``steps`` denoising
steps of the UNet on a batch of 2 latents (unconditional + conditional, guidance 7.5), a DDIM scheduler
update per step, and the VAE decoder to pixels — the same stages and arithmetic as diffusers'
``StableDiffusionPipeline`` (PHP ran its defaults: 50 steps at native resolution). SD 1.5: 64x64x4
latents -> 512x512 px, CLIP ViT-L/14 text tower (77x768 context). ``tiny-sd-unet``: the diffusers test
model's structure, 32x32x4 latents -> 64x64 px. The scheduler is DDIM (SD 1.5's pipeline default is PNDM:
same one UNet evaluation per step). Weights are seeded random: valid for energy, not for images.
"""

from __future__ import annotations

from typing import Any

from . import minilm
from ._runtime import count_params, seed_of, seeded, torch_dtype
from .base import Workload
from .errors import WorkloadError
from .tasks import Task

VAE_SCALING = 0.18215  # SD 1.x latent scaling factor
TEXT_TOKENS = 77  # CLIP context length


class TextToImage(Workload):
    def __init__(self, task: Task, arch: Any, precision: str, threads: int | None, batch: int,
                 steps: int | None = None):
        try:
            import diffusers
        except ImportError as exc:
            raise WorkloadError("text-to-image needs the diffusers package "
                                "(pip install -c constraints.txt diffusers)") from exc
        import transformers

        from .extra_architectures import CLIP_TEXT, VAE

        diffusers.utils.logging.set_verbosity_error()

        key = "sd-1.5-unet" if arch.name == "sd-1.5-unet" else "tiny-sd-unet"
        dtype = torch_dtype(precision)
        with seeded(seed_of(arch.name)):
            self.text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(**CLIP_TEXT[key])).eval()
            self.unet = diffusers.UNet2DConditionModel(**arch.config_kwargs).eval()
            self.vae = diffusers.AutoencoderKL(**VAE[key]).eval()
        if precision != "fp32":
            for m in (self.text_encoder, self.unet, self.vae):
                m.to(dtype)
        self.model = self.unet
        self.dtype = dtype
        self.steps = int(steps or task.generation["steps"])
        if self.steps < 1:
            raise WorkloadError(f"steps must be >= 1, got {self.steps}")
        self.guidance = float(task.generation["guidance"])
        self.scheduler = diffusers.DDIMScheduler(
            num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
            clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        self.latent_size = int(arch.config_kwargs["sample_size"])
        self.tokenizer = minilm.load_tokenizer()
        self.vocab = int(CLIP_TEXT[key]["vocab_size"])
        vae_decoder = count_params(self.vae.decoder) + count_params(self.vae.post_quant_conv)
        params = count_params(self.text_encoder) + count_params(self.unet) + vae_decoder
        up = 2 ** (len(VAE[key]["block_out_channels"]) - 1)
        super().__init__(task, arch.name, "random", "pytorch", precision, threads, params, batch, {
            "description": arch.description, "size": "tiny" if key == "tiny-sd-unet" else "paper",
            "preset": arch.name, "hub_id": arch.hub_id, "steps": self.steps, "guidance": self.guidance,
            "scheduler": "DDIM", "image_size": self.latent_size * up, "latent": [4, self.latent_size,
                                                                                  self.latent_size],
            "params_by_part": {"text_encoder": count_params(self.text_encoder), "unet": count_params(self.unet),
                               "vae_decoder": vae_decoder},
            "tokenizer": "stand-in: bert-base-uncased WordPiece (ids folded to the CLIP vocabulary), 77 tokens",
            "source": "architecture preset, seeded random init (diffusers UNet2DConditionModel + AutoencoderKL)"})

    def _encode_text(self, texts: list[str]) -> Any:
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=TEXT_TOKENS,
                             return_tensors="pt")
        ids = enc["input_ids"].remainder(self.vocab)
        return self.text_encoder(input_ids=ids).last_hidden_state

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        prompts = [str(self.task_def.model_input(x)) for x in batch]
        n = len(prompts)
        gen = torch.Generator().manual_seed(0)  # same starting noise every query: identical work per image
        with torch.inference_mode():
            context = torch.cat([self._encode_text([""] * n), self._encode_text(prompts)])
            latents = torch.randn((n, 4, self.latent_size, self.latent_size), generator=gen).to(self.dtype)
            self.scheduler.set_timesteps(self.steps)
            for t in self.scheduler.timesteps:
                noise = self.unet(torch.cat([latents, latents]), t, encoder_hidden_states=context).sample
                uncond, cond = noise.chunk(2)
                noise = uncond + self.guidance * (cond - uncond)
                latents = self.scheduler.step(noise.float(), t, latents.float()).prev_sample.to(self.dtype)
            images = self.vae.decode(latents / VAE_SCALING).sample
        images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return list(images.numpy())

    def _input_tokens(self, item: Any) -> int:
        return len(self.tokenizer(str(self.task_def.model_input(item)), truncation=True,
                                  max_length=TEXT_TOKENS)["input_ids"])
