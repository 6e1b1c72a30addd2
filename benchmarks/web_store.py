"""A results store of any size for the web page's speed benchmark and its tests, written through the real store.

Every cell is a :class:`wattlens.bench.records.CellResult` and every timeline row a
:class:`wattlens.bench.records.WindowRow`, shaped like those of a real ``wattlens bench`` run on this machine
(the estimator's provenance, idle baselines before and after, 5 repeats), with figures drawn from stated
distributions: J/query log-uniform over 4 decades per task, intervals +-10..40 %, p95 = 1.3..2 x p50.
The runs say what they are: their suite is named ``synthetic`` and their environment carries
``"synthetic": true`` (they are test data, never results).

    python -m benchmarks.web_store out.sqlite --cells 10000
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from typing import Any

from wattlens.bench.records import (
    CellConfig,
    CellResult,
    IdleBaselines,
    IdlePower,
    LoadResult,
    PerUnit,
    PhaseResult,
    WindowComponent,
    WindowRow,
)

TASKS = (
    ("text-classification", 0.05, "accuracy"),
    ("token-classification", 0.08, "f1"),
    ("question-answering", 0.1, "f1"),
    ("fill-mask", 0.06, "accuracy"),
    ("text-generation", 1.5, None),
    ("summarization", 4.0, "rougeL"),
    ("image-classification", 0.3, "accuracy"),
    ("sentence-similarity", 0.04, "spearman"),
)
PRECISIONS = ("fp32", "bf16")
BATCHES = (1, 4, 8, 32)
ENVIRONMENT = {
    "synthetic": True,
    "python": "3.11",
    "platform": "Linux-x86_64 (synthetic)",
    "cpu": "Intel(R) Xeon(R) Processor",
    "logical_cpus": 2,
    "versions": {"wattlens": "0.1.0", "torch": "2.13.0+cpu"},
    "monitor": {"attribution": "machine", "sources": ["estimator"]},
}
IDLE_W = 10.8


def _suite(name: str, tasks: Sequence[str]) -> dict[str, Any]:
    return {"suite": {"name": name, "settings": {"attribution": "machine", "repeats": 5}, "tasks": list(tasks)}}


def _phase(rng: random.Random, j: float, batch: int, phase: str = "query") -> PhaseResult:
    spread = rng.uniform(0.1, 0.4)
    queries = 5 * 16
    p50 = j * rng.uniform(30, 60) / max(batch, 1) ** 0.3
    per_repeat = tuple(j * rng.uniform(0.95, 1.05) for _ in range(5))
    net = j * queries
    idle = IDLE_W * p50 / 1000 * queries
    return PhaseResult(
        phase=phase,
        batch=batch,
        repeats=5,
        warmup=2,
        min_window_s=1.0,
        queries=queries,
        queries_per_repeat=(16,) * 5,
        expected_queries=queries,
        inputs_per_repeat=16,
        completed_queries=queries,
        duration_s=p50 * queries / 1000,
        busy_s=p50 * queries / 1000 * 0.98,
        basis="net",
        source="estimated",
        j_per_query=j,
        j_per_query_low=j * (1 - spread),
        j_per_query_high=j * (1 + spread),
        ci95_j=j * 0.03,
        cv=rng.uniform(0.01, 0.08),
        per_repeat_j_per_query=per_repeat,
        gross_j=net + idle,
        idle_j=idle,
        net_j=net,
        gross_j_per_query=(net + idle) / queries,
        net_j_per_query=j,
        idle=IdlePower(IDLE_W, IDLE_W * 0.8, IDLE_W * 1.2, "estimated"),
        mean_power_w=(net + idle) / max(p50 * queries / 1000, 1e-9),
        p50_ms=p50,
        p95_ms=p50 * rng.uniform(1.3, 2.0),
        throughput_qps=1000 * batch / p50,
        harness_overhead_frac=0.001,
    )


def cell_result(rng: random.Random, task: str, model: str, batch: int, precision: str, j: float) -> CellResult:
    metric = next((m for t, _, m in TASKS if t == task), None)
    trained = metric is not None and rng.random() < 0.6
    query = _phase(rng, j, batch)
    generative = task in ("text-generation", "summarization")
    phases = {"prefill": _phase(rng, j * 0.2, batch, "prefill"), "decode": _phase(rng, j * 0.8, batch, "decode")}
    config = CellConfig(batch=batch, precision=precision, threads=2, engine="pytorch", device="cpu")
    status = "ok" if rng.random() > 0.03 else "invalid"
    return CellResult(
        task=task,
        model=model,
        config=config,
        cell={"task": task, "model": model, "batch": batch, "precision": precision, "queries": 16, "repeats": 5},
        quality=round(rng.uniform(0.6, 0.95), 4) if trained else None,
        metric=metric if trained else None,
        weights="trained" if trained else "random",
        params=rng.randint(4, 400) * 1_000_000,
        generative=generative,
        unit="query",
        engine="pytorch",
        precision=precision,
        threads=2,
        device="cpu",
        threads_used=2,
        load=LoadResult(duration_s=2.0, wall_s=2.0, energy_j=30.0, low_j=5.0, high_j=45.0, source="estimated"),
        status=status,
        reasons=() if status == "ok" else ("cv: cv 0.31 > 0.10",),
        warnings=(),
        query=query,
        phases=phases if generative else None,
        per_unit=PerUnit(unit="query"),
        idle=IdleBaselines(
            before=IdlePower(IDLE_W, IDLE_W * 0.8, IDLE_W * 1.2, "estimated"),
            after=IdlePower(IDLE_W, IDLE_W * 0.8, IDLE_W * 1.2, "estimated"),
            used=IdlePower(IDLE_W, IDLE_W * 0.8, IDLE_W * 1.2, "estimated"),
        ),
        cell_s=10.0,
    )


def _component(energy: float, low: float, high: float, domain: str = "cpu") -> WindowComponent:
    return WindowComponent(
        domain=domain, energy_j=energy, source="estimated", method="cpu-time-model", low_j=low, high_j=high
    )


def timeline(rng: random.Random, result: CellResult, t0: float) -> list[WindowRow]:
    """Idle before, load, 5 query windows (and prefill/decode for generative cells), idle after."""
    rows: list[WindowRow] = []
    t = t0

    def add(phase: str, repeat: int, duration: float, energy: float | None, queries: int | None) -> None:
        nonlocal t
        low, high = (None, None) if energy is None else (energy * 0.8, energy * 1.3)
        idle = IDLE_W * duration
        comps: tuple[WindowComponent, ...]
        if energy is None:  # an idle baseline: mean power per domain
            comps = (WindowComponent(domain="cpu", power_w=IDLE_W * 0.15), WindowComponent("memory", power_w=9.2))
            energy, low, high = idle, idle * 0.8, idle * 1.2
        else:
            cpu = _component(energy * 0.7, energy * 0.5, energy)
            comps = (cpu, _component(energy * 0.3, energy * 0.25, energy * 0.35, "memory"))
        rows.append(
            WindowRow(
                phase=phase,
                repeat=repeat,
                name=phase,
                start_unix_s=t,
                duration_s=duration,
                queries=queries,
                energy_j=energy,
                low_j=low,
                high_j=high,
                idle_j=None if queries is None else idle,
                net_j=None if queries is None else energy - idle,
                source="estimated",
                components=comps,
            )
        )
        t += duration + 0.01

    q = result.query or PhaseResult()
    add("idle-before", 0, 1.0, None, None)
    add("load", 0, 2.0, 30.0, 0)
    windows = [("query", q), *sorted((result.phases or {}).items())]
    for name, phase in windows:
        for rep in range(phase.repeats):
            per = phase.per_repeat_j_per_query[rep] if rep < len(phase.per_repeat_j_per_query) else phase.j_per_query
            duration = (phase.duration_s or 1.0) / max(phase.repeats, 1)
            gross = (per or 0.0) * 16 + IDLE_W * duration
            add(name, rep, duration * rng.uniform(0.97, 1.03), gross, 16)
    add("idle-after", 0, 1.0, None, None)
    return rows


def write_run(
    store: Any,
    cells: int,
    *,
    seed: int = 0,
    name: str = "synthetic",
    models_per_task: int | None = None,
    timelines: int = 50,
    extra_models: Sequence[str] = (),
    environment: dict[str, Any] | None = None,
) -> str:
    """One synthetic bench run of ``cells`` cells (timelines kept for the first ``timelines`` of them)."""
    rng = random.Random(seed)
    task_names = [t for t, _, _ in TASKS]
    run_id = store.create_run("bench", _suite(name, task_names), environment=environment or ENVIRONMENT)
    configs = [(b, p) for b in BATCHES for p in PRECISIONS]
    per_task = max(1, math.ceil(cells / len(TASKS)))
    n_models = models_per_task or max(1, math.ceil(per_task / len(configs)))
    done = 0
    for ti, (task, base_j, _metric) in enumerate(TASKS):
        models = [f"org{m % 7}/{task.split('-')[0]}-model-{m}" for m in range(n_models)]
        if ti == 0:
            models = [*extra_models, *models]
        for model in models:
            model_rng = random.Random(f"{seed}:{model}")  # one model costs about the same in every run and seed
            model_j = base_j * 10 ** model_rng.uniform(-1.5, 2.5)
            for batch, precision in configs:
                if done >= cells:
                    break
                j = model_j * (0.6 if precision == "bf16" else 1.0) / batch**0.5 * rng.uniform(0.9, 1.1)
                result = cell_result(rng, task, model, batch, precision, j)
                key = f"{task}|{model}|batch={batch}|{precision}|threads=2|pytorch"
                store.save_cell(run_id, key, result.status or "ok", result.to_dict())
                if done < timelines:
                    store.save_timeline(run_id, key, [r.to_dict() for r in timeline(rng, result, 1.8e9 + done * 60)])
                done += 1
    store.set_run_status(run_id, "done")
    return run_id


def main(argv: Sequence[str] | None = None) -> int:
    from wattlens.store import open_store

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db", help="the store to write (a .sqlite path or postgresql://...)")
    p.add_argument("--cells", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    with open_store(args.db) as store:
        run_id = write_run(store, args.cells, seed=args.seed)
    print(f"{args.db}: bench run {run_id} with {args.cells} synthetic cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
