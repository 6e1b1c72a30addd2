"""``wattlens loadtest``: drive an HTTP endpoint, find its steady state, and measure the machine over that window.

The method follows ML.ENERGY's: energy per request is only meaningful while the server is saturated at the
offered load, so the ramp-up (requests still starting) and the ramp-down (requests draining) are left out:

* **fixed concurrency** (``concurrency=N``): N clients each send a request, wait for the answer, send the next.
  The steady state begins once every client has finished its first request (all N slots busy, caches warm) and
  ends when the first client stops sending (the deadline);
* **constant rate** (``rate=R`` per second, open loop): requests leave on a fixed schedule; the steady state begins
  after a warm-up (10 % of the run, at least 1 s) and ends at the last scheduled send. The window is marked
  invalid when the server did not keep up (achieved rate < 90 % of the target, or the requests in flight grew over
  the window: a queue building up is not a steady state).

The meter (:func:`wattlens.serving.counters.default_monitor`: the whole node) is read at the window's edges, and an
idle baseline measured before any load gives gross / idle / net. Figures: J/request (net when a baseline exists)
and J/output-token over the requests *completed* inside the window, p50/p95/p99 latency and TTFT (streamed), the
throughput, and the window's validity with its reasons. Every loop is bounded in count and in time.

>>> cfg = LoadTestConfig(url="http://127.0.0.1:9/v1/embeddings", rate=2.0, duration_s=5, api="openai-embeddings")
>>> cfg.mode
'rate'
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wattlens._logging import get_logger
from wattlens.errors import WattlensError
from wattlens.records import Record, optional
from wattlens.stats import percentile_of_known

logger = get_logger(__name__)
APIS = ("json", "openai-completions", "openai-chat", "openai-embeddings")
MAX_REQUESTS = 1_000_000  # a hard cap on any run, whatever rate x duration says
ACHIEVED_RATE_MIN = 0.9
MIN_WINDOW_REQUESTS = 10
MAX_ERROR_FRACTION = 0.05


class LoadTestError(WattlensError, ValueError):
    """A load test that cannot run (bad option, endpoint down); the message names the option and what is allowed."""


@dataclass(frozen=True)
class LoadTestConfig(Record):
    """What to drive and how. Exactly one of ``rate`` (requests/s, open loop) or ``concurrency`` (closed loop)."""

    url: str
    rate: float | None = None
    concurrency: int | None = None
    duration_s: float = 60.0
    min_window_s: float = 30.0
    idle_s: float = 5.0
    api: str = "json"
    body: Mapping[str, object] | None = None
    prompt: str = "Explain in one sentence why the sky is blue."
    max_tokens: int = 32
    stream: bool = False
    model: str = ""
    timeout_s: float = 60.0
    max_in_flight: int = 256

    @property
    def mode(self) -> str:
        return "rate" if self.rate is not None else "concurrency"

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadTestError(
                f"URL {self.url!r}: an http(s) URL of the endpoint, e.g. http://127.0.0.1:8000/v1/completions"
            )
        if (self.rate is None) == (self.concurrency is None):
            raise LoadTestError("give exactly one of --rate R (requests per second > 0) or --concurrency N (>= 1)")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise LoadTestError(f"--rate {self.rate}: requests per second must be a number > 0")
        if self.concurrency is not None and self.concurrency < 1:
            raise LoadTestError(f"--concurrency {self.concurrency}: must be an integer >= 1")
        for name, value, low in (("--duration", self.duration_s, 1.0), ("--min-window", self.min_window_s, 0.5)):
            if not (math.isfinite(value) and value >= low):
                raise LoadTestError(f"{name} {value}: seconds, a number >= {low:g}")
        if not (math.isfinite(self.idle_s) and 0 <= self.idle_s <= 600):
            raise LoadTestError(f"--idle {self.idle_s}: seconds of idle baseline in 0..600 (0 = none: gross only)")
        if self.api not in APIS:
            raise LoadTestError(f"--api {self.api!r}: one of {', '.join(APIS)}")
        if (self.stream and not self.api.startswith("openai-")) or (self.stream and self.api == "openai-embeddings"):
            raise LoadTestError("--stream: only for OpenAI completions or chat endpoints")
        if self.max_tokens < 1:
            raise LoadTestError(f"--max-tokens {self.max_tokens}: an integer >= 1")


@dataclass(frozen=True)
class RequestRecord(Record):
    """One request: when it was sent and answered (monotonic s), whether it succeeded, its output tokens."""

    sent_s: float
    done_s: float
    ok: bool
    first_byte_s: float | None = None
    output_tokens: int | None = None
    error: str | None = optional()


@dataclass(frozen=True)
class LoadTestResult(Record):
    """The steady-state figures of one load test (J per request on ``energy_basis``; every figure with its source)."""

    url: str
    mode: str
    target: float  # requests/s (rate mode) or clients (concurrency mode)
    duration_s: float
    window_start_s: float  # seconds after the first request
    window_s: float
    valid: bool
    reasons: tuple[str, ...]
    requests_sent: int
    requests_ok: int
    requests_failed: int
    window_requests: int
    mean_in_flight: float
    throughput_rps: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    output_tokens: int | None
    gross_j: float | None
    idle_j: float | None
    net_j: float | None
    energy_low_j: float | None
    energy_high_j: float | None
    energy_basis: str
    j_per_request: float | None
    j_per_request_low: float | None
    j_per_request_high: float | None
    j_per_output_token: float | None
    mean_power_w: float | None
    idle_power_w: float | None
    source: str
    methods: tuple[str, ...]
    run_id: str | None = optional()
    notes: tuple[str, ...] = field(default_factory=tuple)


# ---- requests ---------------------------------------------------------------------------------------------------


def request_body(cfg: LoadTestConfig, i: int) -> dict[str, Any]:
    """The JSON body of request ``i`` (the prompt varies a little so that no cache answers every request)."""
    if cfg.body is not None:
        return dict(cfg.body)
    prompt = f"{cfg.prompt} ({i})"
    model = cfg.model or "default"
    if cfg.api == "openai-embeddings":
        return {"model": model, "input": prompt}
    if cfg.api == "openai-chat":
        return {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": cfg.max_tokens,
            "stream": cfg.stream,
        }
    if cfg.api == "openai-completions":
        return {"model": model, "prompt": prompt, "max_tokens": cfg.max_tokens, "stream": cfg.stream}
    return {"input": prompt}


def _tokens_of(payload: Mapping[str, Any]) -> int | None:
    usage = payload.get("usage")
    if isinstance(usage, Mapping):
        n = usage.get("completion_tokens")
        if isinstance(n, int):
            return n
    return None


async def _one(client: Any, cfg: LoadTestConfig, i: int) -> RequestRecord:
    sent = time.monotonic()
    first: float | None = None
    tokens: int | None = None
    try:
        if cfg.stream:
            chunks = 0
            async with client.stream("POST", cfg.url, json=request_body(cfg, i)) as resp:
                if resp.status_code >= 400:
                    return RequestRecord(sent, time.monotonic(), False, error=f"HTTP {resp.status_code}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:") or line.strip() == "data: [DONE]":
                        continue
                    first = first or time.monotonic()
                    chunks += 1
                    usage = _tokens_of(json.loads(line[5:]))
                    tokens = usage if usage is not None else tokens
            tokens = tokens if tokens is not None else chunks  # one token per streamed chunk when no usage is sent
        else:
            resp = await client.post(cfg.url, json=request_body(cfg, i))
            first = time.monotonic()
            if resp.status_code >= 400:
                return RequestRecord(sent, first, False, error=f"HTTP {resp.status_code}")
            if cfg.api.startswith("openai-") and cfg.api != "openai-embeddings":
                tokens = _tokens_of(resp.json())
        return RequestRecord(sent, time.monotonic(), True, first if cfg.stream else None, tokens)
    except Exception as exc:  # a failed request is a figure (error rate), never an exception out of the run
        return RequestRecord(sent, time.monotonic(), False, error=f"{type(exc).__name__}: {exc}"[:200])


async def check_endpoint(cfg: LoadTestConfig) -> None:
    """One request before anything is measured: a down or failing endpoint is a clear error, not a run of errors."""
    import httpx

    async with httpx.AsyncClient(timeout=cfg.timeout_s) as client:
        rec = await _one(client, cfg, -1)
    if not rec.ok:
        raise LoadTestError(f"endpoint {cfg.url}: the first request failed ({rec.error}); is the server up?")


# ---- the run ----------------------------------------------------------------------------------------------------


class _Window:
    """Opens and closes the meter window at the steady state's edges, from inside the event loop."""

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor
        self.start_s: float | None = None
        self.end_s: float | None = None
        self.measurement: Any = None

    def open(self) -> None:
        if self.start_s is None:
            self.monitor.begin("loadtest-steady-state")
            self.start_s = time.monotonic()

    def close(self) -> None:
        if self.start_s is not None and self.end_s is None:
            self.measurement = self.monitor.end("loadtest-steady-state")
            self.end_s = time.monotonic()


async def _drive(cfg: LoadTestConfig, window: _Window) -> tuple[list[RequestRecord], list[tuple[float, int]], float]:
    import httpx

    records: list[RequestRecord] = []
    in_flight = [0]
    samples: list[tuple[float, int]] = []  # (time, requests in flight) at every send and completion
    limits = httpx.Limits(max_connections=cfg.max_in_flight, max_keepalive_connections=cfg.max_in_flight)
    t0 = time.monotonic()
    deadline = t0 + cfg.duration_s
    async with httpx.AsyncClient(timeout=cfg.timeout_s, limits=limits) as client:

        async def run_one(i: int) -> RequestRecord:
            in_flight[0] += 1
            samples.append((time.monotonic(), in_flight[0]))
            rec = await _one(client, cfg, i)
            in_flight[0] -= 1
            samples.append((time.monotonic(), in_flight[0]))
            records.append(rec)
            return rec

        if cfg.rate is not None:
            await _drive_rate(cfg, run_one, window, t0, deadline, in_flight)
        else:
            await _drive_concurrency(cfg, run_one, window, deadline)
    return records, samples, t0


async def _drive_rate(
    cfg: LoadTestConfig, run_one: Any, window: _Window, t0: float, deadline: float, in_flight: list[int]
) -> None:
    assert cfg.rate is not None
    period = 1.0 / cfg.rate
    warmup_s = max(1.0, 0.1 * cfg.duration_s)
    n = min(MAX_REQUESTS, int(cfg.duration_s * cfg.rate))
    tasks: list[asyncio.Task[RequestRecord]] = []
    skipped = 0
    for i in range(n):
        due = t0 + i * period
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.monotonic() >= deadline:
            break
        if due - t0 >= warmup_s:
            window.open()
        if in_flight[0] >= cfg.max_in_flight:  # bounded: a server that stops answering does not grow our queue
            skipped += 1
            continue
        tasks.append(asyncio.create_task(run_one(i)))
    remaining = deadline - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)
    window.close()
    if tasks:
        await asyncio.wait(tasks, timeout=cfg.timeout_s)
    for t in tasks:
        t.cancel()
    if skipped:
        logger.warning("%d requests not sent: %d already in flight (--max-in-flight)", skipped, cfg.max_in_flight)


async def _drive_concurrency(cfg: LoadTestConfig, run_one: Any, window: _Window, deadline: float) -> None:
    assert cfg.concurrency is not None
    n = cfg.concurrency
    warmed = [0]
    counter = [0]

    async def client_loop() -> None:
        first = True
        while time.monotonic() < deadline and counter[0] < MAX_REQUESTS:
            counter[0] += 1
            await run_one(counter[0])
            if first:
                first = False
                warmed[0] += 1
                if warmed[0] == n:  # every client has finished one request: all slots busy from here on
                    window.open()
        window.close()  # the first client to stop ends the steady state

    await asyncio.wait_for(asyncio.gather(*(client_loop() for _ in range(n))), cfg.duration_s + cfg.timeout_s + 5)


def _mean_in_flight(samples: list[tuple[float, int]], a: float, b: float) -> tuple[float, float, float]:
    """Time-weighted mean requests in flight over [a, b], and the counts at a and at b."""
    area, last_t, last_n = 0.0, a, 0
    at_a = at_b = 0
    for t, n in samples:
        if t <= a:
            last_n = at_a = n
            continue
        if t > b:
            break
        area += last_n * (t - last_t)
        last_t, last_n = t, n
    area += last_n * (b - last_t)
    at_b = last_n
    return (area / (b - a) if b > a else 0.0), float(at_a), float(at_b)


def summarise(
    cfg: LoadTestConfig, records: list[RequestRecord], samples: list[tuple[float, int]], t0: float, window: _Window
) -> LoadTestResult:
    """The figures of a finished run (pure: separately tested)."""
    reasons: list[str] = []
    ok = [r for r in records if r.ok]
    failed = len(records) - len(ok)
    m = window.measurement
    a, b = window.start_s, window.end_s
    if a is None or b is None:
        reasons.append("no steady state: the run ended before every client had finished a request")
        a = b = t0
    elif m is None:
        reasons.append("the meter gave no reading for the window")
    span = b - a
    inside = [r for r in ok if a <= r.done_s <= b]
    if span < cfg.min_window_s:
        reasons.append(f"steady-state window {span:.1f} s < the minimum {cfg.min_window_s:g} s (raise --duration)")
    if len(inside) < MIN_WINDOW_REQUESTS:
        reasons.append(f"{len(inside)} requests completed in the window (< {MIN_WINDOW_REQUESTS})")
    if records and failed / len(records) > MAX_ERROR_FRACTION:
        reasons.append(f"{failed} of {len(records)} requests failed (> {MAX_ERROR_FRACTION:.0%})")
    mean_if, at_a, at_b = _mean_in_flight(samples, a, b)
    throughput = len(inside) / span if span > 0 else None
    if cfg.rate is not None and throughput is not None and throughput < ACHIEVED_RATE_MIN * cfg.rate:
        reasons.append(f"the server kept up with {throughput:.2f} of {cfg.rate:g} requests/s: saturated, not steady")
    if cfg.rate is not None and at_b > max(2.0 * at_a, at_a + 4):
        reasons.append(f"requests in flight grew from {at_a:.0f} to {at_b:.0f} over the window: a queue building up")
    latencies = [1000 * (r.done_s - r.sent_s) for r in inside]
    ttfts = [1000 * (r.first_byte_s - r.sent_s) for r in inside if r.first_byte_s is not None]
    tokens = [r.output_tokens for r in inside if r.output_tokens is not None]
    out_tokens = sum(tokens) if tokens and len(tokens) == len(inside) else None
    gross = m.energy_j if m is not None else None
    idle = m.idle_j if m is not None else None
    net = m.net_j if m is not None else None
    basis = "net" if net is not None else "gross"
    energy = net if net is not None else gross
    n_in = len(inside)
    low = m.low_j if m is not None else None
    high = m.high_j if m is not None else None
    if basis == "net" and low is not None and high is not None and idle is not None:
        low, high = max(0.0, low - idle), max(0.0, high - idle)  # the idle interval's own width is in the notes
    per = lambda x: None if x is None or n_in == 0 else x / n_in
    return LoadTestResult(
        url=cfg.url,
        mode=cfg.mode,
        target=float(cfg.rate if cfg.rate is not None else cfg.concurrency or 0),
        duration_s=cfg.duration_s,
        window_start_s=a - t0,
        window_s=span,
        valid=not reasons,
        reasons=tuple(reasons),
        requests_sent=len(records),
        requests_ok=len(ok),
        requests_failed=failed,
        window_requests=n_in,
        mean_in_flight=mean_if,
        throughput_rps=throughput,
        p50_ms=percentile_of_known(latencies, 50),
        p95_ms=percentile_of_known(latencies, 95),
        p99_ms=percentile_of_known(latencies, 99),
        ttft_p50_ms=percentile_of_known(ttfts, 50),
        ttft_p95_ms=percentile_of_known(ttfts, 95),
        output_tokens=out_tokens,
        gross_j=gross,
        idle_j=idle,
        net_j=net,
        energy_low_j=low,
        energy_high_j=high,
        energy_basis=basis,
        j_per_request=per(energy),
        j_per_request_low=per(low),
        j_per_request_high=per(high),
        j_per_output_token=None if energy is None or not out_tokens else energy / out_tokens,
        mean_power_w=None if gross is None or span <= 0 else gross / span,
        idle_power_w=m.idle.total_w if m is not None and m.idle is not None else None,
        source=m.source if m is not None else "unavailable",
        methods=tuple(m.methods) if m is not None else (),
        notes=tuple(m.notes) if m is not None else (),
    )


def run_loadtest(cfg: LoadTestConfig, monitor: Any = None) -> LoadTestResult:
    """Run the load test of ``cfg`` (validated first) and return its steady-state figures.

    ``monitor``: a :class:`~wattlens.tracking.Monitor` (default: the whole node, as the exporter reads it). The
    idle baseline is measured on it first, before any request is sent (``cfg.idle_s``; 0 skips it).
    """
    cfg.validate()
    from wattlens.serving.counters import default_monitor

    own = monitor is None
    mon = monitor if monitor is not None else default_monitor()
    try:
        asyncio.run(check_endpoint(cfg))
        if cfg.idle_s > 0:
            time.sleep(0.5)  # let the check's request and its connection wind down before the baseline
            mon.measure_idle(cfg.idle_s)
        window = _Window(mon)
        records, samples, t0 = asyncio.run(_drive(cfg, window))
        if window.start_s is not None and window.end_s is None:
            window.close()
        return summarise(cfg, records, samples, t0, window)
    finally:
        if own:
            mon.close()


# ---- the store ----------------------------------------------------------------------------------------------------


def save_result(result: LoadTestResult, cfg: LoadTestConfig, db: str | None, environment: Mapping[str, Any]) -> str:
    """Store the result as a one-cell bench run (``wattlens results --run ID`` and the report read it)."""
    from wattlens.bench.records import CellConfig, CellResult, IdleBaselines, IdlePower, PerUnit, PhaseResult
    from wattlens.store import open_store

    idle = None
    if result.idle_power_w is not None:
        p = IdlePower(result.idle_power_w, result.idle_power_w, result.idle_power_w, result.source)
        idle = IdleBaselines(before=p, used=p)
    tokens_per = (
        None
        if not result.output_tokens or not result.window_requests
        else (result.output_tokens / result.window_requests)
    )
    q = PhaseResult(
        phase="query",
        batch=int(result.target) if result.mode == "concurrency" else 1,
        repeats=1,
        min_window_s=cfg.min_window_s,
        queries=result.window_requests,
        queries_per_repeat=(result.window_requests,),
        completed_queries=result.window_requests,
        duration_s=result.window_s,
        basis=result.energy_basis,
        source=result.source,
        j_per_query=result.j_per_request,
        j_per_query_low=result.j_per_request_low,
        j_per_query_high=result.j_per_request_high,
        gross_j=result.gross_j,
        idle_j=result.idle_j,
        net_j=result.net_j,
        gross_j_per_query=None
        if result.gross_j is None or not result.window_requests
        else (result.gross_j / result.window_requests),
        net_j_per_query=None
        if result.net_j is None or not result.window_requests
        else (result.net_j / result.window_requests),
        mean_power_w=result.mean_power_w,
        p50_ms=result.p50_ms,
        p95_ms=result.p95_ms,
        throughput_qps=result.throughput_rps,
        notes=result.notes,
    )
    task = "loadtest-" + cfg.api
    config = CellConfig(batch=q.batch, engine="http-endpoint", options={"mode": result.mode, "target": result.target})
    cell = CellResult(
        task=task,
        model=cfg.model or cfg.url,
        config=config,
        cell={"task": task, "model": cfg.model or cfg.url, "url": cfg.url, "queries": result.window_requests},
        weights="as served",
        unit="request",
        status="ok" if result.valid else "invalid",
        reasons=result.reasons,
        query=q,
        per_unit=PerUnit(
            unit="output-token", output_tokens_per_query=tokens_per, j_per_output_token=result.j_per_output_token
        )
        if result.output_tokens
        else None,
        idle=idle,
        info={"loadtest": result.to_dict()},
    )
    store = open_store(db)
    try:
        run_id = store.create_run(
            "bench", {"loadtest": cfg.to_dict(), "suite": {"name": "loadtest"}}, environment=dict(environment)
        )
        store.save_cell(run_id, f"loadtest:{cfg.url}", "ok" if result.valid else "invalid", cell.to_dict())
        store.set_run_status(run_id, "done")
    finally:
        store.close()
    return run_id
