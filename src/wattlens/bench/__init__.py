"""Benchmarking: the Power Hungry Processing study as a tool (suites, runner, method, ratings, break-even).

    from wattlens.bench.runner import measure_queries      # the measurement primitive
    from wattlens.bench.suites import load_suite           # TOML suites -> cells
    from wattlens.bench.execute import start_run, execute  # run cells into the store, resumable
    from wattlens.bench.results import result_rows         # the `wattlens results --json` rows

Import-light: nothing here imports torch, numpy or the workloads until a suite is executed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "measure_queries": "runner",
    "measure_decode": "runner",
    "CellStats": "runner",
    "load_suite": "suites",
    "Suite": "suites",
    "SuiteError": "suites",
    "start_run": "execute",
    "execute": "execute",
    "result_rows": "results",
    "breakeven": "breakeven",
    "rate": "ratings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'wattlens.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
