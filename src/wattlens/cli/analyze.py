"""``wattlens analyze`` and ``wattlens hardware``: where the joules go, without running the model.

Imports torch only when a command runs (``register`` is import-light).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wattlens.cli import options as opt
from wattlens.units import J_PER_MWH, KWH_PER_MWH

EXAMPLES = """examples:
  wattlens analyze gpt2 --hardware a100 --phase decode --batch 8 --prompt 512 --new-tokens 128
  wattlens analyze path/to/config.json --hardware h100 --phase prefill --seq 2048 --json
  wattlens analyze llama-70b --hardware h200 --phase train --batch 4 --seq 4096
  wattlens analyze model.py:build_model --hardware this-machine --calibrate
  wattlens hardware                     # profiles, their figures and their sources
  wattlens hardware h100 --lifecycle    # embodied carbon: the figures, their boundary and sources
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="where the joules go: compute vs data movement, by role, without running the model",
        description="Trace a model on the meta device (no weights allocated), count FLOPs and bytes per op, map "
        "ops to computational roles, and estimate time and energy on a hardware profile as ranges; "
        "rank levers by re-analysing modified models.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model",
        help="preset name (gpt2-xl, llama-70b, ...; see --list-presets), a config.json path, or file.py:builder",
        nargs="?",
    )
    p.add_argument(
        "--hardware",
        "--hw",
        default="this-machine",
        help="profile name or alias (a100, h100, h200, b200, l4, rtx4090, m3-max, orin, this-machine)",
    )
    p.add_argument(
        "--phase",
        default="auto",
        choices=["auto", "forward", "prefill", "decode", "generate", "train"],
        help="auto = generate (prefill + decode) for LLMs, forward otherwise",
    )
    p.add_argument("--batch", type=opt.Int(1), default=1)
    p.add_argument("--seq", type=opt.Int(1), default=None, help="sequence length (forward, prefill, train)")
    p.add_argument(
        "--prompt", type=opt.Int(1), default=None, help="prompt length before decoding (default: --seq or 512)"
    )
    p.add_argument("--new-tokens", type=opt.Int(1), default=128, help="decode steps")
    p.add_argument(
        "--dtype",
        choices=["fp32", "bf16", "fp16", "fp8", "int8"],
        default=None,
        help="default: fp32 on CPUs, bf16 (or fp16) on accelerators; fp8/int8 = W8A8 GEMMs re-typed from the "
        "traced bf16 graph",
    )
    p.add_argument(
        "--backend",
        choices=["mid", "eager", "fused"],
        default="mid",
        help="which byte bound the mid estimate uses (low/high always use fused/eager)",
    )
    p.add_argument(
        "--tensor-parallel",
        "--tp",
        type=opt.Int(1, 4096),
        default=1,
        metavar="N",
        help="Megatron-style tensor parallelism over N devices: sharded work + all-reduces over the "
        "profile's interconnect (collective role)",
    )
    p.add_argument(
        "--runtime",
        choices=["eager", "cuda-graph", "compiled"],
        default="eager",
        help="how the model runs: eager PyTorch (default), CUDA graphs (vLLM/TensorRT-style replay), torch.compile",
    )
    p.add_argument(
        "--host",
        choices=["auto", "this-machine", "same-cpu", "unknown"],
        default="auto",
        help="the host CPU the host-time figures scale to: this machine (CPU profiles), a host with the same CPU "
        "model, or an unknown server host (accelerators' default)",
    )
    p.add_argument(
        "--tf32-matmul",
        action="store_true",
        help="fp32 matmuls on TF32 tensor cores (torch.backends.cuda.matmul.allow_tf32; PyTorch's default is off, "
        "convolutions use TF32 by default)",
    )
    p.add_argument(
        "--boundary",
        choices=["device", "node", "facility"],
        default="device",
        help="energy boundary: the device(s) used (GPU-only benchmarks), the whole node (idle accelerators, host "
        "CPUs, DRAM, other), or the facility (node x --pue)",
    )
    p.add_argument("--node", help="node profile for --boundary node/facility (wattlens hardware --nodes lists them)")
    p.add_argument("--pue", help="PUE for --boundary facility: a number or LOW-HIGH (never assumed)")
    p.add_argument("--no-cache", action="store_true", help="trace again even when the trace cache holds this model")
    p.add_argument(
        "--sweep",
        nargs="+",
        metavar="AXIS=V1,V2",
        help="co-design sweep from one trace per model and phase; axes: hardware, batch, dtype, seq (prompt length "
        "for decode), runtime, tp. Prints the Pareto front of energy per token vs latency among points that fit",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        type=opt.OutputPath("CSV or JSON file"),
        help="with --sweep: write every point to FILE (.csv, else JSON)",
    )
    t = p.add_argument_group("whole training runs (--phase train with --tokens)")
    t.add_argument(
        "--tokens",
        type=opt.Float(0, lo_open=True),
        help="training tokens of the run (e.g. 3.5e11): analyse the whole run",
    )
    t.add_argument("--gpus", type=opt.Int(1), help="GPUs of the run (= tp x pp x dp)")
    t.add_argument("--pp", type=opt.Int(1), default=1, help="pipeline-parallel stages")
    t.add_argument("--dp", type=opt.Int(1), help="data-parallel replicas (default: gpus / (tp x pp))")
    t.add_argument("--mfu", help="model FLOPs utilisation, a number or LOW-HIGH (default 0.30-0.50, stated)")
    t.add_argument("--global-batch-tokens", type=opt.Int(1), default=4 * 1024 * 1024, help="tokens per optimizer step")
    t.add_argument(
        "--country", type=opt.country, help="grid carbon intensity by country (default: $WATTLENS_COUNTRY, else WORLD)"
    )
    t.add_argument("--region", type=opt.region, help="cloud region for the carbon intensity, e.g. aws:us-east-1")
    t.add_argument("--intensity", type=opt.intensity, metavar="G_PER_KWH", help="your own grid intensity, gCO2e/kWh")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--by-layer", action="store_true", help="per-layer detail")
    p.add_argument("--plot", metavar="DIR", help="write figures (energy by role, energy roofline) to DIR")
    p.add_argument("--no-levers", action="store_true", help="skip the what-if levers (faster)")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="run micro-benchmarks on this machine under the meter first and use the fitted profile",
    )
    p.add_argument(
        "--calibrate-seconds",
        type=opt.Float(0, 600, lo_open=True),
        default=1.0,
        help="seconds per calibration micro-benchmark",
    )
    p.add_argument("--full-trace", action="store_true", help="trace every decode step (slow; verification)")
    p.add_argument("--list-presets", action="store_true", help="list the preset architectures and exit")
    p.add_argument(
        "--db",
        metavar="URL",
        help="also keep the analysis in this results store (a .sqlite path or postgresql://...), as a run of kind "
        "'analyze' that `wattlens serve` shows",
    )
    p.set_defaults(func=run_analyze)

    h = subparsers.add_parser(
        "hardware",
        help="hardware profiles: figures, ranges and sources",
        description="List hardware profiles, or show one with every figure's range and source.",
    )
    h.add_argument("name", nargs="?", help="one profile (name or alias) to show in full")
    h.add_argument("--json", action="store_true")
    h.add_argument(
        "--nodes",
        action="store_true",
        help="node profiles for analyze --boundary node/facility: accelerators, host CPUs, DRAM, other power, sources",
    )
    h.add_argument(
        "--lifecycle",
        action="store_true",
        help="embodied carbon instead: figure, range, system boundary and source (docs/LIFECYCLE.md)",
    )
    h.add_argument(
        "--lifetime-years",
        type=opt.Float(0, 50, lo_open=True),
        metavar="Y",
        help="with --lifecycle: service life (default 5)",
    )
    h.add_argument(
        "--utilisation",
        "--utilization",
        type=opt.Float(0, 1, lo_open=True),
        metavar="U",
        help="with --lifecycle: (0, 1]",
    )
    h.set_defaults(func=run_hardware)


def run_hardware(args: argparse.Namespace) -> int:
    if args.lifecycle:
        from wattlens.cli.lifecycle_opts import run_hardware_lifecycle

        return run_hardware_lifecycle(args)
    if args.nodes:
        return _run_nodes(args)
    from wattlens.analyze import profiles as P
    from wattlens.analyze.output import hardware_table

    if args.name:
        try:
            prof = P.get_profile(args.name)
        except KeyError as exc:
            print(f"wattlens hardware: {exc.args[0]}", file=sys.stderr)
            return 2
        d = prof.to_dict()
        if args.json:
            print(json.dumps(d, indent=1))
        else:
            print(_profile_text(d))
        return 0
    profs = P.all_profiles()
    cal = P.load_calibrated()
    if cal is not None:
        profs.append(cal)
    if args.json:
        print(json.dumps({"profiles": [p.to_dict() for p in profs], "aliases": P.ALIASES}, indent=1))
    else:
        print(hardware_table(profs))
        print(f"\naliases: {', '.join(f'{k}->{v}' for k, v in sorted(P.ALIASES.items()))}")
        print("figures, [low, high] ranges and sources: wattlens hardware NAME (--json); columns: docs/HARDWARE.md")
    return 0


def _run_nodes(args: argparse.Namespace) -> int:
    from wattlens.analyze import boundary as B

    nodes = [B.get_node(n) for n in B.node_names()]
    if args.json:
        print(json.dumps({"nodes": [n.to_dict() for n in nodes]}, indent=1))
        return 0
    head = f"{'node':22s} {'accelerators':24s} {'CPU idle W':>12s} {'W/busy thread':>14s} {'DRAM W':>12s}"
    print(f"{head} {'other W':>12s}")
    for n in nodes:
        print(
            f"{n.name:22s} {f'{n.accelerators} x {n.accelerator}':24s} {_span(n.cpu_idle_w):>12s} "
            f"{_span(n.cpu_busy_thread_w):>14s} {_span(n.dram_w):>12s} {_span(n.other_w):>12s}"
        )
    print("\nsources and notes: wattlens hardware --nodes --json; rows: wattlens/analyze/data/node_profiles.csv")
    return 0


def _span(fig: Any) -> str:
    return f"{fig.low:.4g}" if fig.low == fig.high else f"{fig.low:.4g}-{fig.high:.4g}"


def _profile_text(d: dict[str, Any]) -> str:
    lines = [f"{d['name']} ({d['kind']}, {d['vendor']}) {d['derived_from']}"]

    def fig(label: str, f: dict[str, Any] | None) -> None:
        if f is None:
            lines.append(f"  {label}: unmodelled (no published figure)")
        else:
            lines.append(f"  {label}: {f['low']:.4g} – {f['high']:.4g} {f['unit']}   [{f['source']}]")

    for k, f in d["peak_tflops"].items():
        fig(f"peak {k}", f)
    fig("memory bandwidth", d["mem_bw_gbs"])
    for k, f in d["pj_per_byte"].items():
        fig(f"energy per byte ({k})", f)
    for k, f in d["pj_per_flop"].items():
        fig(f"energy per FLOP ({k})", f)
    fig("static power", d["static_w"])
    fig("launch / dispatch overhead", d["launch_us"])
    fig("achieved GEMM fraction", d["gemm_frac"])
    fig("achieved bandwidth fraction", d["bw_frac"])
    lines.append(
        f"  memory: {d['mem_gb']} GB {d['mem_type']}, L2/LLC {d['l2_mb']} MB; TDP {d['tdp_w']} W; "
        f"interconnect {d['interconnect'] or '-'} {d['interconnect_gbs'] or ''}"
    )
    lines.append(f"  provenance codes (docs/HARDWARE.md): {d['provenance']}")
    lines.append(f"  sources: {d['source']}")
    if d["notes"]:
        lines.append(f"  notes: {d['notes']}")
    if d.get("calibrated"):
        lines.append(f"  calibration: {json.dumps(d['calibrated'].get('fit', {}), default=str)[:400]}")
    return "\n".join(lines)


def run_analyze(args: argparse.Namespace) -> int:
    if args.list_presets:
        from wattlens.workloads.architectures import ALIASES, ARCHITECTURES

        for name, arch in sorted(ARCHITECTURES.items()):
            print(f"{name:28s} {arch.params_approx / 1e6:10.1f} M  {arch.description}")
        print(f"\naliases: {', '.join(f'{k}->{v}' for k, v in sorted(ALIASES.items()))}")
        return 0
    if not args.model:
        print("wattlens analyze: a model is required (or --list-presets)", file=sys.stderr)
        return 2
    if args.sweep:
        return _run_sweep(args)
    if args.tokens is not None or args.gpus is not None:
        return _run_training(args)
    from wattlens.analyze.analysis import analyze
    from wattlens.analyze.output import plot, render

    hardware: Any = args.hardware
    cal = None
    if args.calibrate:
        from wattlens.analyze.calibrate import calibrate

        if hardware not in ("this-machine", "this", "local", "host"):
            print("wattlens analyze: --calibrate measures this machine; using --hardware this-machine", file=sys.stderr)
        print("calibrating this machine (GEMM sweep, bandwidth, dispatch probe, idle) ...", file=sys.stderr)
        cal = calibrate(target_s=args.calibrate_seconds)
        hardware = cal.profile
        from wattlens.analyze.calibrate import calibrate_host

        try:
            host_cal = calibrate_host(args.model)
            print(
                f"host: {host_cal['op_us'][0]:.1f}-{host_cal['op_us'][1]:.1f} us per op ({host_cal['what']}); "
                f"saved to {host_cal['saved_to']}",
                file=sys.stderr,
            )
        except (ValueError, KeyError, OSError, TypeError, RuntimeError) as exc:
            print(f"wattlens analyze: host calibration skipped ({exc})", file=sys.stderr)
    try:
        a = analyze(
            args.model,
            hardware,
            phase=args.phase,
            batch=args.batch,
            seq=args.seq,
            prompt=args.prompt,
            new_tokens=args.new_tokens,
            dtype=args.dtype,
            backend=args.backend,
            levers=not args.no_levers,
            full_trace=args.full_trace,
            tensor_parallel=args.tensor_parallel,
            runtime=args.runtime,
            host=args.host,
            tf32_matmul=args.tf32_matmul,
            boundary=args.boundary,
            node=args.node,
            pue=args.pue,
            cache=not args.no_cache,
        )
    except (KeyError, ValueError, OSError, AttributeError, ImportError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"wattlens analyze: {msg}", file=sys.stderr)
        return 2
    d = a.to_dict(by_layer=args.by_layer)
    if cal is not None:
        d["calibration"] = {"fit": cal.fit, "notes": cal.notes, "predicted_vs_measured": cal.comparison}
    if args.plot:
        try:
            d["figures"] = [str(f) for f in plot(d, args.plot, a.profile)]
        except ImportError as exc:
            print(f"wattlens analyze: --plot needs matplotlib ({exc})", file=sys.stderr)
    if args.db:
        code = _store_analysis(d, args)
        if code:
            return code
    if args.json:
        print(json.dumps(d, indent=1, default=_json_default))
        return 0
    print(render(d, by_layer=args.by_layer))
    if cal is not None:
        print("\ncalibration (predicted vs measured per micro-benchmark; ratio = predicted / measured):")
        for r in cal.comparison:
            er = f"{r['energy_ratio']:.2f}" if r["energy_ratio"] else "n/a"
            print(f"  {r['benchmark']:16s} {r['role']:18s} time {r['time_ratio']:.2f}  energy {er}")
        for n in cal.notes:
            print(f"  note: {n}")
    if d.get("figures"):
        print("\nfigures: " + ", ".join(d["figures"]))
    print("\nassumptions:")
    for s in d["assumptions"]:
        print(f"  - {s}")
    return 0


def _store_analysis(d: dict[str, Any], args: argparse.Namespace) -> int:
    """Keep the typed summary of the analysis as a run of kind ``analyze`` (one cell, ``analysis``)."""
    from wattlens.analyze.records import AnalysisSummary
    from wattlens.report.query import ANALYSIS_CELL, ANALYSIS_KIND
    from wattlens.store import StoreError, open_store

    summary = AnalysisSummary.of(d)
    config = {
        "model": args.model,
        "hardware": summary.hardware,
        "phase": summary.phase,
        "batch": summary.batch,
        "seq": summary.seq,
        "prompt": summary.prompt,
        "new_tokens": summary.new_tokens,
        "dtype": summary.dtype,
        "backend": args.backend,
        "tensor_parallel": summary.tensor_parallel,
    }
    try:
        with open_store(args.db) as store:
            run_id = store.create_run(ANALYSIS_KIND, config)
            store.save_cell(run_id, ANALYSIS_CELL, "ok", summary.to_dict())
            store.set_run_status(run_id, "done")
    except StoreError as exc:
        print(f"wattlens analyze: could not store the analysis: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "quiet", False):
        print(f"analysis stored as run {run_id} in {args.db} (wattlens serve --db {args.db})", file=sys.stderr)
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from wattlens.analyze import sweep as S
    from wattlens.analyze.boundary import BoundaryError

    try:
        axes = S.parse_axes(args.sweep)
        if "hardware" not in axes and args.hardware not in ("this-machine",):
            axes["hardware"] = [args.hardware]
        if "dtype" not in axes and args.dtype:
            axes["dtype"] = [args.dtype]
        if "batch" not in axes:
            axes["batch"] = [str(args.batch)]
        if "seq" not in axes and (args.seq or args.prompt):
            axes["seq"] = [str(args.prompt or args.seq)]
        result = S.sweep(
            args.model,
            axes,
            phase=args.phase,
            new_tokens=args.new_tokens,
            runtime=args.runtime,
            host=args.host,
            use_cache=not args.no_cache,
        )
    except (KeyError, ValueError, OSError, BoundaryError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"wattlens analyze: {msg}", file=sys.stderr)
        return 2
    if args.out:
        S.write(result, args.out)
    figures = []
    if args.plot:
        try:
            figures.append(S.plot(result, args.plot))
        except ImportError as exc:
            print(f"wattlens analyze: --plot needs matplotlib ({exc})", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    print(S.text(result))
    if args.out:
        print(f"\nall {len(result.points)} points: {args.out}")
    if figures:
        print("figures: " + ", ".join(figures))
    return 0


def _run_training(args: argparse.Namespace) -> int:
    from wattlens.analyze.boundary import BoundaryError
    from wattlens.analyze.training import TrainingError, training_run

    if args.phase not in ("train", "auto") or args.tokens is None:
        print("wattlens analyze: a training run needs --phase train --tokens N --gpus G", file=sys.stderr)
        return 2
    try:
        run = training_run(
            args.model,
            args.hardware if args.hardware != "this-machine" else "a100",
            args.tokens,
            gpus=args.gpus,
            tp=args.tensor_parallel,
            pp=args.pp,
            dp=args.dp,
            mfu=args.mfu,
            seq=args.seq or 2048,
            global_batch_tokens=args.global_batch_tokens,
            micro_batch=args.batch,
            node=args.node,
            pue=args.pue,
            country=args.country,
            region=args.region,
            intensity=args.intensity,
            dtype=args.dtype or "bf16",
            use_cache=not args.no_cache,
        )
    except (KeyError, ValueError, OSError, BoundaryError, TrainingError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"wattlens analyze: {msg}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(run.to_dict(), indent=1))
        return 0
    print(_training_text(run))
    return 0


def _rng(r: Any, fmt: str = ".3g") -> str:
    return f"{r.mid:{fmt}} [{r.low:{fmt}}-{r.high:{fmt}}]"


def _training_text(run: Any) -> str:
    lines = [
        f"wattlens analyze {run.model}: whole training run (estimated) on {run.gpus} x {run.hardware} "
        f"(tp {run.tensor_parallel} x pp {run.pipeline_parallel} x dp {run.data_parallel}, node {run.node})",
        f"tokens {run.tokens:.4g} at length {run.seq}; {run.steps:.4g} steps of {run.global_batch_tokens} tokens",
        f"model FLOPs {_rng(run.model_flops)} ({_rng(run.flops_per_token)} per token)",
        f"MFU {_rng(run.mfu, '.2f')} ({run.mfu_source}); bottom-up step model: MFU {_rng(run.modelled_mfu, '.2f')}",
        f"time {_rng(run.time_s.scaled(1 / 86400))} days | GPU-hours {_rng(run.gpu_hours)}",
        f"energy: GPUs {_rng(run.energy_j.scaled(1 / J_PER_MWH))} MWh (mean {_rng(run.mean_gpu_power_w)} W per GPU); "
        f"node {_rng(run.node_energy_j.scaled(1 / J_PER_MWH))} MWh; {run.energy_boundary} "
        f"{_rng(run.energy_kwh.scaled(1 / KWH_PER_MWH))} MWh",
    ]
    if run.co2e_kg is not None:
        lines.append(
            f"CO2e {_rng(run.co2e_kg.scaled(1 / 1000))} t at {run.carbon_intensity_g_per_kwh:g} g/kWh "
            f"({run.carbon_location})"
        )
    lines.append("communication (per GPU over the run; exposed time; energy of all GPUs):")
    for c in run.communication:
        lines.append(
            f"  {c.part:34s} {c.bytes_per_gpu / 1e12:10.3g} TB  {_rng(c.time_s.scaled(1 / 3600))} h  "
            f"{_rng(c.energy_j.scaled(1 / J_PER_MWH))} MWh  [{c.link}]"
        )
    lines.append("assumptions:")
    lines += [f"  - {a}" for a in run.assumptions]
    return "\n".join(lines)


def _json_default(o: Any) -> Any:
    if isinstance(o, set):
        return sorted(o)
    return str(o)
