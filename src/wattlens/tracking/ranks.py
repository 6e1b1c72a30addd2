"""Which process of a distributed job this is, and what it should meter and log (stdlib only).

Under ``torchrun``, Slurm or MPI every rank runs the same training script. If every rank metered the
whole node, a node with 8 ranks would be counted 8 times; if every rank logged, every figure would appear
N times. The rule wattlens follows everywhere (Trainer/Lightning callbacks, the distributed layer):

* **one meter per node** — the process with ``local_rank == 0`` meters the node's devices (CPU package,
  DRAM, every GPU it can see); the other ranks of that node meter nothing (``meters_node``);
* **one logger per job** — only global rank 0 writes to the experiment logs (``logs``); its figure covers
  *its own node*, and says so (``nodes_counted`` / ``scope``) when the job spans several nodes.

>>> info = detect_rank({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"})
>>> info.rank, info.local_rank, info.world_size, info.node_rank, info.launcher
(3, 1, 8, 0, 'torchrun')
>>> info.meters_node, info.logs
(False, False)
>>> detect_rank({}).distributed
False

Where the numbers come from, first match wins (the innermost launcher is the most specific: ``srun``
starting ``torchrun`` leaves both sets of variables, and torchrun's describe the training processes):

1. ``torch.distributed`` when it is *already imported and initialised* (never imported here);
2. torchrun / torch.distributed.launch: ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
   ``GROUP_RANK`` (the node index);
3. Open MPI: ``OMPI_COMM_WORLD_RANK`` / ``_LOCAL_RANK`` / ``_SIZE`` / ``_LOCAL_SIZE``; MPICH / Intel MPI:
   ``PMI_RANK`` / ``PMI_SIZE`` (+ ``MPI_LOCALRANKID``);
4. Slurm: ``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NTASKS``, ``SLURM_NODEID``, ``SLURM_NNODES``;
5. nothing: a single process (rank 0 of 1).

A variable that is present but not a whole number >= 0 is not trusted: that launcher is skipped and the
reason kept in ``notes`` (never an exception: rank detection runs inside the user's training loop).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

LAUNCHER_SINGLE = "single-process"


@dataclass(frozen=True)
class RankInfo:
    """The position of this process in its job.

    ``node_rank`` / ``nodes`` are ``None`` when the launcher does not say them (torch.distributed alone).
    """

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int | None
    node_rank: int | None
    nodes: int | None
    launcher: str  # torch.distributed | torchrun | openmpi | mpich | slurm | single-process
    notes: tuple[str, ...] = field(default=())

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_global_zero(self) -> bool:
        return self.rank == 0

    @property
    def meters_node(self) -> bool:
        """Whether this process meters its node's devices (one process per node: local rank 0)."""
        return self.local_rank == 0

    @property
    def logs(self) -> bool:
        """Whether this process writes figures to the experiment logs (global rank 0 only)."""
        return self.rank == 0

    @property
    def scope(self) -> str:
        """What a figure metered by this process covers, in words (for tags and notes)."""
        if not self.distributed:
            return "this process's node (single-process job)"
        nodes = f" of {self.nodes}" if self.nodes else ""
        node = f"node {self.node_rank}{nodes}" if self.node_rank is not None else "this node"
        return (
            f"{node}: metered by local rank 0 (global rank {self.rank} of {self.world_size}); other nodes not included"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "world_size": self.world_size,
            "local_world_size": self.local_world_size,
            "node_rank": self.node_rank,
            "nodes": self.nodes,
            "launcher": self.launcher,
            "meters_node": self.meters_node,
            "logs": self.logs,
            "notes": list(self.notes),
        }


class _Untrusted(ValueError):
    """A launcher variable that is present but not a whole number >= 0."""


def _int(env: Mapping[str, str], key: str) -> int | None:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise _Untrusted(f"{key}={raw!r} is not a whole number") from None
    if value < 0:
        raise _Untrusted(f"{key}={raw!r} is negative")
    return value


def _info(
    launcher: str,
    rank: int,
    local: int | None,
    world: int,
    local_size: int | None,
    node: int | None,
    nodes: int | None,
    missing_local: str,
) -> RankInfo:
    """A RankInfo with the gaps filled: an unknown local rank is the global one (said in a note, when it
    matters); an unknown node index / count follows from the node size, when every node runs the same number
    of processes (torchrun's and srun's default)."""
    notes: tuple[str, ...] = ()
    if local is None:
        local = rank if world > 1 else 0
        if world > 1:
            notes = (missing_local,)
    if node is None and local_size:
        node = rank // local_size
    if nodes is None and local_size:
        nodes = -(-world // local_size)
    return RankInfo(rank, local, world, local_size, node, nodes, launcher, notes)


def _from_torch(env: Mapping[str, str]) -> RankInfo | None:
    """torch.distributed's own view, only if the user's code already imported and initialised it."""
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if not (dist.is_available() and dist.is_initialized()):
            return None
        rank, world = int(dist.get_rank()), int(dist.get_world_size())
    except Exception:  # a half-initialised process group: fall back to the launcher's variables
        return None
    # The local rank and node size are not properties of the process group: take them from the launcher.
    local = _first_int(env, ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"))
    local_size = _first_int(env, ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"))
    node = _first_int(env, ("GROUP_RANK", "SLURM_NODEID"))
    missing = "local rank unknown (no LOCAL_RANK / launcher variable): taken as the global rank"
    return _info("torch.distributed", rank, local, world, local_size, node, None, missing)


def _first_int(env: Mapping[str, str], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        try:
            value = _int(env, key)
        except _Untrusted:
            continue
        if value is not None:
            return value
    return None


def _from_vars(
    env: Mapping[str, str],
    launcher: str,
    rank_key: str,
    local_key: str,
    size_key: str,
    local_size_key: str | None,
    node_key: str | None,
    nodes_key: str | None,
) -> RankInfo | None:
    rank = _int(env, rank_key)
    if rank is None:
        return None
    world = _int(env, size_key)
    if world is None or world < 1:
        raise _Untrusted(f"{rank_key} is set but {size_key} is {env.get(size_key)!r}")
    if rank >= world:
        raise _Untrusted(f"{rank_key}={rank} is not below {size_key}={world}")
    local_size = _int(env, local_size_key) if local_size_key else None
    node = _int(env, node_key) if node_key else None
    nodes = _int(env, nodes_key) if nodes_key else None
    missing = f"{local_key} not set: the local rank is taken as the global rank"
    return _info(launcher, rank, _int(env, local_key), world, local_size, node, nodes, missing)


# (launcher, rank, local rank, world size, local world size, node index, node count), most specific first
_LAUNCHERS: tuple[tuple[str, str, str, str, str | None, str | None, str | None], ...] = (
    ("torchrun", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", None),
    (
        "openmpi",
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        None,
        None,
    ),
    ("mpich", "PMI_RANK", "MPI_LOCALRANKID", "PMI_SIZE", "MPI_LOCALNRANKS", None, None),
    ("slurm", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", None, "SLURM_NODEID", "SLURM_NNODES"),
)


def detect_rank(environ: Mapping[str, str] | None = None) -> RankInfo:
    """This process's :class:`RankInfo` (see the module docstring for the order of the sources).

    ``environ`` defaults to ``os.environ``; pass a mapping to ask about another process's environment.
    Never raises: untrusted variables are skipped and named in ``notes``.
    """
    env = os.environ if environ is None else environ
    skipped: list[str] = []
    found = _from_torch(env)
    if found is None:
        for spec in _LAUNCHERS:
            try:
                found = _from_vars(env, *spec)
            except _Untrusted as exc:
                skipped.append(f"{spec[0]} variables ignored: {exc}")
                continue
            if found is not None:
                break
    if found is None:
        found = RankInfo(0, 0, 1, 1, 0, 1, LAUNCHER_SINGLE)
    if skipped:
        found = RankInfo(
            found.rank,
            found.local_rank,
            found.world_size,
            found.local_world_size,
            found.node_rank,
            found.nodes,
            found.launcher,
            (*found.notes, *skipped),
        )
    return found


__all__ = ["LAUNCHER_SINGLE", "RankInfo", "detect_rank"]
