"""Preset architectures: name -> how to build the model's configuration offline (no hub download).

The presets are data, not code: ``workloads/data/architectures/<family>.json``, one file per family,
each preset with the ``source`` it was copied from (the checkpoint's ``config.json`` on the model hub,
values transcribed by hand) and its ``hub_id``. They are loaded once (``lru_cache``) and validated
on load like the carbon and CPU tables: a missing field, a wrong type, a duplicate name or alias, a
preset filed under the wrong family or without a source fails with the file and the preset named.
Weights built from these configs are random: valid for energy, latency, FLOPs and bytes (same
arithmetic and data movement), not for quality.

Each family file holds ``presets`` (``kind`` ``base``: the architectures ``wattlens analyze`` knows;
``task-head``: fine-tuned heads the bench adds), and optionally ``tiny`` (wattlens' own scaled-down
recipes for ``@tiny``, not published checkpoints) and ``companions`` (text encoder and VAE around a
UNet). Nothing here imports torch or transformers at import time.

Used by ``wattlens analyze`` (traced on the meta device) and by the workloads layer (random-weight
models for ``wattlens bench``).

>>> get_architecture("llama-70b").name, get_architecture("llama-70b").source.endswith("config.json")
('llama-2-70b', True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import WorkloadError

DATA_DIR = Path(__file__).resolve().parent / "data" / "architectures"
KINDS = ("base", "task-head")
MODALITIES = ("text", "image", "audio", "image-text", "latent")


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
    source: str = ""  # the hub config.json the values were copied from
    kind: str = "base"  # base | task-head


@dataclass(frozen=True)
class TinyRecipe:
    """How ``@tiny`` shrinks a family (wattlens' own recipe): ``set`` overrides, ``scale_depth`` keys
    divided by :data:`TINY_DEPTH_DIVISOR`, ``extra`` merged into the preset's extra; or a whole ``preset``."""

    family: str
    config_class: str | None  # None: every config class of the family
    set: dict[str, Any]
    scale_depth: tuple[str, ...]
    extra: dict[str, Any]
    what: str
    preset: str | None = None


@dataclass(frozen=True)
class Catalogue:
    """Every family file, loaded and checked."""

    presets: tuple[Architecture, ...]
    tiny: tuple[TinyRecipe, ...]
    companions: dict[str, dict[str, dict[str, Any]]]  # UNet preset -> part (text_encoder, vae) -> entry


# --- loading and validation ------------------------------------------------------------------------------

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "kind": str,
    "hub_id": str,
    "source": str,
    "description": str,
    "params_approx": (int, float),
    "task": str,
    "config_class": str,
    "model_class": str,
    "config": dict,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "aliases": list,
    "modality": str,
    "decoder_only": bool,
    "extra": dict,
    "comment": str,
}


def _bad(path: Path, where: str, problem: str) -> WorkloadError:
    return WorkloadError(f"architecture table {path.name}: {where}: {problem}")


def _check_fields(path: Path, where: str, entry: dict[str, Any]) -> None:
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise _bad(path, where, f"missing field {missing[0]!r} (required: {', '.join(_REQUIRED)})")
    for key, value in entry.items():
        kind = _REQUIRED.get(key) or _OPTIONAL.get(key)
        if kind is None:
            raise _bad(path, where, f"unknown field {key!r} (allowed: {', '.join([*_REQUIRED, *_OPTIONAL])})")
        if not isinstance(value, kind) or (kind == (int, float) and isinstance(value, bool)):
            raise _bad(path, where, f"field {key!r} has type {type(value).__name__}")


def _preset(path: Path, family: str, entry: dict[str, Any]) -> Architecture:
    where = f"preset {entry.get('name', '?')!r}"
    _check_fields(path, where, entry)
    if entry["kind"] not in KINDS:
        raise _bad(path, where, f"kind {entry['kind']!r} (allowed: {', '.join(KINDS)})")
    modality = entry.get("modality", "text")
    if modality not in MODALITIES:
        raise _bad(path, where, f"modality {modality!r} (allowed: {', '.join(MODALITIES)})")
    if not entry["source"].startswith("https://huggingface.co/") or not entry["source"].endswith("config.json"):
        raise _bad(path, where, f"source {entry['source']!r} must name the hub config.json it was copied from")
    if not entry["params_approx"] > 0:
        raise _bad(path, where, "params_approx must be > 0 (the real checkpoint's parameter count)")
    return Architecture(
        name=entry["name"],
        family=family,
        config_class=entry["config_class"],
        config_kwargs=entry["config"],
        model_class=entry["model_class"],
        description=entry["description"],
        params_approx=float(entry["params_approx"]),
        task=entry["task"],
        modality=modality,
        decoder_only=entry.get("decoder_only", False),
        aliases=tuple(entry.get("aliases", ())),
        hub_id=entry["hub_id"],
        extra=entry.get("extra", {}),
        source=entry["source"],
        kind=entry["kind"],
    )


def _tiny(path: Path, family: str, entry: dict[str, Any]) -> TinyRecipe:
    allowed = {"config_class", "set", "scale_depth", "extra", "what", "preset"}
    if set(entry) - allowed or "what" not in entry:
        raise _bad(path, "tiny recipe", f"fields {sorted(entry)} (allowed: {sorted(allowed)}; 'what' required)")
    return TinyRecipe(
        family=family,
        config_class=entry.get("config_class"),
        set=entry.get("set", {}),
        scale_depth=tuple(entry.get("scale_depth", ())),
        extra=entry.get("extra", {}),
        what=entry["what"],
        preset=entry.get("preset"),
    )


def load_catalogue(directory: Path = DATA_DIR) -> Catalogue:
    """Read and check every ``<family>.json`` of ``directory`` (the package's own tables by default)."""
    presets: list[Architecture] = []
    tiny: list[TinyRecipe] = []
    companions: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        family = doc.get("family")
        if family != path.stem:
            raise _bad(path, "file", f"family {family!r} differs from the file name {path.stem!r}")
        presets += [_preset(path, family, e) for e in doc.get("presets", [])]
        tiny += [_tiny(path, family, e) for e in doc.get("tiny", [])]
        for unet, parts in doc.get("companions", {}).items():
            for part, entry in parts.items():
                if not str(entry.get("source", "")).startswith("https://huggingface.co/"):
                    raise _bad(path, f"companion {unet}/{part}", "needs the source hub config it was copied from")
            companions[unet] = parts
    _check_unique(presets)
    known = {a.name for a in presets}
    for recipe in tiny:
        if recipe.preset is not None and recipe.preset not in known:
            raise WorkloadError(
                f"architecture tables: @tiny recipe of {recipe.family} names unknown preset {recipe.preset!r}"
            )
    for unet in companions:
        if unet not in known:
            raise WorkloadError(f"architecture tables: companions for unknown preset {unet!r}")
    return Catalogue(tuple(presets), tuple(tiny), companions)


def _check_unique(presets: list[Architecture]) -> None:
    seen: dict[str, str] = {}
    for a in presets:
        for key in {a.name.lower(), *(alias.lower() for alias in a.aliases)}:
            if key in seen:
                raise WorkloadError(f"architecture tables: {key!r} names both {seen[key]!r} and {a.name!r}")
            seen[key] = a.name


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The package's presets, loaded once."""
    return load_catalogue()


def _index(kind: str) -> tuple[dict[str, Architecture], dict[str, str]]:
    presets = [a for a in catalogue().presets if a.kind == kind]
    return {a.name: a for a in presets}, {alias.lower(): a.name for a in presets for alias in a.aliases}


ARCHITECTURES, ALIASES = _index("base")


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
    for a in ARCHITECTURES.values():  # hub ids: full id or its last part
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
