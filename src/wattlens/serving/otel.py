"""The exporter's readings as OpenTelemetry metrics, pushed over OTLP/HTTP to a collector.

OpenTelemetry's hardware semantic conventions:

* ``hw.energy`` (counter, J) and ``hw.power`` (gauge, W) per component, with ``hw.type`` (``cpu``, ``memory``,
  ``gpu``, ``soc``) and ``hw.id`` (the component: ``cpu``, ``gpu0``, ...), plus ``wattlens.source`` and
  ``wattlens.method`` (how the figure was obtained);
* ``hw.host.energy`` / ``hw.host.power`` — the whole host (the sum of the components), as their own metrics, so that
  a dashboard summing ``hw.energy`` over components and one reading the host total never count anything twice.

Cumulative temporality (the counters only grow, as on ``/metrics``). The collector URL is the OTLP/HTTP base
(``http://127.0.0.1:4318``); ``/v1/metrics`` is appended when missing.

>>> from wattlens.tracking import Monitor
>>> from wattlens.serving.counters import EnergyCounters
>>> bridge = OtlpBridge(EnergyCounters(lambda: Monitor(sources=["estimator"])), "http://127.0.0.1:9/")
>>> bridge.endpoint
'http://127.0.0.1:9/v1/metrics'
>>> bridge.close(flush=False)
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from wattlens._logging import get_logger
from wattlens.errors import WattlensError
from wattlens.serving.counters import CounterKey, EnergyCounters

logger = get_logger(__name__)


class OtlpError(WattlensError, ValueError):
    """The collector URL is not usable (the message names ``--otlp`` and what is allowed)."""


def otlp_endpoint(url: str) -> str:
    """The OTLP/HTTP metrics endpoint of a collector base URL, or :class:`OtlpError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OtlpError(f"--otlp {url!r}: an http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise OtlpError(f"--otlp {url!r}: the port must be a number in 1..65535") from None
    path = parts.path.rstrip("/")
    return url.rstrip("/") if path.endswith("/v1/metrics") else url.rstrip("/") + "/v1/metrics"


def _hw_attributes(key: CounterKey) -> dict[str, str]:
    return {
        "hw.type": key.domain,
        "hw.id": f"{key.domain}{key.device}"
        if key.device and not key.device.startswith(key.domain)
        else key.device or key.domain,
        "wattlens.source": key.source,
        "wattlens.method": key.method,
    }


class OtlpBridge:
    """Observable OpenTelemetry instruments over :class:`EnergyCounters`, exported every ``interval_s``."""

    def __init__(self, counters: EnergyCounters, url: str, interval_s: float = 10.0, timeout_s: float = 5.0) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource

        self.endpoint = otlp_endpoint(url)
        self.counters = counters
        exporter = OTLPMetricExporter(endpoint=self.endpoint, timeout=timeout_s)
        self._reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_s * 1000)
        resource = Resource.create({"service.name": "wattlens-exporter", "host.name": socket.gethostname()})
        self._provider = MeterProvider(resource=resource, metric_readers=[self._reader])
        meter = self._provider.get_meter("wattlens")
        meter.create_observable_counter("hw.energy", [self._energy], unit="J", description="Energy per component")
        meter.create_observable_gauge("hw.power", [self._power], unit="W", description="Power per component")
        meter.create_observable_counter("hw.host.energy", [self._host_energy], unit="J", description="Host energy")
        meter.create_observable_gauge("hw.host.power", [self._host_power], unit="W", description="Host power")

    def _observations(self, values: Iterable[tuple[CounterKey, float]]) -> list[Any]:
        from opentelemetry.metrics import Observation

        return [Observation(v, _hw_attributes(k)) for k, v in values]

    def _energy(self, _options: Any) -> list[Any]:
        self.counters.tick()
        return self._observations((k, t.energy_j) for k, t in self.counters.snapshot().energy.items())

    def _power(self, _options: Any) -> list[Any]:
        return self._observations(self.counters.snapshot().power_w.items())

    def _host_energy(self, _options: Any) -> list[Any]:
        from opentelemetry.metrics import Observation

        view = self.counters.snapshot()
        return [Observation(sum(t.energy_j for t in view.energy.values()), {"wattlens.boundary": "device"})]

    def _host_power(self, _options: Any) -> list[Any]:
        from opentelemetry.metrics import Observation

        view = self.counters.snapshot()
        if not view.power_w:
            return []
        return [Observation(sum(view.power_w.values()), {"wattlens.boundary": "device"})]

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export now (the tests and the exporter's clean exit)."""
        return bool(self._provider.force_flush(int(timeout_s * 1000)))

    def close(self, flush: bool = True) -> None:
        try:
            if flush:
                self.flush()
            self._provider.shutdown(timeout_millis=5000)
        except Exception:  # an unreachable collector at exit costs a log line, not a traceback
            logger.debug("OTLP shutdown failed", exc_info=True)
