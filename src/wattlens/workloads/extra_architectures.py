"""Presets the bench needs beyond the analyze presets: task-specific heads, text-to-image companions,
and the scaled-down ``@tiny`` variants used by the quick suite and the tests.

All of it is data in ``workloads/data/architectures/<family>.json`` (see :mod:`.architectures`): task
heads are the presets of ``kind`` ``task-head``, companions the ``companions`` of ``unet.json``, and
the ``@tiny`` recipes each family's ``tiny`` list. ``@tiny`` variants keep each family's structure
(block types, heads, vocabulary) but shrink width/depth/resolution: they are NOT the paper sizes and are
labelled as such in ``description`` and in ``w.info["size"]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .architectures import ARCHITECTURES, Architecture, TinyRecipe, _index, catalogue, get_architecture

EXTRA_ARCHITECTURES, _EXTRA_ALIASES = _index("task-head")
EXTRA: list[Architecture] = list(EXTRA_ARCHITECTURES.values())

# Text encoders (CLIPTextConfig kwargs) and VAEs (diffusers AutoencoderKL kwargs) that complete a
# Stable-Diffusion-style text-to-image pipeline around each UNet preset (sd-1.5-unet, tiny-sd-unet).
CLIP_TEXT: dict[str, dict[str, Any]] = {u: p["text_encoder"]["config"] for u, p in catalogue().companions.items()}
VAE: dict[str, dict[str, Any]] = {u: p["vae"]["config"] for u, p in catalogue().companions.items()}

TINY_DEPTH_DIVISOR = 3  # @tiny keeps 1/3 of the layers (at least 1), so relative depth across presets survives


def _recipe(arch: Architecture) -> TinyRecipe:
    for recipe in catalogue().tiny:
        if recipe.family == arch.family and recipe.config_class in (None, arch.config_class):
            return recipe
    raise KeyError(f"no @tiny recipe for {arch.name} (family {arch.family}, {arch.config_class})")


def tiny(arch: Architecture) -> Architecture:
    """The ``@tiny`` variant of a preset (raises KeyError when the family has no scaled-down recipe)."""
    recipe = _recipe(arch)
    if recipe.preset is not None:  # a whole smaller preset of the same structure (the UNets)
        base = ARCHITECTURES[recipe.preset]
        return dataclasses.replace(
            base, name=f"{arch.name}@tiny", description=f"[@tiny: scaled-down, not the paper size] {base.description}"
        )
    kwargs = dict(arch.config_kwargs)
    kwargs.update(recipe.set)
    for k in recipe.scale_depth:
        kwargs[k] = max(1, int(arch.config_kwargs[k]) // TINY_DEPTH_DIVISOR)
    return dataclasses.replace(
        arch,
        name=f"{arch.name}@tiny",
        config_kwargs=kwargs,
        params_approx=0.0,
        aliases=(),
        extra={**arch.extra, **recipe.extra, "tiny": recipe.what},
        description=f"[@tiny: scaled-down ({recipe.what}); not the paper size] {arch.description}",
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
