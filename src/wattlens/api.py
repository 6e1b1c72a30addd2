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

Embodied carbon of the hardware and water, off by default (the operational CO2e is never changed):

>>> with wattlens.measure("inference", country="FR", embodied=True, water=True, lifetime_years=5) as m:
...     _ = sum(i * i for i in range(100_000))
>>> r = m.result
>>> r.co2e_embodied_g > 0 and r.water_l > 0, r.to_dict()["embodied"]["amortisation"]["lifetime_years"]
(True, 5.0)

Everything is offline: carbon intensity comes from bundled tables (``country=`` / ``region=``; with
neither, the world average is used and the result says so). PUE defaults to 1.0 (node boundary), stated.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, overload

from wattlens.carbon.settings import CarbonSettings
from wattlens.meters.base import MeterError
from wattlens.tracking import IdleBaseline, Measurement, Monitor
from wattlens.tracking.lifecycle_fields import OFF, LifecycleOptions, lifecycle_options, measurement_fields
from wattlens.tracking.summary import MeasuredFootprint, build_record

if TYPE_CHECKING:
    from wattlens.carbon.footprint import Footprint

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "IdleBaseline",
    "MeasuredFootprint",
    "MeasuredFunction",
    "Measurement",
    "MeterError",
    "Monitor",
    "measure",
    "measured",
]


# Location, PUE and price resolved once, so that errors surface before the user's code runs (one class for
# measure, measured, the CLI and the integrations).
_Carbon = CarbonSettings


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


_STORES: dict[str, Any] = {}


_LIFECYCLE_KEYS = ("embodied", "water", "lifetime_years", "utilisation", "wue", "host", "host_share")


def _lifecycle(carbon: _Carbon, *values: Any) -> LifecycleOptions:
    """The embodied-carbon / water switches, checked now (a bad value raises before the measured code runs)."""
    embodied, water, lifetime_years, utilisation, wue, host, host_share = values
    return lifecycle_options(
        embodied=bool(embodied),
        water=bool(water),
        lifetime_years=lifetime_years,
        utilisation=utilisation,
        wue=wue,
        host=host,
        host_share=host_share,
        location=carbon.location,
    )


def _footprint(m: Measurement, carbon: _Carbon, lifecycle: LifecycleOptions, monitor: Monitor) -> MeasuredFootprint:
    """The window's footprint; with embodied carbon or water switched on, their fields in ``extra`` (a problem
    computing them is a note on the result, never an exception at the end of the user's block)."""
    fp = carbon.footprint(m)
    if not lifecycle.enabled:
        return MeasuredFootprint(m, fp)
    try:
        fields = measurement_fields(lifecycle, m, getattr(monitor, "sources", ()), fp, carbon.location)
    except Exception as exc:  # the block ran and was measured: the lifecycle figures are a bonus
        m.notes.append(f"lifecycle figures unavailable: {type(exc).__name__}: {exc}")
        return MeasuredFootprint(m, fp)
    return MeasuredFootprint(m, fp, extra=fields)


def _store_for(db: str | None) -> Any:
    """Open (once per process) the store a ``db=`` argument names, so that a bad one fails where it is given —
    at ``measure(...)`` / ``@measured(...)`` — and never when a measured block ends. Raises ``StoreError``."""
    if db is None:
        return None
    with _SHARED_LOCK:
        store = _STORES.get(db)
        if store is None:
            from wattlens.store import StoreError, open_store  # lazy: SQLAlchemy only when a database is asked for
            from wattlens.store.pending import mask_password

            try:
                store = open_store(db)
            except StoreError:
                raise
            except Exception as exc:  # the driver's own error (not a database file, read-only folder, ...)
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                raise StoreError(f"db={mask_password(db)!r}: cannot use this store ({reason})") from None
            _STORES[db] = store
        return store


def _save(db: str | None, store: Any, record: dict[str, Any]) -> None:
    """Save a record without ever raising into the user's code: a failed save is a warning, and the record is
    kept in the retry file (:mod:`wattlens.store.pending`) and saved with the next record that reaches ``db``."""
    if db is None or store is None:
        return
    import warnings

    from wattlens.store.pending import save_or_keep

    outcome = save_or_keep(db, record, store.save_measurement)
    if not outcome.saved:
        warnings.warn(f"wattlens: {outcome.message(db)}", RuntimeWarning, stacklevel=3)


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
        db: save the record to this store URL (``wattlens.store``). The store is opened here: a bad one raises
            ``wattlens.store.StoreError`` before the block runs. A save that fails when the block ends is a
            ``RuntimeWarning`` and the record is kept in the retry file (``wattlens.store.pending``) — never an
            exception replacing the block's own.

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
        embodied: bool = False,
        water: bool = False,
        lifetime_years: float | None = None,
        utilisation: float | None = None,
        wue: str | float | None = None,
        host: str | None = None,
        host_share: float | None = None,
    ) -> None:
        self.name = name
        self._carbon = _Carbon(country, region, intensity_g_per_kwh, pue, price_per_kwh, currency)
        self._lifecycle = _lifecycle(self._carbon, embodied, water, lifetime_years, utilisation, wue, host, host_share)
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
        self._store = _store_for(db)  # checked now: a bad store fails here, before the block runs
        self._window = f"{name}#{id(self):x}"  # unique: the same name may be measured in nested/parallel blocks
        self.result: MeasuredFootprint | None = None

    def __enter__(self) -> measure:
        if self._idle_s:
            self.monitor.measure_idle(self._idle_s)
        self.monitor.begin(self._window)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> Literal[False]:
        try:
            m = self.monitor.end(self._window)
            m.name = self.name
        finally:
            if self._own:
                self.monitor.close()
        if exc_type is not None:
            m.notes.append(f"the measured block raised {exc_type.__name__}")
        self.result = _footprint(m, self._carbon, self._lifecycle, self.monitor)
        _save(self._db, self._store, self.result.to_dict())
        return False  # never swallow, never replace, the block's own exception

    def __repr__(self) -> str:
        return f"<wattlens.measure {self.name!r} result={'set' if self.result else 'pending'}>"


class MeasuredFunction(Generic[P, R]):
    """A function measured on every call (what :func:`measured` returns): call it as the function.

    ``last_result`` is the latest call's :class:`MeasuredFootprint` (``None`` before the first call);
    ``monitor()`` the :class:`Monitor` its calls use, created on the first call and reused (it holds no
    thread between calls). The function's name, docstring and signature are kept (``functools.wraps``),
    and decorating a method works: ``obj.method(...)`` binds ``obj`` and ``obj.method.last_result`` reads
    the same attribute.
    """

    last_result: MeasuredFootprint | None

    def __init__(
        self,
        func: Callable[P, R],
        label: str,
        carbon: _Carbon,
        *,
        callback: Callable[[MeasuredFootprint], object] | None = None,
        monitor: Monitor | None = None,
        monitor_kwargs: dict[str, Any] | None = None,
        db: str | None = None,
        lifecycle: LifecycleOptions = OFF,
    ) -> None:
        functools.update_wrapper(self, func)
        self._lifecycle = lifecycle
        self.__wrapped__: Callable[P, R] = func
        self.label = label
        self.last_result = None
        self._carbon = carbon
        self._callback = callback
        self._monitor = monitor
        self._monitor_kwargs = monitor_kwargs or {}
        self._db = db
        self._store = _store_for(db)  # checked at decoration: a bad store fails here, not when a call returns
        self._calls = 0
        self._lock = threading.Lock()

    def monitor(self) -> Monitor:
        """The Monitor this function's calls use (created on first use)."""
        if self._monitor is None:
            with self._lock:
                if self._monitor is None:
                    kw = self._monitor_kwargs
                    self._monitor = Monitor(
                        kw.get("sources"), kw.get("attribution", "machine"), cpu_tdp_w=kw.get("cpu_tdp_w")
                    )
        return self._monitor

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        mon = self.monitor()
        with self._lock:
            self._calls += 1
            # recursion and threads: a second window under the same name gets a unique one
            window = self.label if self.label not in mon.open_windows else f"{self.label}#{self._calls}"
        mon.begin(window)
        failed = None
        try:
            return self.__wrapped__(*args, **kwargs)
        except BaseException as exc:
            failed = type(exc).__name__
            raise
        finally:
            m = mon.end(window)
            m.name = self.label
            if failed:
                m.notes.append(f"the call raised {failed}")
            result = _footprint(m, self._carbon, self._lifecycle, mon)
            self.last_result = result
            _save(self._db, self._store, result.to_dict())
            if self._callback is not None:
                self._callback(result)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        """Bind like a function when it decorates a method (the bound method forwards ``last_result``)."""
        return self if instance is None else types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<wattlens.measured {self.label!r} calls={self._calls}>"


@overload
def measured(name: Callable[P, R]) -> MeasuredFunction[P, R]: ...


@overload
def measured(
    name: str | None = None,
    *,
    callback: Callable[[MeasuredFootprint], object] | None = None,
    **measure_kwargs: Any,
) -> Callable[[Callable[P, R]], MeasuredFunction[P, R]]: ...


def measured(
    name: str | Callable[P, R] | None = None,
    *,
    callback: Callable[[MeasuredFootprint], object] | None = None,
    **measure_kwargs: Any,
) -> MeasuredFunction[P, R] | Callable[[Callable[P, R]], MeasuredFunction[P, R]]:
    """Decorator: measure every call; the latest result is ``func.last_result``; ``callback(result)`` if given.

    Returns a :class:`MeasuredFunction`. One Monitor is created on the first call and reused (it holds no
    thread between calls). Accepts the keyword arguments of :class:`measure` (country, region, pue,
    price_per_kwh, currency, attribution, ...); bad carbon inputs raise at decoration time.

    >>> @measured(country="DE")
    ... def work():
    ...     return sum(range(1000))
    >>> work(); work.last_result.footprint.location["key"]
    499500
    'DEU'
    """
    if callable(name):  # bare @measured
        return measured()(name)

    carbon_keys = ("country", "region", "intensity_g_per_kwh", "pue", "price_per_kwh", "currency")
    carbon = _Carbon(*(measure_kwargs.get(k) for k in carbon_keys))
    monitor_keys = ("sources", "attribution", "cpu_tdp_w")
    monitor_kwargs: dict[str, Any] = {k: measure_kwargs[k] for k in monitor_keys if k in measure_kwargs}
    label = name if isinstance(name, str) else None
    life = _lifecycle(carbon, *(measure_kwargs.get(k) for k in _LIFECYCLE_KEYS))

    def decorate(func: Callable[P, R]) -> MeasuredFunction[P, R]:
        return MeasuredFunction(
            func,
            label or str(getattr(func, "__qualname__", "call")),
            carbon,
            callback=callback,
            monitor=measure_kwargs.get("monitor"),
            monitor_kwargs=monitor_kwargs,
            db=measure_kwargs.get("db"),
            lifecycle=life,
        )

    return decorate


def record(m: Measurement, footprint: Footprint | None = None, **extra: Any) -> dict[str, Any]:
    """The flat JSON record of a Measurement (+ footprint) — what ``wattlens measure --json`` prints."""
    return build_record(m, footprint, extra or None)
