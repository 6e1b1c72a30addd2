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
import dataclasses
from collections.abc import Mapping
from functools import lru_cache
from typing import Protocol

from wattlens._logging import get_logger
from wattlens.bench.lifecycle_rows import lifecycle_per_1000
from wattlens.bench.ratings import DATA_DIR, RATING_VERSION, rate_rows, run_tier
from wattlens.bench.records import BenchRow, CellConfig, CellResult, PerUnit, PhaseFigures, PhaseResult
from wattlens.carbon import Footprint, Location
from wattlens.units import kwh_per_1000, wh_per_1000_or_none
from wattlens.workloads.tasks import canonical_task

_log = get_logger(__name__)


@lru_cache(maxsize=64)
def _warn_once(message: str) -> None:
    """One warning per bad stored setting, not one per row."""
    _log.warning("%s", message)


STATUSES = ("ok", "invalid", "failed")


class ResultStore(Protocol):
    """What reading results needs from a store (``wattlens.store.Store`` implements it)."""

    def get_run(self, run_id: str) -> Mapping[str, object] | None: ...

    def list_runs(self, kind: str | None = None) -> list[Mapping[str, object]]: ...  # newest first

    def cells(self, run_id: str) -> list[Mapping[str, object]]: ...


@lru_cache(maxsize=1)
def php_task_reference() -> dict[str, dict[str, str]]:
    """PHP's per-task kWh per 1,000 queries (paper and recomputed), for the 'check against PHP' column."""
    with (DATA_DIR / "php_tasks.csv").open(newline="", encoding="utf-8") as f:
        return {r["task"]: r for r in csv.DictReader(f)}


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclasses.dataclass(frozen=True)
class _RunContext:
    """What every row of one run shares: its carbon settings, location, boundary and environment."""

    run_id: str
    carbon: Mapping[str, object]
    location: Location | None
    attribution: str | None
    meters: tuple[str, ...]
    versions: Mapping[str, str | None]
    cpu: str | None
    environment: Mapping[str, object]
    lifecycle: Mapping[str, object] | None  # embodied/water settings stored with the run (or given to results)

    @classmethod
    def of(
        cls, run: Mapping[str, object], location: Location | None = None, lifecycle: Mapping[str, object] | None = None
    ) -> _RunContext:
        cfg = _mapping(run.get("config"))
        env = _mapping(run.get("environment"))
        mon = _mapping(env.get("monitor"))
        settings = _mapping(_mapping(cfg.get("suite")).get("settings"))
        raw_versions = _mapping(env.get("versions"))
        versions = {str(k): _str(v) for k, v in raw_versions.items()}
        versions["python"] = _str(env.get("python"))
        meters = mon.get("sources")
        return cls(
            run_id=str(run.get("run_id") or ""),
            carbon=dict(_mapping(cfg.get("carbon"))),
            location=location,
            attribution=_str(settings.get("attribution")) or _str(mon.get("attribution")),
            meters=tuple(str(m) for m in meters) if isinstance(meters, (list, tuple)) else (),
            versions=versions,
            cpu=_str(env.get("cpu")),
            environment=env,
            lifecycle=lifecycle or _mapping(_mapping(cfg.get("carbon")).get("lifecycle")) or None,
        )

    @property
    def boundary(self) -> str:
        sources = ", ".join(self.meters) or "unknown sources"
        return f"node: devices read by {sources} (attribution={self.attribution or 'machine'})"


def run_location(carbon: Mapping[str, object]) -> Location | None:
    """The run's stored location; ``None`` (CO2e unknown for its rows) when the stored value is not one this
    wattlens knows: a bad value saved by an older version must never stop the store from being read."""
    from wattlens.carbon import CarbonError, resolve_location

    intensity = carbon.get("intensity_g_per_kwh")
    try:
        return resolve_location(
            country=_str(carbon.get("country")),
            region=_str(carbon.get("region")),
            intensity_g_per_kwh=_float(intensity) if intensity is not None else None,
        )
    except (CarbonError, TypeError, ValueError) as exc:
        _warn_once(f"stored carbon settings {dict(carbon)} are not usable ({exc}): CO2e shown as unknown")
        return None


def _footprint_per_1000(j: float | None, lo: float | None, hi: float | None, ctx: _RunContext) -> Footprint | None:
    from wattlens.carbon import footprint

    if j is None:
        return None
    k = 1000.0
    lo_ = None if lo is None else max(min(lo, j), 0.0) * k  # a net interval may dip below 0
    hi_ = None if hi is None else max(hi, j) * k
    pue = ctx.carbon.get("pue")
    return footprint(
        j * k,
        lo_,
        hi_,
        location=ctx.location,
        pue=pue if isinstance(pue, (int, float, str)) else None,
        price_per_kwh=_float(ctx.carbon.get("price_per_kwh")),
        currency=_str(ctx.carbon.get("currency")),
    )


def short_error(error: str | None, limit: int = 160) -> str | None:
    """The first sentence of an error, for tables (the full text stays in ``error_detail``)."""
    if not error:
        return None
    first = error.strip().splitlines()[0]
    cut = first.find("; ")
    first = first[:cut] if 0 < cut < limit else first
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _config_of(res: CellResult) -> CellConfig:
    if res.config != CellConfig():
        return res.config
    spec = res.cell  # very old records: the config only inside the cell spec
    return CellConfig.from_dict({k: spec.get(k) for k in ("batch", "precision", "threads", "engine")})


@dataclasses.dataclass(frozen=True)
class _Carbon:
    """CO2e and cost per 1,000 queries of one row, with the location and PUE they assume."""

    co2e_g: float | None = None
    co2e_low_g: float | None = None
    co2e_high_g: float | None = None
    cost: float | None = None
    currency: str | None = None
    pue: float | None = None
    facility_kwh: float | None = None


def _carbon_per_1000(j: float | None, lo: float | None, hi: float | None, ctx: _RunContext) -> _Carbon:
    from wattlens.carbon import CarbonError

    currency = _str(ctx.carbon.get("currency"))
    if ctx.location is None and any(ctx.carbon.get(k) for k in ("country", "region", "intensity_g_per_kwh")):
        return _Carbon()  # the run named a place this wattlens cannot resolve: unknown, not the world average
    try:
        fp = _footprint_per_1000(j, lo, hi, ctx)
    except (CarbonError, TypeError, ValueError) as exc:  # a bad stored PUE/price: unknown, never a crash
        _warn_once(f"stored carbon settings of run {ctx.run_id} are not usable ({exc}): CO2e and cost shown as unknown")
        return _Carbon()
    if fp is None:
        return _Carbon(currency=currency)
    cost = _float(fp.cost.get("amount")) if fp.cost is not None else None
    if fp.cost is not None:
        currency = _str(fp.cost.get("currency"))
    return _Carbon(fp.co2e_g, fp.co2e_low_g, fp.co2e_high_g, cost, currency, fp.pue, fp.kwh)


def _php_task_kwh(task: str) -> float | None:
    ref = php_task_reference().get(canonical_task(task))
    return None if ref is None else float(ref["recomputed_kwh_per_1000"])


def cell_row(
    run: Mapping[str, object],
    cell: Mapping[str, object],
    loc: Location | None = None,
    lifecycle: Mapping[str, object] | None = None,
) -> BenchRow:
    """The leaderboard row of one stored cell (unrated: ratings need the whole run, see :func:`result_rows`)."""
    return _row(_RunContext.of(run, loc, lifecycle), cell)


def _with_lifecycle(row: BenchRow, ctx: _RunContext) -> BenchRow:
    """Embodied CO2e and water per 1,000 queries, when the run (or ``results --embodied/--water``) asked."""
    if not ctx.lifecycle:
        return row
    figures = row.to_dict()
    extra = lifecycle_per_1000(figures, dict(ctx.lifecycle), dict(ctx.carbon), ctx.location, dict(ctx.environment))
    return BenchRow.from_dict({**figures, **extra}) if extra else row


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _row(ctx: _RunContext, cell: Mapping[str, object]) -> BenchRow:
    return _with_lifecycle(_measured_row(ctx, cell), ctx)


def _measured_row(ctx: _RunContext, cell: Mapping[str, object]) -> BenchRow:
    res = CellResult.from_dict(_mapping(cell.get("result")))
    spec, measured = res.cell, res.query is not None
    q = res.query or PhaseResult()
    error = _str(cell.get("error")) or res.error
    config = _config_of(res)
    co2 = _carbon_per_1000(q.j_per_query, q.j_per_query_low, q.j_per_query_high, ctx)
    loc = ctx.location
    threads_requested = None
    if config.threads in (0, None) and res.threads_used:
        # 0 asks for the library default: show what that was on this machine, keep the request beside it
        config, threads_requested = config.with_threads(res.threads_used), 0
    return BenchRow(
        run_id=ctx.run_id,
        cell_key=str(cell.get("cell_key") or ""),
        task=res.task or str(spec.get("task") or ""),
        model=res.model or str(spec.get("model") or ""),
        config=config,
        weights=res.weights,
        status=str(cell.get("status") or ""),
        queries=q.queries if measured else None,  # the count behind gross_j / idle_j / net_j
        inputs=_int(spec.get("queries")),  # distinct inputs each repeat had to cover (the suite's `queries`)
        repeats=_int(spec.get("repeats")),
        error=short_error(error),
        error_detail=error,
        validity=tuple(res.reasons or ()),
        warnings=tuple(res.warnings or ()),
        j_per_query=q.j_per_query,
        j_per_query_low=q.j_per_query_low,
        j_per_query_high=q.j_per_query_high,
        ci95_j=q.ci95_j,
        cv=q.cv,
        energy_basis=q.basis,
        gross_j_per_query=q.gross_j_per_query,
        net_j_per_query=q.net_j_per_query,
        wh_per_1000=wh_per_1000_or_none(q.j_per_query),
        kwh_per_1000=None if q.j_per_query is None else kwh_per_1000(q.j_per_query),
        source=q.source,
        gross_j=q.gross_j,
        idle_j=q.idle_j,
        net_j=q.net_j,
        measured_s=q.duration_s,
        mean_power_w=q.mean_power_w,
        idle_w=res.idle.used.power_w if res.idle is not None and res.idle.used is not None else None,
        p50_ms=q.p50_ms,
        p95_ms=q.p95_ms,
        throughput_qps=q.throughput_qps,
        harness_overhead_frac=q.harness_overhead_frac,
        min_window_s=q.min_window_s if measured else None,
        quality=res.quality,
        quality_metric=res.metric,
        quality_n=res.quality_n,
        quality_low=res.quality_low,
        quality_high=res.quality_high,
        params=res.params,
        unit=res.unit,
        phases={name: PhaseFigures.of(ph) for name, ph in (res.phases or {}).items()},
        per_unit=res.per_unit or PerUnit(),
        load_j=None if res.load is None else res.load.energy_j,
        load_s=None if res.load is None else res.load.duration_s,
        co2e_g_per_1000=co2.co2e_g,
        co2e_g_per_1000_low=co2.co2e_low_g,
        co2e_g_per_1000_high=co2.co2e_high_g,
        cost_per_1000=co2.cost,
        currency=co2.currency,
        location=loc,
        carbon_intensity_g_per_kwh=None if loc is None else loc.g_co2e_per_kwh,
        intensity_basis=None if loc is None else loc.basis,
        pue=co2.pue,
        facility_kwh_per_1000=co2.facility_kwh,
        php_task_kwh_per_1000=_php_task_kwh(res.task or str(spec.get("task") or "")),
        boundary=ctx.boundary,
        tier=run_tier(config.device, ctx.attribution, ctx.meters, q.basis, q.source).to_dict(),
        versions=ctx.versions,
        cpu=ctx.cpu,
        threads_used=res.threads_used,
        threads_requested=threads_requested,
    )


def bench_runs(store: ResultStore, run_id: str | None, all_runs: bool) -> list[Mapping[str, object]]:
    """The bench run asked for (KeyError naming the latest ones when unknown), else the latest or all."""
    if run_id is not None:
        run = store.get_run(run_id)
        if run is None:
            known = ", ".join(str(r.get("run_id")) for r in store.list_runs("bench")[:5]) or "none"
            raise KeyError(f"no run {run_id!r} in this store; latest bench runs: {known}")
        return [run]
    runs = store.list_runs("bench")
    return runs if all_runs else runs[:1]


def run_rows(
    store: ResultStore, run: Mapping[str, object], lifecycle: Mapping[str, object] | None = None
) -> list[BenchRow]:
    """The rated leaderboard rows of one stored run. ``lifecycle`` (``{"embodied": True, "water": True, ...}``)
    overrides the lifecycle settings stored with the run (``wattlens results --embodied``)."""
    carbon = _mapping(_mapping(run.get("config")).get("carbon"))
    ctx = _RunContext.of(run, run_location(carbon), lifecycle)
    rows = [_row(ctx, c) for c in store.cells(ctx.run_id)]
    return rate_rows(rows)  # ratings need the run's whole population (within-run bands)


def result_rows(
    store: ResultStore,
    run_id: str | None = None,
    *,
    all_runs: bool = False,
    lifecycle: Mapping[str, object] | None = None,
) -> list[BenchRow]:
    """Leaderboard rows of one run (default: the latest bench run; ``all_runs=True``: every bench run)."""
    rows: list[BenchRow] = []
    for run in bench_runs(store, run_id, all_runs):
        rows.extend(run_rows(store, run, lifecycle))
    return rows


def rating_note() -> str:
    return RATING_VERSION
