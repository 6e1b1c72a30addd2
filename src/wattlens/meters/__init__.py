"""Energy sources (RAPL, NVML, AMD SMI, Apple powermetrics, the estimator) and the shared sampler.

Names are resolved lazily (PEP 562), so ``import wattlens.meters`` imports no source module, no driver
binding and nothing heavy: ``from wattlens.meters import RaplSource`` imports only ``meters.rapl``.
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
