"""Resolve what the user names into a model on the meta device plus input makers.

Accepted: a preset of ``wattlens.workloads.architectures`` (``gpt2-xl``, ``llama-70b``, ...), a path to a
transformers ``config.json`` (or a folder holding one), ``file.py:builder`` (a function returning an
``nn.Module`` or ``(module, example_inputs)``), or an ``nn.Module`` instance (Python API).
Nothing is downloaded: configs come from dicts/files, weights are never materialised.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wattlens.analyze.graph import ModelInfo
from wattlens.workloads import architectures as A

DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


@dataclass
class Workload:
    name: str
    model: torch.nn.Module
    kind: str  # causal_lm | seq2seq | speech_seq2seq | encoder | vision | image_text | unet | module
    family: str
    description: str
    params: int
    dtype: torch.dtype
    config: Any = None
    image_size: int = 224
    custom_inputs: Any = None  # from a builder: args tuple or kwargs dict
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def generative(self) -> bool:
        return self.kind in ("causal_lm", "seq2seq", "speech_seq2seq")

    def forward_inputs(self, batch: int, seq: int) -> dict[str, Any] | tuple[Any, ...]:
        return make_inputs(self, batch, seq)

    def run(self, inputs: dict[str, Any] | tuple) -> Any:
        if isinstance(inputs, dict):
            return self.model(**inputs)
        return self.model(*inputs)


def _meta_ids(batch: int, seq: int) -> torch.Tensor:
    return torch.zeros(batch, seq, dtype=torch.long, device="meta")


def keyword_inputs(w: Workload, batch: int, seq: int, device: str = "meta") -> dict[str, Any]:
    """:func:`make_inputs` as keyword arguments: what the KV-cache (decode) paths pass with ``use_cache``."""
    inputs = make_inputs(w, batch, seq, device)
    if not isinstance(inputs, dict):
        raise ValueError(f"{w.name}: decode phases need keyword inputs; the builder returned positional arguments")
    return inputs


def make_inputs(w: Workload, batch: int, seq: int, device: str = "meta") -> dict[str, Any] | tuple[Any, ...]:
    dev = torch.device(device)
    ids = torch.zeros(batch, seq, dtype=torch.long, device=dev)
    if w.custom_inputs is not None:
        return w.custom_inputs
    if w.kind in ("causal_lm", "encoder"):
        return {"input_ids": ids}
    if w.kind == "seq2seq":
        return {"input_ids": ids, "decoder_input_ids": torch.zeros(batch, 1, dtype=torch.long, device=dev)}
    if w.kind == "speech_seq2seq":
        frames = int(w.extra.get("mel_frames", 3000))
        mel = int(getattr(w.config, "num_mel_bins", 80))
        return {
            "input_features": torch.zeros(batch, mel, frames, dtype=w.dtype, device=dev),
            "decoder_input_ids": torch.zeros(batch, 1, dtype=torch.long, device=dev),
        }
    if w.kind == "vision":
        return {"pixel_values": torch.zeros(batch, 3, w.image_size, w.image_size, dtype=w.dtype, device=dev)}
    if w.kind == "image_text":
        return {
            "pixel_values": torch.zeros(batch, 3, w.image_size, w.image_size, dtype=w.dtype, device=dev),
            "input_ids": ids,
        }
    if w.kind == "unet":
        size = int(w.extra.get("latent_size", 64))
        ctx = int(w.extra.get("cross_attention_dim", 768))
        tokens = int(w.extra.get("text_tokens", 77))
        return {
            "sample": torch.zeros(batch, 4, size, size, dtype=w.dtype, device=dev),
            "timestep": torch.zeros(batch, dtype=torch.long, device=dev),
            "encoder_hidden_states": torch.zeros(batch, tokens, ctx, dtype=w.dtype, device=dev),
        }
    guessed = _guess_input(w, batch, seq, dev)
    if guessed is not None:
        return guessed
    raise ValueError(
        f"no input maker for {w.name} ({w.kind}); pass example inputs (builder returning "
        "(module, inputs), --input-shape, or analyze(..., inputs=...))"
    )


def _guess_input(w: Workload, batch: int, seq: int, dev: torch.device) -> tuple | None:
    """Plain modules: an input shaped for the first layer (stated in the assumptions)."""
    for m in w.model.modules():
        if isinstance(m, torch.nn.Embedding):
            x = torch.zeros(batch, max(seq, 1), dtype=torch.long, device=dev)
        elif isinstance(m, torch.nn.Linear):
            x = torch.zeros(batch, m.in_features, dtype=w.dtype, device=dev)
        elif isinstance(m, torch.nn.Conv2d):
            x = torch.zeros(batch, m.in_channels, w.image_size, w.image_size, dtype=w.dtype, device=dev)
        elif isinstance(m, torch.nn.Conv1d):
            x = torch.zeros(batch, m.in_channels, max(seq, 1), dtype=w.dtype, device=dev)
        else:
            continue
        w.extra["guessed_input"] = f"{type(m).__name__} input of shape {tuple(x.shape)}"
        return (x,)
    return None


_KIND_BY_FAMILY = {
    "gpt2": "causal_lm",
    "llama": "causal_lm",
    "mistral": "causal_lm",
    "bert": "encoder",
    "t5": "seq2seq",
    "bart": "seq2seq",
    "whisper": "speech_seq2seq",
    "vit": "vision",
    "resnet": "vision",
    "detr": "vision",
    "yolos": "vision",
    "blip": "image_text",
    "git": "image_text",
    "unet": "unet",
}


def _no_init() -> Any:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers 4.x
        from transformers.modeling_utils import no_init_weights  # type: ignore[attr-defined,no-redef]
    return no_init_weights()


def _hf_model(cfg: Any, model_class: str) -> torch.nn.Module:
    import transformers

    cls = getattr(transformers, model_class)
    with torch.device("meta"), _no_init():
        try:  # on a copy: a refused attn_implementation would otherwise stick to the config
            model = cls._from_config(copy.deepcopy(cfg), attn_implementation="sdpa")
        except (ValueError, ImportError, TypeError):
            model = cls._from_config(cfg)
    if hasattr(model, "tie_weights"):
        model.tie_weights()  # tied embeddings share one tensor, as in the checkpoint
    return model


def from_preset(name: str, dtype: torch.dtype) -> Workload:
    arch = A.get_architecture(name)
    extra = dict(arch.extra)
    if arch.family == "unet":
        model = build_unet(arch.config_kwargs)
        extra["cross_attention_dim"] = arch.config_kwargs["cross_attention_dim"]
        cfg = dict(arch.config_kwargs)
    else:
        cfg = A.build_config(arch)
        model = _hf_model(cfg, arch.model_class)
    model = model.to(dtype).eval()
    return Workload(
        name=arch.name,
        model=model,
        kind=_KIND_BY_FAMILY.get(arch.family, "module"),
        family=arch.family,
        description=arch.description,
        params=_params(model),
        dtype=dtype,
        config=cfg,
        image_size=int(extra.get("image_size", 224)),
        extra=extra,
    )


def build_unet(kwargs: dict[str, Any]) -> torch.nn.Module:
    """diffusers' UNet2DConditionModel when installed, else the plain-torch re-implementation (on the meta device):
    the choice of the text-to-image workload (:func:`wattlens.workloads.diffusion.unet_class`)."""
    from wattlens.workloads.diffusion import unet_class

    with torch.device("meta"):
        unet: torch.nn.Module = unet_class("auto")(**kwargs)  # a torch module behind a lazy export
        return unet


def from_config_file(path: Path, dtype: torch.dtype) -> Workload:
    import transformers

    p = path / "config.json" if path.is_dir() else path
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON config ({exc}); allowed: a transformers config.json object") from None
    if not isinstance(d, dict):
        raise ValueError(f"{p}: a JSON {type(d).__name__}, not an object; allowed: a transformers config.json object")
    model_type = d.pop("model_type", None)
    if not model_type or not isinstance(model_type, str):
        raise ValueError(f"{p}: no model_type (a string such as 'gpt2') in config")
    try:
        cfg = transformers.AutoConfig.for_model(model_type, **d)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).split(". ", 1)[0][:200]  # transformers lists every known model_type after the first sentence
        raise ValueError(f"{p}: transformers cannot build a config from it ({first})") from None
    archs = d.get("architectures") or []
    model_class: str | None = archs[0] if archs and hasattr(transformers, archs[0]) else None
    if model_class is None:
        for auto in ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM", "AutoModel"):
            try:
                model_class = getattr(transformers, auto)._model_mapping[type(cfg)].__name__
                break
            except KeyError:
                continue
    if model_class is None:
        raise ValueError(f"{p}: transformers has no model class for model_type {model_type!r}")
    model = _hf_model(cfg, model_class).to(dtype).eval()
    kind = "module"
    if getattr(cfg, "is_encoder_decoder", False):
        kind = "speech_seq2seq" if "Speech" in model_class or "Whisper" in model_class else "seq2seq"
    elif "CausalLM" in model_class or "LMHead" in model_class:
        kind = "causal_lm"
    elif "Image" in model_class or "ViT" in model_class or hasattr(cfg, "image_size"):
        kind = "vision"
    else:
        kind = "encoder"
    return Workload(
        name=str(path),
        model=model,
        kind=kind,
        family=model_type,
        description=f"{model_class} from {p}",
        params=_params(model),
        dtype=dtype,
        config=cfg,
        image_size=int(getattr(cfg, "image_size", 224) or 224),
    )


def from_builder(spec: str, dtype: torch.dtype) -> Workload:
    # the same 'file.py:function' / 'package.module:function' loader as `wattlens bench` (clear errors included)
    from wattlens.workloads.user_callable import resolve_callable

    build, _ = resolve_callable(spec)
    with torch.device("meta"):
        built = build()
    inputs = None
    if isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], torch.nn.Module):
        built, inputs = built
    return from_module(built, dtype, name=spec, inputs=inputs)


def _to_meta(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to("meta")
    if isinstance(x, dict):
        return {k: _to_meta(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_meta(v) for v in x)
    return x


def from_module(
    model: torch.nn.Module,
    dtype: torch.dtype | None = None,
    name: str | None = None,
    inputs: Any = None,
    kind: str | None = None,
) -> Workload:
    """Wrap an ``nn.Module``. A module with real weights is copied to the meta device first (the original
    is untouched); example inputs are moved to meta likewise."""
    if any(p.device.type != "meta" for p in model.parameters()):
        model = copy.deepcopy(model).to("meta")
    inputs = _to_meta(inputs)
    if dtype is not None:
        model = model.to(dtype)
    cfg = getattr(model, "config", None)
    if kind is None:
        kind = "module"
        if cfg is not None and inputs is None:
            kind = (
                "causal_lm"
                if hasattr(model, "generate") and not getattr(cfg, "is_encoder_decoder", False)
                else ("seq2seq" if getattr(cfg, "is_encoder_decoder", False) else "encoder")
            )
    return Workload(
        name=name or type(model).__name__,
        model=model.eval(),
        kind=kind,
        family="custom",
        description=f"{type(model).__name__} ({name or 'module'})",
        params=_params(model),
        dtype=dtype or next(model.parameters()).dtype,
        config=cfg,
        custom_inputs=inputs,
    )


def resolve(spec: Any, dtype: str | torch.dtype | None = "bf16") -> Workload:
    dt = DTYPES[dtype] if isinstance(dtype, str) else (dtype or torch.float32)
    if isinstance(spec, torch.nn.Module):
        return from_module(spec, None if dtype is None else dt)
    if isinstance(spec, Workload):
        return spec
    s = str(spec)
    if ":" in s and s.split(":", 1)[0].endswith(".py"):
        return from_builder(s, dt)
    p = Path(s)
    if p.suffix == ".json" or (p.is_dir() and (p / "config.json").exists()):
        return from_config_file(p, dt)
    return from_preset(s, dt)


def rebuild(w: Workload, cfg: Any) -> Workload:
    """The same workload with another transformers config (a lever's what-if, or a shallower stack for
    layer folding): the model is rebuilt on meta from ``cfg``, nothing else changes."""
    model = _hf_model(cfg, type(w.model).__name__).to(w.dtype).eval()
    return dataclasses.replace(w, model=model, config=cfg, params=_params(model))


def with_depth(w: Workload, attr: str, layers: int) -> Workload:
    """``w`` with ``layers`` layers in its stack (config attribute ``attr``)."""
    cfg = copy.deepcopy(w.config)
    setattr(cfg, attr, layers)
    for extra in ("layer_types",):  # per-layer lists follow the depth
        v = getattr(cfg, extra, None)
        if isinstance(v, list) and v:
            setattr(cfg, extra, v[:layers])
    return rebuild(w, cfg)


def dtype_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def model_info(w: Workload) -> ModelInfo:
    """The torch-free facts of a workload an analysis keeps (parameters and weight bytes from the model)."""
    from wattlens.analyze.fold import depth_attr

    weights = float(sum(p.numel() * p.element_size() for p in w.model.parameters()))
    cfg = w.config if w.config is not None and not isinstance(w.config, dict) else None
    attr = depth_attr(cfg)

    def geti(*names: str) -> int | None:
        for n in names:
            v = getattr(cfg, n, None) if cfg is not None else None
            if isinstance(v, int) and not isinstance(v, bool):
                return v
        return None

    heads = geti("num_attention_heads", "n_head")
    return ModelInfo(
        name=w.name,
        description=w.description,
        kind=w.kind,
        family=w.family,
        params=w.params,
        weights_bytes=weights,
        dtype=dtype_name(w.dtype),
        layers=geti(attr) if attr else None,
        heads=heads,
        kv_heads=geti("num_key_value_heads") or heads,
        hidden=geti("hidden_size", "n_embd", "d_model"),
        layer_attr=attr,
        guessed_input=w.extra.get("guessed_input"),
    )


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


InputMaker = Callable[[int, int], dict[str, Any]]
