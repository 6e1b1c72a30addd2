"""From trials to confirmed points: medians over the confirmation rounds, the Pareto set, the search's cost.

A confirmed point (:class:`OptimizePoint`) is a configuration's confirmation trials summarised: median J per
query (each round kept in ``j_per_query_runs``), its interval, latency, throughput, footprint, the meter's CPU and
memory terms, and the accounting of each round (to re-charge the memory term for the deployment footprint later).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from wattlens.optimize import space as SP
from wattlens.optimize.accounting import AS_MEASURED, round_account
from wattlens.optimize.results import (
    Config,
    Constraints,
    Fidelity,
    OptimizePoint,
    QualityReport,
    Trial,
    TrialPoint,
    config_key,
)
from wattlens.optimize.search import SearchOutcome
from wattlens.optimize.variants import public_config
from wattlens.pareto import Objective, pareto_front
from wattlens.stats import mean, median, median_of_known
from wattlens.units import wh_per_1000


def _known(values: Sequence[float | None], *, nonzero: bool = False) -> float | None:
    return median_of_known([v for v in values if v is not None and (v or not nonzero)])


def confirmed_point(
    config: Config,
    ok: Sequence[Trial],
    quality: QualityReport,
    model_size_mb: float | None,
    constraints: Constraints,
) -> OptimizePoint:
    """The point of ``config`` from its successful confirmation trials (``ok`` non-empty) and its quality
    re-checked at its exact batching."""
    energies = [t.j_per_query for t in ok if t.j_per_query is not None]
    details = [t.extra for t in ok]
    peaks = [t.peak_rss_mb for t in ok if t.peak_rss_mb is not None]
    j = median(energies)
    search_process = [d.j_per_query_search_process for d in details]
    p = OptimizePoint(
        config=public_config(config),
        label=SP.describe(dict(config)),
        j_per_query=j,
        j_per_query_runs=tuple(energies),
        j_per_query_low=_known([d.j_low for d in details]),
        j_per_query_high=_known([d.j_high for d in details]),
        j_per_query_machine=_known([d.j_per_query_machine for d in details]),
        quality=quality.quality,
        quality_detail=quality,
        p50_ms=_known([t.p50_ms for t in ok]),
        p95_ms=_known([t.p95_ms for t in ok]),
        throughput_qps=_known([d.throughput_qps for d in details], nonzero=True),
        peak_rss_mb=max(peaks) if peaks else None,
        model_size_mb=model_size_mb,
        thermal=ok[-1].extra.thermal or None,
        source=ok[0].extra.source,
        rounds=len(ok),
        co_tenant_cpu_share=_known([d.co_tenant_cpu_share for d in details]),
        j_per_query_cpu=_known([d.cpu_j_per_query for d in details], nonzero=True),
        j_per_query_memory=_known([d.memory_j_per_query for d in details]),
        meter_rss_mb=_known([d.meter_rss_mb for d in details], nonzero=True),
        meter_w_per_gb=_known([d.meter_w_per_gb for d in details], nonzero=True),
        # the same windows with the memory term charged for the search process's RSS (the old figure)
        j_per_query_search_process=_known(
            [s if s is not None else t.j_per_query for s, t in zip(search_process, ok, strict=True)]
        ),
        memory_footprint_mb=_known([d.footprint_mb for d in details], nonzero=True),
        memory_footprint_basis=ok[0].extra.footprint_basis or f"{AS_MEASURED} (own process)",
        wh_per_1000=wh_per_1000(j),
        accounts=tuple(round_account(t) for t in ok),
    )
    why = constraints.violation(p.trial())
    return p if not why else _with_violation(p, why)


def _with_violation(p: OptimizePoint, why: str) -> OptimizePoint:
    return dataclasses.replace(p, violation=why)


def trial_points(outcome: SearchOutcome, full: Fidelity) -> list[TrialPoint]:
    """The successful full-fidelity trials, as listed in the result's ``trials``."""
    return [
        TrialPoint.of(t, SP.describe(dict(t.config)), public_config(t.config))
        for t in outcome.trials
        if t.ok and t.j_per_query is not None and t.fidelity == full.name
    ]


_POINT_OBJECTIVES: tuple[Objective[OptimizePoint], ...] = (
    Objective(lambda p: p.j_per_query),
    Objective(lambda p: p.p95_ms, required=False),
    Objective(lambda p: p.quality, minimize=False, required=False),
    Objective(lambda p: p.peak_rss_mb, required=False),
)


def pareto_points(points: Sequence[OptimizePoint]) -> list[OptimizePoint]:
    """Confirmed points within the limits that no other point beats on energy, p95, quality and peak RSS."""
    return [p for p in pareto_front(points, _POINT_OBJECTIVES) if not p.violation]


def exhaustive_cost_estimate(outcome: SearchOutcome, full: Fidelity, n: int) -> float | None:
    """What measuring every configuration at full fidelity would have cost: per-query time of each
    configuration's cheapest-rung trial scaled to the full work (measured where the full rung ran)."""
    per_cfg: dict[str, float] = {}
    for t in outcome.trials:
        q = t.extra.queries
        if not t.ok or not q or not t.cost_s:
            continue
        key = config_key(t.config)
        est = t.cost_s / q * full.queries * full.repeats if t.fidelity != full.name else t.cost_s
        per_cfg[key] = est if t.fidelity == full.name else per_cfg.get(key, est)
    if not per_cfg:
        return None
    return sum(per_cfg.values()) + mean(list(per_cfg.values())) * max(0, n - len(per_cfg))
