"""A results store of any size for the web page's speed benchmark and its tests, written through the real store.

Every cell is a :class:`wattlens.bench.records.CellResult` and every timeline row a
:class:`wattlens.bench.records.WindowRow`, shaped like those of a real ``wattlens bench`` run on this machine
(the estimator's provenance, idle baselines before and after, 5 repeats), with figures drawn from stated
distributions: J/query log-uniform over 4 decades per task, intervals +-10..40 %, p95 = 1.3..2 x p50.
Cells on a GPU (``devices=("cpu", "cuda")``) split each window's energy into cpu, memory and gpu components
(:data:`GPU_SHARE` of it on the GPU). Beside the bench runs: ``measure`` records (:func:`write_measurements`) and a
text-generation optimize run (:func:`write_generation_run`: every trial, variant quality and the result stored as
the engine stores them). The runs say what they are: their suite is named ``synthetic`` and their environment carries
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
GPU_SHARE = 0.6  # of a GPU cell's window energy, on the GPU (the rest: cpu 0.25, memory 0.15)
GPU_ENVIRONMENT = {**ENVIRONMENT, "gpus": ["NVIDIA H100 80GB HBM3 (synthetic)"]}


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


def cell_result(
    rng: random.Random, task: str, model: str, batch: int, precision: str, j: float, device: str = "cpu"
) -> CellResult:
    metric = next((m for t, _, m in TASKS if t == task), None)
    trained = metric is not None and rng.random() < 0.6
    query = _phase(rng, j, batch)
    generative = task in ("text-generation", "summarization")
    phases = {"prefill": _phase(rng, j * 0.2, batch, "prefill"), "decode": _phase(rng, j * 0.8, batch, "decode")}
    config = CellConfig(batch=batch, precision=precision, threads=2, engine="pytorch", device=device)
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
        device=device,
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


def _components(energy: float, on_gpu: bool) -> tuple[WindowComponent, ...]:
    """A measured window's energy per domain: cpu and memory, and :data:`GPU_SHARE` on the GPU for a GPU cell."""
    if not on_gpu:
        cpu = _component(energy * 0.7, energy * 0.5, energy)
        return (cpu, _component(energy * 0.3, energy * 0.25, energy * 0.35, "memory"))
    gpu = energy * GPU_SHARE
    return (
        _component(energy * 0.25, energy * 0.2, energy * 0.3),
        _component(energy * 0.15, energy * 0.12, energy * 0.18, "memory"),
        _component(gpu, gpu * 0.97, gpu * 1.03, "gpu"),
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
            comps = _components(energy, on_gpu)
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
    on_gpu = (result.device or "cpu") != "cpu"
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
    devices: Sequence[str] = ("cpu",),
) -> str:
    """One synthetic bench run of ``cells`` cells (timelines kept for the first ``timelines`` of them); each model
    is measured on every device of ``devices`` (a GPU's cells have a ``gpu`` energy component)."""
    rng = random.Random(seed)
    task_names = [t for t, _, _ in TASKS]
    default_env = GPU_ENVIRONMENT if any(d != "cpu" for d in devices) else ENVIRONMENT
    run_id = store.create_run("bench", _suite(name, task_names), environment=environment or default_env)
    configs = [(b, p, d) for d in devices for b in BATCHES for p in PRECISIONS]
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
            for batch, precision, device in configs:
                if done >= cells:
                    break
                j = model_j * (0.6 if precision == "bf16" else 1.0) / batch**0.5 * rng.uniform(0.9, 1.1)
                result = cell_result(rng, task, model, batch, precision, j, device)
                key = f"{task}|{model}|batch={batch}|{precision}|threads=2|pytorch"
                key += f"|{device}" if device != "cpu" else ""
                store.save_cell(run_id, key, result.status or "ok", result.to_dict())
                if done < timelines:
                    store.save_timeline(run_id, key, [r.to_dict() for r in timeline(rng, result, 1.8e9 + done * 60)])
                done += 1
    store.set_run_status(run_id, "done")
    return run_id


def write_measurements(store: Any, n: int, *, seed: int = 0, t0: float = 1.8e9) -> list[int]:
    """``n`` records as ``wattlens measure --db --tag`` stores them (one job a minute, over three tags)."""
    rng = random.Random(seed)
    ids = []
    for i in range(n):
        energy = 10 ** rng.uniform(1, 4)
        spread = rng.uniform(0.1, 0.3)
        record = {
            "name": f"job-{i}",
            "tags": [("nightly", "team=search", "ci")[i % 3]],
            "start_unix_s": t0 + 60 * i,
            "duration_s": energy / 25.0,
            "energy_j": energy,
            "low_j": energy * (1 - spread),
            "high_j": energy * (1 + spread),
            "source": "estimated",
            "attribution": "process",
            "co2e_g": energy / 3.6e6 * 56.0,
            "co2e_low_g": energy * (1 - spread) / 3.6e6 * 40.0,
            "co2e_high_g": energy * (1 + spread) / 3.6e6 * 75.0,
            "location": {"key": "FR", "name": "France", "year": 2023},
            "exit_code": 0,
        }
        ids.append(store.save_measurement(record))
    return ids


# --- a text-generation optimize run -----------------------------------------------------------------------------

GEN_MODEL = "tiny-gpt2 (synthetic)"
# (quant, draft, threads, batch, fidelity, mJ/token, query p95 ms): the baseline (fp32 t1 b1) at both fidelities, and
# probes and finalists whose front is int8-pc t2 b4 (cheapest), bf16 t2 b4 (closer to the model), the baseline
GEN_TRIALS: tuple[tuple[str, str | None, int, int, str, float, float], ...] = (
    ("none", None, 1, 1, "probe", 2.10, 420.0),
    ("int8-pc", None, 2, 4, "probe", 0.95, 310.0),
    ("int8-pc", None, 1, 4, "probe", 1.05, 480.0),
    ("bf16", None, 2, 4, "probe", 1.25, 360.0),
    ("none", "draft-model", 1, 1, "probe", 1.70, 600.0),
    ("none", None, 1, 1, "full", 2.00, 400.0),
    ("int8-pc", None, 2, 4, "full", 0.90, 300.0),
    ("int8-pc", None, 1, 4, "full", 1.00, 500.0),
    ("bf16", None, 2, 4, "full", 1.20, 350.0),
)
# each variant (quant, draft): token agreement with the unmodified model (greedy) and mean KL in nats
GEN_QUALITY: dict[tuple[str, str | None], tuple[float, float]] = {
    ("none", None): (1.0, 0.0),
    ("int8-pc", None): (0.97, 0.012),
    ("bf16", None): (0.99, 0.003),
    ("none", "draft-model"): (1.0, 0.0),
}


def _gen_quality(agree: float, kl: float) -> Any:
    from wattlens.optimize.gen_results import GenQuality

    lo, hi = agree - 0.01, min(1.0, agree + 0.01)
    return GenQuality("token_agreement", agree, lo, hi, 32, agree, lo, hi, kl, kl * 0.8, kl * 1.2, "bootstrap", 512)


def _gen_trial(model: str, row: tuple[str, str | None, int, int, str, float, float]) -> Any:
    from wattlens.optimize.gen_results import GenTrial
    from wattlens.optimize.gen_space import BASE_VARIANT, describe

    quant, draft, threads, batch, fidelity, mj, p95 = row
    config = {"model": model, **BASE_VARIANT, "quant": quant, "draft": draft}
    config.update(threads=threads, batch=batch, sort=False, cache="dynamic")
    j, queries = mj / 1000, 8 if fidelity == "probe" else 32
    return GenTrial(
        config=config,
        label=describe(config),
        fidelity=fidelity,
        queries=queries,
        generated_tokens=queries * 16,
        j_per_token=j,
        j_per_token_low=j * 0.9,
        j_per_token_high=j * 1.1,
        j_per_query=j * 16,
        prefill_j_per_query=j * 3,
        decode_j_per_token=j * 0.8,
        energy_source="estimated",
        energy_method="cpu-time-model",
        ttft_p50_ms=p95 / 8,
        ttft_p95_ms=p95 / 5,
        itl_p50_ms=p95 / 30,
        itl_p95_ms=p95 / 20,
        query_p95_ms=p95,
        tokens_per_s=16000 / p95,
        peak_rss_mb=900.0 if quant == "none" else 600.0,
        duration_s=p95 / 100,
        cpu_s=p95 / 60,
    )


def generation_result(run_id: str, model: str = GEN_MODEL) -> Any:
    """A :class:`~wattlens.optimize.gen_results.GenOptimizeResult` of :data:`GEN_TRIALS`, each variant's quality
    (:data:`GEN_QUALITY`) as the engine's screening records it; the recommendation is int8-pc t2 b4."""
    from wattlens.optimize.gen_results import GenOptimizeResult, VariantQuality
    from wattlens.optimize.gen_space import BASE_VARIANT, describe
    from wattlens.optimize.results import HardwareProfile

    trials = tuple(_gen_trial(model, row) for row in GEN_TRIALS)
    variants = tuple(
        VariantQuality(describe({"model": model, **BASE_VARIANT, "quant": q, "draft": d}), _gen_quality(*v), True)
        for (q, d), v in GEN_QUALITY.items()
    )
    base, rec = (t for t in trials if t.fidelity == "full" and t.label.endswith(("fp32 t1 b1", "int8-pc t2 b4")))
    hardware = HardwareProfile("AMD EPYC (synthetic)", True, False, False, False, False, "AVX2", "x86", False, 2)
    return GenOptimizeResult(
        run_id=run_id,
        model=model,
        mode="online",
        quality_metric="token_agreement",
        min_quality=0.95,
        decoding="greedy",
        max_new_tokens=16,
        max_new_tokens_policy="fixed: 16 new tokens for every configuration",
        hardware=hardware,
        baseline=base,
        recommended=rec,
        recommended_quality=_gen_quality(*GEN_QUALITY[("int8-pc", None)]),
        saving_factor_j_per_token=base.j_per_token / rec.j_per_token,
        saving_factor_low=base.j_per_token_low / rec.j_per_token_high,
        saving_factor_high=base.j_per_token_high / rec.j_per_token_low,
        trials=trials,
        variant_quality=variants,
        rejected=(f"{model} int4-wo: token agreement 0.81 < 0.95",),
        search_cpu_s=120.0,
        search_duration_s=95.0,
        search_energy_j=1400.0,
        weights="random",
    )


def write_generation_run(store: Any, model: str = GEN_MODEL) -> str:
    """A finished text-generation optimize run stored as the engine stores one: a ``gtrial:`` cell per trial, a
    ``gquality:`` cell per variant, then the ``result`` cell (:func:`generation_result`) and status done."""
    from wattlens.optimize.gen_space import describe, variant_part
    from wattlens.optimize.results import config_key
    from wattlens.optimize.runstore import RESULT_CELL, RUN_KIND

    run_id = store.create_run(RUN_KIND, {"model": model, "task": "text-generation", "mode": "online"})
    result = generation_result(run_id, model)
    for t in result.trials:
        store.save_cell(run_id, f"gtrial:{t.fidelity}:{config_key(t.config)}", "ok", t)
    quality = {v.variant: v.quality for v in result.variant_quality}
    variants = {config_key(variant_part(t.config)): describe(variant_part(t.config)) for t in result.trials}
    for key, label in variants.items():
        store.save_cell(run_id, f"gquality:{key}", "ok", quality[label])
    store.save_cell(run_id, RESULT_CELL, "ok", result)
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
