"""``wattlens analyze``: where the joules go -- compute or data movement, by computational role -- for any
PyTorch model, without running it.

>>> from wattlens.analyze import analyze          # doctest: +SKIP
>>> a = analyze("llama-70b", "h200", phase="generate", prompt=512, new_tokens=128)
>>> a.to_dict()["energy_j"], a.by_role(), a.levers

Modules: ``capture`` (meta-device dispatch capture, byte bounds, affine decode integration), ``formulas``
(FLOPs per aten op), ``roles``, ``profiles`` (hardware_profiles.csv), ``model`` (roofline + energy),
``phases`` (forward / prefill / decode / train drivers), ``presets`` (names, config.json, builders),
``levers`` (re-analysed what-ifs), ``calibrate`` (micro-benchmarks under the meter; ``calibrate.calibrate()``),
``output``.
Importing this package does not import torch; the names below load their modules on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "analyze": ("wattlens.analyze.analysis", "analyze"),
    "Analysis": ("wattlens.analyze.analysis", "Analysis"),
    "get_profile": ("wattlens.analyze.profiles", "get_profile"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'wattlens.analyze' has no attribute {name!r}")


__all__ = list(_LAZY)
