"""A measuring subprocess for configurations that need environment variables set *before* torch starts.

``OMP_WAIT_POLICY`` (and OMP/MKL settings generally) are read once, when the OpenMP runtime initialises its
thread pool — i.e. at torch's first parallel region in the process. Setting them later in the search process
does nothing, so such trials run in a persistent worker started with that environment; one worker per
distinct environment serves all its trials (one torch import + model load, not one per trial).

Protocol: the client writes one JSON request per line to the worker's stdin; the worker answers one line
``@@wattlens-worker@@ {json}`` on stdout (other output is ignored). Run as ``python -m wattlens.optimize.worker``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping

from wattlens.optimize.procmem import status_mb
from wattlens.optimize.request import OptimizeRequest
from wattlens.optimize.results import Config, Fidelity, WorkerResult

MARK = "@@wattlens-worker@@ "


class WorkerClient:
    def __init__(self, env: dict[str, str], req: OptimizeRequest, timeout_s: float = 600.0) -> None:
        self.env = env
        self.timeout_s = timeout_s
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wattlens.optimize.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=full_env,
        )
        self._send(
            {
                "op": "init",
                "model": req.model,
                "task": req.task,
                "device": req.device,
                "gen_tokens": req.gen_tokens,
                "attribution": req.attribution,
                "compile_backend": req.compile_backend,
            }
        )

    def _send(self, msg: Mapping[str, object]) -> dict[str, object]:
        if self.proc.poll() is not None:
            return {"error": f"worker exited with {self.proc.returncode}"}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return {"error": f"worker closed its output (exit {self.proc.poll()})"}
            if line.startswith(MARK):
                answer = json.loads(line[len(MARK) :])
                return answer if isinstance(answer, dict) else {"error": f"worker answered {answer!r}"}

    def measure(self, config: Config, fid: Fidelity, inputs: list[str]) -> WorkerResult:
        return WorkerResult.from_dict(
            self._send(
                {
                    "op": "measure",
                    "config": config,
                    "queries": fid.queries,
                    "repeats": fid.repeats,
                    "warmup": fid.warmup,
                    "min_window_s": fid.min_window_s,
                    "inputs": inputs,
                }
            )
        )

    def close(self) -> None:
        """Stop the worker we started (by its own handle: nothing else is touched)."""
        try:
            if self.proc.poll() is None:
                self._send({"op": "exit"})
                self.proc.wait(timeout=10)
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _serve() -> None:  # pragma: no cover - exercised through WorkerClient
    from wattlens.bench.runner import measure_queries
    from wattlens.optimize.models import Base, Variant, build_variant, load_base, make_fn, scratch_dir
    from wattlens.optimize.search import config_key
    from wattlens.optimize.space import variant_of
    from wattlens.tracking import Monitor

    base: Base | None = None
    mon: Monitor | None = None
    backend = "inductor"
    variants: dict[str, Variant] = {}
    workdir = scratch_dir()
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["op"] == "exit":
                print(MARK + json.dumps({"ok": True}), flush=True)
                return
            if msg["op"] == "init":
                base = load_base(msg["model"], msg["task"], device=msg["device"], gen_tokens=msg["gen_tokens"])
                mon = Monitor(attribution=msg["attribution"])
                backend = msg["compile_backend"]
                print(MARK + json.dumps({"ok": True}), flush=True)
                continue
            cfg = msg["config"]
            spec = variant_of(cfg)
            key = config_key(spec)
            if base is None or mon is None:
                raise RuntimeError("measure before init")
            if key not in variants:
                variants[key] = build_variant(base, spec, workdir, compile_backend=backend)
            v = variants[key]
            fn = make_fn(v, int(cfg["threads"]), cfg.get("wait", "default"))
            t0 = time.perf_counter()
            st = measure_queries(
                fn,
                msg["inputs"],
                batch=int(cfg["batch"]),
                monitor=mon,
                repeats=msg["repeats"],
                warmup=msg["warmup"],
                min_window_s=msg["min_window_s"],
            )
            print(
                MARK
                + json.dumps(
                    {
                        "j_per_query": st.j_per_query,
                        "p50_ms": st.p50_ms,
                        "p95_ms": st.p95_ms,
                        "peak_rss_mb": status_mb("VmHWM"),
                        "extra": {
                            "throughput_qps": st.throughput_qps,
                            "j_low": st.j_per_query_low,
                            "j_high": st.j_per_query_high,
                            "cv": st.cv,
                            "source": st.source,
                            "queries": st.queries,
                            "duration_s": st.duration_s,
                            "model_size_mb": v.size_mb,
                            "wall_s": time.perf_counter() - t0,
                            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                        },
                    }
                ),
                flush=True,
            )
        except Exception as exc:  # report, keep serving
            print(MARK + json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


if __name__ == "__main__":  # pragma: no cover
    _serve()
