"""Stored bench cells -> leaderboard rows (the ``wattlens results --json`` contract).

Each row has at least: ``run_id, task, model, config{batch, precision, threads, engine}, weights,
status (ok|failed|invalid), queries, j_per_query, j_per_query_low, j_per_query_high, wh_per_1000,
source, gross_j, idle_j, net_j, p50_ms, p95_ms, quality (None where n/a), co2e_g_per_1000`` plus the
rating (``rating`` stars next to the raw Wh, ``rating_band`` with the edges and the population they come
from, ``rating_text``, ``rating_reference``, ``rating_relative``: see :mod:`wattlens.bench.ratings`), the
result's ``tier`` (device kind, boundary, basis, source), validity reasons, per-phase and per-unit figures,
carbon assumptions and versions. ``config`` carries the ``device`` the cell ran on (``auto`` resolved;
``device_requested`` beside it when it differs); runs from before devices were recorded ran on the CPU.

Units: ``gross_j``/``idle_j``/``net_j`` are totals over the measured query windows (warm-up and loading
excluded) and ``queries`` is the number of queries in those windows (``inputs`` is how many distinct inputs
each repeat had to cover); ``j_per_query*`` are per query on ``energy_basis`` (``net`` when an idle baseline
was measured), the mean of the per-repeat figures.
CO2e and cost are computed here from the energy with the run's carbon settings (carbon.footprint), so
they always match the stored energy; so are the lifecycle figures per 1,000 queries (embodied CO2e, water)
when asked for (:mod:`wattlens.bench.lifecycle_rows`, docs/LIFECYCLE.md).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from typing import Any

from wattlens.bench.lifecycle_rows import lifecycle_per_1000
from wattlens.bench.ratings import DATA_DIR, RATING_VERSION, canonical_task, rate_rows, run_tier

J_PER_WH = 3600.0
STATUSES = ("ok", "invalid", "failed")


@lru_cache(maxsize=1)
def php_task_reference() -> dict[str, dict[str, Any]]:
    """PHP's per-task kWh per 1,000 queries (paper and recomputed), for the 'check against PHP' column."""
    with (DATA_DIR / "php_tasks.csv").open(newline="", encoding="utf-8") as f:
        return {r["task"]: r for r in csv.DictReader(f)}


def _location(carbon: dict[str, Any]) -> Any:
    from wattlens.carbon import resolve_location

    return resolve_location(
        country=carbon.get("country"),
        region=carbon.get("region"),
        intensity_g_per_kwh=carbon.get("intensity_g_per_kwh"),
    )


def _footprint_per_1000(j: float | None, lo: float | None, hi: float | None, carbon: dict, loc: Any) -> Any:
    from wattlens.carbon import footprint

    if j is None:
        return None
    k = 1000.0
    lo_ = None if lo is None else max(min(lo, j), 0.0) * k  # a net interval may dip below 0
    hi_ = None if hi is None else max(hi, j) * k
    return footprint(
        j * k,
        lo_,
        hi_,
        location=loc,
        pue=carbon.get("pue"),
        price_per_kwh=carbon.get("price_per_kwh"),
        currency=carbon.get("currency"),
    )


def _boundary(env: dict[str, Any], attribution: str | None) -> str:
    mon = (env or {}).get("monitor") or {}
    sources = ", ".join(mon.get("sources") or []) or "unknown sources"
    att = attribution or mon.get("attribution") or "machine"
    return f"node: devices read by {sources} (attribution={att})"


def _base_row(run: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    res = cell.get("result") or {}
    spec = res.get("cell") or {}
    cfg = res.get("config") or {k: spec.get(k) for k in ("batch", "precision", "threads", "engine")}
    return {
        "run_id": run["run_id"],
        "cell_key": cell["cell_key"],
        "task": res.get("task") or spec.get("task"),
        "model": res.get("model") or spec.get("model"),
        "config": cfg,
        "weights": res.get("weights"),
        "status": cell.get("status"),
        "queries": None,  # filled from the measured windows: the count behind gross_j / idle_j / net_j
        "inputs": spec.get("queries"),  # distinct inputs each repeat had to cover (the suite's `queries`)
        "repeats": spec.get("repeats"),
        "error": _short(cell.get("error") or res.get("error")),
        "error_detail": cell.get("error") or res.get("error"),
        "validity": list(res.get("reasons") or []),
        "warnings": list(res.get("warnings") or []),
    }


def _short(error: str | None, limit: int = 160) -> str | None:
    """The first sentence of an error, for tables (the full text stays in ``error_detail``)."""
    if not error:
        return None
    first = error.strip().splitlines()[0]
    cut = first.find("; ")
    first = first[:cut] if 0 < cut < limit else first
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _phase_fields(res: dict[str, Any]) -> dict[str, Any]:
    q = res.get("query") or {}
    jpq = q.get("j_per_query")
    out = {
        "j_per_query": jpq,
        "j_per_query_low": q.get("j_per_query_low"),
        "j_per_query_high": q.get("j_per_query_high"),
        "ci95_j": q.get("ci95_j"),
        "cv": q.get("cv"),
        "energy_basis": q.get("basis"),
        "gross_j_per_query": q.get("gross_j_per_query"),
        "net_j_per_query": q.get("net_j_per_query"),
        "wh_per_1000": None if jpq is None else jpq * 1000.0 / J_PER_WH,
        "kwh_per_1000": None if jpq is None else jpq / J_PER_WH,
        "source": q.get("source"),
        "gross_j": q.get("gross_j"),
        "idle_j": q.get("idle_j"),
        "net_j": q.get("net_j"),
        "queries": q.get("queries"),
        "measured_s": q.get("duration_s"),
        "mean_power_w": q.get("mean_power_w"),
        "idle_w": ((res.get("idle") or {}).get("used") or {}).get("power_w"),
        "p50_ms": q.get("p50_ms"),
        "p95_ms": q.get("p95_ms"),
        "throughput_qps": q.get("throughput_qps"),
        "harness_overhead_frac": q.get("harness_overhead_frac"),
        "min_window_s": q.get("min_window_s"),
        "quality": res.get("quality"),
        "quality_metric": res.get("metric"),
        "params": res.get("params"),
        "unit": res.get("unit"),
    }
    for name, ph in (res.get("phases") or {}).items():
        out[f"{name}_j_per_query"] = ph.get("j_per_query")
        out[f"{name}_j_per_query_low"] = ph.get("j_per_query_low")
        out[f"{name}_j_per_query_high"] = ph.get("j_per_query_high")
        out[f"{name}_p50_ms"] = ph.get("p50_ms")
    for k, v in (res.get("per_unit") or {}).items():
        if k != "unit":
            out[k] = v
    load = res.get("load") or {}
    out["load_j"] = load.get("energy_j")
    out["load_s"] = load.get("duration_s")
    return out


def _carbon_fields(row: dict[str, Any], carbon: dict[str, Any], loc: Any) -> dict[str, Any]:
    fp = _footprint_per_1000(
        row.get("j_per_query"), row.get("j_per_query_low"), row.get("j_per_query_high"), carbon, loc
    )
    out: dict[str, Any] = {
        "co2e_g_per_1000": None,
        "co2e_g_per_1000_low": None,
        "co2e_g_per_1000_high": None,
        "cost_per_1000": None,
        "currency": carbon.get("currency"),
    }
    if loc is not None:
        out["location"] = loc.to_dict()
        out["carbon_intensity_g_per_kwh"] = loc.g_co2e_per_kwh
        out["intensity_basis"] = loc.basis
    if fp is None:
        return out
    out.update(
        co2e_g_per_1000=fp.co2e_g,
        co2e_g_per_1000_low=fp.co2e_low_g,
        co2e_g_per_1000_high=fp.co2e_high_g,
        pue=fp.pue,
        facility_kwh_per_1000=fp.kwh,
    )
    if fp.cost is not None:
        out["cost_per_1000"] = fp.cost.get("amount")
        out["currency"] = fp.cost.get("currency")
    return out


def _php_task_fields(row: dict[str, Any]) -> dict[str, Any]:
    ref = php_task_reference().get(canonical_task(row["task"] or ""))
    return {} if ref is None else {"php_task_kwh_per_1000": float(ref["recomputed_kwh_per_1000"])}


def _tier(row: dict[str, Any], env: dict[str, Any], attribution: str | None) -> dict[str, Any]:
    mon = (env or {}).get("monitor") or {}
    att = attribution or mon.get("attribution") or "machine"
    return run_tier(
        (row.get("config") or {}).get("device"),
        att,
        list(mon.get("sources") or []),
        row.get("energy_basis"),
        row.get("source"),
    ).to_dict()


def cell_row(
    run: dict[str, Any], cell: dict[str, Any], loc: Any = None, lifecycle: dict[str, Any] | None = None
) -> dict[str, Any]:
    res = cell.get("result") or {}
    cfg = run.get("config") or {}
    carbon = dict(cfg.get("carbon") or {})
    row = _base_row(run, cell)
    row.update(_phase_fields(res))
    row.update(_carbon_fields(row, carbon, loc))
    row.update(_php_task_fields(row))
    env = run.get("environment") or {}
    attribution = ((cfg.get("suite") or {}).get("settings") or {}).get("attribution")
    row["boundary"] = _boundary(env, attribution)
    row["tier"] = _tier(row, env, attribution)
    row["versions"] = {**(env.get("versions") or {}), "python": env.get("python")}
    row["cpu"] = env.get("cpu")
    row["threads_used"] = res.get("threads_used")
    if row["config"].get("threads") in (0, None) and row["threads_used"]:
        # 0 asks for the library default: show what that was on this machine, keep the request beside it
        row["config"] = {**row["config"], "threads": row["threads_used"]}
        row["threads_requested"] = 0
    # embodied CO2e and water per 1,000 queries, when the run (or `results --embodied/--water`) asked for them
    row.update(lifecycle_per_1000(row, lifecycle or carbon.get("lifecycle"), carbon, loc, env))
    return row


def _runs(store: Any, run_id: str | None, all_runs: bool) -> list[dict[str, Any]]:
    if run_id is not None:
        run = store.get_run(run_id)
        if run is None:
            known = ", ".join(r["run_id"] for r in store.list_runs("bench")[:5]) or "none"
            raise KeyError(f"no run {run_id!r} in this store; latest bench runs: {known}")
        return [run]
    runs = store.list_runs("bench")
    return runs if all_runs else runs[:1]


def result_rows(
    store: Any, run_id: str | None = None, *, all_runs: bool = False, lifecycle: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Leaderboard rows of one run (default: the latest bench run; ``all_runs=True``: every bench run).

    ``lifecycle`` (``{"embodied": True, "water": True, ...}``) overrides the lifecycle settings stored with
    the run (``wattlens results --embodied``)."""
    rows: list[dict[str, Any]] = []
    for run in _runs(store, run_id, all_runs):
        carbon = dict((run.get("config") or {}).get("carbon") or {})
        loc = _location(carbon)
        run_rows = [cell_row(run, c, loc, lifecycle) for c in store.cells(run["run_id"])]
        rows.extend(rate_rows(run_rows))  # ratings need the run's whole population (within-run bands)
    return rows


def rating_note() -> str:
    return RATING_VERSION
