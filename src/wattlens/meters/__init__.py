"""Energy sources (RAPL, NVML, AMD SMI, Apple powermetrics, the estimator) and the shared sampler.

Names are resolved lazily (PEP 562), so ``import wattlens.meters`` imports no source module, no driver
binding and nothing heavy: ``from wattlens.meters import RaplSource`` imports only ``meters.rapl``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "RaplSource": "wattlens.meters.rapl",
    "NvmlSource": "wattlens.meters.nvml",
    "AmdSource": "wattlens.meters.amd",
    "AppleSource": "wattlens.meters.apple",
    "Sampler": "wattlens.meters.sampler",
    "shared_sampler": "wattlens.meters.sampler",
    "SourceUnavailableError": "wattlens.meters.sampler",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wattlens.meters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
