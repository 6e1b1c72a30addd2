"""Search strategies over a finite configuration space: exhaustive, successive halving, Optuna.

Pure Python (Optuna imported lazily): every strategy talks to the world through one callable,

    evaluate(config: dict, fidelity: Fidelity) -> Trial

so the same code runs on a real model (``wattlens.optimize.engine``) and on a synthetic cost surface
with a known optimum (``tests/optimize``, ``benchmarks/optimize_search.py``).

Why successive halving first: inference spaces are small (10^2-10^3 points) and cheap partial measurements
(a few dozen queries after warm-up) already rank configurations correctly to within noise, so "measure
everything briefly, keep the best third, re-measure longer" beats model-based samplers there
(optimization-anchors.md §3.6/§5). Optuna's pruners are single-objective, so the halving is ours; Optuna
(multi-objective TPE) is used for spaces too large to touch every point once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wattlens.errors import caused_by_interrupt
from wattlens.optimize.results import Config, Constraints, Fidelity, Knobs, Trial, config_key
from wattlens.pareto import Objective, pareto_front
from wattlens.pareto import dominates as _dominates

__all__ = [
    "Constraints",
    "Evaluate",
    "Fidelity",
    "SearchOutcome",
    "Trial",
    "config_key",
    "default_rungs",
    "exhaustive",
    "optuna_search",
    "pareto",
    "successive_halving",
]

Evaluate = Callable[[Config, Fidelity], Trial]


@dataclass
class SearchOutcome:
    """Everything a strategy measured: ``final`` holds the full-fidelity trials, ``trials`` all of them."""

    strategy: str
    trials: list[Trial]
    final: list[Trial]
    best: Trial | None
    cost_s: float
    duration_s: float
    space_size: int
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Pareto

_ENERGY: Objective[Trial] = Objective(lambda t: t.j_per_query)
_P95: Objective[Trial] = Objective(lambda t: t.p95_ms, required=False)
_QUALITY: Objective[Trial] = Objective(lambda t: t.quality, minimize=False, required=False)
_RSS: Objective[Trial] = Objective(lambda t: t.peak_rss_mb, required=False)
OBJECTIVES = {"energy-p95-quality": (_ENERGY, _P95, _QUALITY, _RSS), "energy-p95": (_ENERGY, _P95)}


def dominates(a: Trial, b: Trial) -> bool:
    """``a`` at least as good as ``b`` on energy, p95 and quality (and peak RSS when both have it), better on one."""
    return _dominates(a, b, OBJECTIVES["energy-p95-quality"])


def pareto(trials: Iterable[Trial], objectives: str = "energy-p95-quality") -> list[Trial]:
    """Non-dominated successful trials sorted by energy. ``objectives='energy-p95'`` ignores quality and RSS."""
    return pareto_front((t for t in trials if t.ok), OBJECTIVES[objectives])


# --------------------------------------------------------------------------------------------------
# strategies


def _run(
    evaluate: Evaluate,
    config: Config,
    fid: Fidelity,
    log: list[Trial],
    on_trial: Callable[[Trial], None] | None,
) -> Trial:
    try:
        t = evaluate(config, fid)
    except Exception as exc:  # a broken configuration must not end the search: record it and move on
        if caused_by_interrupt(exc):  # a Ctrl-C a C extension turned into another error: not a result
            raise KeyboardInterrupt from exc
        t = Trial(dict(config), fid.name, ok=False, why=f"{type(exc).__name__}: {exc}")
    log.append(t)
    if on_trial is not None:
        on_trial(t)
    return t


def _run_many(
    evaluate_many: Callable[[list[Config], Fidelity], list[Trial]],
    configs: Sequence[Config],
    fid: Fidelity,
    log: list[Trial],
    on_trial: Callable[[Trial], None] | None,
) -> list[Trial]:
    trials = list(evaluate_many(list(configs), fid))
    for t in trials:
        log.append(t)
        if on_trial is not None:
            on_trial(t)
    return trials


def energy_of(t: Trial) -> float:
    """A trial's J per query as a sort key (unknown energy sorts last)."""
    return math.inf if t.j_per_query is None else t.j_per_query


def _best(trials: Sequence[Trial], constraints: Constraints) -> Trial | None:
    good = [t for t in trials if not constraints.violation(t) and t.j_per_query is not None]
    return min(good, key=energy_of) if good else None


def exhaustive(
    space: Sequence[Config],
    evaluate: Evaluate,
    full: Fidelity,
    constraints: Constraints | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> SearchOutcome:
    """Every configuration at full fidelity: the reference the other strategies are judged against."""
    constraints = constraints or Constraints()
    t0 = time.perf_counter()
    log: list[Trial] = []
    for c in space:
        _run(evaluate, c, full, log, on_trial)
    return SearchOutcome(
        "exhaustive",
        log,
        list(log),
        _best(log, constraints),
        sum(t.cost_s for t in log),
        time.perf_counter() - t0,
        len(space),
    )


def successive_halving(
    space: Sequence[Config],
    evaluate: Evaluate,
    rungs: Sequence[Fidelity],
    constraints: Constraints | None = None,
    eta: float = 3.0,
    min_keep: int = 3,
    keep_pareto: int = 4,
    on_trial: Callable[[Trial], None] | None = None,
    budget_s: float | None = None,
    evaluate_many: Callable[[list[Config], Fidelity], list[Trial]] | None = None,
) -> SearchOutcome:
    """Measure all configurations on ``rungs[0]``; keep the best ``1/eta`` by energy per query (plus up to
    ``keep_pareto`` energy/p95 Pareto points, so the reported frontier is not only the low-energy corner);
    repeat on the next rung; the last rung is the full, repeated measurement.

    ``evaluate_many``: measure a whole rung at once (in parallel, e.g. as Ray tasks: ``optimize --ray``) instead of
    one ``evaluate`` call per configuration; the rung's trials come back in the order asked.

    Infeasible trials (errors, quality gate) are dropped at once; latency/memory limits are applied with
    25 % slack before the last rung because short windows are noisy. ``budget_s`` stops early (the
    survivors of the last completed rung are then confirmed only if time remains; the note says so).
    """
    constraints = constraints or Constraints()
    t0 = time.perf_counter()
    log: list[Trial] = []
    notes: list[str] = []
    survivors = list(space)
    final: list[Trial] = []
    for i, fid in enumerate(rungs):
        last = i == len(rungs) - 1
        results = []
        if evaluate_many is not None:
            results = _run_many(evaluate_many, survivors, fid, log, on_trial)
        for c in survivors if evaluate_many is None else ():
            if budget_s is not None and time.perf_counter() - t0 > budget_s and not last:
                notes.append(f"budget {budget_s:.0f} s reached during rung {fid.name}; unmeasured configs dropped")
                break
            results.append(_run(evaluate, c, fid, log, on_trial))
        if last:
            final = results
            break
        slack = 1.25
        feasible = [t for t in results if not constraints.violation(t, slack) and t.j_per_query is not None]
        feasible.sort(key=energy_of)
        n_keep = max(min_keep, math.ceil(len(results) / eta))
        keep = feasible[:n_keep]
        extra = [t for t in pareto(feasible, "energy-p95") if t not in keep][:keep_pareto]
        survivors = [t.config for t in keep + extra]
        if not survivors:
            notes.append(f"no feasible configuration after rung {fid.name}")
            break
    return SearchOutcome(
        "successive-halving",
        log,
        final,
        _best(final, constraints),
        sum(t.cost_s for t in log),
        time.perf_counter() - t0,
        len(space),
        notes,
    )


def optuna_search(
    knobs: Knobs,
    evaluate: Evaluate,
    rungs: Sequence[Fidelity],
    n_trials: int,
    constraints: Constraints | None = None,
    n_promote: int = 24,
    eta: float = 3.0,
    seed: int = 0,
    sampler: str = "tpe",
    valid: Callable[[Config], bool] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    objectives: str = "energy",
) -> SearchOutcome:
    """Optuna (TPE by default, or NSGA-II) proposes configurations measured at ``rungs[0]``;
    the ``n_promote`` lowest-energy feasible proposals then go through successive halving on the remaining
    rungs (Optuna's own pruners are single-objective, so the halving is ours), the last being full fidelity.

    ``objectives="energy"`` (default): minimise energy per query — the recommendation's objective; it converges
    fastest (the Pareto set is reported from the halving's measured points anyway). ``"pareto"``: minimise energy
    and p95, maximise quality (spreads proposals along the front). The gate and the limits are Optuna
    constraints (``trial.set_constraint``) so infeasible regions steer the sampler away. A repeated suggestion
    of an already measured configuration reuses its result (no new measurement).
    """
    import optuna  # lazy: optional dependency

    constraints = constraints or Constraints()
    probe = rungs[0]
    t0 = time.perf_counter()
    log: list[Trial] = []
    seen: dict[str, Trial] = {}
    if sampler == "nsga2":
        smp: Any = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        smp = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, n_trials // 5)), multivariate=True)
    multi = objectives == "pareto"
    names = list(knobs)

    def objective(trial: Any) -> Any:
        cfg = {k: trial.suggest_categorical(k, knobs[k]) for k in names}
        key = config_key(cfg)
        if valid is not None and not valid(cfg):
            t = Trial(cfg, probe.name, ok=False, why="invalid combination")
        elif key in seen:
            t = seen[key]
        else:
            t = _run(evaluate, cfg, probe, log, on_trial)
            seen[key] = t
        trial.set_constraint("limits", 1.0 if constraints.violation(t, 1.25) else -1.0)
        big = 1e12
        energy = t.j_per_query if t.ok and t.j_per_query is not None else big
        if not multi:
            return energy
        return (
            energy,
            t.p95_ms if t.ok and t.p95_ms is not None else big,
            t.quality if t.ok and t.quality is not None else -big,
        )

    # Optuna's per-trial INFO lines are silenced for this search only: the caller's verbosity is given back
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        Direction = Literal["minimize", "maximize"]
        directions: list[Direction] = ["minimize", "minimize", "maximize"] if multi else ["minimize"]
        optuna.create_study(directions=directions, sampler=smp).optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    feasible = sorted(
        (t for t in seen.values() if not constraints.violation(t, 1.25) and t.j_per_query is not None),
        key=energy_of,
    )
    promoted = [t.config for t in feasible[:n_promote]]
    sh = (
        successive_halving(
            promoted, evaluate, rungs[1:], constraints, eta=eta, min_keep=2, keep_pareto=2, on_trial=on_trial
        )
        if promoted and len(rungs) > 1
        else None
    )
    if sh is not None:
        log.extend(sh.trials)
    final = sh.final if sh is not None else []
    space_size = math.prod(len(v) for v in knobs.values())
    return SearchOutcome(
        f"optuna-{sampler}+halving",
        log,
        final,
        _best(final, constraints),
        sum(t.cost_s for t in log),
        time.perf_counter() - t0,
        space_size,
        [f"{len(seen)} distinct configurations probed, {len(promoted)} promoted to halving"],
    )


def default_rungs(total_queries: int = 256, repeats: int = 3) -> list[Fidelity]:
    """Three rungs, each ~4x the work of the previous per configuration: 16 -> 64 queries -> full x repeats."""
    return [
        Fidelity("probe", max(8, total_queries // 16), 1, 2),
        Fidelity("short", max(16, total_queries // 4), 1, 2),
        Fidelity("full", total_queries, repeats, 3, 0.3),
    ]
