"""A measured training figure from the store, for ``wattlens breakeven --training-run RUN_ID``.

The Trainer and Lightning callbacks (:mod:`wattlens.integrations.training`) write a run of kind ``training``
with one cell per metered node (``train``, or ``train/node-K`` for a multi-node job). The training energy for
a break-even is the *facility* energy of those cells (node energy x the PUE the callback was given), summed
over nodes, with its interval [low, high] and the weakest source among them.

>>> from wattlens.store import open_store
>>> st = open_store(":memory:")
>>> rid = st.create_run("training", {"framework": "demo"})
>>> st.save_cell(rid, "train", "ok", {"facility_energy_j": 7.2e6, "facility_low_j": 3.6e6,
...     "facility_high_j": 1.08e7, "source": "measured", "training": {"model": "bert", "global_step": 20}})
>>> t = measured_training(st, rid)
>>> t.kwh, t.kwh_low, t.kwh_high, t.source
(2.0, 1.0, 3.0, 'measured')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattlens.errors import WattlensError
from wattlens.meters.base import SOURCE_RANK
from wattlens.records import Record
from wattlens.units import j_to_kwh

if TYPE_CHECKING:
    from wattlens.bench.breakeven import Breakeven

RUN_KIND = "training"


class TrainingRunError(WattlensError, ValueError):
    """The training run asked for is missing, of another kind, or holds no usable figure."""


@dataclass(frozen=True)
class TrainingBreakeven(Record):
    """A break-even whose training figure was measured: the range of queries over both intervals."""

    training: MeasuredTraining
    queries_low: float  # training low / per-query high
    queries_high: float  # training high / per-query low


@dataclass(frozen=True)
class MeasuredTraining(Record):
    """The energy of a recorded training run (facility boundary, summed over the nodes recorded)."""

    run_id: str
    kwh: float
    kwh_low: float
    kwh_high: float
    source: str
    nodes_recorded: int
    nodes_expected: int | None
    status: str  # ok | partial (a node's training did not finish normally)
    model: str | None
    steps: int | None
    tokens_seen: int | None
    notes: tuple[str, ...] = ()

    def against(self, be: Breakeven) -> TrainingBreakeven:
        """The break-even's range of queries over both intervals; a per-query figure without one counts as exact."""
        q_high = be.kwh_per_query_high or be.kwh_per_query
        q_low = be.kwh_per_query_low or be.kwh_per_query
        return TrainingBreakeven(
            self,
            (self.kwh_low + be.finetune_kwh) / q_high,
            (self.kwh_high + be.finetune_kwh) / q_low,
        )


def measured_training(store: Any, run_id: str) -> MeasuredTraining:
    """Read a training run's energy; :class:`TrainingRunError` naming the available runs when it cannot."""
    run = store.get_run(run_id)
    if run is None:
        known = [r["run_id"] for r in store.list_runs(kind=RUN_KIND)[:5]]
        have = ", ".join(known) if known else "none (train with wattlens' Trainer or Lightning EnergyCallback)"
        raise TrainingRunError(f"no run {run_id!r} in {store.url}; training runs there: {have}")
    if run["kind"] != RUN_KIND:
        raise TrainingRunError(f"run {run_id!r} is a {run['kind']!r} run; --training-run needs a 'training' run")
    cells = [c for c in store.cells(run_id) if c["cell_key"].startswith("train") and c["result"]]
    usable = [c for c in cells if c["result"].get("facility_energy_j") is not None]
    if not usable:
        raise TrainingRunError(f"run {run_id!r} holds no training energy figure (cells: {len(cells)})")
    notes = []
    partial = [c["cell_key"] for c in usable if c["status"] != "ok"]
    if partial:
        notes.append(f"not finished normally: {', '.join(partial)} (the figure covers the part that ran)")
    recs: list[Mapping[str, Any]] = [c["result"] for c in usable]
    expected = _nodes_expected(recs)
    if expected and expected > len(usable):
        notes.append(f"only {len(usable)} of {expected} nodes recorded: the figure is a lower bound for the job")
    first = recs[0].get("training") or {}
    return MeasuredTraining(
        run_id=run_id,
        kwh=j_to_kwh(sum(r["facility_energy_j"] for r in recs)),
        kwh_low=j_to_kwh(sum(_or(r.get("facility_low_j"), r["facility_energy_j"]) for r in recs)),
        kwh_high=j_to_kwh(sum(_or(r.get("facility_high_j"), r["facility_energy_j"]) for r in recs)),
        source=min((r.get("source") or "unavailable" for r in recs), key=lambda s: SOURCE_RANK.get(s, 0)),
        nodes_recorded=len(usable),
        nodes_expected=expected,
        status="ok" if not partial else "partial",
        model=first.get("model"),
        steps=first.get("global_step"),
        tokens_seen=first.get("tokens_seen"),
        notes=tuple(notes),
    )


def _or(value: Any, default: float) -> float:
    return default if value is None else float(value)


def _nodes_expected(records: list[Mapping[str, Any]]) -> int | None:
    for r in records:
        nodes = (r.get("rank") or {}).get("nodes")
        if nodes:
            return int(nodes)
    return None


__all__ = ["MeasuredTraining", "TrainingBreakeven", "TrainingRunError", "measured_training"]
