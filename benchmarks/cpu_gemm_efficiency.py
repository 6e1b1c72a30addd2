"""Achieved FP32 GEMM rate on one CPU thread against the square-GEMM rate, by GEMM size (batch-1 shapes).

    .venv/bin/python benchmarks/cpu_gemm_efficiency.py [--csv out.csv]

Times ``torch.nn.functional.linear`` (M x K) @ (K x N)^T with a bias, the op batch-1 transformer layers run, on
1 torch thread in inference mode, median of repeated calls, with *cold* weights as in a model pass (a pool of
weight copies > 128 MB, used round robin, so each call reads its weights from DRAM), and prints GFLOP/s, the
arithmetic intensity (FLOP per byte of weights + input + output) and the efficiency relative to the large-GEMM
rate (median of the M = 256 rows). Also the stream-read bandwidth of one thread (sum of a 256 MB tensor). The rows feed
``src/wattlens/analyze/data/cpu_gemm_efficiency.csv`` (with the date and the CPU flags of the run).
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import time

import torch

POOL_BYTES = 128 * 1024 * 1024
SHAPES = [  # (M, K, N): M = tokens (batch 1), K x N = a layer's weight
    (m, k, n)
    for m in (1, 4, 16, 21, 64, 256)
    for k, n in ((384, 384), (384, 1536), (1536, 384), (768, 768), (768, 2304), (768, 3072), (3072, 768), (1600, 6400))
] + [(1, 768, 50257)]  # an LM head


def _time(m: int, k: int, n: int, target_s: float = 0.3) -> float:
    copies = max(1, -(-POOL_BYTES // (4 * k * n)))
    ws = [torch.randn(n, k) for _ in range(copies)]
    b, x = torch.randn(n), torch.randn(m, k)
    with torch.inference_mode():
        for w in ws[:3]:
            torch.nn.functional.linear(x, w, b)
        reps, i, t0 = 0, 0, time.perf_counter()
        while time.perf_counter() - t0 < target_s / 3:
            torch.nn.functional.linear(x, ws[i % copies], b)
            reps, i = reps + 1, i + 1
        samples = []
        for _ in range(7):
            t1 = time.perf_counter()
            for _ in range(max(1, reps // 7)):
                torch.nn.functional.linear(x, ws[i % copies], b)
                i += 1
            samples.append((time.perf_counter() - t1) / max(1, reps // 7))
    return statistics.median(samples)


def _stream_gbs() -> float:
    a = torch.randn(64 * 1024 * 1024)
    a.sum()
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        a.sum()
        ts.append(time.perf_counter() - t0)
    return a.numel() * 4 / statistics.median(ts) / 1e9


def _flags() -> str:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor()
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    keep = sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2", "fma")))
    return f"{model} [{' '.join(keep)}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv")
    args = ap.parse_args()
    torch.set_num_threads(1)
    stream = _stream_gbs()
    sys.stdout.write(f"# {_flags()}; torch {torch.__version__}; stream read {stream:.1f} GB/s\n")
    rows = []
    for m, k, n in SHAPES:
        t = _time(m, k, n)
        f, byt = 2 * m * k * n, 4 * (k * n + n + m * k + m * n)
        rows.append({"m": m, "k": k, "n": n, "flops": f, "bytes": byt, "intensity": f / byt, "time_s": t})
    ref = statistics.median(r["flops"] / r["time_s"] for r in rows if r["m"] == 256)
    for r in rows:
        rate = r["flops"] / r["time_s"]
        r.update(gflops=rate / 1e9, eff=rate / ref, gbs=r["bytes"] / r["time_s"] / 1e9, stream_gbs=stream)
        sys.stdout.write(
            f"{r['m']:5d} {r['k']:5d} {r['n']:5d}  I {r['intensity']:6.2f}  {rate / 1e9:7.1f} GFLOP/s  "
            f"eff {r['eff']:.3f}  {r['gbs']:6.1f} GB/s ({r['gbs'] / stream:.2f} of stream)\n"
        )
    sys.stdout.write(f"# large-GEMM reference (median of M=256): {ref / 1e9:.1f} GFLOP/s\n")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
