"""Speed of ``wattlens analyze`` on the user's path: the command a user types, in a fresh process, import included,
defaults on (levers computed), with an empty trace cache (first run) and with its trace cached.

    .venv/bin/python benchmarks/analyze_speed.py [--runs 3] [--skip-anchor]

Targets (issue 17): the 70B decode command below <= 10 s on a first run and <= 2 s with its trace cached; a
1,000-point co-design sweep <= 10 s. Each figure is the median of ``--runs`` fresh processes; wall time and the
process's CPU time (user + sys, children included) are both printed, with the machine's load average and CPU:
on a shared 2-core machine wall time is the CPU time stretched by the other tenants.

The anchor (side by side, one run): torch's ``FlopCounterMode`` plain FLOP count of the same 70B model -- prefill
and one decode step on meta, no bytes, no energy, no levers -- in a fresh process, import included.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

COMMAND_70B = [
    "analyze",
    "llama-70b",
    "--hardware",
    "h100",
    "--phase",
    "decode",
    "--prompt",
    "512",
    "--new-tokens",
    "128",
]
SWEEP = [
    "analyze",
    "llama-3-8b",
    "--sweep",
    "hardware=a100,h100,h200,b200,l40s",
    "batch=1,2,4,8,16,32,64,128,256,512",
    "dtype=bf16,fp8",
    "seq=128,256,512,1024,2048,4096,8192,16384,32768,65536",
    "--new-tokens",
    "128",
]
ANCHOR = r"""
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import LlamaConfig, LlamaForCausalLM
cfg = LlamaConfig(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                  num_key_value_heads=8, vocab_size=32000)
with torch.device("meta"):
    m = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
ids = torch.zeros(1, 512, dtype=torch.long, device="meta")
fc = FlopCounterMode(display=False)
with torch.no_grad(), fc:
    o = m(input_ids=ids, use_cache=True)
    m(input_ids=ids[:, :1], past_key_values=o.past_key_values, use_cache=True)
print(fc.get_total_flops())
"""


def run(argv: list[str], cache: str) -> tuple[float, float]:
    """(wall s, CPU s) of ``wattlens ARGV`` in a fresh process."""
    env = {**os.environ, "WATTLENS_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wattlens.cli.main", *argv], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def python(code: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t0, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def case(name: str, argv: list[str], runs: int, target_cold: float, target_warm: float | None) -> None:
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(run(argv, cache))  # empty cache: traces (torch imported)
            warm.append(run(argv, cache))  # the same command again: its trace is cached
    cw, cc = statistics.median(w for w, _ in cold), statistics.median(c for _, c in cold)
    ww, wc = statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)
    print(f"{name}")
    print(f"  first run (empty cache)   wall {cw:6.2f} s  cpu {cc:6.2f} s   target <= {target_cold:g} s")
    if target_warm is not None:
        print(f"  trace cached              wall {ww:6.2f} s  cpu {wc:6.2f} s   target <= {target_warm:g} s")
    else:
        print(f"  trace cached              wall {ww:6.2f} s  cpu {wc:6.2f} s")
    print(f"  runs: cold {[f'{w:.2f}' for w, _ in cold]}, cached {[f'{w:.2f}' for w, _ in warm]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-anchor", action="store_true")
    args = ap.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    case("wattlens " + " ".join(COMMAND_70B) + "   (levers on)", COMMAND_70B, args.runs, 10.0, 2.0)
    case("wattlens " + " ".join(SWEEP[:2]) + " --sweep ... (1,000 points)", SWEEP, args.runs, 10.0, None)
    if not args.skip_anchor:
        w, c = python(ANCHOR)
        print("anchor: torch FlopCounterMode, same 70B model on meta, prefill + 1 decode step, fresh process:")
        print(f"  wall {w:6.2f} s  cpu {c:6.2f} s (FLOPs only: no bytes, no energy, 1 of 128 decode steps, no levers)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
