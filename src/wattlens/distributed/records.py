"""The results of a distributed measurement: per rank, per node, per job — each with source and interval.

How figures combine (``reduce.py``): energy is summed (each device was metered by exactly one process, so the
parts are disjoint); duration is the longest rank's; an interval is combined conservatively — the sum of the
lows and the sum of the highs, as if every part's error leaned the same way (wider than adding independent
errors in quadrature, never narrower than the truth allows); the source is the weakest part's.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlens.distributed.topology import AllocationShare
from wattlens.records import Record, optional


@dataclass(frozen=True)
class DomainEnergy(Record):
    """One device or domain of one rank's, node's or job's figure."""

    domain: str  # cpu | memory | gpu | soc
    device: str  # "" for node-level domains, the GPU index for a GPU
    energy_j: float | None  # None: could not be read (the note says why), never 0 for unknown
    low_j: float | None
    high_j: float | None
    source: str  # measured | integrated | estimated | unavailable
    method: str
    metered_by: tuple[int, ...]  # global ranks whose readings are in this figure
    note: str = ""


@dataclass(frozen=True)
class RankShare(Record):
    """What one rank metered itself (its own accelerators; the node-level domains if it is its node's meter)."""

    rank: int
    local_rank: int
    host: str
    node: str  # node key: the launcher's node index, else the host name
    pid: int
    meters_node: bool
    election: str
    gpus: str  # the accelerators it metered, CUDA_VISIBLE_DEVICES syntax; "all visible" / "none"
    duration_s: float
    energy_j: float  # sum of its available components (0.0 only when it metered nothing: said in notes)
    low_j: float
    high_j: float
    source: str
    attribution: str
    components: tuple[DomainEnergy, ...]
    allocation: AllocationShare
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeShare(Record):
    """One node: its ranks' parts summed (the node-level domains once, each GPU once)."""

    node: str
    hosts: tuple[str, ...]
    ranks: tuple[int, ...]
    node_meter_ranks: tuple[int, ...]  # ranks that metered node-level domains (one, unless process attribution)
    duration_s: float
    energy_j: float
    low_j: float
    high_j: float
    source: str
    components: tuple[DomainEnergy, ...]
    allocation: AllocationShare
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistributedResult(Record):
    """A whole job's window: total, per node, per rank.

    ``complete`` is False when some ranks' parts were not gathered (no process group, or a rank missing): the
    total then covers ``ranks`` only, and ``missing_ranks`` says which are not in it — never counted as 0.
    """

    name: str
    world_size: int
    launcher: str
    attribution: str
    reduction: str  # how the parts were brought together, in words
    duration_s: float
    energy_j: float
    low_j: float
    high_j: float
    power_w: float | None
    source: str
    nodes: tuple[NodeShare, ...]
    ranks: tuple[RankShare, ...]
    complete: bool
    missing_ranks: tuple[int, ...] = ()
    job_id: str | None = optional()
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [
            f"{self.name}: {self.duration_s:.3f} s, {self.energy_j:.3f} J [{self.low_j:.3f}, {self.high_j:.3f}] "
            f"({self.source}, {self.attribution}); {len(self.ranks)} of {self.world_size} ranks on "
            f"{len(self.nodes)} node(s)"
        ]
        for n in self.nodes:
            lines.append(
                f"  node {n.node}: {n.energy_j:.3f} J [{n.low_j:.3f}, {n.high_j:.3f}] ranks {list(n.ranks)}, "
                f"node-level domains metered by rank {', '.join(str(r) for r in n.node_meter_ranks) or '-'}"
            )
        for r in self.ranks:
            doms = ", ".join(f"{c.domain}{':' + c.device if c.device else ''}" for c in r.components) or "nothing"
            lines.append(f"    rank {r.rank} ({r.host}): {r.energy_j:.3f} J — {doms}")
        if self.missing_ranks:
            lines.append(f"  missing ranks (not in the total, not 0): {list(self.missing_ranks)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


__all__ = ["DistributedResult", "DomainEnergy", "NodeShare", "RankShare"]
