"""``wattlens optimize``: the lowest-energy way to serve a model within quality/latency/memory limits.

Modules, one job each: ``request`` (what is asked), ``results`` (the typed result records: trials, points,
the whole result), ``space`` (transforms, applicability, the grid), ``transforms`` (model rewrites), ``models``
(loading, variants, per-task drivers), ``variants`` (built variants and their measured quality, the gate),
``quality`` (gate metrics), ``search`` (exhaustive, successive halving, Optuna), ``pareto`` (the Pareto front),
``trials`` (measuring one configuration; confirmation rounds), ``points`` (confirmed points), ``accounting``
(energy and memory per configuration, hidden costs, savings), ``runstore`` (the run's cells in the store),
``engine`` (the run), ``hardware`` (NVML knobs, always restored), ``artefact`` (the reusable recommendation),
``worker`` (subprocess trials).

Importing this package imports nothing heavy; the names below are resolved lazily.
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

_EXPORTS = {
    "optimize": "engine",
    "Optimizer": "engine",
    "OptimizeRequest": "request",
    "OptimizeResult": "results",
    "OptimizePoint": "results",
    "Trial": "results",
    "load_result": "runstore",
    "load_artefact": "artefact",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, {name: f"{__name__}.{mod}" for name, mod in _EXPORTS.items()}, globals())
