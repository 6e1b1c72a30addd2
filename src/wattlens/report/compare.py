"""Two bench runs, or two machines, side by side: the same task, model and configuration matched, the ratio of
their J per query with its bounds, and whether their intervals overlap.

Part of the results-query layer: rows come from :func:`wattlens.report.query.leaderboard`. Rows are matched on
task, model, batch, precision and engine; where one side has several rows for a key (other thread counts or
devices), its cheapest ok row stands for it, and the notes say so. Two figures whose [low, high] intervals overlap
are not called different: the verdict is ``overlap`` whatever the ratio.

>>> from wattlens.store import open_store
>>> store = open_store(":memory:")
>>> compare_rows([], [], "a", "b").pairs
()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from wattlens.bench.records import BenchRow, CellConfig
from wattlens.records import Record
from wattlens.report.query import MachineInfo, RunInfo, UnknownRunError, leaderboard, list_runs, require_run
from wattlens.stats import geometric_mean

MATCH_KEYS = "task, model, batch, precision, engine"
Key = tuple[str, str, int | None, str | None, str | None]


@dataclass(frozen=True)
class CompareSide(Record):
    """One side's figure for a matched key."""

    run_id: str
    cell_key: str
    status: str
    j_per_query: float | None = None
    j_per_query_low: float | None = None
    j_per_query_high: float | None = None
    energy_basis: str | None = None
    source: str | None = None
    tier: str | None = None
    p95_ms: float | None = None
    quality: float | None = None
    device: str | None = None
    threads: int | None = None

    @classmethod
    def of(cls, row: BenchRow) -> CompareSide:
        return cls(
            run_id=row.run_id,
            cell_key=row.cell_key,
            status=row.status,
            j_per_query=row.j_per_query,
            j_per_query_low=row.j_per_query_low,
            j_per_query_high=row.j_per_query_high,
            energy_basis=row.energy_basis,
            source=row.source,
            tier=(row.tier or {}).get("key"),
            p95_ms=row.p95_ms,
            quality=row.quality,
            device=row.config.device or "cpu",
            threads=row.config.threads,
        )


@dataclass(frozen=True)
class ComparedPair(Record):
    """A matched task/model/configuration: both sides, B/A with the bounds its intervals allow, and a verdict."""

    task: str
    model: str
    config: CellConfig
    a: CompareSide | None = None
    b: CompareSide | None = None
    ratio: float | None = None  # B J/query / A J/query (< 1: B is cheaper)
    ratio_low: float | None = None  # B low / A high
    ratio_high: float | None = None  # B high / A low
    overlap: bool | None = None  # the two [low, high] intervals overlap
    verdict: str = ""  # a cheaper | b cheaper | overlap | only a | only b | not comparable


@dataclass(frozen=True)
class Comparison(Record):
    """Two sides (runs or machines) and their matched pairs, with the geometric mean of the ratios that count."""

    label_a: str
    label_b: str
    runs_a: tuple[RunInfo, ...] = ()
    runs_b: tuple[RunInfo, ...] = ()
    machine_a: MachineInfo | None = None
    machine_b: MachineInfo | None = None
    pairs: tuple[ComparedPair, ...] = ()
    matched: int = 0  # pairs with an ok figure on both sides
    geomean_ratio: float | None = None  # over the matched pairs
    counts: dict[str, int] | None = None  # verdict -> pairs
    notes: tuple[str, ...] = ()

    def for_task(self, task: str) -> Comparison:
        """The same comparison restricted to one task (its figures recomputed over that task's pairs)."""
        return _summarised(self, tuple(p for p in self.pairs if p.task == task))


def _summarised(base: Comparison, pairs: tuple[ComparedPair, ...]) -> Comparison:
    """``base`` with ``pairs``, how many count (an ok figure on both sides), their ratios' geometric mean, verdicts."""
    ratios = [p.ratio for p in pairs if p.ratio is not None and p.ratio > 0]
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.verdict] = counts.get(p.verdict, 0) + 1
    geomean = geometric_mean(ratios) if ratios else None
    return dataclasses.replace(base, pairs=pairs, matched=len(ratios), geomean_ratio=geomean, counts=counts)


def _key(row: BenchRow) -> Key:
    c = row.config
    return (row.task, row.model, c.batch, c.precision, c.engine)


def _usable(row: BenchRow) -> bool:
    return row.ok and row.j_per_query is not None


def _pick(rows: Iterable[BenchRow]) -> tuple[dict[Key, BenchRow], int]:
    """One row per key (its cheapest usable row, else its first), and how many keys had several rows."""
    chosen: dict[Key, BenchRow] = {}
    seen: dict[Key, int] = {}
    for row in rows:
        key = _key(row)
        seen[key] = seen.get(key, 0) + 1
        old = chosen.get(key)
        if old is None or (_usable(row) and (not _usable(old) or (row.j_per_query or 0) < (old.j_per_query or 0))):
            chosen[key] = row
    return chosen, sum(n > 1 for n in seen.values())


def _pair(key: Key, a: BenchRow | None, b: BenchRow | None) -> ComparedPair:
    config = (a or b).config if (a or b) is not None else CellConfig()  # type: ignore[union-attr]
    base = ComparedPair(
        task=key[0],
        model=key[1],
        config=CellConfig(batch=key[2], precision=key[3], engine=key[4], threads=config.threads, device=config.device),
        a=None if a is None else CompareSide.of(a),
        b=None if b is None else CompareSide.of(b),
    )
    if a is None or b is None:
        return _replace(base, verdict="only a" if b is None else "only b")
    if not (_usable(a) and _usable(b)) or not a.j_per_query:
        return _replace(base, verdict="not comparable")
    ja, jb = a.j_per_query, b.j_per_query
    assert ja is not None and jb is not None
    a_lo, a_hi = a.j_per_query_low or ja, a.j_per_query_high or ja
    b_lo, b_hi = b.j_per_query_low or jb, b.j_per_query_high or jb
    overlap = a_lo <= b_hi and b_lo <= a_hi
    verdict = "overlap" if overlap else ("b cheaper" if jb < ja else "a cheaper")
    return _replace(
        base,
        ratio=jb / ja,
        ratio_low=b_lo / a_hi if a_hi > 0 else None,
        ratio_high=b_hi / a_lo if a_lo > 0 else None,
        overlap=overlap,
        verdict=verdict,
    )


def _replace(pair: ComparedPair, **changes: object) -> ComparedPair:
    return dataclasses.replace(pair, **changes)  # type: ignore[arg-type]


def compare_rows(
    rows_a: Sequence[BenchRow],
    rows_b: Sequence[BenchRow],
    label_a: str,
    label_b: str,
    *,
    task: str | None = None,
) -> Comparison:
    """Match two sets of leaderboard rows (optionally of one task) and compare them pair by pair."""
    if task:
        rows_a = [r for r in rows_a if r.task == task]
        rows_b = [r for r in rows_b if r.task == task]
    a, dup_a = _pick(rows_a)
    b, dup_b = _pick(rows_b)
    keys = list(dict.fromkeys([*a, *b]))
    pairs = tuple(_pair(k, a.get(k), b.get(k)) for k in keys)
    notes = [f"matched on {MATCH_KEYS}"]
    if dup_a or dup_b:
        notes.append(
            f"{dup_a} key(s) of A and {dup_b} of B have several rows (other threads or devices): "
            "each side's cheapest ok row stands for the key"
        )
    tiers = {p.a.tier for p in pairs if p.a} | {p.b.tier for p in pairs if p.b}
    tiers.discard(None)
    if len(tiers) > 1:
        notes.append(
            f"the rows span several tiers ({', '.join(sorted(t for t in tiers if t))}): a ratio across tiers "
            "compares different boundaries or bases"
        )
    return _summarised(Comparison(label_a=label_a, label_b=label_b, notes=tuple(notes)), pairs)


RowsOf = Callable[[str], Sequence[BenchRow]]  # a bench run's leaderboard rows, by run id


def _rows_of(store: object) -> RowsOf:
    return lambda run_id: leaderboard(store, run_id).rows


def compare_runs(
    store: object, run_a: str, run_b: str, *, task: str | None = None, rows_of: RowsOf | None = None
) -> Comparison:
    """Two bench runs side by side (:class:`UnknownRunError` for a run that is not there or not a bench run).
    ``rows_of`` gives a run's leaderboard rows when the caller keeps them (default: read from the store)."""
    runs = [require_run(store, r) for r in (run_a, run_b)]
    for run in runs:
        if run.kind != "bench":
            raise UnknownRunError(f"run {run.run_id!r} is a {run.kind!r} run; only bench runs can be compared")
    rows = [(rows_of or _rows_of(store))(r.run_id) for r in runs]
    result = compare_rows(rows[0], rows[1], runs[0].run_id, runs[1].run_id, task=task)
    return _replace_comparison(result, runs, runs[0].machine, runs[1].machine)


def machines(store: object) -> dict[str, list[RunInfo]]:
    """Bench runs grouped by the machine they ran on (newest run first in each group)."""
    groups: dict[str, list[RunInfo]] = {}
    for run in list_runs(store, "bench"):
        groups.setdefault(run.machine.key, []).append(run)
    return groups


def compare_machines(
    store: object, machine_a: str, machine_b: str, *, task: str | None = None, rows_of: RowsOf | None = None
) -> Comparison:
    """Every bench run of two machines side by side (for each key, each machine's newest run that has it)."""
    groups = machines(store)
    read = rows_of or _rows_of(store)
    sides: list[tuple[list[RunInfo], list[BenchRow]]] = []
    for key in (machine_a, machine_b):
        runs = groups.get(key)
        if not runs:
            known = "; ".join(groups) or "none"
            raise UnknownRunError(f"no bench run on a machine {key!r} in this store; machines: {known}")
        rows: list[BenchRow] = []
        for run in runs:  # newest first: a key measured again later replaces the older figure
            seen = {_key(r) for r in rows}
            rows.extend(r for r in read(run.run_id) if _key(r) not in seen)
        sides.append((runs, rows))
    result = compare_rows(sides[0][1], sides[1][1], machine_a, machine_b, task=task)
    both = (sides[0][0], sides[1][0])
    return _replace_comparison(result, [*both[0], *both[1]], both[0][0].machine, both[1][0].machine, split=len(both[0]))


def _replace_comparison(
    result: Comparison,
    runs: Sequence[RunInfo],
    machine_a: MachineInfo,
    machine_b: MachineInfo,
    split: int = 1,
) -> Comparison:
    notes = list(result.notes)
    if machine_a.key == machine_b.key:
        notes.append(f"both sides ran on the same kind of machine ({machine_a.label})")
    return dataclasses.replace(
        result,
        runs_a=tuple(runs[:split]),
        runs_b=tuple(runs[split:]),
        machine_a=machine_a,
        machine_b=machine_b,
        notes=tuple(notes),
    )
