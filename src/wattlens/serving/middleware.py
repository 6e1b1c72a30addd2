"""``EnergyMiddleware``: energy per request for any ASGI app (Starlette, FastAPI), on ``/metrics`` and in a header.

Attribution (stated in the metric's help and docs/SERVING.md): the meter's window is closed and reopened at every
request's start and end (and when the response headers leave, for the header), so between two such edges the set
of requests in flight is constant; the energy of that interval is shared equally among them — each request is
charged by its **active time**, weighted by how many others were active with it (a fair-share clock: a request
alone for 10 ms gets all of those 10 ms' energy, two together share it half and half). The sum over requests
equals the energy metered while at least one request was active; energy with none active is counted in
``wattlens_unattributed_energy_joules_total``. When the app reports tokens (``request.state.wattlens_tokens = n``,
or ``scope["state"]["wattlens_tokens"]``), they are added to ``wattlens_tokens_total`` so that J/token is
``rate(wattlens_request_energy_joules_sum) / rate(wattlens_tokens_total)``; the split between requests stays by
active time.

The energy is the meter's whole boundary (node-level where a sensor measures the node, see
:func:`wattlens.serving.counters.default_monitor`): gross, idle included.

>>> from starlette.applications import Starlette
>>> app = Starlette()
>>> app.add_middleware(EnergyMiddleware, header=True)
"""

from __future__ import annotations

import bisect
import threading
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
    "Energy attributed to each request (J): every interval between request edges is shared equally among the "
    "requests active in it (active time, fair share); gross meter energy, idle included."
)


class RequestEnergyLedger:
    """The fair-share clock: cumulative energy per active request, the histogram, tokens, unattributed energy."""

    def __init__(self, counters: EnergyCounters, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.counters = counters
        self.buckets = tuple(sorted(buckets))
        self._bucket_counts = [0] * (len(self.buckets) + 1)  # the last is +Inf
        self._sum_j = 0.0
        self._count = 0
        self._tokens = 0
        self._active = 0
        self._per_request_j = 0.0  # Σ interval energy / requests active in it
        self._unattributed_j = 0.0
        self._lock = threading.Lock()  # histogram updates (the clock itself runs under the counters' lock)
        counters.add_listener(self._on_tick)

    def _on_tick(self, duration_s: float, energy_j: float) -> None:
        if self._active > 0:
            self._per_request_j += energy_j / self._active
        else:
            self._unattributed_j += energy_j

    def _enter(self) -> float:
        self._active += 1
        return self._per_request_j

    def _leave(self) -> float:
        self._active -= 1
        return self._per_request_j

    def start(self) -> float:
        """A request begins: the clock's reading, to subtract at its end."""
        return self.counters.tick(self._enter) or 0.0

    def so_far(self, started: float) -> float:
        """Energy attributed to a still-active request since ``started`` (ticks the meter)."""
        now = self.counters.tick(lambda: self._per_request_j) or started
        return max(0.0, now - started)

    def finish(self, started: float, tokens: int | None) -> float:
        """A request ends: its energy (J), recorded in the histogram."""
        now = self.counters.tick(self._leave) or started
        energy = max(0.0, now - started)
        with self._lock:
            self._bucket_counts[bisect.bisect_left(self.buckets, energy)] += 1
            self._sum_j += energy
            self._count += 1
            if tokens:
                self._tokens += int(tokens)
        return energy

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
            Family("wattlens_request_energy_joules", "histogram", ATTRIBUTION_HELP, samples),
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


_SHARED: dict[str, RequestEnergyLedger] = {}
_SHARED_LOCK = threading.Lock()


def shared_ledger() -> RequestEnergyLedger:
    """One ledger (and one meter) per process, shared by every app that adds the middleware without its own."""
    with _SHARED_LOCK:
        if "default" not in _SHARED:
            _SHARED["default"] = RequestEnergyLedger(EnergyCounters())
        return _SHARED["default"]


class EnergyMiddleware:
    """ASGI middleware: energy per request (histogram on ``metrics_path``), optional ``X-Energy-Joules`` header.

    Args:
        app: the ASGI app.
        ledger: the :class:`RequestEnergyLedger` to use (default: one per process over the machine's meter).
        metrics_path: where the app's ``/metrics`` is served (the exporter's series plus the request ones);
            ``None`` serves none (scrape a separate ``wattlens exporter``).
        header: add ``X-Energy-Joules`` — the energy attributed up to the moment the response headers leave (for
            a non-streamed response, all of its work; for a streamed one, up to its first byte).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        ledger: RequestEnergyLedger | None = None,
        metrics_path: str | None = "/metrics",
        header: bool = False,
    ) -> None:
        self.app = app
        self.ledger = ledger or shared_ledger()
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
