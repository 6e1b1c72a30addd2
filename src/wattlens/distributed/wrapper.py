"""``wattlens measure`` as one rank of a job: ``srun wattlens measure --job $SLURM_JOB_ID --db … -- python train.py``.

``srun`` starts one wrapper per task, each with the task's Slurm variables: each wrapper is a rank (no process
group between wrappers), meters what :mod:`wattlens.distributed.topology` gives it — the node-level domains on
local rank 0 only, its own GPUs, its own tree's CPU time — and writes its part to the store under the job id,
where ``wattlens results --job`` sums them. A wrapper started outside any launcher
(``wattlens measure -- torchrun …``) is a single process that meters the whole node once, its children included.
"""

from __future__ import annotations

from typing import Any

from wattlens.distributed.jobs import job_id_from_env, make_part, save_part
from wattlens.distributed.meter import build_monitor
from wattlens.distributed.reduce import rank_share
from wattlens.distributed.topology import MeterPlan, plan_for
from wattlens.tracking.ranks import detect_rank


def rank_plan(attribution: str, job: str | None) -> MeterPlan | None:
    """The plan of this wrapper when it is a rank of a job (launcher variables) or ``--job`` is given, else None."""
    rank = detect_rank()
    if not rank.distributed and job is None:
        return None
    return plan_for(rank, attribution=attribution)


def rank_monitor(plan: MeterPlan, cpu_tdp_w: float | None) -> Any:
    return build_monitor(plan, cpu_tdp_w)


def record_fields(plan: MeterPlan, measurement: Any, job: str | None) -> dict[str, object]:
    """What the wrapper's record adds: who it is, what it metered, the job it belongs to."""
    share = rank_share(plan, measurement)
    return {
        "job_id": job or job_id_from_env(),
        "distributed": {"plan": plan.to_dict(), "rank_share": share.to_dict()},
    }


def save_rank(store: Any, plan: MeterPlan, measurement: Any, job: str | None, co2e_g: float | None) -> str | None:
    """Write this wrapper's part under the job id (None when there is no job id). Returns the run id."""
    job_id = job or job_id_from_env()
    if job_id is None:
        return None
    part = make_part(
        job_id=job_id,
        name=measurement.name,
        node=plan.node_key,
        world_size=plan.world_size,
        nodes_expected=plan.nodes,
        launcher=plan.launcher,
        rank=plan.rank,
        rank_share=rank_share(plan, measurement),
        co2e_g=co2e_g,
    )
    return save_part(store, part)


__all__ = ["rank_monitor", "rank_plan", "record_fields", "save_rank"]
