"""Text-to-image: a Stable-Diffusion-structured pipeline with random weights.

Per image: CLIP text encoder (prompt + empty prompt for classifier-free guidance), ``steps`` denoising
steps of the UNet on a batch of 2 latents (unconditional + conditional, guidance 7.5), a DDIM update per
step, and the VAE decoder to pixels: the stages and arithmetic of diffusers' ``StableDiffusionPipeline``
(PHP ran its defaults: 50 steps at native resolution). SD 1.5: 64x64x4 latents -> 512x512 px, CLIP
ViT-L/14 text tower (77x768 context). ``tiny-sd-unet``: the diffusers test model's structure, 32x32x4
latents -> 64x64 px. The UNet and VAE are diffusers' UNet2DConditionModel / AutoencoderKL when diffusers
is installed, else plain-torch re-implementations of the same configuration (``unet_torch.py``;
``w.info["unet_impl"]`` says which). The scheduler is DDIM in plain torch (SD 1.5's pipeline default is
PNDM: the same one UNet evaluation per step). Weights are seeded random: valid for energy, not images.
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
    def __init__(
        self,
        task: Task,
        arch: Any,
        precision: str,
        threads: int | None,
        batch: int,
        steps: int | None = None,
        impl: str = "auto",
        device: str = "cpu",
    ):
        import transformers

        from .extra_architectures import CLIP_TEXT, VAE
        from .unet_torch import DDIM

        key = "sd-1.5-unet" if arch.name == "sd-1.5-unet" else "tiny-sd-unet"
        impl = _pick_impl(impl)
        dtype = torch_dtype(precision)
        with seeded(seed_of(arch.name)):
            self.text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(**CLIP_TEXT[key])).eval()
            self.unet, self.vae_decoder = _build_unet_vae(impl, arch.config_kwargs, VAE[key])
        for m in (self.text_encoder, self.unet, self.vae_decoder):  # built on the CPU (seeded), then moved
            m.to(device=device, dtype=dtype)
        self.model = self.unet
        self.dtype = dtype
        self.device = device
        self.steps = int(steps or task.generation["steps"])
        if self.steps < 1:
            raise WorkloadError(f"steps must be >= 1, got {self.steps}")
        self.guidance = float(task.generation["guidance"])
        self.scheduler = DDIM(self.steps)
        self.latent_size = int(arch.config_kwargs["sample_size"])
        self.tokenizer = minilm.load_tokenizer()
        self.vocab = int(CLIP_TEXT[key]["vocab_size"])
        parts = {
            "text_encoder": count_params(self.text_encoder),
            "unet": count_params(self.unet),
            "vae_decoder": count_params(self.vae_decoder),
        }
        up = 2 ** (len(VAE[key]["block_out_channels"]) - 1)
        super().__init__(
            task,
            arch.name,
            "random",
            "pytorch",
            precision,
            threads,
            sum(parts.values()),
            batch,
            {
                "description": arch.description,
                "size": "tiny" if key == "tiny-sd-unet" else "paper",
                "preset": arch.name,
                "hub_id": arch.hub_id,
                "steps": self.steps,
                "guidance": self.guidance,
                "scheduler": "DDIM (eta 0, scaled-linear betas, plain torch)",
                "unet_impl": impl,
                "image_size": self.latent_size * up,
                "latent": [4, self.latent_size, self.latent_size],
                "params_by_part": parts,
                "tokenizer": "stand-in: bert-base-uncased WordPiece (ids folded to the CLIP vocabulary), 77 tokens",
                "source": "architecture preset, seeded random init",
                "load_note": "loading = building the model + seeded random init, not reading a checkpoint",
            },
            device=device,
        )

    def _encode_text(self, texts: list[str]) -> Any:
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=TEXT_TOKENS, return_tensors="pt")
        ids = enc["input_ids"].remainder(self.vocab).to(self.device)
        return self.text_encoder(input_ids=ids).last_hidden_state

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        prompts = [str(self.task_def.model_input(x)) for x in batch]
        n = len(prompts)
        gen = torch.Generator().manual_seed(0)  # same starting noise every query: identical work per image
        with torch.inference_mode():
            context = torch.cat([self._encode_text([""] * n), self._encode_text(prompts)])
            # the noise is drawn on the CPU (the same on every device), then moved with the latents
            latents = torch.randn((n, 4, self.latent_size, self.latent_size), generator=gen).to(
                device=self.device, dtype=self.dtype
            )
            for t in self.scheduler.timesteps:
                noise = _sample(
                    self.unet(torch.cat([latents, latents]), t.to(self.device), encoder_hidden_states=context)
                )
                uncond, cond = noise.chunk(2)
                noise = uncond + self.guidance * (cond - uncond)
                latents = self.scheduler.step(noise.float(), int(t), latents.float()).to(self.dtype)
            images = _sample(self.vae_decoder(latents / VAE_SCALING))
        images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return list(images.cpu().numpy())

    def _input_tokens(self, item: Any) -> int:
        return len(
            self.tokenizer(str(self.task_def.model_input(item)), truncation=True, max_length=TEXT_TOKENS)["input_ids"]
        )


def _sample(out: Any) -> Any:
    return getattr(out, "sample", out)  # diffusers returns an output object, the plain-torch modules a tensor


def _pick_impl(impl: str) -> str:
    if impl not in ("auto", "diffusers", "torch"):
        raise WorkloadError(f"unet_impl must be auto, diffusers or torch; got {impl!r}")
    if impl == "torch":
        return "torch"
    try:
        import diffusers  # noqa: F401
    except ImportError as exc:
        if impl == "diffusers":
            raise WorkloadError(
                "unet_impl='diffusers' needs the diffusers package (pip install -c constraints.txt diffusers)"
            ) from exc
        return "torch"
    return "diffusers"


def unet_class(impl: str = "auto") -> Any:
    """The UNet class ``impl`` picks: diffusers' ``UNet2DConditionModel`` (``auto``: when diffusers is installed),
    else the plain-torch re-implementation (``unet_torch.UNet2DCondition``). The one place that chooses; ``wattlens
    analyze`` builds its UNet presets with it too."""
    if _pick_impl(impl) == "torch":
        from .unet_torch import UNet2DCondition

        return UNet2DCondition
    import diffusers

    return diffusers.UNet2DConditionModel


def _build_unet_vae(impl: str, unet_cfg: dict[str, Any], vae_cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(UNet, latent->pixel decoder): diffusers' classes when available, else the plain-torch stand-ins."""
    # Any: diffusers' lazy top-level exports hide that these are torch modules from the type checker
    unet: Any = unet_class(impl)(**unet_cfg)
    if impl == "torch":
        from .unet_torch import VAEDecoder

        return unet.eval(), VAEDecoder(vae_cfg).eval()
    import diffusers

    from .unet_torch import DecoderOf

    vae: Any = diffusers.AutoencoderKL(**vae_cfg)
    return unet.eval(), DecoderOf(vae.eval()).eval()
