"""Measure the host-side constants of ``wattlens analyze``'s host model on a GPU machine (<= 90 s, prints JSON).

    python benchmarks/analyze_gpu_probe.py [--budget-s 80] > probe.json

Self-contained: needs only torch (with CUDA) and transformers; no wattlens, no network, random weights. Settles the
figures of ``src/wattlens/analyze/data/host_overheads.csv`` that this machine's CPU cannot:

* ``cpu_op_us``: eager host time per recorded (non-view) aten op of width-shrunk GPT-2 / DistilBERT twins on this
  host's CPU (1 thread) -- the same probe that gave ``op_us.*`` on the dev machine, so the ratio is the host band;
* ``cuda_op_us``: the same twins on CUDA, host time per op to *issue* a forward (no sync), and the wall time per
  op with a sync at the end (host-bound: the device is idle most of the time);
* ``kernel_floor_us``: device time per tiny kernel launched back to back (CUDA events), eagerly and replayed from
  a CUDA graph; ``graph_replay_us``: host cost of one ``graph.replay()`` of that graph;
* ``bench_like``: full-size GPT-2 / DistilBERT batch-1 forward latency (fp32, random weights, p50) next to the
  op counts, for the H200 bench cells in docs/hardware-runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class _Count(TorchDispatchMode):
    """Counts executed non-view aten ops (what wattlens records per op)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if not func.is_view and func.overloadpacket.__name__ not in ("detach", "alias", "_unsafe_view", "view"):
            self.n += 1
        return func(*args, **(kwargs or {}))


def _twins() -> dict[str, tuple[Any, dict[str, Any]]]:
    import transformers as T

    return {
        "gpt2": (
            T.GPT2LMHeadModel(T.GPT2Config(n_layer=12, n_embd=64, n_head=4, vocab_size=256)),
            {"input_ids": torch.zeros(1, 24, dtype=torch.long)},
        ),
        "distilbert": (
            T.DistilBertModel(T.DistilBertConfig(n_layers=6, dim=64, n_heads=4, hidden_dim=128, vocab_size=256)),
            {"input_ids": torch.zeros(1, 18, dtype=torch.long)},
        ),
    }


def _median(fn: Any, n: int) -> float:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def ops_of(model: Any, kw: dict[str, Any]) -> int:
    c = _Count()
    with torch.inference_mode(), c:
        model(**kw)
    return c.n


def probe_twins(out: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    res: dict[str, Any] = {}
    for name, (m, kw) in _twins().items():
        m.eval()
        n = ops_of(m, kw)
        with torch.inference_mode():
            cpu = _median(lambda m=m, kw=kw: m(**kw), 60)
        entry: dict[str, Any] = {"ops": n, "cpu_op_us": cpu / n * 1e6}
        if torch.cuda.is_available():
            mc = m.to("cuda")
            kc = {k: v.to("cuda") for k, v in kw.items()}
            with torch.inference_mode():
                for _ in range(5):
                    mc(**kc)
                torch.cuda.synchronize()
                issue, wall = [], []
                for _ in range(60):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    mc(**kc)
                    issue.append(time.perf_counter() - t)
                    torch.cuda.synchronize()
                    wall.append(time.perf_counter() - t)
            n_cuda = ops_of(mc, kc)
            entry.update(
                ops_cuda=n_cuda,
                cuda_issue_op_us=statistics.median(issue) / n_cuda * 1e6,
                cuda_wall_op_us=statistics.median(wall) / n_cuda * 1e6,
            )
        res[name] = entry
    out["twins"] = res


def probe_kernels(out: dict[str, Any]) -> None:
    if not torch.cuda.is_available():
        return
    x = torch.zeros(1, device="cuda")
    n = 2000
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    t = time.perf_counter()
    start.record()
    for _ in range(n):
        x.add_(1)
    end.record()
    issue = time.perf_counter() - t
    torch.cuda.synchronize()
    eager_dev = start.elapsed_time(end) * 1e3 / n
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            x.add_(1)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(200):
            x.add_(1)
    g.replay()
    torch.cuda.synchronize()
    start.record()
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        g.replay()
    replay_host = (time.perf_counter() - t) / reps
    end.record()
    torch.cuda.synchronize()
    graph_dev = start.elapsed_time(end) * 1e3 / (reps * 200)
    out["kernels"] = {
        "eager_issue_us_per_kernel": issue / n * 1e6,
        "eager_device_us_per_kernel": eager_dev,
        "graph_device_us_per_kernel": graph_dev,
        "graph_replay_host_us": replay_host * 1e6,
    }


def probe_full(out: dict[str, Any], budget_s: float, t0: float) -> None:
    if not torch.cuda.is_available():
        return
    import transformers as T

    cases = {
        "distilbert (fp32, batch 1, 18 tokens)": (
            T.DistilBertModel(T.DistilBertConfig()),
            {"input_ids": torch.zeros(1, 18, dtype=torch.long)},
        ),
        "gpt2 (fp32, batch 1, 24 tokens)": (
            T.GPT2LMHeadModel(T.GPT2Config()),
            {"input_ids": torch.zeros(1, 24, dtype=torch.long)},
        ),
    }
    res = {}
    for name, (m, kw) in cases.items():
        if time.perf_counter() - t0 > budget_s:
            break
        m = m.eval().to("cuda")
        kc = {k: v.to("cuda") for k, v in kw.items()}

        def fwd(m: Any = m, kc: dict[str, Any] = kc) -> None:
            with torch.inference_mode():
                m(**kc)
            torch.cuda.synchronize()

        res[name] = {"ops": ops_of(m, kc), "p50_ms": _median(fwd, 40) * 1e3}
    out["full_models"] = res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget-s", type=float, default=80.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "cpu_model": next(
            (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), ""
        )
        if sys.platform.startswith("linux")
        else platform.processor(),
    }
    for step in (probe_twins, probe_kernels):
        try:
            step(out)
        except Exception as exc:  # a probe that fails leaves the others standing
            out.setdefault("errors", []).append(f"{step.__name__}: {type(exc).__name__}: {exc}")
    try:
        probe_full(out, args.budget_s, t0)
    except Exception as exc:
        out.setdefault("errors", []).append(f"probe_full: {type(exc).__name__}: {exc}")
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
