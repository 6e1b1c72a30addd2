"""A :class:`~wattlens.tracking.Monitor` that reads exactly what a :class:`MeterPlan` says this process meters.

Node-level counters (RAPL, Apple) only where the plan elects this process; GPU sources restricted to the plan's
accelerators (the NVML/amdsmi sources are given a ``CUDA_VISIBLE_DEVICES``/``HIP_VISIBLE_DEVICES`` naming only
them); the estimator for the CPU/memory domains no counter covers *on this node* — with its static power and
memory only on the elected process. A rank of a RAPL node that is not elected reads no CPU source at all: the
package counter of its node's meter already contains its work.
"""

from __future__ import annotations

import os
from typing import Any

from wattlens.distributed.topology import ATTRIBUTION_PROCESS, GPU_SOURCES, NODE_LEVEL_SOURCES, MeterPlan
from wattlens.meters.base import DOMAIN_CPU, DOMAIN_MEMORY, DOMAIN_SOC, EnergySource, SourceStatus

_ESTIMABLE = (DOMAIN_CPU, DOMAIN_MEMORY)


def _gpu_env(plan: MeterPlan) -> dict[str, str] | None:
    """The environment the GPU sources read their visible devices from (None: this process's own)."""
    if plan.gpus is None:
        return None
    env = dict(os.environ)
    for key in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"):
        env[key] = plan.gpus
    env.pop("ROCR_VISIBLE_DEVICES", None)  # the tokens above already index what ROCR left
    return env


def _open(name: str, **kwargs: Any) -> tuple[EnergySource | None, SourceStatus]:
    from wattlens.meters.discovery import probe_source

    cls, status = probe_source(name)
    if cls is None or not status.available:
        return None, status
    try:
        return cls(**kwargs), status
    except Exception as exc:  # opening failed (e.g. no GPU left after the rank's restriction): said, not raised
        return None, SourceStatus(name, False, f"{status.detail}; opening it for this rank failed: {exc}")


def plan_sources(plan: MeterPlan, cpu_tdp_w: float | None = None) -> tuple[list[EnergySource], list[SourceStatus]]:
    """The sources this process reads under ``plan``, and the status of every source considered."""
    from wattlens.meters.estimator import EstimatorSource

    sources: list[EnergySource] = []
    statuses: list[SourceStatus] = []
    node_domains: set[str] = set()  # what the node's counters cover, read here or by the node's meter
    for name in NODE_LEVEL_SOURCES:
        if plan.meters_node:
            src, status = _open(name)
            if src is not None:
                sources.append(src)
        else:
            from wattlens.meters.discovery import probe_source

            status = probe_source(name)[1]
            if status.available:
                status = status.replace(
                    detail=f"read by rank {plan.node_meter_rank} (this node's meter): {status.detail}"
                )
        statuses.append(status)
        if status.available:
            node_domains.update(status.domains)
    env = _gpu_env(plan)
    for name in GPU_SOURCES:
        if plan.gpus == "":
            statuses.append(SourceStatus(name, False, f"no accelerator metered by this rank ({plan.gpu_rule})"))
            continue
        src, status = _open(name, env=env) if env is not None else _open(name)
        if src is not None:
            sources.append(src)
        statuses.append(status)
    domains = () if DOMAIN_SOC in node_domains else tuple(d for d in _ESTIMABLE if d not in node_domains)
    static = plan.meters_node or plan.attribution == ATTRIBUTION_PROCESS
    if not static:
        domains = tuple(d for d in domains if d == DOMAIN_CPU)
    if domains:
        est = EstimatorSource(
            plan.attribution, domains, cpu_tdp_w=cpu_tdp_w, allocation=plan.node_allocation, static=static
        )
        sources.append(est)
        statuses.append(est.status())
    return sources, statuses


def build_monitor(plan: MeterPlan, cpu_tdp_w: float | None = None) -> Any:
    """A Monitor over :func:`plan_sources` (in the plan's attribution, with the node's allocation)."""
    from wattlens.tracking import Monitor

    sources, statuses = plan_sources(plan, cpu_tdp_w)
    mon = Monitor(list(sources), plan.attribution, allocation=plan.node_allocation)
    mon.statuses = statuses  # every source considered, with why it is (not) read by this process
    return mon


__all__ = ["build_monitor", "plan_sources"]
