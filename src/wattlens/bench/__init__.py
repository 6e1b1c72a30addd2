"""Benchmarking: the Power Hungry Processing study as a tool (suites, runner, method, ratings, break-even).

    from wattlens.bench.runner import measure_queries      # the measurement primitive
    from wattlens.bench.suites import load_suite           # TOML suites -> cells
    from wattlens.bench.execute import start_run, execute  # run cells into the store, resumable
    from wattlens.bench.results import result_rows         # the `wattlens results --json` rows (BenchRow)
    from wattlens.bench.records import BenchRow            # the typed results: BenchRow, CellResult, RunSummary

Import-light: nothing here imports torch, numpy or the workloads until a suite is executed.
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

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
    "BenchRow": "records",
    "CellResult": "records",
    "RunSummary": "records",
    "breakeven": "breakeven",
    "rate": "ratings",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, {name: f"{__name__}.{mod}" for name, mod in _EXPORTS.items()}, globals())
