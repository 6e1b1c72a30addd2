"""``wattlens exporter``: the meter's cumulative energy on ``/metrics`` for Prometheus (pull mode, like Kepler).

Series (base units, Prometheus naming; the table is in docs/SERVING.md):

=========================================  =======  ==========================================================
``wattlens_energy_joules_total``           counter  energy since the exporter started, per domain/device/source/method
``wattlens_energy_low_joules_total``       counter  the low end of its interval (sum of every window's low end)
``wattlens_energy_high_joules_total``      counter  the high end of its interval
``wattlens_energy_mode_joules_total``      counter  the same energy split into ``mode="idle"`` and ``mode="active"``
``wattlens_power_watts``                   gauge    mean power over the last full interval (1 s by default)
``wattlens_up``                            gauge    1 when the component was read at the last tick, else 0 + ``reason``
``wattlens_meter_info``                    gauge    1, labelled with the meter, its sources, attribution, boundary
``wattlens_meter_restarts_total``          counter  how often the meter failed and was rebuilt (counters kept)
``wattlens_process_energy_joules_total``   counter  ``--processes``: CPU energy attributed to each live process
=========================================  =======  ==========================================================

Only ``/metrics`` is served (GET/HEAD); every other path is 404. The socket binds 127.0.0.1 unless told otherwise.

>>> from wattlens.tracking import Monitor
>>> exp = Exporter(EnergyCounters(lambda: Monitor(sources=["estimator"])))
>>> "wattlens_energy_joules_total" in exp.scrape()
True
>>> exp.close()
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wattlens._logging import get_logger
from wattlens.errors import WattlensError
from wattlens.serving.counters import CountersView, EnergyCounters, ProcessTotal
from wattlens.serving.promtext import CONTENT_TYPE, Family, render

logger = get_logger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464  # the port OpenTelemetry's Prometheus exporter registered; the example
METRICS_PATH = "/metrics"


class ExporterError(WattlensError, OSError):
    """The exporter cannot start (address in use, not an address here); the message says what to do."""


def _device(device: str) -> str:
    return device or "all"


def _process_labels(p: ProcessTotal) -> dict[str, str]:
    where = {"domain": p.domain, "device": _device(p.device)}
    return {"pid": str(p.pid), "comm": p.comm, **where, "attributed": p.attributed}


def families(view: CountersView) -> list[Family]:
    """The exporter's metric families from one consistent view of the counters."""
    energy, low, high, mode, power = [], [], [], [], []
    for k, t in sorted(view.energy.items(), key=lambda kv: (kv[0].domain, kv[0].device, kv[0].method)):
        labels = {"domain": k.domain, "device": _device(k.device), "source": k.source, "method": k.method}
        energy.append(("_total", labels, t.energy_j))
        low.append(("_total", labels, t.low_j))
        high.append(("_total", labels, t.high_j))
        where = {"domain": k.domain, "device": _device(k.device)}
        mode.append(("_total", {**where, "mode": "idle", "idle_basis": view.idle_basis}, t.idle_j))
        mode.append(("_total", {**where, "mode": "active", "idle_basis": view.idle_basis}, t.active_j))
        if k in view.power_w:
            power.append(("", labels, view.power_w[k]))
    up = [
        ("", {"domain": d, "device": _device(dev), "reason": h.reason}, float(h.up))
        for (d, dev), h in sorted(view.health.items())
    ]
    info = {"meter": "wattlens", **view.meter, "idle_basis": view.idle_basis}
    procs = [("_total", _process_labels(p), p.energy_j) for p in view.processes]
    return [
        Family("wattlens_energy_joules", "counter", "Energy since the exporter started (J), per component.", energy),
        Family("wattlens_energy_low_joules", "counter", "Low end of the energy interval (J).", low),
        Family("wattlens_energy_high_joules", "counter", "High end of the energy interval (J).", high),
        Family(
            "wattlens_energy_mode_joules",
            "counter",
            "Energy split into idle (idle power x time; idle_basis says where the idle power came from) and active.",
            mode,
        ),
        Family("wattlens_power_watts", "gauge", "Mean power over the last full interval (W).", power),
        Family("wattlens_up", "gauge", "1 when the component was read at the last tick; 0 with the reason.", up),
        Family("wattlens_meter_info", "gauge", "The meter behind these series (always 1).", [("", info, 1.0)]),
        Family(
            "wattlens_meter_restarts",
            "counter",
            "Times the meter failed and was rebuilt; the energy counters carry on.",
            [("_total", {}, float(view.restarts))],
        ),
        Family(
            "wattlens_process_energy_joules",
            "counter",
            "Energy attributed to a live process (J; attributed): CPU by its share of the machine's busy CPU time, "
            "a GPU by its share of the device's SM utilisation samples (NVML).",
            procs,
        ),
    ]


class Exporter:
    """The counters, a 1 Hz background tick (power gauge, idle split, OTLP) and the scrape path."""

    def __init__(
        self,
        counters: EnergyCounters,
        interval_s: float = 1.0,
        extra: Callable[[], list[Family]] | None = None,
    ) -> None:
        self.counters = counters
        self.interval_s = interval_s
        self._extra = extra
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background tick (daemon thread; stopped by :meth:`close`)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wattlens-exporter-tick", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.counters.tick()

    def scrape(self) -> str:
        """Bring the counters up to this instant and render them (the body of ``GET /metrics``)."""
        self.counters.tick()
        fams = families(self.counters.snapshot())
        if self._extra is not None:
            fams.extend(self._extra())
        return render(fams)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.counters.close()


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        server_version = "wattlens-exporter"
        sys_version = ""

        def _send(self, head_only: bool) -> None:
            if self.path.split("?", 1)[0] != METRICS_PATH:
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = exporter.scrape().encode("utf-8")
            except Exception as exc:  # the scrape must answer even if rendering failed
                logger.warning("scrape failed: %s", exc)
                self.send_error(500, "scrape failed")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(False)

        def do_HEAD(self) -> None:
            self._send(True)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    return MetricsHandler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(exporter: Exporter, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A bound HTTP server for ``/metrics`` (call ``serve_forever``), or :class:`ExporterError` saying why not."""
    _Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return _Server((host, port), _handler(exporter))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ExporterError(f"--port {port}: already in use on {host}; choose another port") from None
        if exc.errno == errno.EACCES:
            raise ExporterError(f"--port {port}: ports below 1024 need root; choose a port >= 1024") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise ExporterError(f"--host {host}: not an address of this machine") from None
        raise ExporterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
