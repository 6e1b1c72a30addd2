"""Presets the bench needs beyond ``architectures.py``: task-specific heads, text-to-image companions,
and the scaled-down ``@tiny`` variants used by the quick suite and the tests.

Values are transcribed from the real checkpoints' ``config.json`` (hub ids given); weights built from
them are random (energy/latency-faithful, not quality-faithful). ``@tiny`` variants keep each family's
structure (block types, heads, vocabulary) but shrink width/depth/resolution: they are NOT the paper
sizes and are labelled as such in ``description`` and in ``w.info["size"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .architectures import ARCHITECTURES, Architecture, get_architecture

_CONLL_LABELS = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

_DISTILBERT_UNCASED = dict(
    vocab_size=30522,
    dim=768,
    n_layers=6,
    n_heads=12,
    hidden_dim=3072,
    activation="gelu",
    max_position_embeddings=512,
    sinusoidal_pos_embds=False,
    pad_token_id=0,
)
_DISTILBERT_CASED = dict(_DISTILBERT_UNCASED, vocab_size=28996)
_BERT_BASE_CASED = dict(
    vocab_size=28996,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    pad_token_id=0,
)


def _labels(names: list[str]) -> dict[str, Any]:
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


EXTRA: list[Architecture] = [
    Architecture(
        name="distilbert-sst2",
        family="bert",
        config_class="DistilBertConfig",
        config_kwargs=dict(_DISTILBERT_UNCASED, **_labels(["NEGATIVE", "POSITIVE"])),
        model_class="DistilBertForSequenceClassification",
        description=(
            "DistilBERT (6 layers, d=768) sentiment classifier, 2 labels (PHP's most-downloaded text classifier)"
        ),
        params_approx=67.0e6,
        task="text-classification",
        hub_id="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        aliases=("distilbert-base-uncased-finetuned-sst-2-english",),
    ),
    Architecture(
        name="distilbert-ner",
        family="bert",
        config_class="DistilBertConfig",
        config_kwargs=dict(_DISTILBERT_CASED, **_labels(_CONLL_LABELS)),
        model_class="DistilBertForTokenClassification",
        description="DistilBERT cased (6 layers, d=768) CoNLL-03 NER token classifier, 9 labels",
        params_approx=65.2e6,
        task="token-classification",
        hub_id="elastic/distilbert-base-cased-finetuned-conll03-english",
    ),
    Architecture(
        name="bert-base-ner",
        family="bert",
        config_class="BertConfig",
        config_kwargs=dict(_BERT_BASE_CASED, **_labels(_CONLL_LABELS)),
        model_class="BertForTokenClassification",
        description="BERT base cased (12 layers, d=768) CoNLL-03 NER token classifier, 9 labels",
        params_approx=107.7e6,
        task="token-classification",
        hub_id="dslim/bert-base-NER",
    ),
    Architecture(
        name="distilbert-squad",
        family="bert",
        config_class="DistilBertConfig",
        config_kwargs=dict(_DISTILBERT_CASED),
        model_class="DistilBertForQuestionAnswering",
        description="DistilBERT cased (6 layers, d=768) extractive QA head (start/end logits)",
        params_approx=65.2e6,
        task="question-answering",
        hub_id="distilbert/distilbert-base-cased-distilled-squad",
        aliases=("distilbert-base-cased-distilled-squad",),
    ),
    Architecture(
        name="bert-base-squad",
        family="bert",
        config_class="BertConfig",
        config_kwargs=dict(_BERT_BASE_CASED),
        model_class="BertForQuestionAnswering",
        description="BERT base cased (12 layers, d=768) extractive QA head",
        params_approx=107.7e6,
        task="question-answering",
        hub_id="deepset/bert-base-cased-squad2",
    ),
]

# Text encoders and VAEs that complete a Stable-Diffusion-style text-to-image pipeline around the UNet
# presets of architectures.py (sd-1.5-unet, tiny-sd-unet). CLIP ViT-L/14 text tower for SD 1.5.
CLIP_TEXT = {
    "sd-1.5-unet": dict(
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
    ),
    "tiny-sd-unet": dict(
        vocab_size=1000,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=5,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="gelu",
    ),
}
VAE = {
    "sd-1.5-unet": dict(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        norm_num_groups=32,
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        sample_size=512,
    ),
    "tiny-sd-unet": dict(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        block_out_channels=[32, 64],
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        sample_size=64,
    ),
}

EXTRA_ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in EXTRA}
_EXTRA_ALIASES = {alias.lower(): a.name for a in EXTRA for alias in a.aliases}

# ---------------------------------------------------------------------------------------------------------
# @tiny: per-family overrides (structure kept, width/depth/resolution shrunk).
# ---------------------------------------------------------------------------------------------------------
_TINY_BACKBONE = dict(
    model_type="resnet",
    embedding_size=16,
    hidden_sizes=[32, 64, 128, 256],
    depths=[1, 1, 1, 1],
    layer_type="basic",
    hidden_act="relu",
    downsample_in_first_stage=False,
    out_features=["stage1", "stage2", "stage3", "stage4"],
)
TINY_DEPTH_DIVISOR = 3  # @tiny keeps 1/3 of the layers (at least 1), so relative depth across presets survives
_TINY: dict[str, tuple[dict[str, Any], tuple[str, ...], dict[str, Any], str]] = {
    # family: (fixed overrides, depth keys scaled by 1/3, extra overrides, what was shrunk)
    "gpt2": (dict(n_embd=128, n_head=2), ("n_layer",), {}, "d=128, 2 heads, 1/3 of the layers"),
    "llama": (
        dict(hidden_size=128, intermediate_size=256, num_attention_heads=4, num_key_value_heads=2),
        ("num_hidden_layers",),
        {},
        "d=128, 1/3 of the layers",
    ),
    "mistral": (
        dict(hidden_size=128, intermediate_size=256, num_attention_heads=4, num_key_value_heads=2),
        ("num_hidden_layers",),
        {},
        "d=128, 1/3 of the layers",
    ),
    "bart": (
        dict(
            d_model=128, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=512, decoder_ffn_dim=512
        ),
        ("encoder_layers", "decoder_layers"),
        {},
        "d=128, 1/3 of the layers",
    ),
    "t5": (
        dict(d_model=128, d_kv=32, d_ff=512, num_heads=4),
        ("num_layers", "num_decoder_layers"),
        {},
        "d=128, 1/3 of the layers",
    ),
    "bert:BertConfig": (
        dict(hidden_size=128, num_attention_heads=2, intermediate_size=512),
        ("num_hidden_layers",),
        {},
        "d=128, 2 heads, 1/3 of the layers",
    ),
    "bert:RobertaConfig": (
        dict(hidden_size=128, num_attention_heads=2, intermediate_size=512),
        ("num_hidden_layers",),
        {},
        "d=128, 2 heads, 1/3 of the layers",
    ),
    "bert:DistilBertConfig": (
        dict(dim=128, n_heads=2, hidden_dim=512),
        ("n_layers",),
        {},
        "d=128, 2 heads, 1/3 of the layers",
    ),
    "vit": (
        dict(hidden_size=128, num_attention_heads=2, intermediate_size=512, image_size=64, patch_size=8),
        ("num_hidden_layers",),
        {"image_size": 64},
        "d=128, 1/3 of the layers, 64 px",
    ),
    "resnet": (
        dict(embedding_size=16, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1], layer_type="basic"),
        (),
        {"image_size": 64},
        "basic blocks 1-1-1-1, 16-256 channels, 64 px",
    ),
    "detr": (
        dict(
            d_model=64,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            num_queries=20,
            backbone_config=_TINY_BACKBONE,
        ),
        ("encoder_layers", "decoder_layers"),
        {"image_size": 128},
        "ResNet basic 1-1-1-1 backbone, d=64, 1/3 of the layers, 20 queries, 128 px",
    ),
    "yolos": (
        dict(
            hidden_size=64, num_attention_heads=2, intermediate_size=128, image_size=[128, 160], num_detection_tokens=10
        ),
        ("num_hidden_layers",),
        {"image_size": 128},
        "d=64, 1/3 of the layers, 10 detection tokens, 128 px",
    ),
    "blip": (
        dict(
            vision_config=dict(
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                image_size=64,
                patch_size=16,
                hidden_act="gelu",
                layer_norm_eps=1e-5,
            ),
            text_config=dict(
                vocab_size=30524,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                encoder_hidden_size=64,
                max_position_embeddings=512,
                bos_token_id=30522,
                sep_token_id=102,
                pad_token_id=0,
            ),
            projection_dim=64,
        ),
        (),
        {"image_size": 64},
        "2-layer vision (64 px) + 2-layer text decoder, d=64",
    ),
    "git": (
        dict(
            vision_config=dict(
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                image_size=64,
                patch_size=16,
                hidden_act="quick_gelu",
                layer_norm_eps=1e-5,
            ),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
        ),
        (),
        {"image_size": 64},
        "2-layer vision (64 px) + 2-layer text decoder, d=64",
    ),
}


def tiny(arch: Architecture) -> Architecture:
    """The ``@tiny`` variant of a preset (raises KeyError when the family has no scaled-down recipe)."""
    if arch.family == "unet":
        base = ARCHITECTURES["tiny-sd-unet"]
        return dataclasses.replace(
            base, name=f"{arch.name}@tiny", description=f"[@tiny: scaled-down, not the paper size] {base.description}"
        )
    key = f"bert:{arch.config_class}" if arch.family == "bert" else arch.family
    over, depth_keys, extra, what = _TINY[key]
    kwargs = dict(arch.config_kwargs)
    kwargs.update(over)
    for k in depth_keys:
        kwargs[k] = max(1, int(arch.config_kwargs[k]) // TINY_DEPTH_DIVISOR)
    return dataclasses.replace(
        arch,
        name=f"{arch.name}@tiny",
        config_kwargs=kwargs,
        params_approx=0.0,
        aliases=(),
        extra={**arch.extra, **extra, "tiny": what},
        description=f"[@tiny: scaled-down ({what}); not the paper size] {arch.description}",
    )


def resolve(name: str) -> Architecture:
    """A preset by name/alias from either registry, with an optional ``@tiny`` suffix."""
    base, _, size = name.partition("@")
    key = base.strip()
    if key in EXTRA_ARCHITECTURES:
        arch = EXTRA_ARCHITECTURES[key]
    elif key.lower() in _EXTRA_ALIASES:
        arch = EXTRA_ARCHITECTURES[_EXTRA_ALIASES[key.lower()]]
    else:
        arch = get_architecture(key)  # KeyError when unknown
    if not size:
        return arch
    if size.lower() != "tiny":
        raise KeyError(f"unknown size suffix @{size}; only @tiny exists")
    return tiny(arch)


def preset_names() -> list[str]:
    return sorted({*ARCHITECTURES, *EXTRA_ARCHITECTURES})
