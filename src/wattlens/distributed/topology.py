"""What each process of a distributed job meters, so that every device is counted exactly once.

The rule (docs/CLUSTER.md has the table):

* **node-level domains** — CPU package, DRAM, psys/SoC, and the estimator's static CPU power and memory — are
  metered by exactly one process per node, *elected*: with a process group, the lowest global rank on each
  host (found by gathering every rank's host name, so a wrong or missing ``LOCAL_RANK`` cannot elect two);
  without one, the process with local rank 0 (:func:`wattlens.tracking.ranks.detect_rank`, the same rule as
  the Trainer/Lightning callbacks). In ``process`` attribution every rank charges its own CPU-time share
  instead (the shares are disjoint, so they add up);
* **accelerators** — each rank meters only its own: the device ``torch.cuda.current_device()`` names when CUDA
  is already initialised, else the one GPU it can see (Slurm ``--gpus-per-task``, Ray's ``num_gpus``), else the
  ``LOCAL_RANK``-th visible GPU (torchrun's ``cuda:LOCAL_RANK`` convention). Ranks beyond the GPU count meter
  none, so a GPU shared by two ranks is metered by the lower one only. ``WATTLENS_GPU_DEVICES`` overrides;
* **the estimator** (no counters): every rank charges its own process tree's dynamic CPU power — the elected
  one adds the static power of the CPUs the job owns on the node and its memory.

>>> from wattlens.tracking.ranks import detect_rank
>>> env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
>>> p = plan_for(detect_rank(env), environ=env, host="n1")
>>> p.meters_node, p.gpus, p.election.startswith("local rank 0")
(False, '1', True)
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wattlens.meters.allocation import Allocation, detect_allocation, node_allocation
from wattlens.records import Record, internal
from wattlens.tracking.ranks import RankInfo, detect_rank

ENV_GPU_DEVICES = "WATTLENS_GPU_DEVICES"  # the accelerators this process meters, CUDA_VISIBLE_DEVICES syntax
ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS = "machine", "process"
NODE_LEVEL_SOURCES = ("rapl", "apple")  # counters of the whole node (CPU package, DRAM, psys, SoC)
GPU_SOURCES = ("nvml", "amd")


@dataclass(frozen=True)
class Peer(Record):
    """What one rank tells the others at the start (gathered over the process group to elect node meters)."""

    rank: int
    host: str
    local_rank: int
    pid: int
    cpu_ids: tuple[int, ...] | None  # os.sched_getaffinity; None where unknown


@dataclass(frozen=True)
class AllocationShare(Record):
    """The part of its node a job owns (:class:`wattlens.meters.allocation.Allocation`, as a result record)."""

    cpus: int
    node_cpus: int
    cpu_basis: str
    memory_gb: float | None
    node_memory_gb: float | None
    memory_basis: str
    partial: bool

    @classmethod
    def of(cls, a: Allocation) -> AllocationShare:
        return cls(a.cpus, a.node_cpus, a.cpu_basis, a.memory_gb, a.node_memory_gb, a.memory_basis, a.partial)


@dataclass(frozen=True)
class MeterPlan(Record):
    """What this process meters, and why (stated in every record it writes)."""

    rank: int
    local_rank: int
    world_size: int
    node_rank: int | None
    nodes: int | None
    launcher: str
    host: str
    attribution: str
    meters_node: bool  # elected to meter the node-level domains (or: charges its own share of them, process attr.)
    election: str  # how the node's meter was chosen, in words
    node_meter_rank: int | None  # global rank that meters this node's node-level domains (None: not known here)
    gpus: str | None  # CUDA_VISIBLE_DEVICES-style list of the accelerators it meters; None = all it sees; "" = none
    gpu_rule: str
    allocation: AllocationShare
    notes: tuple[str, ...] = ()
    # the allocation itself (with the CPU ids the process share needs), for the Monitor this plan builds
    node_allocation: Allocation | None = internal(lambda: None)

    @property
    def node_key(self) -> str:
        """How this process's node is named in job records: its index when the launcher says it, else the host."""
        return str(self.node_rank) if self.node_rank is not None else self.host


def _visible(env: Mapping[str, str]) -> list[str] | None:
    """The tokens of CUDA_VISIBLE_DEVICES (or HIP/ROCR for AMD), or None when unset (= every GPU)."""
    for key in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"):
        raw = env.get(key)
        if raw is not None:
            return [t.strip() for t in raw.split(",") if t.strip()]
    return None


def _cuda_current() -> int | None:
    """``torch.cuda.current_device()`` when the user's code already imported torch and initialised CUDA."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return int(torch.cuda.current_device())
    except Exception:  # a half-initialised CUDA: fall back to the launcher's variables
        return None
    return None


def gpu_assignment(rank: RankInfo, env: Mapping[str, str], gpu_count: int | None = None) -> tuple[str | None, str]:
    """(accelerators this rank meters as a CUDA_VISIBLE_DEVICES-style list, the rule used).

    ``None`` means every GPU this process sees (a single-process job); ``""`` none. ``gpu_count``: how many GPUs
    the node has when CUDA_VISIBLE_DEVICES is unset (None: not known; the LOCAL_RANK-th is then assumed to exist
    and the GPU source reports it unavailable if it does not).
    """
    override = env.get(ENV_GPU_DEVICES)
    if override is not None:
        return override.strip(), f"{ENV_GPU_DEVICES}={override.strip()!r}"
    visible = _visible(env)
    current = _cuda_current()
    if current is not None:
        named = visible if visible is not None else [str(i) for i in range(current + 1)]
        if current < len(named):
            return named[current], f"torch.cuda.current_device() = {current}"
    if not rank.distributed:
        return None, "single process: every GPU it can see"
    if visible is not None and len(visible) <= 1:
        return ",".join(visible), "the one GPU visible to this rank (CUDA_VISIBLE_DEVICES)"
    tokens: list[str] | None = visible
    count = len(tokens) if tokens is not None else gpu_count
    if count is not None and rank.local_rank >= count:
        return "", (
            f"local rank {rank.local_rank} >= {count} GPUs on this node: none (a GPU shared by several ranks is "
            "metered by the lowest of them)"
        )
    token = tokens[rank.local_rank] if tokens is not None else str(rank.local_rank)
    return token, f"the LOCAL_RANK-th ({rank.local_rank}) visible GPU (torchrun's cuda:LOCAL_RANK convention)"


def local_peer(rank: RankInfo | None = None, host: str | None = None) -> Peer:
    rank = rank or detect_rank()
    try:
        ids: tuple[int, ...] | None = tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        ids = None
    return Peer(rank.rank, host or socket.gethostname(), rank.local_rank, os.getpid(), ids)


def _elect(rank: RankInfo, host: str, peers: Sequence[Peer] | None) -> tuple[bool, str, int | None]:
    """(this process meters its node, how it was decided, which global rank meters this node)."""
    if not rank.distributed:
        return True, "single process", rank.rank
    if peers:
        same = sorted(p.rank for p in peers if p.host == host)
        elected = same[0] if same else rank.rank
        return (
            rank.rank == elected,
            f"lowest global rank on host {host} (process group: {len(same)} ranks there)",
            elected,
        )
    how = f"local rank 0 ({rank.launcher} variables; no process group to check host names)"
    meter: int | None = rank.rank - rank.local_rank if rank.local_rank <= rank.rank else None
    return rank.meters_node, how, meter


def _node_allocation(host: str, peers: Sequence[Peer] | None, env: Mapping[str, str]) -> Allocation:
    """This node's allocation: the union of its ranks' CPU sets when they were gathered, else this process's."""
    if not peers:
        return detect_allocation(env)
    mine = [p for p in peers if p.host == host]
    parts = [detect_allocation(env, affinity=None if p.cpu_ids is None else frozenset(p.cpu_ids)) for p in mine]
    return node_allocation(parts) if parts else detect_allocation(env)


def plan_for(
    rank: RankInfo | None = None,
    *,
    attribution: str = ATTRIBUTION_MACHINE,
    peers: Sequence[Peer] | None = None,
    environ: Mapping[str, str] | None = None,
    host: str | None = None,
    gpu_count: int | None = None,
) -> MeterPlan:
    """This process's :class:`MeterPlan` (see the module docstring); ``peers`` are every rank's :class:`Peer`
    when a process group exists (they decide the election and the node's allocation)."""
    if attribution not in (ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS):
        raise ValueError(f"attribution must be 'machine' or 'process', got {attribution!r}")
    env = os.environ if environ is None else environ
    rank = rank or detect_rank(env)
    host = host or socket.gethostname()
    meters, election, meter_rank = _elect(rank, host, peers)
    notes = list(rank.notes)
    if attribution == ATTRIBUTION_PROCESS and rank.distributed:
        meters = True
        election = "process attribution: every rank charges its own CPU-time share of the node-level domains"
        meter_rank = None
    gpus, rule = gpu_assignment(rank, env, gpu_count)
    alloc = _node_allocation(host, peers, env)
    notes.extend(alloc.notes)
    return MeterPlan(
        rank=rank.rank,
        local_rank=rank.local_rank,
        world_size=rank.world_size,
        node_rank=rank.node_rank,
        nodes=rank.nodes,
        launcher=rank.launcher,
        host=host,
        attribution=attribution,
        meters_node=meters,
        election=election,
        node_meter_rank=meter_rank,
        gpus=gpus,
        gpu_rule=rule,
        allocation=AllocationShare.of(alloc),
        notes=tuple(notes),
        node_allocation=alloc,
    )


__all__ = ["ENV_GPU_DEVICES", "AllocationShare", "MeterPlan", "Peer", "gpu_assignment", "local_peer", "plan_for"]
