"""The JSON API's answers, one typed record per endpoint, built from the results-query layer.

Framework-free: each function takes a :class:`~wattlens.web.cache.ResultsCache` and the request's query parameters
and returns a :class:`~wattlens.records.Record` (its ``to_dict()`` is what ``/api/...`` sends; docs/WEB.md lists
them). Bad parameters raise :class:`BadRequest`, unknown runs :class:`NotFound`; both carry a message for people.

Every figure is the store's own (through :mod:`wattlens.report.query`, :mod:`wattlens.report.compare`,
:mod:`wattlens.report.history`): the page adds no number of its own beyond sorting, filtering and paging.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from wattlens.analyze.records import AnalysisSummary
from wattlens.bench.records import BenchRow, WindowRow
from wattlens.errors import WattlensError
from wattlens.optimize.results import OptimizeResult
from wattlens.records import Record
from wattlens.report import _fmt as f
from wattlens.report.compare import ComparedPair, Comparison, compare_machines, compare_runs, machines
from wattlens.report.history import KINDS_WITH_PAGES, History, RunEntry, history, run_entry
from wattlens.report.query import (
    ANALYSIS_KIND,
    GenerationView,
    Leaderboard,
    MachineInfo,
    MethodSummary,
    RowFilter,
    RunInfo,
    UnknownRunError,
    analysis_result,
    generation_result,
    generation_view,
    leaderboard,
    list_runs,
    optimize_result,
    require_run,
    run_timeline,
)
from wattlens.web.cache import CELL_COUNTS, MEASUREMENTS, NOTHING, RUN_LIST, Cached, ResultsCache, run_scope

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
RECENT = 10
Params = Mapping[str, str]


class WebError(WattlensError):
    """A request the page cannot answer; ``status`` is its HTTP status."""

    status = 400


class BadRequest(WebError, ValueError):
    status = 400


class NotFound(WebError, KeyError):
    status = 404

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


# --- records the API answers with ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleNote(Record):
    """Figures answered from before the store's latest change while the new ones are computed in the background
    (a leaderboard of thousands of cells takes seconds): when they were computed, and what to expect."""

    computed_unix_s: float
    message: str


@dataclass(frozen=True)
class RunChoice(Record):
    """A run as a selector lists it."""

    run_id: str
    kind: str
    status: str
    name: str = ""
    created_unix_s: float | None = None
    machine: str = ""
    cells: int | None = None

    @classmethod
    def of(cls, run: RunInfo) -> RunChoice:
        return cls(run.run_id, run.kind, run.status, run.name, run.created_unix_s, run.machine.label, run.cells)


@dataclass(frozen=True)
class RunsResponse(Record):
    """``/api/runs``: every run (newest first), how many of each kind, and which store this is."""

    store: str
    runs: tuple[RunChoice, ...] = ()
    kinds: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FilterValues(Record):
    """A leaderboard's filter: the values applied (None: any), or the values available to choose from."""

    device: tuple[str, ...] = ()
    precision: tuple[str, ...] = ()
    batch: tuple[int, ...] = ()
    engine: tuple[str, ...] = ()
    status: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskCount(Record):
    task: str
    rows: int
    ok: int


@dataclass(frozen=True)
class EnergyPoints(Record):
    """The chart's points: the filtered rows with a J/query figure (ok and invalid alike, the status says which),
    in the table's order (ok cheapest first, then invalid); all of them, not one page. ``rank`` is each point's
    row number in the table (1-based), the chart's x."""

    rank: tuple[int, ...] = ()
    label: tuple[str, ...] = ()
    cell_key: tuple[str, ...] = ()
    j_per_query: tuple[float, ...] = ()
    j_per_query_low: tuple[float | None, ...] = ()
    j_per_query_high: tuple[float | None, ...] = ()
    quality: tuple[float | None, ...] = ()
    p95_ms: tuple[float | None, ...] = ()
    status: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeaderboardResponse(Record):
    """``/api/leaderboard``: one task of one bench run, filtered, one page of rows, and every point for the chart."""

    run: RunInfo | None = None
    machine: MachineInfo | None = None
    runs: tuple[RunChoice, ...] = ()
    tasks: tuple[TaskCount, ...] = ()
    task: str | None = None
    choices: FilterValues = field(default_factory=FilterValues)
    applied: Mapping[str, object] = field(default_factory=dict)
    total: int = 0
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    rows: tuple[BenchRow, ...] = ()
    points: EnergyPoints = field(default_factory=EnergyPoints)
    method: MethodSummary = field(default_factory=MethodSummary)
    rating_lines: tuple[str, ...] = ()
    rating_rule: str = ""
    message: str | None = None
    stale: StaleNote | None = None


@dataclass(frozen=True)
class EnergyTotals(Record):
    """Gross, idle and net energy summed over a run's measured query windows (cells that have the figure)."""

    gross_j: float | None = None
    idle_j: float | None = None
    net_j: float | None = None
    cells: int = 0


@dataclass(frozen=True)
class RunResponse(Record):
    """``/api/run``: one run, its cells by status, its energy totals, one page of its cells and where it is shown."""

    run: RunInfo
    machine: MachineInfo
    page: str = "run"  # run | optimize | analyze: the page that shows this kind of run
    counts: Mapping[str, int] = field(default_factory=dict)
    totals: EnergyTotals = field(default_factory=EnergyTotals)
    total: int = 0
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    rows: tuple[BenchRow, ...] = ()
    timeline_cells: tuple[str, ...] = ()
    entry: RunEntry | None = None  # runs of other kinds: the summary of their cells
    stale: StaleNote | None = None


@dataclass(frozen=True)
class TimelineResponse(Record):
    """``/api/timeline``: the raw windows of one cell, in time order."""

    run_id: str
    cell_key: str
    windows: tuple[WindowRow, ...] = ()
    start_unix_s: float | None = None


@dataclass(frozen=True)
class MachineChoice(Record):
    key: str
    label: str
    runs: int


@dataclass(frozen=True)
class ComparePoints(Record):
    """The chart's points: every pair with a J/query figure on both sides (all of them, not one page); ``rank`` is
    each one's row number in the table (1-based), the chart's x."""

    rank: tuple[int, ...] = ()
    label: tuple[str, ...] = ()
    a_j_per_query: tuple[float | None, ...] = ()
    a_j_per_query_low: tuple[float | None, ...] = ()
    a_j_per_query_high: tuple[float | None, ...] = ()
    b_j_per_query: tuple[float | None, ...] = ()
    b_j_per_query_low: tuple[float | None, ...] = ()
    b_j_per_query_high: tuple[float | None, ...] = ()
    ratio: tuple[float | None, ...] = ()
    verdict: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompareResponse(Record):
    """``/api/compare``: the runs and machines to choose from, and the comparison asked for (if both sides given):
    its summary over every pair (of ``task``, if given), one page of its pairs (pairs measured on both sides first)
    and every pair measured on both sides as chart points."""

    mode: str = "runs"  # runs | machines
    a: str | None = None
    b: str | None = None
    task: str | None = None
    runs: tuple[RunChoice, ...] = ()
    machines: tuple[MachineChoice, ...] = ()
    tasks: tuple[str, ...] = ()
    comparison: Comparison | None = None  # its ``pairs``: the page [offset, offset + limit) of ``total``
    total: int = 0
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    points: ComparePoints = field(default_factory=ComparePoints)
    message: str | None = None
    stale: StaleNote | None = None


@dataclass(frozen=True)
class OptimizeResponse(Record):
    """``/api/optimize``: an optimize run's stored result (Pareto front, hidden costs, rejections): ``result``
    for a run of the encoder tasks, ``generation`` for a text-generation run (J/token x token agreement x
    latency); neither while the run is unfinished (``message`` says so)."""

    run: RunInfo | None = None
    runs: tuple[RunChoice, ...] = ()
    result: OptimizeResult | None = None
    generation: GenerationView | None = None
    message: str | None = None


@dataclass(frozen=True)
class AnalyzeResponse(Record):
    """``/api/analyze``: a stored analysis (energy by role and by memory level, levers)."""

    run: RunInfo | None = None
    runs: tuple[RunChoice, ...] = ()
    analysis: AnalysisSummary | None = None
    message: str | None = None


# --- parameters ---------------------------------------------------------------------------------------------------


def _int_param(params: Params, name: str, default: int | None, low: int = 0, high: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        allowed = f"{low}..{high}" if high is not None else f">= {low}"
        raise BadRequest(f"{name} must be in {allowed}, got {value}")
    return value


def _text(params: Params, name: str) -> str | None:
    raw = params.get(name)
    return raw if raw else None


def _page(params: Params) -> tuple[int, int]:
    offset = _int_param(params, "offset", 0) or 0
    limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
    return offset, limit


def _runs(cache: ResultsCache, kind: str | None = None) -> list[RunInfo]:
    return cache.get(("runs", kind), lambda: list_runs(cache.store, kind, count_cells=True), (RUN_LIST, CELL_COUNTS))


def _require(cache: ResultsCache, run_id: str, kind: str | None = None) -> RunInfo:
    """The run, or :class:`NotFound` naming the store's most recent runs (of that kind)."""
    try:
        run = cache.get(("run", run_id), lambda: require_run(cache.store, run_id, RECENT), [run_scope(run_id)])
    except UnknownRunError as exc:
        raise NotFound(str(exc)) from None
    if kind is not None and run.kind != kind:
        recent = ", ".join(r.run_id for r in _runs(cache, kind)[:RECENT]) or "none"
        raise NotFound(f"run {run_id!r} is a {run.kind!r} run, not {kind!r}; {kind} runs: {recent}")
    return run


def _board(cache: ResultsCache, run_id: str) -> Cached[Leaderboard]:
    """A bench run's leaderboard; after the run changed, the previous one (marked stale) while the new one is
    computed in the background: rebuilding 10,000 cells takes seconds, the page must not wait for it."""
    return cache.get_or_stale(("leaderboard", run_id), lambda: leaderboard(cache.store, run_id), [run_scope(run_id)])


def _stale(*boards: Cached[Leaderboard]) -> StaleNote | None:
    old = [b.computed_unix_s for b in boards if b.stale]
    if not old:
        return None
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(min(old)))
    return StaleNote(
        computed_unix_s=min(old),
        message=f"The store has changed since these figures were computed ({when}); the new figures are being "
        "computed and this page reloads when they are ready.",
    )


@dataclasses.dataclass(frozen=True)
class _TaskView:
    """One task of a leaderboard, prepared once per store state: its rows in page order, its chart points, the
    filter values it offers, and each row's chart label (so that a filtered request only filters)."""

    rows: tuple[BenchRow, ...]
    points: EnergyPoints
    choices: FilterValues
    labels: Mapping[str, str]


def _task_view(cache: ResultsCache, board: Cached[Leaderboard], task: str | None) -> _TaskView:
    """Derived from one computation of the board (its token): kept as long as that board is the one shown."""

    def build() -> _TaskView:
        rows = f.sort_rows(r for r in board.value.rows if r.task == task)
        labels = {r.cell_key: f"{r.model} · {f.config_label(r.config)}" for r in rows}
        return _TaskView(tuple(rows), _points(rows, labels), _choices(rows), labels)

    return cache.get(("task-view", board.token, task), build, NOTHING)


def _tasks_of(cache: ResultsCache, board: Cached[Leaderboard]) -> tuple[TaskCount, ...]:
    return cache.get(("tasks", board.token), lambda: _tasks(board.value.rows), NOTHING)


# --- endpoints ----------------------------------------------------------------------------------------------------


def runs_view(cache: ResultsCache, params: Params) -> RunsResponse:
    kind = _text(params, "kind")
    runs = _runs(cache, kind)
    kinds: dict[str, int] = {}
    for run in _runs(cache):
        kinds[run.kind] = kinds.get(run.kind, 0) + 1
    return RunsResponse(store=str(cache.store.url), runs=tuple(RunChoice.of(r) for r in runs), kinds=kinds)


def _choices(rows: Sequence[BenchRow]) -> FilterValues:
    def distinct(values: Sequence[object]) -> tuple[object, ...]:
        return tuple(sorted({v for v in values if v is not None}, key=lambda v: (str(type(v)), v)))  # type: ignore[arg-type]

    return FilterValues(
        device=distinct([r.config.device or "cpu" for r in rows]),  # type: ignore[arg-type]
        precision=distinct([r.config.precision for r in rows]),  # type: ignore[arg-type]
        batch=distinct([r.config.batch for r in rows]),  # type: ignore[arg-type]
        engine=distinct([r.config.engine for r in rows]),  # type: ignore[arg-type]
        status=distinct([r.status for r in rows]),  # type: ignore[arg-type]
    )


def _points(rows: Sequence[BenchRow], labels: Mapping[str, str]) -> EnergyPoints:
    """The rows (in the table's order) that have a J/query figure, each with its row number in the table."""
    ranked = [(i + 1, r) for i, r in enumerate(rows) if r.j_per_query is not None]
    drawn = [r for _, r in ranked]
    return EnergyPoints(
        rank=tuple(rank for rank, _ in ranked),
        label=tuple(labels[r.cell_key] for r in drawn),
        cell_key=tuple(r.cell_key for r in drawn),
        j_per_query=tuple(r.j_per_query or 0.0 for r in drawn),
        j_per_query_low=tuple(r.j_per_query_low for r in drawn),
        j_per_query_high=tuple(r.j_per_query_high for r in drawn),
        quality=tuple(r.quality for r in drawn),
        p95_ms=tuple(r.p95_ms for r in drawn),
        status=tuple(r.status for r in drawn),
    )


def _tasks(rows: Sequence[BenchRow]) -> tuple[TaskCount, ...]:
    counts: dict[str, list[int]] = {}
    for r in rows:
        c = counts.setdefault(r.task, [0, 0])
        c[0] += 1
        c[1] += r.ok
    return tuple(TaskCount(t, n, ok) for t, (n, ok) in counts.items())


def leaderboard_view(cache: ResultsCache, params: Params) -> LeaderboardResponse:
    """One task of a bench run (default: the latest run, its first task), filtered and paged."""
    offset, limit = _page(params)
    runs = _runs(cache, "bench")
    choices = tuple(RunChoice.of(r) for r in runs)
    run_id = _text(params, "run")
    if run_id is None:
        if not runs:
            return LeaderboardResponse(
                message="This store holds no bench runs yet. Run one into it: "
                "wattlens bench --suite quick --db " + str(cache.store.url)
            )
        run_id = runs[0].run_id
    run = _require(cache, run_id, "bench")
    cached = _board(cache, run.run_id)
    board = cached.value
    tasks = _tasks_of(cache, cached)
    task = _text(params, "task") or (tasks[0].task if tasks else None)
    if task is not None and tasks and task not in {t.task for t in tasks}:
        raise BadRequest(f"task {task!r} is not in run {run.run_id}; its tasks: {', '.join(t.task for t in tasks)}")
    view = _task_view(cache, cached, task)
    where = RowFilter(
        device=_text(params, "device"),
        precision=_text(params, "precision"),
        batch=_int_param(params, "batch", None, 1),
        engine=_text(params, "engine"),
        status=_text(params, "status"),
    )
    applied = {k: v for k, v in vars(where).items() if v is not None and k not in ("task", "model")}
    kept = [r for r in view.rows if where.keeps(r)] if applied else list(view.rows)  # already in page order
    lines = tuple(line for line in board.rating_lines if task is None or line.startswith(f"{task}:"))
    return LeaderboardResponse(
        run=run,
        machine=run.machine,
        runs=choices,
        tasks=tasks,
        task=task,
        choices=view.choices,
        applied=applied,
        total=len(kept),
        offset=offset,
        limit=limit,
        rows=tuple(kept[offset : offset + limit]),
        points=_points(kept, view.labels) if applied else view.points,
        method=MethodSummary.of(kept) if kept else board.method,
        rating_lines=lines,
        rating_rule=board.rating_rule,
        message=None if kept else "No row of this task matches the filter.",
        stale=_stale(cached),
    )


PAGE_OF_KIND = {"bench": "run", "optimize": "optimize", ANALYSIS_KIND: "analyze"}


def _totals(rows: Sequence[BenchRow]) -> EnergyTotals:
    with_energy = [r for r in rows if r.gross_j is not None]

    def total(values: Sequence[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return math.fsum(known) if known else None

    return EnergyTotals(
        gross_j=total([r.gross_j for r in with_energy]),
        idle_j=total([r.idle_j for r in with_energy]),
        net_j=total([r.net_j for r in with_energy]),
        cells=len(with_energy),
    )


def run_view(cache: ResultsCache, params: Params) -> RunResponse:
    """One run: a bench run's cells (paged, optionally of one status) with validity reasons and energy totals; a run
    of another kind summarised; optimize and analyze runs point to their own pages."""
    run_id = _text(params, "id")
    if run_id is None:
        raise BadRequest("id is required: /api/run?id=RUN_ID (see /api/runs)")
    run = _require(cache, run_id)
    page = PAGE_OF_KIND.get(run.kind, "run")
    offset, limit = _page(params)
    if run.kind != "bench":
        cells = cache.get(("cells", run.run_id), lambda: cache.store.cells(run.run_id), [run_scope(run.run_id)])
        counts: dict[str, int] = {}
        for c in cells:
            counts[str(c["status"])] = counts.get(str(c["status"]), 0) + 1
        entry = run_entry(run.to_dict(), cells) if page == "run" else None
        return RunResponse(
            run=run,
            machine=run.machine,
            page=page,
            counts=counts,
            total=len(cells),
            entry=entry,
            timeline_cells=tuple(cache.store.timeline_keys(run.run_id)),
        )
    cached = _board(cache, run.run_id)
    board = cached.value
    status = _text(params, "status")
    rows = [r for r in board.rows if status is None or r.status == status]
    counts = {}
    for r in board.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    keys = cache.get(
        ("timeline-keys", run.run_id), lambda: tuple(cache.store.timeline_keys(run.run_id)), [run_scope(run.run_id)]
    )
    return RunResponse(
        run=run,
        machine=run.machine,
        page=page,
        counts=counts,
        totals=_totals([r for r in board.rows if r.ok]),
        total=len(rows),
        offset=offset,
        limit=limit,
        rows=tuple(rows[offset : offset + limit]),
        timeline_cells=keys,
        stale=_stale(cached),
    )


def timeline_view(cache: ResultsCache, params: Params) -> TimelineResponse:
    run_id, cell = _text(params, "run"), _text(params, "cell")
    if run_id is None or cell is None:
        raise BadRequest("run and cell are required: /api/timeline?run=RUN_ID&cell=CELL_KEY")
    run = _require(cache, run_id)
    windows = cache.get(
        ("timeline", run.run_id, cell), lambda: run_timeline(cache.store, run.run_id, cell), [run_scope(run.run_id)]
    )
    if not windows:
        raise NotFound(f"run {run.run_id!r} has no timeline for cell {cell!r}")
    starts = [w.start_unix_s for w in windows if w.start_unix_s is not None]
    return TimelineResponse(run_id=run.run_id, cell_key=cell, windows=windows, start_unix_s=min(starts, default=None))


def compare_view(cache: ResultsCache, params: Params) -> CompareResponse:
    """Two bench runs (``a``, ``b``) or two machines (``machine_a``, ``machine_b``) side by side."""
    runs = _runs(cache, "bench")
    groups = _machines(cache)
    choices = tuple(MachineChoice(k, v[0].machine.label, len(v)) for k, v in groups.items())
    task = _text(params, "task")
    ma, mb = _text(params, "machine_a"), _text(params, "machine_b")
    mode = "machines" if ma or mb else "runs"
    a, b = (ma, mb) if mode == "machines" else (_text(params, "a"), _text(params, "b"))
    if mode == "runs" and a is None and b is None and len(runs) >= 2:
        a, b = runs[1].run_id, runs[0].run_id  # the two latest: the older as A, the newer as B
    base = CompareResponse(mode=mode, a=a, b=b, task=task, runs=tuple(RunChoice.of(r) for r in runs), machines=choices)
    if a is None or b is None:
        need = "two machines" if mode == "machines" else "two bench runs"
        return _replace(base, message=f"Choose {need} to compare (this store has {len(runs)} bench runs).")
    offset, limit = _page(params)
    try:
        comparison, boards = _comparison(cache, mode, a, b)
    except UnknownRunError as exc:
        raise NotFound(str(exc)) from None
    tokens = tuple(board.token for board in boards)
    view = cache.get(("compare-view", mode, a, b, tokens, task), lambda: _compare_view(comparison, task), NOTHING)
    page = dataclasses.replace(view.comparison, pairs=view.comparison.pairs[offset : offset + limit])
    return _replace(
        base,
        tasks=view.tasks,
        comparison=page,
        total=len(view.comparison.pairs),
        offset=offset,
        limit=limit,
        points=view.points,
        stale=_stale(*boards),
    )


@dataclasses.dataclass(frozen=True)
class _CompareView:
    """A comparison prepared once for one task filter: its pairs in table order and its chart points."""

    comparison: Comparison
    tasks: tuple[str, ...]
    points: ComparePoints


def _both(pair: ComparedPair) -> bool:
    return (
        pair.a is not None and pair.b is not None and pair.a.j_per_query is not None and pair.b.j_per_query is not None
    )


def _compare_view(comparison: Comparison, task: str | None) -> _CompareView:
    tasks = tuple(dict.fromkeys(p.task for p in comparison.pairs))
    if task is not None:
        comparison = comparison.for_task(task)
    pairs = sorted(comparison.pairs, key=lambda p: not _both(p))  # measured on both sides first (stable)
    ranked = [(i + 1, p) for i, p in enumerate(pairs) if _both(p)]

    def side(pick: Callable[[ComparedPair], float | None]) -> tuple[float | None, ...]:
        return tuple(pick(p) for _, p in ranked)

    points = ComparePoints(
        rank=tuple(i for i, _ in ranked),
        label=tuple(f"{p.task} · {p.model} · {f.config_label(p.config)}" for _, p in ranked),
        a_j_per_query=side(lambda p: p.a.j_per_query if p.a else None),
        a_j_per_query_low=side(lambda p: p.a.j_per_query_low if p.a else None),
        a_j_per_query_high=side(lambda p: p.a.j_per_query_high if p.a else None),
        b_j_per_query=side(lambda p: p.b.j_per_query if p.b else None),
        b_j_per_query_low=side(lambda p: p.b.j_per_query_low if p.b else None),
        b_j_per_query_high=side(lambda p: p.b.j_per_query_high if p.b else None),
        ratio=side(lambda p: p.ratio),
        verdict=tuple(p.verdict for _, p in ranked),
    )
    return _CompareView(dataclasses.replace(comparison, pairs=tuple(pairs)), tasks, points)


def _machines(cache: ResultsCache) -> dict[str, list[RunInfo]]:
    return cache.get(("machines",), lambda: machines(cache.store), (RUN_LIST,))


def _comparison(cache: ResultsCache, mode: str, a: str, b: str) -> tuple[Comparison, list[Cached[Leaderboard]]]:
    """The comparison from the kept leaderboards of the runs it reads (kept while those boards are the ones shown)."""
    if mode == "machines":
        groups = _machines(cache)
        run_ids = [r.run_id for side in (a, b) for r in groups.get(side, [])]
    else:
        run_ids = [_require(cache, a, "bench").run_id, _require(cache, b, "bench").run_id]
    boards = {run_id: _board(cache, run_id) for run_id in run_ids}
    tokens = tuple(board.token for board in boards.values())

    def rows_of(run_id: str) -> Sequence[BenchRow]:
        return boards[run_id].value.rows if run_id in boards else _board(cache, run_id).value.rows

    if mode == "machines":
        comparison = cache.get(
            ("compare-m", a, b, tokens), lambda: compare_machines(cache.store, a, b, rows_of=rows_of), NOTHING
        )
    else:
        comparison = cache.get(
            ("compare", a, b, tokens), lambda: compare_runs(cache.store, a, b, rows_of=rows_of), NOTHING
        )
    return comparison, list(boards.values())


def _replace(response: CompareResponse, **changes: object) -> CompareResponse:
    return dataclasses.replace(response, **changes)  # type: ignore[arg-type]


def optimize_view(cache: ResultsCache, params: Params) -> OptimizeResponse:
    runs = _runs(cache, "optimize")
    choices = tuple(RunChoice.of(r) for r in runs)
    run_id = _text(params, "run") or (runs[0].run_id if runs else None)
    if run_id is None:
        return OptimizeResponse(
            message="This store holds no optimize runs yet: wattlens optimize MODEL --db " + str(cache.store.url)
        )
    run = _require(cache, run_id, "optimize")
    result, generation = cache.get(
        ("optimize", run.run_id), lambda: _optimize_outcome(cache, run.run_id), [run_scope(run.run_id)]
    )
    message = None
    if result is None and generation is None:
        message = f"run {run.run_id} has no result yet (status {run.status}: unfinished or interrupted)"
    return OptimizeResponse(run=run, runs=choices, result=result, generation=generation, message=message)


def _optimize_outcome(cache: ResultsCache, run_id: str) -> tuple[OptimizeResult | None, GenerationView | None]:
    """An optimize run's stored result: the encoder tasks' record, or a text-generation run's view."""
    result = optimize_result(cache.store, run_id)
    if result is not None:
        return result, None
    generation = generation_result(cache.store, run_id)
    return None, None if generation is None else generation_view(generation)


def analyze_view(cache: ResultsCache, params: Params) -> AnalyzeResponse:
    runs = _runs(cache, ANALYSIS_KIND)
    choices = tuple(RunChoice.of(r) for r in runs)
    run_id = _text(params, "run") or (runs[0].run_id if runs else None)
    if run_id is None:
        return AnalyzeResponse(
            message="This store holds no analyses yet: wattlens analyze MODEL --hardware NAME --db "
            + str(cache.store.url)
        )
    run = _require(cache, run_id, ANALYSIS_KIND)
    summary = cache.get(
        ("analysis", run.run_id), lambda: analysis_result(cache.store, run.run_id), [run_scope(run.run_id)]
    )
    return AnalyzeResponse(
        run=run, runs=choices, analysis=summary, message=None if summary else f"run {run.run_id} holds no analysis"
    )


def history_view(cache: ResultsCache, params: Params) -> History:
    tag = _text(params, "tag")
    limit = _int_param(params, "limit", None, 1, 100_000)
    others = [run_scope(r.run_id) for r in _runs(cache) if r.kind not in KINDS_WITH_PAGES]  # summarised there
    return cache.get(
        ("history", tag, limit), lambda: history(cache.store, tag, limit=limit), [MEASUREMENTS, RUN_LIST, *others]
    )
