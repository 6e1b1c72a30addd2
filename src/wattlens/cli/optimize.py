"""``wattlens optimize``: the lowest-energy way to serve a model, and what it costs elsewhere.

Examples::

    wattlens optimize minilm --task sentence-similarity --mode online --min-quality 0.99
    wattlens optimize ./my_model --task text-classification --mode offline --max-p95-ms 50 --budget 5m
    wattlens optimize gpt2 --task text-generation --hardware-knobs
    wattlens optimize minilm --json --out best/          # artefact: best/model.onnx + best/wattlens-optimize.json
    wattlens optimize minilm --resume OPT_RUN_ID         # continue an interrupted search (measured trials kept)
    wattlens report OPT_RUN_ID --html opt.html

The result is stored in the run's ``result`` cell (``wattlens.optimize.engine.load_result``). Exit codes:
0 done, 2 bad arguments, 3 no configuration met the limits (the result still lists why), 130 interrupted
(resume with ``--resume``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from wattlens.cli import options as opt

if TYPE_CHECKING:
    from wattlens.optimize.request import OptimizeRequest
    from wattlens.optimize.results import OptimizePoint, OptimizeResult


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "optimize",
        help="find the lowest-energy serving configuration within quality/latency limits",
        description="Search precision, int8 (per-tensor/per-channel), ONNX Runtime, threads, wait policy, batching, "
        "pruning, candidate models (and GPU power/clock knobs) for the lowest energy per query that keeps "
        "quality (measured against the unmodified model) and latency within your limits; report the Pareto "
        "set, hidden costs, savings per year and the search's own payback.",
    )
    p.add_argument("model", help="minilm, a local model directory, or a preset architecture name")
    p.add_argument(
        "--task",
        default="sentence-similarity",
        choices=("sentence-similarity", "feature-extraction", "text-classification", "text-generation"),
    )
    p.add_argument(
        "--mode",
        choices=("online", "offline"),
        default="online",
        help="online: requests in arrival order (micro-batches); offline: a known corpus (sorting allowed)",
    )
    p.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="MODEL",
        help="another model to consider (repeatable), e.g. a smaller distilled one",
    )
    p.add_argument(
        "--min-quality",
        type=opt.Float(0, 1),
        default=None,
        help="quality gate vs the unmodified model (cosine / top-1 / token agreement; with --quality-metric kl_mean "
        "the largest mean KL in nats); default 0.99 (encoders), 0.95 token agreement, 0.05 nats KL",
    )
    g = p.add_argument_group("text generation")
    g.add_argument(
        "--quality-metric",
        choices=("token_agreement", "kl_mean"),
        default="token_agreement",
        help="the gated generation metric (both are reported)",
    )
    g.add_argument("--draft", metavar="MODEL", help="same-tokenizer draft for speculative decoding (e.g. distilgpt2)")
    g.add_argument("--decoding", choices=("greedy", "sampling"), default="greedy", help="decoding measured")
    g.add_argument(
        "--max-new-tokens", type=opt.Int(1), default=16, help="tokens generated per prompt (fixed; default 16)"
    )
    g.add_argument("--explain", action="store_true", help="say why each transform won or lost on this hardware")
    p.add_argument("--max-p95-ms", type=opt.Float(0, lo_open=True), help="latency SLO: p95 per query in ms")
    p.add_argument("--max-rss-mb", type=opt.Float(0, lo_open=True), help="peak resident memory limit in MB")
    p.add_argument("--budget", help="search time budget, e.g. 5m, 90s (halving stops promoting when it is spent)")
    p.add_argument("--strategy", choices=("auto", "halving", "optuna", "exhaustive"), default="auto")
    p.add_argument("--hardware-knobs", action="store_true", help="also try GPU power limits / locked clocks (NVML)")
    p.add_argument(
        "--transforms",
        help="comma-separated transforms to try (default: all applicable); "
        "e.g. onnxruntime,ort-int8-dynamic,threads,batching,torch-compile",
    )
    p.add_argument("--queries", type=opt.Int(1), default=200, help="queries per full measurement window (default 200)")
    p.add_argument("--repeats", type=opt.Int(1), default=3, help="windows per full measurement (default 3)")
    p.add_argument("--quality-inputs", type=opt.Int(1), default=128, help="held-aside inputs for the quality gate")
    p.add_argument("--batches", help="comma-separated batch sizes to consider (default by mode)")
    p.add_argument("--threads", help="comma-separated thread counts to consider (default 1 and all CPUs)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--rate",
        type=opt.Float(0),
        default=1_000_000,
        metavar="QUERIES_PER_DAY",
        help="for yearly savings (default 1,000,000/day)",
    )
    p.add_argument("--country", type=opt.country, help="grid for CO2e (default: world average, stated)")
    p.add_argument("--region", type=opt.region, help="cloud region provider:region for CO2e")
    p.add_argument("--price-per-kwh", type=opt.price, help="electricity price for cost savings")
    p.add_argument("--currency", type=opt.currency, help="currency of --price-per-kwh")
    p.add_argument("--out", metavar="DIR", help="write the recommended configuration as an artefact directory")
    p.add_argument(
        "--db",
        metavar="URL",
        type=opt.db_location,
        help="store (SQLite path or postgresql:// URL; default ./wattlens.sqlite)",
    )
    p.add_argument("--resume", metavar="OPT_RUN_ID", help="resume an interrupted run (its measured trials are reused)")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="measure each rung of the search's trials as Ray tasks on the cluster at ADDRESS (auto: the one this "
        "machine joined; local: a one-machine Ray); workers store each trial in --db (PostgreSQL for a multi-node "
        "cluster); the model path must exist on every node. Successive halving; encoder tasks. Needs wattlens[ray]",
    )
    p.add_argument(
        "--no-deploy-check",
        action="store_true",
        help="skip loading baseline/recommendation in a fresh process (deployment RSS, artefact check)",
    )
    p.add_argument(
        "--html",
        metavar="FILE",
        type=opt.OutputPath("HTML file"),
        help="also write the HTML report (same as wattlens report RUN --html)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (progress on stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run_optimize)


def _ints(text: str | None) -> list[int] | None:
    return None if not text else [int(x) for x in text.split(",") if x.strip()]


def build_request(a: argparse.Namespace) -> OptimizeRequest:
    from wattlens.optimize.request import OptimizeRequest, parse_duration

    return OptimizeRequest(
        model=a.model,
        task=a.task,
        mode=a.mode,
        candidates=list(a.candidate),
        min_quality=a.min_quality if a.min_quality is not None or a.task == "text-generation" else 0.99,
        max_p95_ms=a.max_p95_ms,
        max_rss_mb=a.max_rss_mb,
        budget_s=parse_duration(a.budget),
        strategy=a.strategy,
        hardware_knobs=a.hardware_knobs,
        transforms=[t.strip() for t in a.transforms.split(",")] if a.transforms else None,
        queries=a.queries,
        repeats=a.repeats,
        quality_inputs=a.quality_inputs,
        batches=_ints(a.batches),
        threads=_ints(a.threads),
        device=a.device,
        queries_per_day=a.rate,
        country=a.country,
        region=a.region,
        price_per_kwh=a.price_per_kwh,
        currency=a.currency,
        artefact_dir=a.out,
        store_url=a.db,
        run_id=a.resume,
        deploy_check=not a.no_deploy_check,
        quality_metric=a.quality_metric,
        draft=a.draft,
        decoding=a.decoding,
        gen_tokens=a.max_new_tokens,
    )


def _point_line(role: str, p: OptimizePoint) -> str:
    return (
        f"  {role:<12} {p.label}: {p.j_per_query * 1e3:.3f} mJ/query, quality {_num(p.quality, '.4f')}, "
        f"p50/p95 {_num(p.p50_ms, '.1f')}/{_num(p.p95_ms, '.1f')} ms"
    )


def _num(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _saving_line(result: OptimizeResult) -> str:
    eb = result.energy_boundary
    attribution = eb.attribution if eb is not None else "unstated"
    text = f"  saving factor x{result.saving_factor:.2f} (energy boundary: {attribution} attribution"
    if eb is not None and eb.saving_factor_machine_attribution:
        text += f"; machine attribution x{eb.saving_factor_machine_attribution:.2f}"
    if result.saving_factor_vs_single_thread_default:
        text += f"; vs the default at 1 thread x{result.saving_factor_vs_single_thread_default:.2f}"
    return text + ")"


def _summary(result: OptimizeResult) -> str:
    b, r, s = result.baseline, result.recommended, result.search
    lines = [f"run {result.run_id}: {result.model} ({result.task}, {result.mode})"]
    if b is not None:
        lines.append(_point_line("baseline", b))
    if r is not None:
        lines.append(_point_line("recommended", r))
    if result.saving_factor:
        lines.append(_saving_line(result))
        if result.saving_factor_search_process:
            fb = (b.memory_footprint_mb if b else None) or 0
            fr = (r.memory_footprint_mb if r else None) or 0
            lines.append(
                f"  memory term charged for each configuration's own footprint (baseline {fb:.0f} MB, "
                f"recommended {fr:.0f} MB); with the search process's RSS instead "
                f"x{result.saving_factor_search_process:.2f}"
            )
    lines.append(
        f"  search: {s.trials} trials of {s.exhaustive_trials} configurations, "
        f"{s.duration_s or 0:.0f} s, {s.cpu_s or 0:.0f} CPU-s, "
        f"{s.energy_j or 0:.0f} J; payback after {result.payback_queries} queries"
    )
    sv, savings = result.savings_per_year, result.savings
    if sv is not None and savings is not None:
        cost = f", {sv.cost_saved:.2f} {sv.cost_currency or ''}" if sv.cost_saved is not None else ""
        lines.append(
            f"  per year at {savings.queries_per_day:.0f} queries/day: "
            f"{sv.kwh_saved:.1f} kWh, {sv.tco2e_saved * 1000:.2f} kgCO2e{cost} saved ({sv.grid})"
        )
    if result.artefact is not None:
        lines.append(f"  artefact: {result.artefact.to_dict()}")
    lines.append(f"  rejected: {len(result.rejected)} configurations (see --json or the report)")
    return "\n".join(lines)


def _unknown_model(a: argparse.Namespace) -> str | None:
    """Why MODEL or a --candidate is not one optimize can load (checked before a run is created), else None."""
    from wattlens.optimize.models import resolve
    from wattlens.workloads.extra_architectures import resolve as resolve_architecture

    for name in [a.model, *a.candidate]:
        if not name or not name.strip():
            return "MODEL: empty; allowed: minilm, a local model directory or a preset architecture"
        if resolve(name)[1] != "preset":
            continue
        try:
            resolve_architecture(name)
        except KeyError as exc:
            return f"MODEL {name!r}: {str(exc).strip(chr(34))}; allowed also: minilm or a local model directory"
    return None


def _write_html(write: Any, result: Any, path: str, title: str) -> None:
    try:
        write(result, path, title=title)
    except Exception as exc:  # the search result is stored either way
        print(f"wattlens optimize: could not write {path}: {exc}", file=sys.stderr)


def _interrupted(run_id: str | None, db: str | None) -> None:
    if run_id is None:
        print("wattlens optimize: interrupted before the run started: nothing was stored", file=sys.stderr)
        return
    hint = f"--resume {run_id}" + (f" --db {db}" if db else "")
    print(f"wattlens optimize: interrupted; measured trials are stored — continue with {hint}", file=sys.stderr)


def _ray_trials(a: argparse.Namespace, req: OptimizeRequest) -> tuple[Any, str | None]:
    """Join the Ray cluster and check the store can be shared with it, before any run is created."""
    if a.strategy in ("optuna", "exhaustive"):
        return None, f"--ray searches with successive halving (--strategy auto or halving), not {a.strategy}"
    from wattlens.distributed.ray_sweep import RaySweepError
    from wattlens.store.db import normalise_url

    try:
        from wattlens.distributed.ray_optimize import RayTrials

        return RayTrials(req, normalise_url(a.db), a.ray), None
    except RaySweepError as exc:
        return None, str(exc)


def run_optimize(a: argparse.Namespace) -> int:
    from wattlens.optimize.engine import Optimizer

    problem = None if a.resume else _unknown_model(a)
    if problem:
        print(f"wattlens optimize: error: {problem}", file=sys.stderr)
        return 2
    try:
        req = build_request(a)
    except ValueError as exc:
        print(f"wattlens optimize: error: {exc}", file=sys.stderr)
        return 2
    say = None if a.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if a.task == "text-generation":
        if a.ray:
            why = "--ray: text-generation searches run in one process for now"
            print(f"wattlens optimize: error: {why}", file=sys.stderr)
            return 2
        return _run_generation(a, req, say)
    remote = None
    if a.ray:
        remote, problem = _ray_trials(a, req)
        if problem:
            print(f"wattlens optimize: error: {problem}", file=sys.stderr)
            return 2
    opt = Optimizer(req, progress=say, remote=remote)
    try:
        result = opt.run()
    except KeyboardInterrupt:
        _interrupted(opt.run_id, a.db)
        return 130
    except ValueError as exc:
        print(f"wattlens optimize: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if remote is not None:
            remote.close()
    if a.html:
        from wattlens.report import write_optimize_html  # lazy: matplotlib only when asked

        _write_html(write_optimize_html, result, a.html, f"wattlens optimize {a.model} ({a.task}, {a.mode})")
    if a.json:
        json.dump(result.to_dict(), sys.stdout, indent=1, default=str)
        print()
    else:
        print(_summary(result))
        try:
            from wattlens.report import optimize_table

            print(optimize_table(result))
        except Exception:  # the summary above already has the essentials
            pass
    if a.explain:
        _explain(result, to_stderr=a.json)
    return 0 if result.recommended is not None else 3


def _explain(result: OptimizeResult, to_stderr: bool) -> None:
    """Why each transform won or lost on this hardware (stderr when --json keeps stdout for the JSON)."""
    from wattlens.optimize.explain import encoder_verdicts

    out = sys.stderr if to_stderr else sys.stdout
    hw = result.context.hardware if result.context is not None else None
    if hw is not None:
        print(
            f"hardware: {hw.cpu_model}; AVX2 {hw.avx2}, AVX-512 {hw.avx512}, VNNI {hw.avx512_vnni or hw.avx_vnni}, "
            f"AMX {hw.amx}; torch kernels {hw.torch_cpu_capability}, int8 engine {hw.quantized_engine} — {hw.note}",
            file=out,
        )
    print("why each transform won or lost here:", file=out)
    for v in encoder_verdicts(result):
        print(f"  {v.transform:20} {v.verdict:18} {v.why}", file=out)


def _run_generation(a: argparse.Namespace, req: OptimizeRequest, say: Any) -> int:
    from wattlens.optimize.gen_engine import GenOptimizer
    from wattlens.report import generation_summary

    if a.max_new_tokens < 1:
        print("wattlens optimize: error: --max-new-tokens must be >= 1", file=sys.stderr)
        return 2
    try:
        opt = GenOptimizer(req, progress=say)
    except ValueError as exc:
        print(f"wattlens optimize: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = opt.run()
    except KeyboardInterrupt:
        _interrupted(opt.run_id, a.db)
        return 130
    except ValueError as exc:
        print(f"wattlens optimize: error: {exc}", file=sys.stderr)
        return 2
    if a.html:
        from wattlens.report import write_generation_html

        _write_html(write_generation_html, result, a.html, f"wattlens optimize {a.model} (text generation, {a.mode})")
    if a.json:
        json.dump(result.to_dict(), sys.stdout, indent=1, default=str)
        print()
    else:
        print(generation_summary(result, explain=a.explain))
    return 0 if result.recommended is not None else 3
