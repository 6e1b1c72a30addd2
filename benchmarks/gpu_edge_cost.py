"""What a GPU window edge costs the caller, on this CPU machine, against an NVML stand-in whose reads take 4 ms.

One NVML energy-counter read costs 3.8 ms (median) on a virtualised H200 (docs/HARDWARE-RUNS.md). This prints,
for windows of ``--window-ms`` under the stand-in's load, the median begin+end wall time of:

* ``zeus-equivalent`` — a plain pair of counter reads, what Zeus's ``begin_window``/``end_window`` pay;
* ``blocking`` — a wattlens Monitor over ``NvmlSource(edge_reads="blocking")`` (the counter read at each edge);
* ``async`` — the same with ``edge_reads="async"`` (the default with the real pynvml): the edge asks the
  source's background reader for a reading and returns;
* ``async + estimator`` — the default source set of a GPU machine without RAPL, ``Monitor([nvml, estimator])``;

and the ratios (blocking or Zeus-equivalent ÷ async; > 1: async is cheaper), plus how close the async windows
sum to their enclosing window. The same measurement runs on a real GPU as ``benchmarks/gpu_truth.py``'s
``edge_cost`` check; here it is **a stand-in: it measures wattlens' own overhead around a slow read, never GPU
behaviour**. Usage::

    .venv/bin/python benchmarks/gpu_edge_cost.py [--latency-ms 4] [--windows 50] [--window-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.benchmarks.standin import StandInRig  # noqa: E402

from benchmarks.gpu_truth import counter_read_pairs_s, host_facts, window_costs  # noqa: E402


def one_run(latency_s: float, windows: int, window_s: float) -> dict[str, float]:
    """Median begin+end (µs) of each variant, and the async parts' relative gap to their enclosing window."""
    rig = StandInRig(latency_s=latency_s)
    rig.start()
    try:
        rig.load_begin(4 * windows * window_s + 5.0)
        pairs = counter_read_pairs_s(rig, windows)
        blocking = window_costs(rig, "blocking", windows, window_s)
        background = window_costs(rig, "async", windows, window_s)
        with_estimator = window_costs(rig, "async", windows, window_s, also=("estimator",))
    finally:
        rig.nvml.busy_until = 0.0  # stop the stand-in's load
        rig.close()
    return {
        "zeus-equivalent": statistics.median(pairs) * 1e6,
        "blocking": blocking["median_begin_end_us"],
        "async": background["median_begin_end_us"],
        "async + estimator": with_estimator["median_begin_end_us"],
        "async parts vs enclosing": background["parts_vs_enclosing_rel"] or 0.0,
        "async + estimator parts vs enclosing": with_estimator["parts_vs_enclosing_rel"] or 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=4.0, help="stand-in NVML read latency (default 4)")
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--window-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows the median of the runs")
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or args.windows < 2 or args.window_ms <= 0 or args.runs < 1:
        parser.error("--latency-ms >= 0, --windows >= 2, --window-ms > 0 and --runs >= 1 are required")
    host = host_facts()
    load0 = os.getloadavg()[0]
    runs = [one_run(args.latency_ms / 1e3, args.windows, args.window_ms / 1e3) for _ in range(args.runs)]
    load1 = os.getloadavg()[0]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"gpu edge cost — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, hardware: stand-in "
        f"(NVML read {args.latency_ms:g} ms), {args.windows} windows of {args.window_ms:g} ms, median of {args.runs} "
        f"runs"
    )
    print(
        f"CPU {host['cpu_model']} ({host['logical_cpus']} logical; {' '.join(host['cpu_flags'])}), "
        f"load {load0:.2f} -> {load1:.2f}, Python {host['python']}"
    )
    print(f"{'window begin+end':<24}{'median µs':>12}{'÷ async':>10}")
    for key in ("zeus-equivalent", "blocking", "async", "async + estimator"):
        print(f"{key:<24}{med[key]:>12.1f}{med[key] / med['async']:>10.1f}")
    print(
        f"async windows vs their enclosing window: {med['async parts vs enclosing']:.2e} relative "
        f"(with the estimator: {med['async + estimator parts vs enclosing']:.2e})"
    )
    print(
        f"async begin+end = {med['async'] / (args.latency_ms * 1e3):.1%} of one read "
        f"(target < 10 %); the zeus-equivalent pays {med['zeus-equivalent'] / med['async']:.0f}x async"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
