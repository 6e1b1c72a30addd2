"""Serving fleets: the meter in front of a model server (``pip install 'wattlens[serving]'``).

* :mod:`wattlens.serving.counters` — monotonic joule counters over the meter (wrap-safe, kept across meter restarts);
* :mod:`wattlens.serving.exporter` — ``/metrics`` for Prometheus (``wattlens exporter``);
* :mod:`wattlens.serving.otel` — the same readings as OpenTelemetry ``hw.energy``/``hw.power`` over OTLP/HTTP;
* :mod:`wattlens.serving.middleware` — :class:`EnergyMiddleware`, energy per request for Starlette/FastAPI apps;
* :mod:`wattlens.serving.loadtest` — ``wattlens loadtest``: steady-state J/request and J/token of an endpoint.

Nothing here is imported by ``import wattlens``; prometheus_client is never needed (the text format is written
directly), opentelemetry only by the OTLP bridge.

>>> from wattlens.serving import EnergyMiddleware
>>> EnergyMiddleware.__name__
'EnergyMiddleware'
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

_EXPORTS = {
    "EnergyCounters": "wattlens.serving.counters",
    "Exporter": "wattlens.serving.exporter",
    "EnergyMiddleware": "wattlens.serving.middleware",
    "OtlpBridge": "wattlens.serving.otel",
    "LoadTestConfig": "wattlens.serving.loadtest",
    "LoadTestResult": "wattlens.serving.loadtest",
    "run_loadtest": "wattlens.serving.loadtest",
}
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
__all__ = sorted(_EXPORTS)
