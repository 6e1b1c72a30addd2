"""The public facade: ``wattlens.measure`` (context manager), ``wattlens.measured`` (decorator), ``Monitor``.

>>> import wattlens
>>> with wattlens.measure("inference", country="FR", pue=1.2) as m:
...     _ = sum(i * i for i in range(100_000))
>>> r = m.result
>>> r.measurement.source, r.footprint.location["key"], r.footprint.pue
('estimated', 'FRA', 1.2)
>>> print(r)  # doctest: +SKIP
inference: 0.012 s, 0.13 J [0.01, 0.14] (estimated, machine)
  cpu ...
  carbon: 0.0017 gCO2e [...] at FRA 44.18 g/kWh (lifecycle), PUE 1.2 (argument), cost not set

>>> @wattlens.measured("predict")
... def predict(x):
...     return x * 2
>>> predict(21)
42
>>> predict.last_result.measurement.name
'predict'

Everything is offline: carbon intensity comes from bundled tables (``country=`` / ``region=``; with
neither, the world average is used and the result says so). PUE defaults to 1.0 (node boundary), stated.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from wattlens.meters.base import MeterError
from wattlens.tracking import IdleBaseline, Measurement, Monitor
from wattlens.tracking.summary import MeasuredFootprint, build_record

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["IdleBaseline", "MeasuredFootprint", "Measurement", "MeterError", "Monitor", "measure", "measured"]


class _Carbon:
    """Resolved once (location, PUE, price) so that errors surface before the user's code runs."""

    def __init__(self, country, region, intensity_g_per_kwh, pue, price_per_kwh, currency) -> None:
        from wattlens.carbon import resolve_location, resolve_price, resolve_pue

        self.location = resolve_location(country=country, region=region, intensity_g_per_kwh=intensity_g_per_kwh)
        self.pue = resolve_pue(pue, self.location)
        resolve_price(price_per_kwh, currency)  # validate now; footprint() resolves it again (cheap)
        self.price_per_kwh = price_per_kwh
        self.currency = currency

    def footprint(self, m: Measurement) -> Any:
        """The footprint of ``m``; ``None`` (and a note on ``m``) if it cannot be computed — never an exception
        out of the user's ``with`` block for a measurement problem (the inputs were validated up front)."""
        from wattlens.carbon import footprint

        try:
            return footprint(
                m.energy_j,
                m.low_j,
                m.high_j,
                location=self.location,
                pue=self.pue,
                price_per_kwh=self.price_per_kwh,
                currency=self.currency,
            )
        except Exception as exc:  # a meter-side oddity (e.g. a non-finite reading) must not break the user's code
            m.notes.append(f"carbon footprint unavailable: {type(exc).__name__}: {exc}")
            return None


_SHARED: dict[tuple[Any, ...], Monitor] = {}
_SHARED_LOCK = threading.Lock()


def _shared_monitor(sources: list[Any] | None, attribution: str, cpu_tdp_w: float | None) -> Monitor:
    """One Monitor per (source names, attribution, TDP) for ``measure`` blocks that bring none."""
    key = (None if sources is None else tuple(sources), attribution, cpu_tdp_w)
    with _SHARED_LOCK:
        mon = _SHARED.get(key)
        if mon is None or mon._closed:
            mon = _SHARED[key] = Monitor(sources, attribution, cpu_tdp_w=cpu_tdp_w)
        return mon


def _save(db: str | None, record: dict[str, Any]) -> None:
    if db is None:
        return
    from wattlens.store import open_store  # lazy: SQLAlchemy only when a database is asked for

    open_store(db).save_measurement(record)


class measure:
    """Measure a block: energy per component (source + interval), gross/idle/net, and its carbon footprint.

    Args:
        name: window name (shown in results).
        country / region / intensity_g_per_kwh: where the electricity comes from (bundled offline tables;
            nothing given -> world average, stated). Bad values raise ``wattlens.carbon.CarbonError`` at once.
        pue: 1.0-3.0, or ``"provider"`` with a cloud region; default 1.0 (node boundary), stated.
        price_per_kwh, currency: cost is reported only when a price is given.
        monitor: an existing :class:`Monitor` to use (else one is created and closed afterwards).
        sources, attribution, cpu_tdp_w: passed to the Monitor created here.
        idle_baseline_s: measure the idle baseline for this long first (gives ``net_j``).
        db: save the record to this store URL (``wattlens.store``).

    After the block, ``.result`` is a :class:`MeasuredFootprint` (``.measurement``, ``.footprint``,
    ``.to_dict()``). The block's exception, if any, propagates; the result is still set.
    """

    def __init__(
        self,
        name: str = "measure",
        *,
        country: str | None = None,
        region: str | None = None,
        intensity_g_per_kwh: float | None = None,
        pue: float | str | None = None,
        price_per_kwh: float | None = None,
        currency: str | None = None,
        monitor: Monitor | None = None,
        sources: list[Any] | None = None,
        attribution: str = "machine",
        cpu_tdp_w: float | None = None,
        idle_baseline_s: float | None = None,
        db: str | None = None,
    ) -> None:
        self.name = name
        self._carbon = _Carbon(country, region, intensity_g_per_kwh, pue, price_per_kwh, currency)
        # An idle baseline changes the monitor's state: it gets a monitor of its own (closed afterwards).
        # Otherwise a process-wide monitor per configuration is reused, so that `measure` in a loop costs
        # a window (µs), not a source discovery (ms) each time; it holds no thread between windows.
        shareable = sources is None or all(isinstance(s, str) for s in sources)  # source objects: not shared
        self._own = monitor is None and (bool(idle_baseline_s) or not shareable)
        if monitor is not None:
            self.monitor = monitor
        elif self._own:
            self.monitor = Monitor(sources, attribution, cpu_tdp_w=cpu_tdp_w)
        else:
            self.monitor = _shared_monitor(sources, attribution, cpu_tdp_w)
        self._idle_s = idle_baseline_s
        self._db = db
        self._window = f"{name}#{id(self):x}"  # unique: the same name may be measured in nested/parallel blocks
        self.result: MeasuredFootprint | None = None

    def __enter__(self) -> measure:
        if self._idle_s:
            self.monitor.measure_idle(self._idle_s)
        self.monitor.begin(self._window)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            m = self.monitor.end(self._window)
            m.name = self.name
        finally:
            if self._own:
                self.monitor.close()
        if exc_type is not None:
            m.notes.append(f"the measured block raised {exc_type.__name__}")
        self.result = MeasuredFootprint(m, self._carbon.footprint(m))
        _save(self._db, self.result.to_dict())
        return False

    def __repr__(self) -> str:
        return f"<wattlens.measure {self.name!r} result={'set' if self.result else 'pending'}>"


def measured(
    name: str | Callable[..., Any] | None = None,
    *,
    callback: Callable[[MeasuredFootprint], Any] | None = None,
    **measure_kwargs: Any,
) -> Any:
    """Decorator: measure every call; the latest result is ``func.last_result``; ``callback(result)`` if given.

    One Monitor is created on the first call and reused (it holds no thread between calls). Accepts the
    keyword arguments of :class:`measure` (country, region, pue, price_per_kwh, currency, attribution, ...).

    >>> @measured(country="DE")
    ... def work():
    ...     return sum(range(1000))
    >>> work(); work.last_result.footprint.location["key"]
    499500
    'DEU'
    """
    if callable(name):  # bare @measured
        return measured()(name)

    def decorate(func: F) -> F:
        label = name or getattr(func, "__qualname__", "call")
        carbon_keys = ("country", "region", "intensity_g_per_kwh", "pue", "price_per_kwh", "currency")
        carbon = _Carbon(*(measure_kwargs.get(k) for k in carbon_keys))
        mon_kwargs = {k: measure_kwargs[k] for k in ("sources", "attribution", "cpu_tdp_w") if k in measure_kwargs}
        given_monitor = measure_kwargs.get("monitor")
        db = measure_kwargs.get("db")
        state: dict[str, Any] = {"monitor": given_monitor, "n": 0}
        lock = threading.Lock()

        def monitor() -> Monitor:
            if state["monitor"] is None:
                with lock:
                    if state["monitor"] is None:
                        state["monitor"] = Monitor(
                            mon_kwargs.get("sources"),
                            mon_kwargs.get("attribution", "machine"),
                            cpu_tdp_w=mon_kwargs.get("cpu_tdp_w"),
                        )
            return state["monitor"]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            mon = monitor()
            with lock:
                state["n"] += 1
                window = label if label not in mon.open_windows else f"{label}#{state['n']}"  # recursion/threads
            mon.begin(window)
            failed = None
            try:
                return func(*args, **kwargs)
            except BaseException as exc:
                failed = type(exc).__name__
                raise
            finally:
                m = mon.end(window)
                m.name = label
                if failed:
                    m.notes.append(f"the call raised {failed}")
                result = MeasuredFootprint(m, carbon.footprint(m))
                wrapper.last_result = result  # type: ignore[attr-defined]
                _save(db, result.to_dict())
                if callback is not None:
                    callback(result)

        wrapper.last_result = None  # type: ignore[attr-defined]
        wrapper.monitor = monitor  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def record(m: Measurement, footprint: Any = None, **extra: Any) -> dict[str, Any]:
    """The flat JSON record of a Measurement (+ footprint) — what ``wattlens measure --json`` prints."""
    return build_record(m, footprint, extra or None)
