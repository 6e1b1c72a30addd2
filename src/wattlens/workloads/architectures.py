"""Preset architectures: name -> how to build the model's configuration offline (no hub download).

Pure data plus two lazy helpers. Nothing here imports torch or transformers at import time.

Each :class:`Architecture` is faithful to the published configuration of the real checkpoint (the
``config.json`` on the model hub, values transcribed by hand). Weights built from these configs are
random: valid for energy, latency, FLOPs and bytes (same arithmetic and data movement), not for quality.

Used by ``wattlens analyze`` (traced on the meta device) and by the workloads layer (random-weight
models for ``wattlens bench``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Architecture:
    name: str
    family: str  # gpt2, bert, t5, bart, llama, mistral, vit, resnet, whisper, detr, yolos, blip, git, unet
    config_class: str  # transformers config class name, or "diffusers:UNet2DConditionModel"
    config_kwargs: dict[str, Any]
    model_class: str  # transformers model class (auto-mapped head) used by builders
    description: str
    params_approx: float  # parameter count of the real checkpoint (approximate, for display/checks)
    task: str  # pipeline task the checkpoint is used for
    modality: str = "text"  # text | image | audio | image-text | latent
    decoder_only: bool = False  # autoregressive LLM with a KV cache (prefill/decode phases apply)
    aliases: tuple[str, ...] = ()
    hub_id: str = ""  # where the real weights live (not downloaded by wattlens)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. image_size, generation defaults


def _gpt2(name: str, n_embd: int, n_layer: int, n_head: int, params: float, hub: str) -> Architecture:
    return Architecture(
        name=name,
        family="gpt2",
        config_class="GPT2Config",
        config_kwargs=dict(
            vocab_size=50257,
            n_positions=1024,
            n_embd=n_embd,
            n_layer=n_layer,
            n_head=n_head,
            activation_function="gelu_new",
            layer_norm_epsilon=1e-5,
            bos_token_id=50256,
            eos_token_id=50256,
            tie_word_embeddings=True,
        ),
        model_class="GPT2LMHeadModel",
        description=f"GPT-2 decoder-only LM, {n_layer} layers, d={n_embd}, {n_head} heads, MHA, tied embeddings",
        params_approx=params,
        task="text-generation",
        decoder_only=True,
        hub_id=hub,
    )


def _llama(
    name: str,
    hidden: int,
    inter: int,
    layers: int,
    heads: int,
    kv: int,
    vocab: int,
    max_pos: int,
    rope_theta: float,
    params: float,
    hub: str,
    aliases: tuple[str, ...] = (),
) -> Architecture:
    return Architecture(
        name=name,
        family="llama",
        config_class="LlamaConfig",
        config_kwargs=dict(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            max_position_embeddings=max_pos,
            rms_norm_eps=1e-5,
            rope_theta=rope_theta,
            hidden_act="silu",
            tie_word_embeddings=False,
            attention_bias=False,
            mlp_bias=False,
        ),
        model_class="LlamaForCausalLM",
        description=(
            f"Llama decoder-only LM, {layers} layers, d={hidden}, {heads} heads / {kv} KV heads"
            f"{' (GQA)' if kv < heads else ' (MHA)'}, SwiGLU ffn {inter}, vocab {vocab}"
        ),
        params_approx=params,
        task="text-generation",
        decoder_only=True,
        aliases=aliases,
        hub_id=hub,
    )


_UNET_SD15 = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=[320, 640, 1280, 1280],
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    cross_attention_dim=768,
    attention_head_dim=8,
    norm_num_groups=32,
    act_fn="silu",
    norm_eps=1e-5,
    flip_sin_to_cos=True,
    freq_shift=0,
    center_input_sample=False,
    downsample_padding=1,
    mid_block_scale_factor=1,
)

# The diffusers test UNet of hf-internal-testing/tiny-stable-diffusion-pipe: same block structure as
# SD 1.x (cross-attention down/up blocks, a mid block), 32/64 channels. Useful for fast real runs.
_UNET_TINY = dict(
    sample_size=32,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=[32, 64],
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=32,
    act_fn="silu",
    norm_eps=1e-5,
    flip_sin_to_cos=True,
    freq_shift=0,
    center_input_sample=False,
    downsample_padding=1,
    mid_block_scale_factor=1,
)

_BART_COMMON = dict(
    vocab_size=50264,
    max_position_embeddings=1024,
    d_model=1024,
    encoder_attention_heads=16,
    decoder_attention_heads=16,
    encoder_ffn_dim=4096,
    decoder_ffn_dim=4096,
    activation_function="gelu",
    scale_embedding=False,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    decoder_start_token_id=2,
    forced_bos_token_id=0,
    forced_eos_token_id=2,
)
# Generation defaults of the CNN summarisation checkpoints (kept apart: transformers 5 wants them in
# a GenerationConfig, not in the model config).
_BART_CNN_GEN = dict(
    num_beams=4, max_length=142, min_length=56, length_penalty=2.0, no_repeat_ngram_size=3, early_stopping=True
)

_ARCHS: list[Architecture] = [
    _gpt2("gpt2", 768, 12, 12, 124.4e6, "openai-community/gpt2"),
    _gpt2("distilgpt2", 768, 6, 12, 81.9e6, "distilbert/distilgpt2"),
    _gpt2("gpt2-medium", 1024, 24, 16, 354.8e6, "openai-community/gpt2-medium"),
    _gpt2("gpt2-large", 1280, 36, 20, 774.0e6, "openai-community/gpt2-large"),
    _gpt2("gpt2-xl", 1600, 48, 25, 1557.6e6, "openai-community/gpt2-xl"),
    Architecture(
        name="bert-base-uncased",
        family="bert",
        config_class="BertConfig",
        config_kwargs=dict(
            vocab_size=30522,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            hidden_act="gelu",
            max_position_embeddings=512,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            pad_token_id=0,
        ),
        model_class="BertForMaskedLM",
        description="BERT base encoder, 12 layers, d=768, 12 heads, ffn 3072",
        params_approx=109.5e6,
        task="fill-mask",
        hub_id="google-bert/bert-base-uncased",
        aliases=("bert-base",),
    ),
    Architecture(
        name="distilbert-base-uncased",
        family="bert",
        config_class="DistilBertConfig",
        config_kwargs=dict(
            vocab_size=30522,
            dim=768,
            n_layers=6,
            n_heads=12,
            hidden_dim=3072,
            activation="gelu",
            max_position_embeddings=512,
            sinusoidal_pos_embds=False,
            pad_token_id=0,
        ),
        model_class="DistilBertForMaskedLM",
        description="DistilBERT encoder, 6 layers, d=768, 12 heads, ffn 3072",
        params_approx=67.0e6,
        task="fill-mask",
        hub_id="distilbert/distilbert-base-uncased",
        aliases=("distilbert",),
    ),
    Architecture(
        name="roberta-base",
        family="bert",
        config_class="RobertaConfig",
        config_kwargs=dict(
            vocab_size=50265,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            hidden_act="gelu",
            max_position_embeddings=514,
            type_vocab_size=1,
            layer_norm_eps=1e-5,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
        ),
        model_class="RobertaForMaskedLM",
        description="RoBERTa base encoder, 12 layers, d=768, 12 heads, ffn 3072",
        params_approx=124.6e6,
        task="fill-mask",
        hub_id="FacebookAI/roberta-base",
    ),
    Architecture(
        name="all-MiniLM-L6-v2",
        family="bert",
        config_class="BertConfig",
        config_kwargs=dict(
            vocab_size=30522,
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            hidden_act="gelu",
            max_position_embeddings=512,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            pad_token_id=0,
        ),
        model_class="BertModel",
        description="sentence-transformers MiniLM: BERT encoder, 6 layers, d=384, 12 heads, ffn 1536, mean pooling",
        params_approx=22.7e6,
        task="feature-extraction",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        aliases=("minilm", "all-minilm-l6-v2"),
    ),
    Architecture(
        name="bart-large-cnn",
        family="bart",
        config_class="BartConfig",
        config_kwargs=dict(_BART_COMMON, encoder_layers=12, decoder_layers=12),
        model_class="BartForConditionalGeneration",
        description="BART large encoder-decoder (12+12 layers, d=1024, 16 heads) fine-tuned for CNN/DM summaries",
        params_approx=406.3e6,
        task="summarization",
        hub_id="facebook/bart-large-cnn",
        extra={"generation": _BART_CNN_GEN},
    ),
    Architecture(
        name="distilbart-cnn-12-6",
        family="bart",
        config_class="BartConfig",
        config_kwargs=dict(_BART_COMMON, encoder_layers=12, decoder_layers=6),
        model_class="BartForConditionalGeneration",
        description="DistilBART: BART large encoder (12 layers) with a 6-layer decoder, CNN/DM summaries",
        params_approx=305.5e6,
        task="summarization",
        hub_id="sshleifer/distilbart-cnn-12-6",
        extra={"generation": _BART_CNN_GEN},
    ),
    Architecture(
        name="t5-small",
        family="t5",
        config_class="T5Config",
        config_kwargs=dict(
            vocab_size=32128,
            d_model=512,
            d_kv=64,
            d_ff=2048,
            num_layers=6,
            num_decoder_layers=6,
            num_heads=8,
            relative_attention_num_buckets=32,
            feed_forward_proj="relu",
            layer_norm_epsilon=1e-6,
            tie_word_embeddings=True,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        ),
        model_class="T5ForConditionalGeneration",
        description="T5 small encoder-decoder, 6+6 layers, d=512, 8 heads",
        params_approx=60.5e6,
        task="text2text-generation",
        hub_id="google-t5/t5-small",
    ),
    Architecture(
        name="t5-base",
        family="t5",
        config_class="T5Config",
        config_kwargs=dict(
            vocab_size=32128,
            d_model=768,
            d_kv=64,
            d_ff=3072,
            num_layers=12,
            num_decoder_layers=12,
            num_heads=12,
            relative_attention_num_buckets=32,
            feed_forward_proj="relu",
            layer_norm_epsilon=1e-6,
            tie_word_embeddings=True,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        ),
        model_class="T5ForConditionalGeneration",
        description="T5 base encoder-decoder, 12+12 layers, d=768, 12 heads",
        params_approx=222.9e6,
        task="text2text-generation",
        hub_id="google-t5/t5-base",
    ),
    Architecture(
        name="flan-t5-base",
        family="t5",
        config_class="T5Config",
        config_kwargs=dict(
            vocab_size=32128,
            d_model=768,
            d_kv=64,
            d_ff=2048,
            num_layers=12,
            num_decoder_layers=12,
            num_heads=12,
            relative_attention_num_buckets=32,
            feed_forward_proj="gated-gelu",
            layer_norm_epsilon=1e-6,
            tie_word_embeddings=False,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        ),
        model_class="T5ForConditionalGeneration",
        description="FLAN-T5 base (T5 v1.1: gated-GELU ffn 2048, untied head), 12+12 layers, d=768",
        params_approx=247.6e6,
        task="text2text-generation",
        hub_id="google/flan-t5-base",
        extra={
            "note": "transformers 5 always ties T5 embeddings: a built model reports 222.9M unique parameters; "
            "the untied lm_head of the checkpoint has the same shape, so FLOPs and bytes are unchanged"
        },
    ),
    _llama(
        "llama-2-7b",
        4096,
        11008,
        32,
        32,
        32,
        32000,
        4096,
        10000.0,
        6.74e9,
        "meta-llama/Llama-2-7b-hf",
        ("llama-7b", "llama2-7b"),
    ),
    _llama(
        "llama-2-13b",
        5120,
        13824,
        40,
        40,
        40,
        32000,
        4096,
        10000.0,
        13.0e9,
        "meta-llama/Llama-2-13b-hf",
        ("llama-13b", "llama2-13b"),
    ),
    _llama(
        "llama-2-70b",
        8192,
        28672,
        80,
        64,
        8,
        32000,
        4096,
        10000.0,
        68.98e9,
        "meta-llama/Llama-2-70b-hf",
        ("llama-70b", "llama2-70b"),
    ),
    _llama(
        "llama-3-8b",
        4096,
        14336,
        32,
        32,
        8,
        128256,
        8192,
        500000.0,
        8.03e9,
        "meta-llama/Meta-Llama-3-8B",
        ("llama3-8b", "llama-8b"),
    ),
    _llama(
        "llama-3-70b",
        8192,
        28672,
        80,
        64,
        8,
        128256,
        8192,
        500000.0,
        70.55e9,
        "meta-llama/Meta-Llama-3-70B",
        ("llama3-70b",),
    ),
    Architecture(
        name="mistral-7b",
        family="mistral",
        config_class="MistralConfig",
        config_kwargs=dict(
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=32768,
            rms_norm_eps=1e-5,
            rope_theta=10000.0,
            sliding_window=4096,
            hidden_act="silu",
            tie_word_embeddings=False,
        ),
        model_class="MistralForCausalLM",
        description="Mistral 7B v0.1: 32 layers, d=4096, 32 heads / 8 KV heads (GQA), sliding window 4096",
        params_approx=7.24e9,
        task="text-generation",
        decoder_only=True,
        hub_id="mistralai/Mistral-7B-v0.1",
        aliases=("mistral",),
    ),
    Architecture(
        name="vit-base-patch16-224",
        family="vit",
        config_class="ViTConfig",
        config_kwargs=dict(
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            hidden_act="gelu",
            layer_norm_eps=1e-12,
            image_size=224,
            patch_size=16,
            num_channels=3,
            qkv_bias=True,
            num_labels=1000,
        ),
        model_class="ViTForImageClassification",
        description="ViT-B/16 image classifier, 224 px, 196 patches + CLS, 12 layers, d=768",
        params_approx=86.6e6,
        task="image-classification",
        modality="image",
        hub_id="google/vit-base-patch16-224",
        aliases=("vit-base", "vit"),
        extra={"image_size": 224},
    ),
    Architecture(
        name="resnet-50",
        family="resnet",
        config_class="ResNetConfig",
        config_kwargs=dict(
            num_channels=3,
            embedding_size=64,
            hidden_sizes=[256, 512, 1024, 2048],
            depths=[3, 4, 6, 3],
            layer_type="bottleneck",
            hidden_act="relu",
            downsample_in_first_stage=False,
            num_labels=1000,
        ),
        model_class="ResNetForImageClassification",
        description="ResNet-50 v1.5 image classifier, 224 px",
        params_approx=25.6e6,
        task="image-classification",
        modality="image",
        hub_id="microsoft/resnet-50",
        aliases=("resnet50",),
        extra={"image_size": 224},
    ),
    Architecture(
        name="whisper-small",
        family="whisper",
        config_class="WhisperConfig",
        config_kwargs=dict(
            vocab_size=51865,
            num_mel_bins=80,
            encoder_layers=12,
            decoder_layers=12,
            encoder_attention_heads=12,
            decoder_attention_heads=12,
            encoder_ffn_dim=3072,
            decoder_ffn_dim=3072,
            d_model=768,
            max_source_positions=1500,
            max_target_positions=448,
            activation_function="gelu",
            pad_token_id=50257,
            bos_token_id=50257,
            eos_token_id=50257,
            decoder_start_token_id=50258,
        ),
        model_class="WhisperForConditionalGeneration",
        description="Whisper small speech recogniser: 12+12 layers, d=768, 30 s log-mel input (3000 frames)",
        params_approx=241.7e6,
        task="automatic-speech-recognition",
        modality="audio",
        hub_id="openai/whisper-small",
        extra={"mel_frames": 3000},
    ),
    Architecture(
        name="detr-resnet-50",
        family="detr",
        config_class="DetrConfig",
        # transformers 5 builds the ResNet-50 backbone from its own ResNetConfig (no timm needed).
        config_kwargs=dict(
            num_queries=100,
            d_model=256,
            encoder_layers=6,
            decoder_layers=6,
            encoder_attention_heads=8,
            decoder_attention_heads=8,
            encoder_ffn_dim=2048,
            decoder_ffn_dim=2048,
            activation_function="relu",
            num_labels=91,
            backbone_config=dict(
                model_type="resnet",
                embedding_size=64,
                hidden_sizes=[256, 512, 1024, 2048],
                depths=[3, 4, 6, 3],
                layer_type="bottleneck",
                hidden_act="relu",
                downsample_in_first_stage=False,
                out_features=["stage1", "stage2", "stage3", "stage4"],
            ),
        ),
        model_class="DetrForObjectDetection",
        description="DETR object detector: ResNet-50 backbone + 6+6-layer transformer, 100 queries, 800 px input",
        params_approx=41.5e6,
        task="object-detection",
        modality="image",
        hub_id="facebook/detr-resnet-50",
        extra={"image_size": 800},
    ),
    Architecture(
        name="yolos-tiny",
        family="yolos",
        config_class="YolosConfig",
        config_kwargs=dict(
            hidden_size=192,
            num_hidden_layers=12,
            num_attention_heads=3,
            intermediate_size=768,
            hidden_act="gelu",
            image_size=[800, 1333],
            patch_size=16,
            num_channels=3,
            qkv_bias=True,
            num_detection_tokens=100,
            use_mid_position_embeddings=False,
            num_labels=91,
        ),
        model_class="YolosForObjectDetection",
        description="YOLOS-Ti detector: DeiT-tiny ViT (12 layers, d=192, 3 heads) + 100 detection tokens",
        params_approx=6.5e6,
        task="object-detection",
        modality="image",
        hub_id="hustvl/yolos-tiny",
        extra={"image_size": 512},
    ),
    Architecture(
        name="blip-image-captioning-base",
        family="blip",
        config_class="BlipConfig",
        config_kwargs=dict(
            vision_config=dict(
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                image_size=384,
                patch_size=16,
                hidden_act="gelu",
                layer_norm_eps=1e-5,
            ),
            text_config=dict(
                vocab_size=30524,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=8,
                intermediate_size=3072,
                encoder_hidden_size=768,
                max_position_embeddings=512,
                bos_token_id=30522,
                sep_token_id=102,
                pad_token_id=0,
            ),
            projection_dim=512,
        ),
        model_class="BlipForConditionalGeneration",
        description="BLIP captioner: ViT-B/16 at 384 px (577 tokens) + 12-layer BERT decoder with cross-attention",
        params_approx=224.0e6,
        task="image-to-text",
        modality="image-text",
        hub_id="Salesforce/blip-image-captioning-base",
        extra={"image_size": 384, "note": "the checkpoint file stores the tied text head twice (247M tensors)"},
    ),
    Architecture(
        name="git-base",
        family="git",
        config_class="GitConfig",
        config_kwargs=dict(
            vision_config=dict(
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                image_size=224,
                patch_size=16,
                hidden_act="quick_gelu",
                layer_norm_eps=1e-5,
            ),
            vocab_size=30522,
            hidden_size=768,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=1024,
            num_image_with_embedding=None,
            bos_token_id=101,
            eos_token_id=102,
            pad_token_id=0,
        ),
        model_class="GitForCausalLM",
        description="GIT base captioner: CLIP ViT-B/16 image encoder (224 px) + 6-layer text decoder",
        params_approx=176.6e6,
        task="image-to-text",
        modality="image-text",
        hub_id="microsoft/git-base",
        extra={"image_size": 224},
    ),
    Architecture(
        name="sd-1.5-unet",
        family="unet",
        config_class="diffusers:UNet2DConditionModel",
        config_kwargs=_UNET_SD15,
        model_class="UNet2DConditionModel",
        description="Stable Diffusion 1.5 denoising UNet: 64x64x4 latents (512 px), CLIP text context 77x768",
        params_approx=859.5e6,
        task="text-to-image",
        modality="latent",
        hub_id="stable-diffusion-v1-5/stable-diffusion-v1-5 (unet/)",
        aliases=("sd15-unet", "stable-diffusion-unet"),
        extra={"latent_size": 64, "text_tokens": 77},
    ),
    Architecture(
        name="tiny-sd-unet",
        family="unet",
        config_class="diffusers:UNet2DConditionModel",
        config_kwargs=_UNET_TINY,
        model_class="UNet2DConditionModel",
        description="tiny SD-structured UNet (diffusers test model): 32/64 channels, 32x32x4 latents, context 77x32",
        params_approx=1.43e6,
        task="text-to-image",
        modality="latent",
        hub_id="hf-internal-testing/tiny-stable-diffusion-pipe (unet/)",
        extra={"latent_size": 32, "text_tokens": 77},
    ),
]

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in _ARCHS}
ALIASES: dict[str, str] = {alias.lower(): a.name for a in _ARCHS for alias in a.aliases}


def names() -> list[str]:
    return sorted(ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    """Look a preset up by name, alias or hub id (case-insensitive; ``meta-llama/Llama-2-7b-hf`` works)."""
    key = name.strip()
    if key in ARCHITECTURES:
        return ARCHITECTURES[key]
    low = key.lower()
    for cand in (low, low.rsplit("/", 1)[-1]):
        for real in ARCHITECTURES:
            if real.lower() == cand:
                return ARCHITECTURES[real]
        if cand in ALIASES:
            return ARCHITECTURES[ALIASES[cand]]
    for a in _ARCHS:  # hub ids: full id or its last part
        hub = a.hub_id.split(" ")[0].lower()
        if hub and low in (hub, hub.rsplit("/", 1)[-1]):
            return a
    raise KeyError(f"unknown architecture preset {name!r}; known: {', '.join(names())}")


def build_config(name: str | Architecture) -> Any:
    """The configuration object of a preset: a transformers ``PretrainedConfig`` (transformers imported
    lazily); for diffusers UNets a plain dict of ``UNet2DConditionModel`` kwargs (diffusers is optional)."""
    arch = name if isinstance(name, Architecture) else get_architecture(name)
    if arch.config_class.startswith("diffusers:"):
        return dict(arch.config_kwargs)
    import transformers  # lazy: keeps this module import-light

    cls = getattr(transformers, arch.config_class)
    kwargs = dict(arch.config_kwargs)
    for sub in ("vision_config", "text_config", "backbone_config"):
        # nested configs stay dicts: each composite config class turns them into its own sub-config
        if sub in kwargs and isinstance(kwargs[sub], dict):
            kwargs[sub] = dict(kwargs[sub])
    cfg = cls(**kwargs)
    cfg.architectures = [arch.model_class]
    return cfg


def build_model(name: str | Architecture, device: str = "meta") -> Any:
    """A random-weight model of a preset, built on ``device`` (``meta`` allocates nothing).

    transformers models use their ``model_class`` (e.g. ``GPT2LMHeadModel``). UNet presets need diffusers;
    ``wattlens.analyze`` has a plain-torch fallback for analysis when diffusers is absent.
    """
    arch = name if isinstance(name, Architecture) else get_architecture(name)
    import torch

    if arch.config_class.startswith("diffusers:"):
        import diffusers  # optional dependency

        with torch.device(device):
            return getattr(diffusers, arch.model_class)(**arch.config_kwargs)
    import transformers

    cfg = build_config(arch)
    cls = getattr(transformers, arch.model_class)
    with torch.device(device):
        return cls(cfg)
