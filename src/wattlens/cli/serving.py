"""``wattlens exporter`` (the meter on /metrics, or pushed over OTLP), ``wattlens loadtest`` (steady-state J/request).

    wattlens exporter --port 9464                     # http://127.0.0.1:9464/metrics
    wattlens exporter --port 9464 --processes         # + per-process energy (CPU-time share; GPU SM-utilisation share)
    wattlens exporter --otlp http://127.0.0.1:4318    # OpenTelemetry hw.energy / hw.power instead
    wattlens loadtest http://127.0.0.1:8000/v1/completions --rate 4 --duration 60 --openai

Exit codes: 0 ok (the exporter: stopped by SIGTERM or Ctrl-C), 2 for anything the user can fix (a port in use, a bad
URL, a rate <= 0, an endpoint that is down), each as one line naming the option and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: Any) -> None:
    e = subparsers.add_parser(
        "exporter",
        help="the meter's cumulative energy on /metrics for Prometheus (or pushed to an OTLP collector)",
        description="Serve wattlens_energy_joules_total and friends on /metrics (127.0.0.1 unless --host), or push "
        "them as OpenTelemetry hw.energy/hw.power over OTLP/HTTP with --otlp. SIGTERM or Ctrl-C stops it cleanly.",
    )
    e.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    e.add_argument("--port", default="9464", help="port for /metrics (default 9464; 0 = any free port)")
    e.add_argument(
        "--processes",
        action="store_true",
        help="also per-process energy (CPU: by CPU-time share; NVIDIA GPUs: by SM-utilisation share)",
    )
    e.add_argument("--otlp", metavar="URL", help="push to this OTLP/HTTP collector instead of serving /metrics")
    e.add_argument("--otlp-interval", default="10", metavar="S", help="seconds between OTLP pushes (default 10)")
    e.add_argument("--interval", default="1", metavar="S", help="seconds between meter ticks (default 1)")
    e.add_argument("--idle-baseline", default="0", metavar="S", help="measure idle power for S seconds first")
    e.set_defaults(func=cmd_exporter)

    lt = subparsers.add_parser(
        "loadtest",
        help="drive an HTTP endpoint and measure steady-state J/request, J/token, latency and throughput",
        description="Drive URL at a constant --rate or fixed --concurrency, detect the steady state (ML.ENERGY's "
        "method), measure the whole machine over it against an idle baseline, print and store the figures.",
    )
    lt.add_argument("url", metavar="URL")
    lt.add_argument("--rate", default=None, help="requests per second (open loop)")
    lt.add_argument("--concurrency", default=None, help="clients, each sending its next request on an answer")
    lt.add_argument("--duration", default="60", metavar="S", help="seconds of load (default 60)")
    lt.add_argument("--min-window", default="30", metavar="S", help="shortest valid steady-state window (default 30)")
    lt.add_argument("--idle", default="5", metavar="S", help="seconds of idle baseline before the load (0 = none)")
    lt.add_argument("--openai", action="store_true", help="OpenAI-compatible: the API is taken from the URL's path")
    lt.add_argument("--api", default=None, help="json | openai-completions | openai-chat | openai-embeddings")
    lt.add_argument("--stream", action="store_true", help="stream the answers (TTFT measured)")
    lt.add_argument("--max-tokens", default="32", help="max_tokens of each completion (default 32)")
    lt.add_argument("--model", default="", help="the model name to send and to store the result under")
    lt.add_argument("--body", default=None, help="a JSON object to send as is (plain JSON endpoints)")
    lt.add_argument("--timeout", default="60", metavar="S", help="per-request timeout (default 60)")
    lt.add_argument("--db", default=None, help="results store (default $WATTLENS_DB or ./wattlens.sqlite)")
    lt.add_argument("--no-save", action="store_true", help="do not store the result")
    lt.add_argument("--json", action="store_true", help="print the result as JSON")
    lt.set_defaults(func=cmd_loadtest)


class _Usage(Exception):
    pass


def _err(command: str, message: str) -> int:
    print(f"wattlens {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _number(option: str, text: str | None, *, low: float, high: float = math.inf, integer: bool = False) -> float:
    try:
        value = int(str(text)) if integer else float(str(text))
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise _Usage(f"{option} {text!r}: {kind} in [{low:g}, {high:g}]") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise _Usage(f"{option} {text}: must be in [{low:g}, {high:g}]")
    return value


# ---- exporter ---------------------------------------------------------------------------------------------------


def cmd_exporter(args: argparse.Namespace) -> int:
    try:
        port = int(_number("--port", args.port, low=0, high=65535, integer=True))
        interval = _number("--interval", args.interval, low=0.05, high=3600)
        otlp_interval = _number("--otlp-interval", args.otlp_interval, low=0.1, high=3600)
        idle_s = _number("--idle-baseline", args.idle_baseline, low=0, high=600)
        if args.otlp:
            from wattlens.serving.otel import OtlpError, otlp_endpoint

            try:
                otlp_endpoint(args.otlp)
            except OtlpError as exc:
                raise _Usage(str(exc)) from None
    except _Usage as exc:
        return _err("exporter", str(exc))
    from wattlens.serving.counters import EnergyCounters, default_monitor
    from wattlens.serving.exporter import Exporter, ExporterError, serve

    idle = None
    if idle_s > 0:
        mon = default_monitor()
        try:
            idle = mon.measure_idle(idle_s)
        finally:
            mon.close()
    counters = EnergyCounters(idle=idle, processes=args.processes)
    exporter = Exporter(counters, interval_s=interval)
    server = None
    bridge = None
    try:
        if args.otlp:
            try:
                from wattlens.serving.otel import OtlpBridge
            except ImportError as exc:
                exporter.close()
                return _err(
                    "exporter", f"--otlp needs the serving extra ({exc.name} missing): pip install 'wattlens[serving]'"
                )
            bridge = OtlpBridge(counters, args.otlp, interval_s=otlp_interval)
            where = f"pushing to {bridge.endpoint} every {otlp_interval:g} s"
        else:
            server = serve(exporter, args.host, port)
            host, bound = str(server.server_address[0]), int(server.server_address[1])
            where = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/metrics"
    except ExporterError as exc:
        exporter.close()
        return _err("exporter", str(exc))
    exporter.start()
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"wattlens exporter: {where} ({counters.snapshot().meter.get('sources', '?')}); SIGTERM or Ctrl-C stops it",
        flush=True,
    )
    thread = None
    if server is not None:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
        thread.start()
    try:
        while not stop.wait(3600):
            pass
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if bridge is not None:
            bridge.close()
        exporter.close()
        for s, h in previous.items():
            signal.signal(s, h)
    if not getattr(args, "quiet", False):
        print("wattlens exporter: stopped", file=sys.stderr)
    return EXIT_OK


# ---- loadtest ---------------------------------------------------------------------------------------------------


def _api_of(args: argparse.Namespace) -> str:
    if args.api:
        return str(args.api)
    if not args.openai:
        return "json"
    path = args.url.rstrip("/")
    if path.endswith("/embeddings"):
        return "openai-embeddings"
    if path.endswith("/chat/completions"):
        return "openai-chat"
    if path.endswith("/completions"):
        return "openai-completions"
    raise _Usage(f"--openai with {args.url!r}: the path must end in /completions, /chat/completions or /embeddings")


def _config(args: argparse.Namespace) -> Any:
    from wattlens.serving.loadtest import LoadTestConfig

    body = None
    if args.body is not None:
        try:
            body = json.loads(args.body)
        except json.JSONDecodeError:
            raise _Usage('--body: a JSON object, e.g. \'{"input": "hello"}\'') from None
        if not isinstance(body, dict):
            raise _Usage('--body: a JSON object, e.g. \'{"input": "hello"}\'')
    return LoadTestConfig(
        url=args.url,
        rate=None if args.rate is None else _number("--rate", args.rate, low=-math.inf),
        concurrency=None
        if args.concurrency is None
        else int(_number("--concurrency", args.concurrency, low=-math.inf, integer=True)),
        duration_s=_number("--duration", args.duration, low=1, high=86400),
        min_window_s=_number("--min-window", args.min_window, low=0.5, high=86400),
        idle_s=_number("--idle", args.idle, low=0, high=600),
        api=_api_of(args),
        body=body,
        max_tokens=int(_number("--max-tokens", args.max_tokens, low=1, high=1e6, integer=True)),
        stream=args.stream,
        model=args.model,
        timeout_s=_number("--timeout", args.timeout, low=0.1, high=3600),
    )


def _fmt(value: float | None, unit: str = "", digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}{unit}"


def _table(r: Any) -> str:
    lines = [
        f"loadtest {r.url}  ({r.mode} {r.target:g}; {r.duration_s:g} s)",
        f"  steady state   {r.window_s:.1f} s from t+{r.window_start_s:.1f} s, {r.window_requests} requests, "
        f"mean in flight {r.mean_in_flight:.2f} -> {'VALID' if r.valid else 'INVALID: ' + '; '.join(r.reasons)}",
        f"  energy         {_fmt(r.j_per_request, ' J/request')} [{_fmt(r.j_per_request_low)}, "
        f"{_fmt(r.j_per_request_high)}] ({r.energy_basis}, {r.source}: {', '.join(r.methods)})",
        f"  per token      {_fmt(r.j_per_output_token, ' J/output-token')}",
        f"  gross/idle/net {_fmt(r.gross_j, ' J')} / {_fmt(r.idle_j, ' J')} / {_fmt(r.net_j, ' J')}  "
        f"(mean {_fmt(r.mean_power_w, ' W')}, idle {_fmt(r.idle_power_w, ' W')})",
        f"  latency        p50 {_fmt(r.p50_ms, ' ms')}  p95 {_fmt(r.p95_ms, ' ms')}  p99 {_fmt(r.p99_ms, ' ms')}"
        + (f"  TTFT p50 {_fmt(r.ttft_p50_ms, ' ms')} p95 {_fmt(r.ttft_p95_ms, ' ms')}" if r.ttft_p50_ms else ""),
        f"  throughput     {_fmt(r.throughput_rps, ' requests/s')}; {r.requests_ok} ok, {r.requests_failed} failed",
    ]
    if r.run_id:
        lines.append(f"  stored as      {r.run_id}  (wattlens results --run {r.run_id})")
    return "\n".join(lines)


def cmd_loadtest(args: argparse.Namespace) -> int:
    from wattlens.serving.loadtest import LoadTestError, run_loadtest, save_result

    try:
        cfg = _config(args)
        cfg.validate()
        if not args.no_save:
            from wattlens.store import StoreError, open_store

            try:
                open_store(args.db).close()  # a bad --db is an error before the load, not after it
            except StoreError as exc:
                raise _Usage(f"--db: {exc}") from None
        result = run_loadtest(cfg)
    except (_Usage, LoadTestError) as exc:
        return _err("loadtest", str(exc))
    if not args.no_save:
        import dataclasses
        import platform

        env = {"python": platform.python_version(), "monitor": {"sources": list(result.methods)}}
        run_id = save_result(result, cfg, args.db, env)
        result = dataclasses.replace(result, run_id=run_id)
    print(json.dumps(result.to_dict(), indent=2) if args.json else _table(result))
    return EXIT_OK
