"""``EnergyMiddleware``: energy per request for any ASGI app (Starlette, FastAPI), on ``/metrics`` and in a header.

Attribution (stated in the metric's help and docs/SERVING.md), by **active time, fair share**: a request edge
(start, end) only reads the clock — a few microseconds, so the middleware stays far inside 1 % of a request — and
advances a fair-share clock ``S`` by ``dt / n`` while ``n`` requests are active: a request alone for 10 ms gains 10 ms
of share time, two together 5 ms each. The meter is read once per interval (1 s by a background tick, and at every
scrape); an interval's energy ``E`` over its duration ``T`` gives its mean power ``P = E / T``, and each request is
charged ``P`` x its share time in that interval. So the requests together get ``P`` x the interval's busy time, and
the rest of ``E`` (time with no request active) is ``wattlens_unattributed_energy_joules_total``: request energies
plus unattributed energy equal the meter's total. A request's energy is final once the interval it ended in has been
metered: it enters the histogram then (at most one interval later).

When the app reports tokens (``request.state.wattlens_tokens = n``, or ``scope["state"]["wattlens_tokens"]``) they
are added to ``wattlens_tokens_total``, so J/token is ``rate(wattlens_request_energy_joules_sum) /
rate(wattlens_tokens_total)``; the split between requests stays by active time, unless ``split="tokens"``: then
the energy of the requests that finished in the same metered interval and reported tokens is re-split among them by
their tokens (the total unchanged; requests without tokens keep their time share). ``X-Energy-Joules`` (``header=True``)
is an estimate made when the headers leave: the request's share time so far x the last metered interval's power.

The energy is the meter's whole boundary (node-level where a sensor measures the node, see
:func:`wattlens.serving.counters.default_monitor`): gross, idle included.

>>> from starlette.applications import Starlette
>>> app = Starlette()
>>> app.add_middleware(EnergyMiddleware, header=True)
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from wattlens._logging import get_logger
from wattlens.serving.counters import EnergyCounters
from wattlens.serving.exporter import families as exporter_families
from wattlens.serving.promtext import CONTENT_TYPE, Family, render

logger = get_logger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Log-spaced from 1 mJ (an embedding on a GPU) to 1 kJ (a long generation on a node)
DEFAULT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    1000.0,
)
HEADER = b"x-energy-joules"
ATTRIBUTION_HELP = (
    "Energy attributed to each request (J): each metered interval's mean power x the request's fair share of the "
    "interval's active time (time shared equally among the requests active together); gross meter energy."
)
TOKENS_HELP = (
    "Energy attributed to each request (J): each metered interval's mean power x the requests' fair share of its "
    "active time, then the energy of the requests that finished in the same interval and reported tokens re-split "
    "among them by their output tokens (requests without tokens keep their time share); gross meter energy."
)
SPLITS = ("time", "tokens")
MAX_SEGMENTS = 4096  # metered intervals kept for requests still open (over an hour at 1 Hz); older: the oldest power


class RequestEnergyLedger:
    """The fair-share clock, the metered intervals' powers, the histogram, tokens and unattributed energy."""

    def __init__(
        self,
        counters: EnergyCounters,
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
        interval_s: float = 1.0,
        split: str = "time",
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split {split!r}: one of {', '.join(SPLITS)}")
        self.split = split
        self.counters = counters
        self.buckets = tuple(sorted(buckets))
        self.interval_s = interval_s
        self._bucket_counts = [0] * (len(self.buckets) + 1)  # the last is +Inf
        self._sum_j = 0.0
        self._count = 0
        self._tokens = 0
        self._unattributed_j = 0.0
        self._lock = threading.Lock()
        self._active = 0
        self._share_s = 0.0  # the fair-share clock S: seconds of share time handed out since start
        self._t_last = time.monotonic()
        self._busy_s = 0.0  # time with >= 1 request active since the last metered interval
        self._tick_share_s = 0.0  # S at the last metered interval's end
        self._segments: deque[tuple[float, float, float]] = deque(maxlen=MAX_SEGMENTS)  # (S from, S to, power W)
        self._pending: list[tuple[float, float, int | None]] = []  # finished requests: (S start, S end, tokens)
        self._last_power_w: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        counters.add_listener(self._on_tick)

    # ---- request edges: the clock only (no meter read) ------------------------------------------------------
    def _advance(self, now: float) -> None:
        dt = now - self._t_last
        if dt > 0:
            if self._active > 0:
                self._share_s += dt / self._active
                self._busy_s += dt
            self._t_last = now

    def start(self) -> float:
        """A request begins: the fair-share clock's reading."""
        if self._thread is None:
            self._start_thread()
        now = time.monotonic()
        with self._lock:
            self._advance(now)
            self._active += 1
            return self._share_s

    def so_far(self, started: float) -> float | None:
        """Estimated energy of a still-active request: its share time so far x the last metered power (or None)."""
        now = time.monotonic()
        with self._lock:
            self._advance(now)
            power = self._last_power_w
            return None if power is None else (self._share_s - started) * power

    def finish(self, started: float, tokens: int | None) -> None:
        """A request ends; its energy is charged when the interval it ended in is metered."""
        now = time.monotonic()
        with self._lock:
            self._advance(now)
            self._active -= 1
            self._pending.append((started, self._share_s, tokens))

    # ---- metered intervals ----------------------------------------------------------------------------------
    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wattlens-middleware-tick", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.counters.tick()

    def _on_tick(self, duration_s: float, energy_j: float) -> None:
        """After each metered interval (called by the counters): close its segment, charge the finished requests."""
        now = time.monotonic()
        with self._lock:
            self._advance(now)
            power = energy_j / duration_s if duration_s > 0 else 0.0
            busy = min(self._busy_s, max(duration_s, 0.0))
            self._unattributed_j += max(0.0, energy_j - power * busy)
            self._segments.append((self._tick_share_s, self._share_s, power))
            self._tick_share_s = self._share_s
            self._busy_s = 0.0
            self._last_power_w = power
            finished, self._pending = self._pending, []
            charged = [(self._charge(a, b), tokens) for a, b, tokens in finished]
        if self.split == "tokens":
            charged = by_tokens(charged)
        for joules, tokens in charged:
            self._observe(joules, tokens)

    def _charge(self, a: float, b: float) -> float:
        """Energy of share time [a, b]: the power of each metered segment over the part of [a, b] inside it."""
        joules = 0.0
        covered_from = b
        for lo, hi, power in reversed(self._segments):
            if hi <= a:
                break
            overlap = min(b, hi) - max(a, lo)
            if overlap > 0:
                joules += overlap * power
            covered_from = lo
        if covered_from > a and self._segments:  # began before the oldest kept segment: charged at its power
            joules += (covered_from - a) * self._segments[0][2]
        return joules

    def _observe(self, joules: float, tokens: int | None) -> None:
        self._bucket_counts[bisect.bisect_left(self.buckets, joules)] += 1
        self._sum_j += joules
        self._count += 1
        if tokens:
            self._tokens += int(tokens)

    def families(self) -> list[Family]:
        with self._lock:
            counts, total_j, n, tokens = list(self._bucket_counts), self._sum_j, self._count, self._tokens
            unattributed = self._unattributed_j
        samples: list[tuple[str, dict[str, str], float]] = []
        cumulative = 0
        for edge, c in zip((*self.buckets, float("inf")), counts, strict=True):
            cumulative += c
            samples.append(("_bucket", {"le": "+Inf" if edge == float("inf") else repr(edge)}, float(cumulative)))
        samples.append(("_sum", {}, total_j))
        samples.append(("_count", {}, float(n)))
        return [
            Family(
                "wattlens_request_energy_joules",
                "histogram",
                TOKENS_HELP if self.split == "tokens" else ATTRIBUTION_HELP,
                samples,
            ),
            Family(
                "wattlens_tokens",
                "counter",
                "Output tokens the app reported for finished requests (request.state.wattlens_tokens).",
                [("_total", {"kind": "output"}, float(tokens))],
            ),
            Family(
                "wattlens_unattributed_energy_joules",
                "counter",
                "Meter energy while no request was active (J): not charged to any request.",
                [("_total", {}, unattributed)],
            ),
        ]

    def close(self) -> None:
        """Stop the background tick and the meter."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.counters.close()


def by_tokens(charged: list[tuple[float, int | None]]) -> list[tuple[float, int | None]]:
    """Re-split the energy of the requests that reported tokens by their tokens (the total is kept); the others
    keep their time share.

    >>> by_tokens([(2.0, 1), (2.0, 3), (1.0, None)])
    [(1.0, 1), (3.0, 3), (1.0, None)]
    """
    weighted = [(j, t) for j, t in charged if t]
    total_tokens = sum(int(t) for _, t in weighted if t)
    if total_tokens <= 0:
        return charged
    pool = sum(j for j, _ in weighted)
    return [(pool * t / total_tokens, t) if t else (j, t) for j, t in charged]


_SHARED: dict[str, RequestEnergyLedger] = {}
_SHARED_LOCK = threading.Lock()


def shared_ledger(split: str = "time") -> RequestEnergyLedger:
    """One ledger (and one meter) per process and split, shared by every app that adds the middleware without its
    own."""
    with _SHARED_LOCK:
        if split not in _SHARED:
            _SHARED[split] = RequestEnergyLedger(EnergyCounters(), split=split)
        return _SHARED[split]


class EnergyMiddleware:
    """ASGI middleware: energy per request (histogram on ``metrics_path``), optional ``X-Energy-Joules`` header.

    Args:
        app: the ASGI app.
        ledger: the :class:`RequestEnergyLedger` to use (default: one per process over the machine's meter).
        metrics_path: where the app's ``/metrics`` is served (the exporter's series plus the request ones);
            ``None`` serves none (scrape a separate ``wattlens exporter``).
        header: add ``X-Energy-Joules`` — an estimate when the response headers leave: the request's share time so
            far x the last metered interval's power (absent before the first interval has been metered).
        split: ``time`` (fair share of active time) or ``tokens`` (then the requests finishing in the same metered
            interval that reported tokens share their energy by tokens: a long generation beside a short one is
            charged for its tokens, not just its time); ignored when ``ledger`` is given (it has its own).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ledger: RequestEnergyLedger | None = None,
        metrics_path: str | None = "/metrics",
        header: bool = False,
        split: str = "time",
    ) -> None:
        self.app = app
        self.ledger = ledger or shared_ledger(split)
        self.metrics_path = metrics_path
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.metrics_path is not None and scope.get("path") == self.metrics_path:
            await self._metrics(send)
            return
        ledger = self.ledger
        started = ledger.start()
        state = scope.setdefault("state", {})

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                joules = ledger.so_far(started)
                if joules is not None:  # none before the first metered interval: no figure rather than a guess
                    headers = list(message.get("headers", ()))
                    headers.append((HEADER, f"{joules:.6g}".encode("ascii")))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_header if self.header else send)
        finally:
            tokens = state.get("wattlens_tokens") if isinstance(state, dict) else None
            ledger.finish(started, tokens if isinstance(tokens, int) else None)

    async def _metrics(self, send: Send) -> None:
        ledger = self.ledger
        ledger.counters.tick()
        body = render([*exporter_families(ledger.counters.snapshot()), *ledger.families()]).encode("utf-8")
        headers = [(b"content-type", CONTENT_TYPE.encode("ascii")), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
