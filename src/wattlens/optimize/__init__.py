"""``wattlens optimize``: the lowest-energy way to serve a model within quality/latency/memory limits.

Modules: ``space`` (transforms, applicability, the grid), ``transforms`` (model rewrites), ``models``
(loading, variants, per-task drivers), ``quality`` (gate metrics), ``search`` (exhaustive, successive
halving, Optuna), ``engine`` (the run: screening, search, confirmation, hidden costs, store), ``hardware``
(NVML knobs, always restored), ``artefact`` (the reusable recommendation), ``worker`` (subprocess trials).

Importing this package imports nothing heavy; ``optimize``/``OptimizeRequest``/``load_result``/``load_artefact``
are resolved lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OptimizeRequest", "load_artefact", "load_result", "optimize"]


def __getattr__(name: str) -> Any:
    if name in ("optimize", "OptimizeRequest", "load_result"):
        from wattlens.optimize import engine

        return getattr(engine, name)
    if name == "load_artefact":
        from wattlens.optimize.artefact import load_artefact

        return load_artefact
    raise AttributeError(name)
