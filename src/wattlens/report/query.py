"""The results-query layer: one way of reading results out of a store, typed, for every front end.

``wattlens results``, ``wattlens report`` and ``wattlens breakeven`` read through these functions, and so can a
web page or an exporter: they take any ``wattlens.store`` store (SQLite or PostgreSQL) and return records
(``to_dict()`` is their JSON contract), never text. Rendering lives in :mod:`wattlens.report.tables` and
:mod:`wattlens.report.htmlreport`.

>>> from wattlens.store import open_store
>>> store = open_store(":memory:")
>>> list_runs(store)
[]
>>> leaderboard(store).rows
()
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlens.analyze.records import AnalysisSummary
from wattlens.bench.ratings import RATING_VERSION, REFERENCE_TIER, describe_rows
from wattlens.bench.records import BenchRow, WindowRow
from wattlens.bench.results import bench_runs, run_rows
from wattlens.carbon import Location
from wattlens.errors import WattlensError
from wattlens.optimize.gen_results import GenOptimizeResult, GenQuality, GenTrial, VariantQuality
from wattlens.optimize.gen_space import describe, variant_part
from wattlens.optimize.results import ConfigDict, OptimizeResult, config_key
from wattlens.optimize.runstore import load_generation_result, load_result
from wattlens.pareto import Objective, pareto_front
from wattlens.records import Record


class UnknownRunError(WattlensError, KeyError):
    """No run of that id (and kind) in the store; the message names the most recent ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown run"


@dataclass(frozen=True)
class RunInfo(Record):
    """One run of the store: what kind, when, its state, how it was configured and where it ran."""

    run_id: str
    kind: str = ""  # bench | optimize | measure | ...
    status: str = ""  # running | done | interrupted | failed
    created_unix_s: float | None = None
    updated_unix_s: float | None = None
    config: Mapping[str, object] = field(default_factory=dict)
    environment: Mapping[str, object] = field(default_factory=dict)
    cells: int | None = None  # stored cells, where counted

    @property
    def name(self) -> str:
        """The suite's name for a bench run (``quick``, ``php``, a file's name), the model for an optimize run."""
        suite = self.config.get("suite")
        if isinstance(suite, Mapping) and suite.get("name"):
            return str(suite["name"])
        return str(self.config.get("model") or self.config.get("name") or "")

    @property
    def machine(self) -> MachineInfo:
        return MachineInfo.of(self.environment or {})


@dataclass(frozen=True)
class MachineInfo(Record):
    """The machine a run ran on, as its environment recorded it (runs with the same key ran on the same kind of
    machine: CPU model, logical CPUs, GPUs)."""

    key: str = "unknown"
    label: str = "unknown machine (not recorded)"
    cpu: str | None = None
    logical_cpus: int | None = None
    gpus: tuple[str, ...] = ()
    platform: str | None = None

    @classmethod
    def of(cls, environment: Mapping[str, object]) -> MachineInfo:
        cpu = environment.get("cpu")
        cpus = environment.get("logical_cpus")
        raw_gpus = environment.get("gpus")
        gpus: tuple[str, ...] = ()
        if isinstance(raw_gpus, Mapping):
            gpus = tuple(str(v) for v in raw_gpus.values() if v)
        elif isinstance(raw_gpus, (list, tuple)):
            gpus = tuple(str(v) for v in raw_gpus if v)
        if not cpu and not gpus:
            return cls()
        n = cpus if isinstance(cpus, int) and not isinstance(cpus, bool) else None
        parts = [str(cpu or "unknown CPU") + (f" x{n}" if n else "")]
        if gpus:
            parts.append(" + ".join(gpus))
        label = ", ".join(parts)
        platform = environment.get("platform")
        return cls(
            key=label,
            label=label,
            cpu=str(cpu) if cpu else None,
            logical_cpus=n,
            gpus=gpus,
            platform=str(platform) if platform else None,
        )


def _run_info(row: Mapping[str, object], cells: int | None = None) -> RunInfo:
    return dataclasses.replace(RunInfo.from_dict(row), cells=cells)


def list_runs(store: Any, kind: str | None = None, *, count_cells: bool = False) -> list[RunInfo]:
    """Runs, newest first, optionally of one kind; ``count_cells`` also counts each run's stored cells."""
    counts: Mapping[str, int] = {}
    if count_cells:
        counts = store.cell_counts() if hasattr(store, "cell_counts") else _count_cells(store)
    return [_run_info(r, counts.get(r["run_id"], 0) if count_cells else None) for r in store.list_runs(kind)]


def _count_cells(store: Any) -> dict[str, int]:
    return {r["run_id"]: len(store.cells(r["run_id"])) for r in store.list_runs()}


def get_run(store: Any, run_id: str) -> RunInfo | None:
    row = store.get_run(run_id)
    return None if row is None else _run_info(row)


def require_run(store: Any, run_id: str, recent: int = 10, *, where: str = "the store") -> RunInfo:
    """The run, or :class:`UnknownRunError` naming the ``recent`` newest runs of the store (or saying it is empty)."""
    run = get_run(store, run_id)
    if run is not None:
        return run
    runs = list_runs(store)[:recent]
    if not runs:
        raise UnknownRunError(f"no run {run_id!r} in {where}; the store holds no runs yet")
    listing = ", ".join(f"{r.run_id} ({r.kind}, {r.status})" for r in runs)  # one line: an error is one line
    raise UnknownRunError(f"no run {run_id!r} in {where}; most recent runs: {listing}")


# --- bench leaderboards ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowFilter:
    """Which leaderboard rows to keep (None: any). ``status`` keeps failed/invalid cells out when asked."""

    task: str | None = None
    model: str | None = None
    device: str | None = None
    precision: str | None = None
    engine: str | None = None
    batch: int | None = None
    status: str | None = None

    def keeps(self, row: BenchRow) -> bool:
        cfg = row.config
        checks = (
            (self.task, row.task),
            (self.model, row.model),
            (self.device, cfg.device or "cpu"),
            (self.precision, cfg.precision),
            (self.engine, cfg.engine),
            (self.batch, cfg.batch),
            (self.status, row.status),
        )
        return all(want is None or want == have for want, have in checks)


@dataclass(frozen=True)
class MethodSummary(Record):
    """What the figures of a leaderboard are: boundaries, J/query bases, sources, and where CO2e was computed."""

    boundaries: tuple[str, ...] = ()
    energy_bases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    location: Location | None = None

    @classmethod
    def of(cls, rows: Sequence[BenchRow]) -> MethodSummary:
        def distinct(values: Sequence[str | None]) -> tuple[str, ...]:
            return tuple(sorted({v for v in values if v is not None}))

        return cls(
            boundaries=distinct([r.boundary for r in rows]),
            energy_bases=distinct([r.energy_basis for r in rows]),
            sources=distinct([r.source for r in rows]),
            location=next((r.location for r in rows if r.location is not None), None),
        )


@dataclass(frozen=True)
class Leaderboard(Record):
    """Rated rows of one or more bench runs, with what they are and the populations behind their stars."""

    runs: tuple[RunInfo, ...] = ()
    rows: tuple[BenchRow, ...] = ()
    method: MethodSummary = field(default_factory=MethodSummary)
    rating_lines: tuple[str, ...] = ()  # per task: band edges and population, or why there are no stars
    rating_rule: str = RATING_VERSION
    reference_tier: str = REFERENCE_TIER.label

    @property
    def run(self) -> RunInfo | None:
        """The run, when the board shows exactly one."""
        return self.runs[0] if len(self.runs) == 1 else None

    def tasks(self) -> list[str]:
        return list(dict.fromkeys(r.task for r in self.rows))

    def by_task(self) -> dict[str, list[BenchRow]]:
        out: dict[str, list[BenchRow]] = {}
        for r in self.rows:
            out.setdefault(r.task, []).append(r)
        return out


def leaderboard(
    store: Any,
    run_id: str | None = None,
    *,
    all_runs: bool = False,
    where: RowFilter | None = None,
    lifecycle: Mapping[str, object] | None = None,
) -> Leaderboard:
    """The leaderboard of one bench run (default: the latest; ``all_runs``: every bench run), rated per run and
    optionally filtered. ``lifecycle`` (``{"embodied": True, "water": True, ...}``) adds embodied CO2e and water
    to runs that did not ask for them. :class:`UnknownRunError` when ``run_id`` is not a bench run of the store."""
    try:
        runs = bench_runs(store, run_id, all_runs)
    except KeyError as exc:
        raise UnknownRunError(exc.args[0]) from None
    rows: list[BenchRow] = []
    for run in runs:
        rows.extend(run_rows(store, run, lifecycle))  # rated over the whole run, before any filter
    if where is not None:
        rows = [r for r in rows if where.keeps(r)]
    return Leaderboard(
        runs=tuple(_run_info(r) for r in runs),
        rows=tuple(rows),
        method=MethodSummary.of(rows),
        rating_lines=tuple(describe_rows(rows)),
    )


def best_row(store: Any, run_id: str, model: str) -> BenchRow | None:
    """The cheapest ok row of ``model`` in a bench run; ``bloomz-7b1`` also matches ``bigscience/bloomz-7b1``."""
    wanted = model.lower()

    def matches(name: str) -> bool:
        name = name.lower()
        return name == wanted or ("/" in name and name.rsplit("/", 1)[-1] == wanted)

    ok = [r for r in leaderboard(store, run_id).rows if r.ok and r.j_per_query is not None and matches(r.model)]
    return min(ok, key=lambda r: r.j_per_query if r.j_per_query is not None else math.inf) if ok else None


def run_timeline(store: Any, run_id: str, cell_key: str) -> tuple[WindowRow, ...]:
    """The raw windows of one cell of a run (idle baselines, loading, every measured window), in time order."""
    return tuple(WindowRow.from_dict(r) for r in store.timeline(run_id, cell_key))


# --- optimize results -----------------------------------------------------------------------------------------


def optimize_result(store: Any, run_id: str) -> OptimizeResult | None:
    """The stored result of an optimize run, or None while the run is unfinished (or was interrupted)."""
    return load_result(run_id, store=store)


def generation_result(store: Any, run_id: str) -> GenOptimizeResult | None:
    """The stored result of a text-generation optimize run (``wattlens optimize --task text-generation``), or
    None (unfinished, interrupted, or not a text-generation run)."""
    return load_generation_result(run_id, store)


GEN_OBJECTIVES = (
    "J/token (lower is better)",
    "token agreement with the unmodified model (higher is better)",
    "query p95 latency (lower is better)",
)
GEN_FRONT_RULE = (
    "The front is computed over the full-fidelity trials (the baseline and the finalists, measured on the same "
    "prompts): a point is on it when no other is at least as good on J/token, token agreement and query p95 "
    "latency and better on one. Probe trials (fewer prompts) are shown, not ranked."
)


@dataclass(frozen=True)
class GenHiddenCosts(Record):
    """What a text-generation configuration costs besides energy, against the baseline measured at the same
    fidelity (ratios > 1: more than the baseline; agreement_delta < 0: further from the unmodified model)."""

    agreement_delta: float | None = None
    ttft_p95_ratio: float | None = None
    itl_p95_ratio: float | None = None
    query_p95_ratio: float | None = None
    tokens_per_s_ratio: float | None = None
    peak_rss_ratio: float | None = None


@dataclass(frozen=True)
class GenPoint(Record):
    """One measured text-generation configuration, with its variant's quality and its hidden costs."""

    label: str
    config: ConfigDict
    fidelity: str  # probe | full
    j_per_token: float
    j_per_token_low: float | None = None
    j_per_token_high: float | None = None
    j_per_query: float | None = None
    agreement: float | None = None  # token agreement of its variant vs the unmodified model (greedy)
    agreement_low: float | None = None
    agreement_high: float | None = None
    kl_mean_nats: float | None = None
    ttft_p95_ms: float | None = None
    itl_p95_ms: float | None = None
    query_p95_ms: float | None = None
    tokens_per_s: float | None = None
    peak_rss_mb: float | None = None
    energy_source: str | None = None
    roles: tuple[str, ...] = ()  # baseline, recommended
    on_front: bool = False
    hidden_costs: GenHiddenCosts | None = None


@dataclass(frozen=True)
class GenerationView(Record):
    """A text-generation optimize run as the page shows it: the stored result, every measured point, the Pareto
    front (J/token x token agreement x query p95) and the hidden costs of each point."""

    result: GenOptimizeResult
    points: tuple[GenPoint, ...] = ()  # every ok trial with a J/token: full fidelity first, then probes
    pareto: tuple[GenPoint, ...] = ()  # cheapest first
    objectives: tuple[str, ...] = GEN_OBJECTIVES
    front_rule: str = GEN_FRONT_RULE


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def _gen_hidden_costs(t: GenTrial, q: GenQuality | None, base: GenTrial, base_q: GenQuality | None) -> GenHiddenCosts:
    agreement = None if q is None or base_q is None else q.token_agreement - base_q.token_agreement
    return GenHiddenCosts(
        agreement_delta=agreement,
        ttft_p95_ratio=_ratio(t.ttft_p95_ms, base.ttft_p95_ms),
        itl_p95_ratio=_ratio(t.itl_p95_ms, base.itl_p95_ms),
        query_p95_ratio=_ratio(t.query_p95_ms, base.query_p95_ms),
        tokens_per_s_ratio=_ratio(t.tokens_per_s, base.tokens_per_s),
        peak_rss_ratio=_ratio(t.peak_rss_mb, base.peak_rss_mb),
    )


def _gen_point(t: GenTrial, q: GenQuality | None, roles: tuple[str, ...]) -> GenPoint:
    return GenPoint(
        label=t.label,
        config=dict(t.config),
        fidelity=t.fidelity,
        j_per_token=t.j_per_token or 0.0,
        j_per_token_low=t.j_per_token_low,
        j_per_token_high=t.j_per_token_high,
        j_per_query=t.j_per_query,
        agreement=None if q is None else q.token_agreement,
        agreement_low=None if q is None else q.token_agreement_low,
        agreement_high=None if q is None else q.token_agreement_high,
        kl_mean_nats=None if q is None else q.kl_mean_nats,
        ttft_p95_ms=t.ttft_p95_ms,
        itl_p95_ms=t.itl_p95_ms,
        query_p95_ms=t.query_p95_ms,
        tokens_per_s=t.tokens_per_s,
        peak_rss_mb=t.peak_rss_mb,
        energy_source=t.energy_source,
        roles=roles,
    )


GEN_FRONT: tuple[Objective[GenPoint], ...] = (
    Objective(lambda p: p.j_per_token),
    Objective(lambda p: p.agreement, minimize=False, required=False),
    Objective(lambda p: p.query_p95_ms, required=False),
)


def generation_view(result: GenOptimizeResult) -> GenerationView:
    """Every ok trial of a text-generation result as a point with its variant's quality and hidden costs, and
    the Pareto front of the full-fidelity ones."""
    quality: dict[str, VariantQuality] = {v.variant: v for v in result.variant_quality}

    def quality_of(t: GenTrial) -> GenQuality | None:
        v = quality.get(describe(variant_part(t.config)))
        return None if v is None else v.quality

    def key(t: GenTrial | None) -> str | None:
        return None if t is None else config_key(t.config)

    base_key, rec_key = key(result.baseline), key(result.recommended)
    bases = {t.fidelity: t for t in result.trials if t.ok and key(t) == base_key}
    measured = [t for t in result.trials if t.ok and t.j_per_token]
    measured.sort(key=lambda t: (t.fidelity != "full", t.j_per_token or 0.0))
    points = []
    for t in measured:
        roles = tuple(
            r for r, k in (("baseline", base_key), ("recommended", rec_key)) if t.fidelity == "full" and key(t) == k
        )
        point = _gen_point(t, quality_of(t), roles)
        base = bases.get(t.fidelity)
        if base is not None:
            costs = _gen_hidden_costs(t, quality_of(t), base, quality_of(base))
            point = dataclasses.replace(point, hidden_costs=costs)
        points.append(point)
    front = pareto_front([p for p in points if p.fidelity == "full"], GEN_FRONT)
    on_front = {id(p) for p in front}
    points = [dataclasses.replace(p, on_front=id(p) in on_front) for p in points]
    return GenerationView(result, tuple(points), tuple(p for p in points if p.on_front))


# --- analyses ---------------------------------------------------------------------------------------------------

ANALYSIS_KIND = "analyze"  # runs stored by ``wattlens analyze --db``
ANALYSIS_CELL = "analysis"


def analysis_result(store: Any, run_id: str) -> AnalysisSummary | None:
    """The stored summary of an analysis (``wattlens analyze --db``), or None when the run has none."""
    for cell in store.cells(run_id):
        if cell.get("cell_key") == ANALYSIS_CELL and isinstance(cell.get("result"), Mapping):
            return AnalysisSummary.from_dict(cell["result"])
    return None
