"""Does ``wattlens analyze`` hold the truth? Its predictions next to every measurement it can be checked on.

    .venv/bin/python benchmarks/analyze_checks.py [--only h200,cpu,mlenergy,training,php] [--json out.json]

* ``h200``: the real-H200 ``wattlens bench`` cells of docs/hardware-runs/2026-12-04-h200-run2.json (held out:
  no constant was derived from them). Latency p50 vs the predicted wall time; bench's *net* (gross - idle) and
  *gross* J/query vs the node boundary of the bench on that VM (``--node h200-wattlens-bench``); model ratios.
  The host CPU band is ``same-cpu``: that VM reports the same CPU model string and ISA as this machine.
* ``cpu``: models run here through ``wattlens bench``'s runner (CPU, estimated energy) next to
  ``analyze --hardware this-machine`` (latency; net energy = predicted busy time x the estimator's dynamic power).
* ``mlenergy``: ML.ENERGY v3 steady-state GPU energy per output token (benchmark-anchors.md s3.2) with the
  CUDA-graph runtime and fused kernels (vLLM). The prompt length is not published: the interval spans prompts of
  64-1024 tokens. Llama-3.1-8B on one H100 at batch 8 is NOT a check: the on-chip energy per byte was derived
  from it (docs/HARDWARE.md).
* ``php``: Power Hungry Processing node figures in benchmark-anchors.md s1.3 (cheapest/most expensive text
  generation models), as the PHP node (``--node php-p4de``).
* ``training``: whole pre-training runs against published reports (GPU-hours; energy where published; every
  published energy here is itself GPU-hours x TDP, an estimate).

Prints one table per group: measured, predicted mid [low, high], mid/measured, inside the interval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
H200_RUN = ROOT / "docs" / "hardware-runs" / "2026-12-04-h200-run2.json"
PRESET = {
    "distilbert-sst2": "distilbert-base-uncased",
    "resnet-50": "resnet-50",
    "vit-base-patch16-224": "vit-base-patch16-224",
    "distilgpt2": "distilgpt2",
    "gpt2": "gpt2",
    "gpt2-xl": "gpt2-xl",
    "minilm-sentiment": "all-MiniLM-L6-v2",
}
ROWS: list[dict[str, Any]] = []
CALIBRATE = False


def row(group: str, case: str, quantity: str, measured: float, pred: Any, unit: str, note: str = "") -> None:
    inside = pred.low <= measured <= pred.high
    ROWS.append(
        {
            "group": group,
            "case": case,
            "quantity": quantity,
            "unit": unit,
            "measured": measured,
            "low": pred.low,
            "mid": pred.mid,
            "high": pred.high,
            "mid_over_measured": pred.mid / measured if measured else None,
            "inside": inside,
            "note": note,
        }
    )


def _shape(cell: dict[str, Any]) -> dict[str, Any]:
    if cell["task"] == "text-generation":
        # bench: prefill makes the first token, then output-1 decode steps
        return {
            "phase": "generate",
            "prompt": max(1, round(cell["input_tokens_per_query"])),
            "new_tokens": max(1, round(cell["output_tokens_per_query"]) - 1),
        }
    if cell.get("input_tokens_per_query"):
        return {"phase": "forward", "seq": max(1, round(cell["input_tokens_per_query"]))}
    return {"phase": "forward"}


def check_h200() -> None:
    from wattlens.analyze.analysis import analyze

    d = json.loads(H200_RUN.read_text())
    cells = next(c for c in d["checks"] if c["name"] == "bench")["figures"]["cells"]
    analyses: dict[str, Any] = {}
    measured: dict[str, dict[str, float]] = {}
    for c in cells:
        a = analyze(
            PRESET[c["model"]],
            "h200",
            dtype="fp32",
            levers=False,
            host="same-cpu",
            boundary="node",
            node="h200-wattlens-bench",
            **_shape(c),
        )
        b = a.boundary
        row("h200", c["model"], "latency p50", c["p50_ms"] / 1e3, a.time_range(), "s")
        row("h200", c["model"], "net J/query", c["net_j_per_query"], b.net_energy_j, "J")
        row("h200", c["model"], "gross J/query", c["gross_j_per_query"], b.energy_j, "J")
        analyses[c["model"]] = a
        measured[c["model"]] = c
    pairs = [
        ("resnet-50", "vit-base-patch16-224"),
        ("distilgpt2", "gpt2"),
        ("distilgpt2", "gpt2-xl"),
        ("gpt2", "gpt2-xl"),
    ]
    from wattlens.analyze.ratio import ratio_interval

    for x, y in pairs:
        # correlated: the profile's, host's and node's constants are shared by both analyses (they cancel);
        # each model's byte bounds and each family's host time per op move independently
        for quantity, key, label in (
            ("net", "net_j_per_query", "net ratio"),
            ("energy", "gross_j_per_query", "gross ratio"),
            ("time", "p50_ms", "latency ratio"),
        ):
            r = ratio_interval(analyses[x], analyses[y], quantity)
            n = r.naive
            note = f"width x{r.width:.2f}; naive [{n.low:.3g}, {n.high:.3g}] x{n.high / n.low:.1f}"
            row("h200", f"{x} / {y}", label, measured[x][key] / measured[y][key], r.ratio, "", note)


def _cpu_suite(tmp: Path, models: dict[str, str]) -> Path:
    tasks: dict[str, list[str]] = {}
    for m, task in models.items():
        tasks.setdefault(task, []).append(m)
    lines = [
        "[suite]",
        'name = "analyze-checks"',
        'description = "CPU points for benchmarks/analyze_checks.py"',
        "queries = 8",
        "repeats = 3",
        "warmup = 2",
        "min_window_s = 1.0",
        "idle_s = 2.0",
        "batch = [1]",
        'precision = ["fp32"]',
        "threads = [1]",
        'engine = ["pytorch"]',
        'device = "cpu"',
        "phases = true",
        "quality = false",
    ]
    for task, names in tasks.items():
        lines += ["", "[[task]]", f'name = "{task}"', "models = [" + ", ".join(f'"{n}"' for n in names) + "]"]
    path = tmp / "suite.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def check_cpu() -> None:
    from wattlens.analyze.analysis import analyze
    from wattlens.analyze.records import Range
    from wattlens.meters.estimator import resolve_cpu_power

    models = {
        "minilm-sentiment": "text-classification",
        "distilbert-sst2": "text-classification",
        "resnet-50": "image-classification",
        "distilgpt2": "text-generation",
    }
    with tempfile.TemporaryDirectory() as tmp:
        suite = _cpu_suite(Path(tmp), models)
        db = str(Path(tmp) / "b.sqlite")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "wattlens.cli.main",
                "bench",
                "--suite",
                str(suite),
                "--db",
                db,
                "--json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        out = p.stdout
        rows = json.loads(out[out.find("[") :]) if "[" in out else []
        if p.returncode or len(rows) < len(models):
            sys.stderr.write(f"cpu: bench exited {p.returncode}, {len(rows)} rows: {p.stderr[-2000:]}\n")
    from wattlens.analyze.profiles import this_machine

    dyn = resolve_cpu_power().dynamic_w
    one_core = this_machine(1)
    if CALIBRATE:  # what a user does first on a CPU: `wattlens analyze --calibrate` (1 thread, like the suite)
        import torch

        from wattlens.analyze.calibrate import calibrate

        torch.set_num_threads(1)
        one_core = calibrate(target_s=0.5, save=False).profile
    for r in rows:
        if r.get("status") != "ok":
            sys.stderr.write(f"cpu: {r.get('model')}: {r.get('status')} {r.get('error') or ''}\n")
            continue
        cell = {
            "task": r["task"],
            "input_tokens_per_query": r.get("input_tokens_per_query") or 0,
            "output_tokens_per_query": r.get("output_tokens_per_query") or 0,
        }
        # the suite runs torch on 1 thread: the profile of one core of this machine (the calibrated one if any)
        a = analyze(PRESET.get(r["model"], r["model"]), one_core, dtype="fp32", levers=False, **_shape(cell))
        t = a.time_range()
        row("cpu", r["model"], "latency p50", r["p50_ms"] / 1e3, t, "s", "1 torch thread, this machine")
        # the bench's energy here is the estimator's: CPU time x (P_max - P_idle) per thread (+ the idle share
        # it subtracts); predicted: the busy time x the same dynamic power band
        e = Range(t.low * dyn.low, t.mid * dyn.mid, t.high * dyn.high)
        if r.get("net_j_per_query"):
            row("cpu", r["model"], "net J/query (estimated)", r["net_j_per_query"], e, "J", "estimator vs estimator")


# ML.ENERGY v3 (benchmark-anchors.md s3.2): model, GPUs, tp, batch, J/token, avg output tokens, config
ML_ENERGY = [
    ("llama-3-8b", "h100", 1, 512, 0.0702, 397, None),
    ("llama-3-8b", "b200", 1, 2048, 0.0467, 396, None),
    ("llama-3-8b", "b200", 1, 8, 0.391, 396, None),
    ("llama-3-70b", "h100", 4, 1024, 0.373, 351, None),
    ("llama-3-70b", "h100", 4, 8, 3.76, 351, None),
    ("qwen3-8b", "h100", 1, 512, 0.0721, 645, "qwen3-8b.json"),
    ("qwen3-8b", "h100", 1, 8, 0.444, 645, "qwen3-8b.json"),
    ("qwen3-32b", "h100", 2, 256, 0.229, 634, "qwen3-32b.json"),
    ("qwen3-32b", "h100", 2, 8, 1.63, 634, "qwen3-32b.json"),
    # FP8 weights and activations (vLLM's FP8 checkpoint): W8A8 GEMMs on the H100's FP8 units
    ("llama-3-405b-fp8", "h100", 8, 256, 2.06, 367, "llama-3-405b.json"),
    ("llama-3-405b-fp8", "h100", 8, 8, 13.97, 367, "llama-3-405b.json"),
]


def check_mlenergy() -> None:
    from wattlens.analyze.analysis import analyze
    from wattlens.analyze.records import Range

    for name, hw, tp, batch, jpt, out_tok, cfg in ML_ENERGY:
        model = str(ROOT / "benchmarks" / "configs" / cfg) if cfg else name
        per = []
        for prompt in (64, 1024):
            a = analyze(
                model,
                hw,
                phase="generate",
                batch=batch,
                prompt=prompt,
                new_tokens=out_tok,
                runtime="cuda-graph",
                backend="fused",
                tensor_parallel=tp,
                levers=False,
                dtype="fp8" if name.endswith("-fp8") else None,
            )
            per.append(a.energy_range().scaled(1.0 / (batch * out_tok)))
        r = Range(min(p.low for p in per), math.sqrt(per[0].mid * per[1].mid), max(p.high for p in per))
        row("mlenergy", f"{name} {hw}x{tp} b{batch}", "J/output token (GPU)", jpt, r, "J", "prompt 64-1024")


# PHP s1.3: cheapest / most expensive text generation models, kWh per 1,000 queries (node, gross)
PHP = [("distilgpt2", 0.0147), ("gpt2-xl", 0.0953)]


def check_php() -> None:
    from wattlens.analyze.analysis import analyze

    for name, kwh in PHP:
        a = analyze(
            name,
            "a100",
            phase="generate",
            prompt=24,
            new_tokens=10,
            dtype="fp32",
            levers=False,
            boundary="node",
            node="php-p4de",
        )
        row("php", name, "node J/query", kwh * 3.6e6 / 1000, a.boundary.energy_j, "J", "HF pipeline, 10 new tokens")


# published training runs: model, hardware, tokens, gpus, tp, pp, seq, gpu-hours, energy MWh (or None), source
TRAINING = [
    (
        "bloom-176b.json",
        "a100",
        3.66e11,
        384,
        4,
        12,
        2048,
        1_082_990,
        433.196,
        "Luccioni et al. 2022 (arXiv 2211.02001) Table 1: GPU-hours; energy = GPU-hours x 400 W TDP",
    ),
    (
        "llama-2-7b",
        "a100",
        2.0e12,
        1024,
        1,
        1,
        4096,
        184_320,
        None,
        "Touvron et al. 2023 (arXiv 2307.09288) Table 2; 2T tokens, 4k context (Table 1)",
    ),
    ("llama-2-13b", "a100", 2.0e12, 1024, 1, 1, 4096, 368_640, None, "Touvron et al. 2023, Table 2"),
    ("llama-2-70b", "a100", 2.0e12, 2048, 8, 1, 4096, 1_720_320, None, "Touvron et al. 2023, Table 2"),
    (
        "llama-3-8b",
        "h100",
        1.5e13,
        2048,
        1,
        1,
        8192,
        1_460_000,
        None,
        "Meta Llama 3.1 model card (2024): 1.46M H100-80GB hours; 15T+ tokens",
    ),
    ("llama-3-70b", "h100", 1.5e13, 4096, 8, 1, 8192, 7_000_000, None, "Meta Llama 3.1 model card: 7.0M H100 hours"),
]


def check_training() -> None:
    from wattlens.analyze.training import training_run

    for model, hw, tokens, gpus, tp, pp, seq, gph, mwh, src in TRAINING:
        m = str(ROOT / "benchmarks" / "configs" / model) if model.endswith(".json") else model
        r = training_run(m, hw, tokens, gpus=gpus, tp=tp, pp=pp, seq=seq)
        name = model.removesuffix(".json")
        row("training", name, "GPU-hours", gph, r.gpu_hours, "h", src)
        if mwh is not None:
            row(
                "training",
                name,
                "GPU energy (MWh)",
                mwh,
                r.energy_j.scaled(1 / 3.6e9),
                "MWh",
                "published = TDP x hours",
            )


def render() -> str:
    out = []
    groups = dict.fromkeys(r["group"] for r in ROWS)
    for g in groups:
        rs = [r for r in ROWS if r["group"] == g]
        n_in = sum(r["inside"] for r in rs)
        out.append(f"\n== {g}: {n_in} of {len(rs)} measured values inside the predicted interval")
        out.append(
            f"{'case':34s} {'quantity':24s} {'measured':>10s} {'pred mid':>10s} {'[low':>10s} {'high]':>10s} "
            f"{'mid/meas':>8s} in"
        )
        for r in rs:
            ratio = f"{r['mid_over_measured']:.2f}" if r["mid_over_measured"] else "-"
            out.append(
                f"{r['case'][:34]:34s} {r['quantity'][:24]:24s} {r['measured']:10.4g} {r['mid']:10.4g} "
                f"{r['low']:10.4g} {r['high']:10.4g} {ratio:>8s} {'yes' if r['inside'] else 'NO'}"
                + (f"  {r['note']}" if r["note"] else "")
            )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="h200,php,mlenergy,training,cpu")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--calibrate", action="store_true", help="cpu: calibrate one core first (--calibrate, 1 thread)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    global CALIBRATE
    CALIBRATE = args.calibrate
    t0 = time.perf_counter()
    for g in args.only.split(","):
        {
            "h200": check_h200,
            "cpu": check_cpu,
            "mlenergy": check_mlenergy,
            "php": check_php,
            "training": check_training,
        }[g.strip()]()
    print(render())
    n = len(ROWS)
    print(
        f"\n{sum(r['inside'] for r in ROWS)} of {n} inside; {time.perf_counter() - t0:.0f} s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(ROWS, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
