"""A multi-node job in the shared store: each node (or rank) writes its own part; a reader sums the parts.

Layout: one run of kind ``job`` with id ``job-<JOB_ID>`` and one cell per part — ``node-<N>`` when a node's ranks
were gathered over a process group (written by the node's elected meter), ``node-<N>/rank-<R>`` when each rank
wrote alone (``srun wattlens measure --job …`` starts one wrapper per task). The Trainer/Lightning callbacks write
the run ``training-<JOB_ID>`` with cells ``train`` / ``train/node-<N>`` (their node's local rank 0 meters the
node); :func:`job_view` reads both.

Reading never merges samples: each part's integral (its window's energy, with its interval) is summed as it was
measured. A node that did not report is **missing**, shown as such and not counted as 0: the total then covers
the reported nodes only and its upper bound is unknown (None).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattlens.distributed.records import DomainEnergy, NodeShare, RankShare
from wattlens.distributed.reduce import node_shares, weakest
from wattlens.errors import WattlensError
from wattlens.meters.base import UNAVAILABLE
from wattlens.records import Record, optional
from wattlens.units import format_j

RUN_KIND = "job"
TRAINING_KIND = "training"  # wattlens.integrations.training.RUN_KIND (the callbacks' runs of a job)
STATUS_REPORTED, STATUS_MISSING, STATUS_PARTIAL = "reported", "missing", "partial"
# launchers' job ids, most specific first (the callbacks use the same list for their run names)
JOB_ID_VARS = ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "OMPI_MCA_ess_base_jobid")


class JobError(WattlensError, ValueError):
    """A job id that cannot be used, or a job the store has no record of."""


def job_id_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The launcher's job id (torchrun's rdzv id, Slurm's job id, Open MPI's), or None."""
    env = os.environ if environ is None else environ
    for var in JOB_ID_VARS:
        value = env.get(var, "").strip()
        if value and value != "none":
            return value
    return None


def check_job_id(job_id: str) -> str:
    job_id = str(job_id).strip()
    if not job_id or len(job_id) > 150 or any(c in job_id for c in "/\n\r\t"):
        raise JobError(f"job id {job_id!r}: a non-empty name of at most 150 characters without '/' or whitespace")
    return job_id


def run_id_of(job_id: str) -> str:
    return f"job-{check_job_id(job_id)}"


@dataclass(frozen=True)
class JobPart(Record):
    """One part of a job as stored: a whole node (``node_share``) or one rank (``rank_share``)."""

    job_id: str
    name: str
    node: str
    world_size: int
    nodes_expected: int | None
    launcher: str
    written_by_rank: int
    written_unix_s: float
    node_share: NodeShare | None = optional()
    rank_share: RankShare | None = optional()
    co2e_g: float | None = optional()  # the part's operational carbon, when the writer computed it (the CLI)

    @property
    def cell_key(self) -> str:
        if self.node_share is not None:
            return f"node-{self.node}"
        rank = self.rank_share.rank if self.rank_share is not None else self.written_by_rank
        return f"node-{self.node}/rank-{rank}"


def save_part(store: Any, part: JobPart) -> str:
    """Write one part under the job's run (created on first write; every node agrees on its config). Returns the
    run id. Idempotent: the same part written twice replaces itself (the cell key names node and rank)."""
    run_id = run_id_of(part.job_id)
    store.create_run(RUN_KIND, {"job_id": part.job_id}, run_id=run_id)
    store.save_cell(run_id, part.cell_key, "ok", part)
    return str(run_id)


@dataclass(frozen=True)
class JobNode(Record):
    """One node of a job as read back: reported (with its figure), partial, or missing (no figure, not 0)."""

    node: str
    status: str  # reported | partial | missing
    energy_j: float | None
    low_j: float | None
    high_j: float | None
    source: str
    duration_s: float | None
    ranks: tuple[int, ...]
    node_meter_ranks: tuple[int, ...]
    components: tuple[DomainEnergy, ...]
    run_id: str | None
    co2e_g: float | None = optional()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobView(Record):
    """A job across its nodes: total of the reported nodes, each node, each rank where known."""

    job_id: str
    runs: tuple[str, ...]
    nodes_expected: int | None
    nodes_reported: int
    missing_nodes: tuple[str, ...]
    complete: bool
    energy_j: float | None  # sum of the reported nodes' integrals
    low_j: float | None
    high_j: float | None  # None while nodes are missing: their energy is unknown, so is the upper end
    source: str
    duration_s: float | None  # the longest node's window
    nodes: tuple[JobNode, ...]
    ranks: tuple[RankShare, ...]
    co2e_g: float | None = optional()
    notes: tuple[str, ...] = ()


def _node_of(share: NodeShare, run_id: str, co2e_g: float | None, status: str = STATUS_REPORTED) -> JobNode:
    return JobNode(
        share.node,
        status,
        share.energy_j,
        share.low_j,
        share.high_j,
        share.source,
        share.duration_s,
        share.ranks,
        share.node_meter_ranks,
        share.components,
        run_id,
        co2e_g,
        share.notes,
    )


def _training_node(cell: Mapping[str, Any], run_id: str) -> tuple[JobNode, int | None] | None:
    """A node's part written by the Trainer/Lightning callbacks (its local rank 0 metered the whole node)."""
    rec = cell.get("result")
    if not isinstance(rec, Mapping):
        return None
    found = rec.get("rank")
    rank: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    node = rank.get("node_rank")
    key = str(node) if node is not None else str(cell.get("cell_key", "0")).rsplit("node-", 1)[-1]
    if str(cell.get("cell_key")) == "train":
        key = "0"
    who = int(rank.get("rank", 0) or 0)
    comps = tuple(
        DomainEnergy(
            str(c.get("domain")),
            str(c.get("device") or ""),
            c.get("energy_j"),
            c.get("low_j"),
            c.get("high_j"),
            str(c.get("source")),
            str(c.get("method")),
            (who,),
            str(c.get("note") or ""),
        )
        for c in rec.get("components") or ()
        if isinstance(c, Mapping)
    )
    status = STATUS_REPORTED if cell.get("status") in ("ok", None) else str(cell.get("status"))
    node = JobNode(
        key,
        status,
        rec.get("energy_j"),
        rec.get("low_j"),
        rec.get("high_j"),
        str(rec.get("source") or UNAVAILABLE),
        rec.get("duration_s"),
        (who,),
        (who,),
        comps,
        run_id,
        rec.get("co2e_g"),
        (f"written by the {rec.get('framework', 'training')} callback (its local rank 0 meters the whole node)",),
    )
    return node, rank.get("nodes")


def _parts(store: Any, run_id: str) -> list[JobPart]:
    parts = []
    for cell in store.cells(run_id):
        if isinstance(cell.get("result"), Mapping):
            parts.append(JobPart.from_dict(cell["result"]))
    return parts


def _expected_keys(expected: int | None, reported: Sequence[str]) -> tuple[str, ...]:
    """The node keys that should be there: 0..N-1 when the nodes are numbered (by the launcher)."""
    if expected is None or not all(k.isdigit() for k in reported):
        return ()
    return tuple(str(i) for i in range(expected))


def job_view(store: Any, job_id: str) -> JobView:
    """Read every part of ``job_id`` (``job-<ID>`` and ``training-<ID>`` runs, or a run named exactly so) and sum
    the reported nodes. Raises :class:`JobError` when the store has no part of that job."""
    job_id = check_job_id(job_id)
    runs: list[str] = []
    nodes: dict[str, JobNode] = {}
    ranks: list[RankShare] = []
    expected: list[int] = []
    world: list[int] = []
    for run_id in dict.fromkeys((run_id_of(job_id), f"{TRAINING_KIND}-{job_id}", job_id)):
        run = store.get_run(run_id)
        if run is None:
            continue
        runs.append(run_id)
        if run.get("kind") == RUN_KIND:
            _read_job_run(store, run_id, nodes, ranks, expected, world)
        elif run.get("kind") == TRAINING_KIND:
            for cell in store.cells(run_id):
                found = _training_node(cell, run_id)
                if found is not None and found[0].node not in nodes:
                    nodes[found[0].node] = found[0]
                    if found[1]:
                        expected.append(int(found[1]))
    if not runs:
        raise JobError(
            f"no record of job {job_id!r} in {getattr(store, 'url', 'this store')} (looked for runs "
            f"{run_id_of(job_id)!r} and {TRAINING_KIND + '-' + job_id!r})"
        )
    return _view(job_id, runs, nodes, ranks, max(expected) if expected else None, max(world) if world else None)


def _read_job_run(
    store: Any, run_id: str, nodes: dict[str, JobNode], ranks: list[RankShare], expected: list[int], world: list[int]
) -> None:
    by_rank: dict[str, list[RankShare]] = {}
    co2e: dict[str, float] = {}
    for part in _parts(store, run_id):
        if part.nodes_expected:
            expected.append(part.nodes_expected)
        world.append(part.world_size)
        if part.node_share is not None:
            nodes[part.node] = _node_of(part.node_share, run_id, part.co2e_g)
            continue
        if part.rank_share is not None:
            by_rank.setdefault(part.node, []).append(part.rank_share)
            ranks.append(part.rank_share)
            if part.co2e_g is not None:
                co2e[part.node] = co2e.get(part.node, 0.0) + part.co2e_g
    for share in node_shares([r for rs in by_rank.values() for r in rs]):
        if share.node not in nodes:
            status = STATUS_REPORTED if share.node_meter_ranks else STATUS_PARTIAL
            nodes[share.node] = _node_of(share, run_id, co2e.get(share.node), status)


def _view(
    job_id: str,
    runs: list[str],
    nodes: dict[str, JobNode],
    ranks: list[RankShare],
    expected: int | None,
    world: int | None,
) -> JobView:
    notes: list[str] = []
    keys = sorted(nodes, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    missing = tuple(k for k in _expected_keys(expected, keys) if k not in nodes)
    rows = [nodes[k] for k in keys] + [
        JobNode(k, STATUS_MISSING, None, None, None, UNAVAILABLE, None, (), (), (), None, None, ("did not report",))
        for k in missing
    ]
    rows.sort(key=lambda n: (not n.node.isdigit(), int(n.node) if n.node.isdigit() else 0, n.node))
    counted = [n for n in rows if n.energy_j is not None]
    if expected is not None and len(keys) < expected and not missing:
        notes.append(f"{len(keys)} of {expected} nodes reported (nodes named by host: which are missing is unknown)")
    if missing:
        notes.append(
            f"node(s) {', '.join(missing)} did not report: the total covers {len(counted)} node(s) and is a lower "
            "bound (missing nodes are not counted as 0; the upper end is unknown)"
        )
    partial = [n.node for n in rows if n.status == STATUS_PARTIAL]
    if partial:
        notes.append(f"node(s) {', '.join(partial)}: no part from the rank that meters the node-level domains")
    covered = {r for n in counted for r in n.ranks}
    from_callbacks = any(n.run_id and n.run_id.startswith(TRAINING_KIND) for n in counted)
    ranks_missing = bool(world and not from_callbacks and len(covered) < world)
    if ranks_missing:
        gone = [i for i in range(world or 0) if i not in covered]
        notes.append(f"{len(gone)} of {world} ranks have no part in the store (not counted): {gone[:20]}")
    complete = not missing and not partial and not ranks_missing and (expected is None or len(counted) >= expected)
    energy = sum(n.energy_j for n in counted) if counted else None  # type: ignore[misc]
    low = sum(n.low_j if n.low_j is not None else n.energy_j for n in counted) if counted else None  # type: ignore[misc]
    high = None
    if counted and complete:
        high = sum(n.high_j if n.high_j is not None else n.energy_j for n in counted)  # type: ignore[misc]
    co2 = [n.co2e_g for n in counted]
    durations = [n.duration_s for n in counted if n.duration_s is not None]
    return JobView(
        job_id=job_id,
        runs=tuple(runs),
        nodes_expected=expected,
        nodes_reported=len(counted),
        missing_nodes=missing,
        complete=complete,
        energy_j=energy,
        low_j=low,
        high_j=high,
        source=weakest(n.source for n in counted) if counted else UNAVAILABLE,
        duration_s=max(durations) if durations else None,
        nodes=tuple(rows),
        ranks=tuple(sorted(ranks, key=lambda r: r.rank)),
        co2e_g=sum(c for c in co2 if c is not None) if co2 and all(c is not None for c in co2) else None,  # type: ignore[misc]
        notes=tuple(notes),
    )


_j = format_j


def job_table(view: JobView) -> str:
    """The text ``wattlens results --job`` prints: the total, then each node and its ranks."""
    state = "complete" if view.complete else "INCOMPLETE"
    expected = f" of {view.nodes_expected}" if view.nodes_expected else ""
    high = _j(view.high_j) if view.high_j is not None else "unknown"
    lines = [
        f"job {view.job_id}: {view.nodes_reported}{expected} node(s) reported ({state}); runs {', '.join(view.runs)}",
        f"  total  {_j(view.energy_j):>12}  [{_j(view.low_j)}, {high}]  {view.source}"
        + (f", {view.duration_s:.1f} s (longest node)" if view.duration_s is not None else "")
        + (f", {view.co2e_g:.4g} g CO2e" if view.co2e_g is not None else ""),
    ]
    for n in view.nodes:
        if n.status == STATUS_MISSING:
            lines.append(f"  node {n.node:<6} MISSING (did not report: not counted, not 0)")
            continue
        meter = ", ".join(map(str, n.node_meter_ranks)) or "none"
        lines.append(
            f"  node {n.node:<6}{_j(n.energy_j):>12}  [{_j(n.low_j)}, {_j(n.high_j)}]  {n.source:<10} "
            f"ranks {list(n.ranks)}, node-level domains metered by rank {meter}"
            + ("" if n.status == STATUS_REPORTED else f" ({n.status})")
        )
        for c in n.components:
            name = c.domain + (f":{c.device}" if c.device else "")
            by = ", ".join(map(str, c.metered_by))
            lines.append(f"      {name:<10}{_j(c.energy_j):>12}  {c.source:<10} {c.method} (rank {by})")
    for r in view.ranks:
        doms = ", ".join(c.domain + (f":{c.device}" if c.device else "") for c in r.components) or "nothing"
        lines.append(f"  rank {r.rank:<4} node {r.node:<6}{_j(r.energy_j):>12}  {doms}")
    lines.extend(f"  note: {n}" for n in view.notes)
    return "\n".join(lines)


def make_part(
    *,
    job_id: str,
    name: str,
    node: str,
    world_size: int,
    nodes_expected: int | None,
    launcher: str,
    rank: int,
    node_share: NodeShare | None = None,
    rank_share: RankShare | None = None,
    co2e_g: float | None = None,
) -> JobPart:
    return JobPart(
        check_job_id(job_id),
        name,
        node,
        world_size,
        nodes_expected,
        launcher,
        rank,
        time.time(),
        node_share,
        rank_share,
        co2e_g,
    )


__all__ = [
    "JOB_ID_VARS",
    "RUN_KIND",
    "JobError",
    "JobNode",
    "JobPart",
    "JobView",
    "check_job_id",
    "job_id_from_env",
    "job_table",
    "job_view",
    "make_part",
    "run_id_of",
    "save_part",
]
