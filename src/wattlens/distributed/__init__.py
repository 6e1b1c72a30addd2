"""Beyond one machine: distributed jobs measured once per device, benchmark sweeps on a Ray cluster.

* :func:`measure` (:mod:`wattlens.distributed.measure`) — in every rank of a torchrun / Slurm / MPI job; one
  process per node meters the node-level domains, each rank its own accelerators, and the parts are reduced
  across the process group (total, per node, per rank, each with source and interval);
* :mod:`wattlens.distributed.topology` — who meters what (the election, the GPU mapping, the job's allocation);
* :mod:`wattlens.distributed.jobs` — each node's part in the shared store under one job id, summed by
  ``wattlens results --job``;
* :mod:`wattlens.distributed.ray_sweep` — ``wattlens bench --ray`` / ``wattlens optimize --ray``: cells as Ray
  tasks (``wattlens[ray]``).

Nothing here imports torch or ray: torch.distributed is used only when the user's code initialised a process
group, ray only by the Ray sweep.

>>> import wattlens.distributed as wd
>>> with wd.measure("step") as m:
...     _ = sum(range(1000))
>>> m.result.ranks[0].meters_node
True
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

_EXPORTS = {
    "measure": "wattlens.distributed.measure",
    "DistributedMeasure": "wattlens.distributed.measure",
    "DistributedResult": "wattlens.distributed.records",
    "NodeShare": "wattlens.distributed.records",
    "RankShare": "wattlens.distributed.records",
    "DomainEnergy": "wattlens.distributed.records",
    "MeterPlan": "wattlens.distributed.topology",
    "plan_for": "wattlens.distributed.topology",
    "JobView": "wattlens.distributed.jobs",
    "job_view": "wattlens.distributed.jobs",
}
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
__all__ = sorted(_EXPORTS)
