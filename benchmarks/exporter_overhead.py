"""What the serving pieces cost, each against a bare baseline in the same run (issue 12, requirement 7).

* **scrape latency** — ``GET /metrics`` over real loopback HTTP from ``wattlens exporter`` (the console script, a
  separate process: the user's path), against a bare stdlib HTTP server returning a body of the same size (what
  any HTTP answer costs here) and, where it is installed, prometheus_client's own ``start_http_server`` with its
  default registry (the anchor every Python exporter is built on). Requests alternate between the servers.
* **background CPU at 1 Hz** — CPU time of the idle exporter process (``--interval 1``) over a window, against a
  bare ``python -c 'import time; time.sleep(...)'`` process over the same window; target ≤ 0.2 % of a core.
* **middleware added latency** — a real uvicorn + Starlette app serving MiniLM embeddings (trained weights,
  offline), once bare and once with :class:`~wattlens.serving.EnergyMiddleware` (two server processes, requests
  alternating); target ≤ 1 % added to the median. The middleware's own cost per request (its clock at the two edges) is
  timed in-process too.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/exporter_overhead.py [--scrapes 500] [--cpu-window 30]
        [--requests 200]

A script, not a test: timings depend on the machine and its other tenants (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
WATTLENS = str(Path(sys.executable).with_name("wattlens"))


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = next(ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name"))
        flags = next(ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags"))
        wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile", "fma") if f in flags]
        return f"{model}, {os.cpu_count()} logical CPUs, flags {' '.join(wanted)}"
    except (OSError, StopIteration):
        return "unknown CPU"


def _pct(values: list[float], q: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes] | None = None, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise SystemExit(f"server for {url} exited with {proc.returncode}") from None
            time.sleep(0.2)
    raise SystemExit(f"{url} not up in {limit_s:g} s")


def _get_ms(url: str) -> float:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as r:
        r.read()
    return 1000 * (time.perf_counter() - t)


def _start_exporter(extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([WATTLENS, "-q", "exporter", "--port", str(port), *extra], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    _wait(url, proc)
    return proc, url


def _static_server(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Static(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Static)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/metrics"


def _prometheus_client_server() -> tuple[subprocess.Popen[bytes], str] | None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return None
    port = _free_port()
    code = f"import prometheus_client, time; prometheus_client.start_http_server({port}, '127.0.0.1'); time.sleep(3600)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    url = f"http://127.0.0.1:{port}/metrics"
    _wait(url, proc)
    return proc, url


def scrape_latency(n: int) -> None:
    exporter, url = _start_exporter([])
    body = urllib.request.urlopen(url, timeout=10).read()
    static, static_url = _static_server(body)
    anchor = _prometheus_client_server()
    targets = {"wattlens exporter": url, "bare HTTP, same body": static_url}
    if anchor is not None:
        targets["prometheus_client start_http_server"] = anchor[1]
    times: dict[str, list[float]] = {k: [] for k in targets}
    try:
        for _ in range(20):  # warm connections and caches
            for u in targets.values():
                _get_ms(u)
        for _ in range(n):
            for name, u in targets.items():
                times[name].append(_get_ms(u))
    finally:
        exporter.terminate()
        exporter.wait(10)
        static.shutdown()
        if anchor is not None:
            anchor[0].terminate()
            anchor[0].wait(10)
    print(f"\nscrape latency over loopback HTTP ({n} scrapes each, alternating; body {len(body)} bytes)")
    base = _pct(times["bare HTTP, same body"], 95)
    for name, ts in times.items():
        p50, p95 = statistics.median(ts), _pct(ts, 95)
        print(f"  {name:<38} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   p95 / bare {p95 / base:5.2f}x")


def background_cpu(window_s: float) -> None:
    exporter, _ = _start_exporter(["--interval", "1"])
    bare = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({window_s + 30})"])
    try:
        time.sleep(3)  # past start-up (imports, first ticks)
        procs = {
            "wattlens exporter, 1 Hz ticks": psutil.Process(exporter.pid),
            "bare python sleeping": psutil.Process(bare.pid),
        }
        before = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        t0 = time.monotonic()
        time.sleep(window_s)
        wall = time.monotonic() - t0
        after = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
    finally:
        exporter.terminate()
        exporter.wait(10)
        bare.terminate()
        bare.wait(10)
    print(f"\nbackground CPU while idle ({wall:.0f} s window; target <= 0.2 % of a core)")
    for k in procs:
        share = 100 * (after[k] - before[k]) / wall
        print(f"  {k:<38} {share:6.3f} % of a core  ({after[k] - before[k]:.3f} CPU-s)")


APP = textwrap.dedent(
    """
    import sys, torch, uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from wattlens.workloads import minilm
    torch.set_num_threads(1)
    tok, enc = minilm.load_tokenizer(), minilm.load_encoder()

    async def embed(request: Request) -> JSONResponse:
        text = (await request.json())["input"]
        with torch.inference_mode():
            batch = minilm.tokenize(tok, [text])
            v = minilm.mean_pool(enc(**batch).last_hidden_state, batch["attention_mask"])
        return JSONResponse({"dim": int(v.shape[-1])})

    routes = [Route("/v1/embeddings", embed, methods=["POST"]), Route("/ready", lambda r: JSONResponse({}))]
    app = Starlette(routes=routes)
    if sys.argv[2] == "middleware":
        from wattlens.serving import EnergyMiddleware
        app.add_middleware(EnergyMiddleware)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def _post_ms(url: str, i: int) -> float:
    data = json.dumps({"input": f"The quick brown fox jumps over the lazy dog, request {i}."}).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return _get_ms_req(req)


def _get_ms_req(req: urllib.request.Request) -> float:
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
    return 1000 * (time.perf_counter() - t)


def middleware_latency(n: int) -> None:
    servers = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    try:
        for kind in ("bare", "middleware"):
            port = _free_port()
            proc = subprocess.Popen([sys.executable, "-c", APP, str(port), kind], env=env)
            servers[kind] = (proc, f"http://127.0.0.1:{port}")
        for proc, base in servers.values():
            _wait(base + "/ready", proc)
        times: dict[str, list[float]] = {k: [] for k in servers}
        for i in range(20):
            for _, base in servers.values():
                _post_ms(base + "/v1/embeddings", i)
        for i in range(n):
            for kind, (_, base) in servers.items():
                times[kind].append(_post_ms(base + "/v1/embeddings", i))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    bare_med = statistics.median(times["bare"])
    print(f"\nmiddleware added latency: MiniLM embeddings over uvicorn ({n} requests each, alternating; target <= 1 %)")
    for kind, ts in times.items():
        med, p95 = statistics.median(ts), _pct(ts, 95)
        print(f"  {kind:<38} p50 {med:7.2f} ms   p95 {p95:7.2f} ms   p50 vs bare {100 * (med / bare_med - 1):+6.2f} %")
    sys.path.insert(0, str(ROOT / "src"))
    from wattlens.serving.counters import EnergyCounters
    from wattlens.serving.middleware import RequestEnergyLedger

    ledger = RequestEnergyLedger(EnergyCounters())
    costs = []
    for _ in range(300):  # each edge after a pause, as between requests (caches cold), not in a hot loop
        time.sleep(0.005)
        t = time.perf_counter()
        started = ledger.start()
        costs.append(time.perf_counter() - t)
        time.sleep(0.002)
        t = time.perf_counter()
        ledger.finish(started, None)
        costs[-1] += time.perf_counter() - t
    ledger.close()
    per = statistics.median(costs) * 1e6
    print(
        f"  in-process: the middleware's own work per request (start + finish, after pauses) {per:.1f} µs "
        f"= {100 * per / 1000 / bare_med:.2f} % of the bare median"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scrapes", type=int, default=500)
    p.add_argument("--cpu-window", type=float, default=30.0, help="seconds of the background-CPU window")
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    print(
        f"exporter_overhead: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {_cpu()}; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    scrape_latency(args.scrapes)
    background_cpu(args.cpu_window)
    middleware_latency(args.requests)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
