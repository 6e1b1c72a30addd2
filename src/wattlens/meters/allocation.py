"""The share of this node that the job owns: its CPUs and its memory (stdlib only, a few syscalls).

A job that shares a node (a Slurm job with 8 of 64 CPUs, a container pinned to 4 cores) must not be charged the
whole node's static power. Where the numbers come from, first match wins, and the record says which:

* **CPUs**: ``SLURM_CPUS_ON_NODE`` (the CPUs Slurm gave the job on this node — every task of the job on the node
  together, even when each task is bound to fewer), else the CPUs this process may run on
  (``os.sched_getaffinity``: cpusets, cgroups, ``taskset``), else the whole node;
* **memory**: ``SLURM_MEM_PER_NODE`` (MB), else ``SLURM_MEM_PER_CPU`` (MB) x the CPUs above, else the whole node.

The node's size is what this OS sees (``os.cpu_count()``, physical pages). An allocation is ``partial`` when either
share is below the node's. Nothing here raises: an unreadable or malformed value is skipped and named in
``notes``.

>>> a = detect_allocation({"SLURM_CPUS_ON_NODE": "2", "SLURM_MEM_PER_NODE": "4096"}, node_cpus=8, node_memory_gb=32.0)
>>> a.cpus, a.memory_gb, a.cpu_fraction, a.partial
(2, 4.0, 0.25, True)
>>> detect_allocation({}, node_cpus=8, node_memory_gb=32.0, affinity=frozenset(range(8))).partial
False
"""

from __future__ import annotations

import os

from wattlens.meters.base import Record

TYPE_CHECKING = False  # not `import typing` (5-7 ms): the estimator (on the first Monitor()'s path) imports this
if TYPE_CHECKING:
    from collections.abc import Mapping

_GB_PER_MB = 1.0 / 1024.0
BASIS_SLURM = "SLURM_CPUS_ON_NODE"
BASIS_AFFINITY = "os.sched_getaffinity"
BASIS_NODE = "whole node"


class Allocation(Record):
    """The CPUs and memory of this node that the job owns, with where each figure came from."""

    __slots__ = (  # noqa: RUF023 - the order is the field order
        "cpus",
        "node_cpus",
        "cpu_ids",
        "cpu_basis",
        "memory_gb",
        "node_memory_gb",
        "memory_basis",
        "notes",
    )
    cpus: int  # CPUs (hardware threads) the job owns on this node
    node_cpus: int  # CPUs this OS sees
    cpu_ids: frozenset[int] | None  # which ones, when known (the affinity set); None when only the count is
    cpu_basis: str
    memory_gb: float | None  # None: the node's memory size is unknown
    node_memory_gb: float | None
    memory_basis: str
    notes: tuple[str, ...]

    def __init__(
        self,
        cpus: int,
        node_cpus: int,
        cpu_ids: frozenset[int] | None,
        cpu_basis: str,
        memory_gb: float | None,
        node_memory_gb: float | None,
        memory_basis: str,
        notes: tuple[str, ...] = (),
    ) -> None:
        self._init(cpus, node_cpus, cpu_ids, cpu_basis, memory_gb, node_memory_gb, memory_basis, tuple(notes))

    @property
    def cpu_fraction(self) -> float:
        return min(self.cpus / self.node_cpus, 1.0) if self.node_cpus > 0 else 1.0

    @property
    def memory_fraction(self) -> float:
        if self.memory_gb is None or not self.node_memory_gb:
            return 1.0
        return min(self.memory_gb / self.node_memory_gb, 1.0)

    @property
    def partial(self) -> bool:
        """Whether the job owns less than the whole node (CPUs or memory)."""
        return self.cpu_fraction < 1.0 or self.memory_fraction < 1.0

    def describe(self) -> str:
        """One sentence for records and notes."""
        mem = "memory unknown"
        if self.memory_gb is not None:
            node = f" of {self.node_memory_gb:.1f} GB" if self.node_memory_gb else ""
            mem = f"{self.memory_gb:.1f} GB{node} ({self.memory_basis})"
        return f"job allocation on this node: {self.cpus} of {self.node_cpus} CPUs ({self.cpu_basis}), {mem}"

    def to_dict(self) -> dict[str, object]:
        return {
            "cpus": self.cpus,
            "node_cpus": self.node_cpus,
            "cpu_ids": None if self.cpu_ids is None else sorted(self.cpu_ids),
            "cpu_basis": self.cpu_basis,
            "cpu_fraction": self.cpu_fraction,
            "memory_gb": self.memory_gb,
            "node_memory_gb": self.node_memory_gb,
            "memory_basis": self.memory_basis,
            "memory_fraction": self.memory_fraction,
            "partial": self.partial,
            "notes": list(self.notes),
        }


def _positive_int(env: Mapping[str, str], key: str, notes: list[str]) -> int | None:
    raw = env.get(key, "").strip()
    if not raw:
        return None
    # Slurm writes per-node lists such as "4(x2),2" for SLURM_JOB_CPUS_PER_NODE; SLURM_CPUS_ON_NODE is one number
    try:
        value = int(raw)
    except ValueError:
        notes.append(f"{key}={raw!r} is not a whole number: ignored")
        return None
    if value < 1:
        notes.append(f"{key}={raw!r} is not positive: ignored")
        return None
    return value


def _affinity() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return None


def physical_memory_gb() -> float | None:
    """Physical memory this OS sees, GB (None when unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def detect_allocation(
    environ: Mapping[str, str] | None = None,
    *,
    node_cpus: int | None = None,
    node_memory_gb: float | None = None,
    affinity: frozenset[int] | None = None,
) -> Allocation:
    """This process's :class:`Allocation` (see the module docstring for the order of the sources).

    The keyword arguments stand in for what the OS would say (tests, or another node's view); ``affinity`` is the
    set of CPUs the job may run on (default: this process's ``os.sched_getaffinity``; a distributed meter passes
    the union of its node's ranks).
    """
    env = os.environ if environ is None else environ
    notes: list[str] = []
    total = node_cpus if node_cpus is not None else (os.cpu_count() or 1)
    ids = affinity if affinity is not None else _affinity()
    slurm = _positive_int(env, "SLURM_CPUS_ON_NODE", notes)
    if slurm is not None:
        cpus, basis = min(slurm, total), BASIS_SLURM
        if slurm > total:
            notes.append(f"SLURM_CPUS_ON_NODE={slurm} is more than the {total} CPUs this OS sees: capped")
        cpu_ids = ids if ids is not None and len(ids) == cpus else None
    elif ids is not None and 0 < len(ids) < total:
        cpus, basis, cpu_ids = len(ids), BASIS_AFFINITY, ids
    else:
        cpus, basis, cpu_ids = total, BASIS_NODE, ids
    node_gb = node_memory_gb if node_memory_gb is not None else physical_memory_gb()
    memory_gb, memory_basis = node_gb, BASIS_NODE
    per_node = _positive_int(env, "SLURM_MEM_PER_NODE", notes)
    per_cpu = _positive_int(env, "SLURM_MEM_PER_CPU", notes)
    if per_node is not None:
        memory_gb, memory_basis = per_node * _GB_PER_MB, "SLURM_MEM_PER_NODE"
    elif per_cpu is not None:
        memory_gb, memory_basis = per_cpu * cpus * _GB_PER_MB, f"SLURM_MEM_PER_CPU x {cpus} CPUs"
    if memory_gb is not None and node_gb is not None and memory_gb > node_gb:
        notes.append(f"{memory_basis} gives {memory_gb:.1f} GB, more than the node's {node_gb:.1f} GB: capped")
        memory_gb = node_gb
    return Allocation(cpus, total, cpu_ids, basis, memory_gb, node_gb, memory_basis, tuple(notes))


def node_allocation(parts: list[Allocation]) -> Allocation:
    """The allocation of several processes of one job on one node (e.g. every rank of a node): the union of their
    CPU sets where each is known, the largest Slurm figure otherwise, and the largest memory figure."""
    if not parts:
        raise ValueError("node_allocation needs at least one allocation")
    first = parts[0]
    ids: frozenset[int] | None = frozenset()
    for p in parts:
        ids = None if ids is None or p.cpu_ids is None else ids | p.cpu_ids
    slurm = [p.cpus for p in parts if p.cpu_basis == BASIS_SLURM]
    if slurm:
        cpus, basis = max(slurm), BASIS_SLURM
    elif ids is not None:
        cpus = len(ids)
        basis = BASIS_AFFINITY + " (union over the node's processes)" if cpus < first.node_cpus else BASIS_NODE
    else:
        cpus, basis = max(p.cpus for p in parts), first.cpu_basis
    mem = [p.memory_gb for p in parts if p.memory_gb is not None]
    notes = tuple(dict.fromkeys(n for p in parts for n in p.notes))
    return Allocation(
        min(cpus, first.node_cpus),
        first.node_cpus,
        ids if ids is not None and len(ids) == cpus else None,
        basis,
        max(mem) if mem else None,
        first.node_memory_gb,
        first.memory_basis,
        notes,
    )


__all__ = ["Allocation", "detect_allocation", "node_allocation", "physical_memory_gb"]
