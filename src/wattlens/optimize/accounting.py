"""Energy and memory accounting per configuration: what one query of THIS configuration costs.

The meter's figure for a trial is its CPU term + its memory term. The memory term of the estimator is a model,
W/GB x resident GB x wall time, charged for the *search process*'s RSS — which holds every variant at once
(GBs), an artefact of searching. Each configuration is instead charged for its own deployment footprint: a
per-trial estimate during the search, the fresh-process measurement (``deploy_rss_mb``) for the baseline and
the recommendation once the deploy check ran. The inputs come from the meter's own reading: each memory
component of a window carries the RSS it charged (``rss_mb``) and its W/GB (``w_per_gb``); a memory figure
without them (a measured DRAM counter, machine attribution) is kept as measured and never re-charged.

Also here: the hidden costs of a point against the baseline, the yearly savings and the boundary note.
Pure Python (carbon imported lazily for the yearly projection).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from wattlens.bench.records import WindowRow
from wattlens.optimize.results import (
    EnergyBoundary,
    HiddenCosts,
    OptimizePoint,
    RoundAccount,
    Savings,
    SavingsPerYear,
    Trial,
)
from wattlens.stats import median
from wattlens.units import wh_per_1000

MB_PER_GB = 1024.0
FRESH_PROCESS = "fresh-process measurement (deploy check)"
PER_TRIAL = "per-trial estimate"
AS_MEASURED = "meter as measured"


@dataclass(frozen=True)
class EnergySplit:
    """A trial's energy per query split into the meter's CPU and memory terms.

    ``memory_j_per_gb`` is what one more GB resident for the whole measurement would have added per query
    (W/GB x modelled seconds / queries): with it, the memory term is charged for any footprint directly.
    """

    cpu_j_per_query: float
    memory_j_per_query: float
    meter_rss_mb: float | None  # the (time-weighted) RSS the meter's memory term charged
    memory_j_per_gb: float | None  # None: the memory figure is not a W/GB x RSS model (kept as measured)
    meter_w_per_gb: float | None = None  # the (time-weighted) W/GB of that model, as the meter's components gave it

    @property
    def rescalable(self) -> bool:
        return self.memory_j_per_gb is not None and self.memory_j_per_query > 0

    def memory_at(self, footprint_mb: float) -> float | None:
        """The memory term per query had the configuration held ``footprint_mb`` resident."""
        return None if self.memory_j_per_gb is None else self.memory_j_per_gb * footprint_mb / MB_PER_GB


def split_components(windows: Sequence[WindowRow], queries: int) -> EnergySplit:
    """CPU and memory energy per query over ``windows``, with the memory term's own inputs as the meter gave them."""
    cpu = mem = 0.0
    gb_s = rss_s = seconds = 0.0  # W/GB-weighted seconds, RSS-weighted seconds, modelled seconds
    modelled_only = True
    for w in windows:
        for c in w.components:
            if c.energy_j is None:
                continue
            if c.domain != "memory":
                cpu += c.energy_j
                continue
            mem += c.energy_j
            if c.rss_mb is None or c.w_per_gb is None:
                modelled_only = False  # e.g. a DRAM counter: a measured figure, not a footprint model
                continue
            gb_s += c.w_per_gb * w.duration_s
            rss_s += c.rss_mb * w.duration_s
            seconds += w.duration_s
    q = max(1, queries)
    rss = rss_s / seconds if seconds > 0 else _process_peak_rss_mb()
    per_gb = gb_s / q if modelled_only and seconds > 0 else None
    w_per_gb = gb_s / seconds if modelled_only and seconds > 0 else None
    return EnergySplit(cpu / q, mem / q, rss, per_gb, w_per_gb)


def _process_peak_rss_mb() -> float | None:
    """Peak RSS of this process and its children: what a meter without a memory model would have seen."""
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return kb / 1024.0
    except Exception:  # not available on this platform: unknown, never 0
        return None


def charge_footprint(
    j_search: float | None, split: EnergySplit, footprint_mb: float | None
) -> tuple[float | None, float]:
    """(J per query with the memory term charged for ``footprint_mb`` instead of the search process's RSS, the
    delta added). The CPU term and any measured component are kept as measured; unchanged when nothing can be
    re-charged."""
    if j_search is None or footprint_mb is None or not split.rescalable:
        return j_search, 0.0
    deployed = split.memory_at(footprint_mb)
    if deployed is None:
        return j_search, 0.0
    delta = deployed - split.memory_j_per_query
    return j_search + delta, delta


def round_account(t: Trial) -> RoundAccount:
    """What a confirmation round keeps to be re-charged later: its J as the meter charged it and its memory term."""
    d = t.extra
    j = d.j_per_query_search_process if d.j_per_query_search_process is not None else (t.j_per_query or 0.0)
    rescalable = bool(d.memory_rescalable and d.memory_j_per_gb)
    return RoundAccount(j, d.memory_j_per_query, d.memory_j_per_gb if rescalable else None, rescalable)


def _memory_at(a: RoundAccount, footprint_mb: float) -> float:
    return (a.memory_j_per_gb or 0.0) * footprint_mb / MB_PER_GB


def recharge_point(p: OptimizePoint, footprint_mb: float, basis: str) -> OptimizePoint:
    """``p`` with its memory term charged for ``footprint_mb`` in every round, so its J per query, rounds and
    bounds all rest on that footprint. Unchanged when a round's memory figure is not a footprint model."""
    acct = p.accounts
    if not acct or not all(a.rescalable and a.memory_j and a.memory_j_per_gb for a in acct):
        return p
    runs = [a.j_search_process - (a.memory_j or 0.0) + _memory_at(a, footprint_mb) for a in acct]
    new = median(runs)
    shift = new - p.j_per_query
    return dataclasses.replace(
        p,
        j_per_query=new,
        j_per_query_runs=tuple(runs),
        j_per_query_low=None if p.j_per_query_low is None else p.j_per_query_low + shift,
        j_per_query_high=None if p.j_per_query_high is None else p.j_per_query_high + shift,
        wh_per_1000=wh_per_1000(new),
        # what the search charged it (per-trial) stays visible beside the deployed figure
        memory_footprint_estimate_mb=p.memory_footprint_estimate_mb or p.memory_footprint_mb or None,
        memory_footprint_mb=footprint_mb,
        memory_footprint_basis=basis,
        j_per_query_memory_deployed=median([_memory_at(a, footprint_mb) for a in acct]),
    )


def deployed(p: OptimizePoint | None) -> OptimizePoint | None:
    """``p`` charged for its fresh-process footprint where the deploy check measured one."""
    if p is None or not p.deploy_rss_mb:
        return p
    return recharge_point(p, float(p.deploy_rss_mb), FRESH_PROCESS)


@dataclass(frozen=True)
class SavingFactors:
    """Baseline J / recommended J on each basis (None where a figure is missing)."""

    primary: float | None = None  # each configuration charged for its own deployment footprint
    best_round: float | None = None  # least-contended round of each: an upper view
    vs_single_thread_default: float | None = None  # robust to co-tenants inflating the default: a lower view
    search_process: float | None = None  # memory term at the search process's RSS (the old primary figure)
    cpu_only: float | None = None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def saving_factors(
    base: OptimizePoint | None, rec: OptimizePoint | None, single_thread: OptimizePoint | None
) -> SavingFactors:
    if base is None or rec is None or not rec.j_per_query:
        return SavingFactors()
    best = _ratio(min(base.j_per_query_runs), min(rec.j_per_query_runs)) if base.j_per_query_runs else None
    return SavingFactors(
        primary=base.j_per_query / rec.j_per_query,
        best_round=best if rec.j_per_query_runs else None,
        vs_single_thread_default=None if single_thread is None else single_thread.j_per_query / rec.j_per_query,
        search_process=_ratio(base.j_per_query_search_process, rec.j_per_query_search_process),
        cpu_only=_ratio(base.j_per_query_cpu, rec.j_per_query_cpu),
    )


def assumptions(base: OptimizePoint | None, rec: OptimizePoint | None, baseline_path_note: str | None) -> list[str]:
    """The accounting stated in words (kept in the result beside the figures)."""
    ref = rec or base
    meter = ref.meter_rss_mb if ref is not None else None
    w_per_gb = ref.meter_w_per_gb if ref is not None else None
    charged = "the meter's W/GB" if w_per_gb is None else f"{w_per_gb:.4g} W/GB"
    notes = [
        f"J per query = the meter's CPU term as measured + its memory term ({charged} x RSS x wall time) "
        "charged for each configuration's OWN deployment footprint (model + runtime working set), not the "
        "search process's RSS"
        + (f" ({meter:.0f} MB, which holds every variant at once)" if meter else "")
        + "; the search-process figures are kept as j_per_query_search_process / "
        "saving_factor_search_process."
    ]
    for role, p in (("baseline", base), ("recommended", rec)):
        if p is not None:
            fp, est = p.memory_footprint_mb, p.memory_footprint_estimate_mb
            notes.append(
                f"{role} memory footprint: {p.memory_footprint_basis}"
                + (f", {fp:.0f} MB" if fp else "")
                + (f" (the search's per-trial estimate was {est:.0f} MB)" if est and est != fp else "")
            )
    notes.append(
        "pareto, single_thread_default and trials: per-trial footprint estimate (RSS of the runtime "
        "libraries loaded before any model + the model's bytes + the trial's own working set; it misses "
        "libraries imported later, e.g. sentence-transformers); compare the estimates above with the "
        "fresh-process figures to see how far it is off."
    )
    if baseline_path_note:
        notes.append(baseline_path_note)
    return notes


def hidden_costs(base: OptimizePoint, p: OptimizePoint) -> HiddenCosts:
    """What ``p`` costs elsewhere, relative to the baseline."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if not a or b is None else b / a

    return HiddenCosts(
        quality_delta=None if p.quality is None or base.quality is None else p.quality - base.quality,
        p50_ratio=ratio(base.p50_ms, p.p50_ms),
        p95_ratio=ratio(base.p95_ms, p.p95_ms),
        throughput_ratio=ratio(base.throughput_qps, p.throughput_qps),
        peak_rss_ratio=ratio(base.peak_rss_mb, p.peak_rss_mb),
        model_size_ratio=ratio(base.model_size_mb, p.model_size_mb),
        thermal=p.thermal,
    )


def boundary_note(attribution: str, base: OptimizePoint | None, rec: OptimizePoint | None) -> EnergyBoundary:
    machine = (
        base.j_per_query_machine / rec.j_per_query_machine
        if base and rec and base.j_per_query_machine and rec.j_per_query_machine
        else None
    )
    return EnergyBoundary(
        attribution=attribution,
        explanation=(
            "J per query from the meter's estimator in 'process' attribution: CPU time x per-thread "
            "max power + memory (W/GB x the configuration's own deployment RSS x time; see "
            "'assumptions'). The memory term scales with wall time and "
            "RSS, so savings that cut CPU-seconds more than wall time are diluted a little; in "
            "'machine' attribution the whole machine's idle draw x wall time is added, which dilutes "
            "ratios much more (idle power is paid whether or not the model runs)."
        ),
        saving_factor_machine_attribution=machine,
    )


def payback_queries(search_energy_j: float | None, saved_j_per_query: float) -> int | None:
    """Queries until the search's own metered energy is paid back by the saving (None when nothing is saved)."""
    return math.ceil(search_energy_j / saved_j_per_query) if search_energy_j and saved_j_per_query > 0 else None


@dataclass(frozen=True)
class Grid:
    """Where the yearly savings are projected: location and price, as the request gave them."""

    queries_per_day: float
    country: str | None = None
    region: str | None = None
    price_per_kwh: float | None = None
    currency: str | None = None


def savings(base: OptimizePoint, rec: OptimizePoint, grid: Grid) -> tuple[Savings, SavingsPerYear | None]:
    """J and Wh saved per query / per 1,000 queries, and per year at ``grid.queries_per_day`` (kWh, tCO2e, cost)."""
    saved = base.j_per_query - rec.j_per_query
    per_year: SavingsPerYear | None = None
    error = None
    try:
        per_year = _per_year(base, rec, grid)
    except Exception as exc:  # carbon data problems must not lose the search
        error = f"{type(exc).__name__}: {exc}"
    out = Savings(
        j_per_query_saved=saved,
        wh_per_1000_baseline=base.wh_per_1000,
        wh_per_1000_recommended=rec.wh_per_1000,
        wh_per_1000_saved=wh_per_1000(saved),
        queries_per_day=grid.queries_per_day,
        per_year_error=error,
    )
    return out, per_year


def _amount(cost: object) -> tuple[float, object] | None:
    if not isinstance(cost, dict):
        return None
    value = cost.get("value") or cost.get("amount")
    return (float(value), cost.get("currency")) if isinstance(value, (int, float)) else None


def _per_year(base: OptimizePoint, rec: OptimizePoint, grid: Grid) -> SavingsPerYear:
    from wattlens.carbon import project_yearly, resolve_location

    loc = resolve_location(country=grid.country, region=grid.region)
    yb, yr = (
        project_yearly(j, grid.queries_per_day, loc, price_per_kwh=grid.price_per_kwh, currency=grid.currency)
        for j in (base.j_per_query, rec.j_per_query)
    )
    fp = yr.get("footprint") or {}
    loc_d = fp.get("location") or {}
    cb, cr = _amount(yb.get("cost_per_year")), _amount(yr.get("cost_per_year"))
    cost = None if cb is None or cr is None else (cb[0] - cr[0], cb[1])
    default = " - stated default" if loc_d.get("stated_default") else ""
    return SavingsPerYear(
        kwh_baseline=yb["kwh_per_year"],
        kwh_recommended=yr["kwh_per_year"],
        kwh_saved=yb["kwh_per_year"] - yr["kwh_per_year"],
        tco2e_saved=yb["tco2e_per_year"] - yr["tco2e_per_year"],
        cost_saved=None if cost is None else cost[0],
        cost_currency=None if cost is None or cost[1] is None else str(cost[1]),
        cost_note=yr.get("cost_note"),
        grid=f"{loc_d.get('name')} {loc_d.get('g_co2e_per_kwh')} gCO2e/kWh ({loc_d.get('year')}, "
        f"{loc_d.get('basis')}){default}",
        pue=fp.get("pue"),
    )
