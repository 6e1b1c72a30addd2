"""Named, nested and overlapping measurement windows over every energy source of the machine.

>>> from wattlens.tracking import Monitor
>>> with Monitor(sources=["estimator"]) as mon:
...     mon.begin("epoch")
...     with mon.window("step") as w:
...         _ = sum(range(10_000))
...     m = mon.end("epoch")
>>> m.source, w.result.name
('estimated', 'step')

Design (why it is cheap and safe):

* A window edge is one ``time.monotonic()`` plus each source's ``snapshot()`` (counter reads only); the
  window's energy is ``delta(begin, end)`` per source. Nothing polls unless a source asks for it through
  ``sample_period_s()``; then one shared sampler thread runs while at least one window is open, and stops
  when the last one closes or at ``close()``.
* ``time.monotonic`` for durations: wall-clock jumps (NTP, DST) cannot distort a window.
* Meter failures never raise into user code: a snapshot or delta that fails becomes a component with
  ``source="unavailable"`` and the reason. Only user errors raise :class:`MeterError` (ending a window
  that was never begun, a bad argument, using a closed monitor).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from wattlens.meters.base import (
    DOMAIN_CPU,
    DOMAIN_MEMORY,
    DOMAIN_SOC,
    ESTIMATED,
    SOURCE_RANK,
    UNAVAILABLE,
    ComponentEnergy,
    EnergySource,
    MeterError,
    Snapshot,
)
from wattlens.tracking.result import ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS, IdleBaseline, Measurement

ATTRIBUTIONS = (ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS)
IDLE_WINDOW = "__wattlens_idle__"
MAX_IDLE_S = 3600.0
_SHARED_DOMAINS = (DOMAIN_CPU, DOMAIN_MEMORY, DOMAIN_SOC)  # process attribution scales these


def _overrides(src: EnergySource, method: str) -> bool:
    return getattr(type(src), method, None) is not getattr(EnergySource, method)


class _ProcessShare:
    """This process tree's share of all CPU time used on the machine (for measured package energy).

    Read only at window edges and only in ``attribution="process"`` with a measured CPU/DRAM/SoC source.
    """

    def __init__(self) -> None:
        import psutil  # lazy: only process attribution over a sensor needs it

        self._psutil = psutil
        self._proc = psutil.Process()

    def read(self) -> tuple[float, float] | None:
        try:
            p = self._proc.cpu_times()
            s = self._psutil.cpu_times()
            mine = p.user + p.system + getattr(p, "children_user", 0.0) + getattr(p, "children_system", 0.0)
            busy = sum(v for k, v in s._asdict().items() if k not in ("idle", "iowait", "guest", "guest_nice"))
            return mine, busy
        except Exception:  # noqa: BLE001 - no share -> the note says so, energy stays machine-level
            return None

    @staticmethod
    def share(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
        if a is None or b is None:
            return None
        busy = b[1] - a[1]
        if busy <= 0:
            return None
        return min(max((b[0] - a[0]) / busy, 0.0), 1.0)


class Window:
    """What ``Monitor.window(name)`` returns: a context manager whose ``result`` is set on exit."""

    __slots__ = ("monitor", "name", "result")

    def __init__(self, monitor: Monitor, name: str) -> None:
        self.monitor = monitor
        self.name = name
        self.result: Measurement | None = None

    def __enter__(self) -> Window:
        self.monitor.begin(self.name)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.result = self.monitor.end(self.name)
        if exc_type is not None:
            self.result.notes.append(f"the measured block raised {exc_type.__name__}")
        return False  # never swallow the user's exception


class Monitor:
    """Energy windows over the auto-discovered sources (or the ones named).

    Args:
        sources: ``None`` = discover (RAPL, NVML, amdsmi, Apple; the estimator for whatever is left),
            or a list of names / :class:`EnergySource` objects.
        attribution: ``"machine"`` (all the devices drew) or ``"process"`` (CPU/DRAM/SoC energy times this
            process tree's CPU-time share; the estimator charges only this process's share of idle power).
        cpu_tdp_w, cpu_threads: user-given CPU figures for the estimator (labelled as user-given).
        idle: an :class:`IdleBaseline` to apply (else call :meth:`measure_idle`).
    """

    def __init__(
        self,
        sources: list[str | EnergySource] | tuple[str | EnergySource, ...] | None = None,
        attribution: str = ATTRIBUTION_MACHINE,
        *,
        cpu_tdp_w: float | None = None,
        cpu_threads: int | None = None,
        idle: IdleBaseline | None = None,
    ) -> None:
        if attribution not in ATTRIBUTIONS:
            raise MeterError(f"attribution must be one of {ATTRIBUTIONS}, got {attribution!r}")
        if isinstance(sources, (str, EnergySource)):
            sources = [sources]
        from wattlens.meters.discovery import discover

        found = discover(sources, attribution=attribution, cpu_tdp_w=cpu_tdp_w, cpu_threads=cpu_threads)
        self.attribution = attribution
        self.idle = idle
        self.statuses = found.statuses
        self._sources: tuple[EnergySource, ...] = tuple(found.sources)
        self._edge_hooks = tuple(s for s in self._sources if _overrides(s, "before_edge"))
        self._sampled = tuple(s for s in self._sources if self._period(s) is not None)
        self._open: dict[str, tuple[float, float, list[Snapshot], Any]] = {}
        self._lock = threading.Lock()
        self._sampler: Any = None
        self._closed = False
        self._share = self._make_share()
        self._notes = self._static_notes()

    # ---- set-up helpers ------------------------------------------------------------------------
    @staticmethod
    def _period(src: EnergySource) -> float | None:
        try:
            return src.sample_period_s()
        except Exception:  # noqa: BLE001 - a source that cannot say is read at edges only
            return None

    def _make_share(self) -> _ProcessShare | None:
        if self.attribution != ATTRIBUTION_PROCESS:
            return None
        sensed = [
            s for s in self._sources
            if getattr(s, "name", "") != "estimator" and not s.__class__.__name__.startswith("Unavailable")
        ]
        if not sensed:
            return None
        try:
            return _ProcessShare()
        except Exception:  # noqa: BLE001 - psutil missing: stated in the notes
            return None

    def _static_notes(self) -> list[str]:
        notes = []
        if self.attribution == ATTRIBUTION_PROCESS:
            notes.append(
                "attribution=process: measured CPU/DRAM/SoC energy x this process tree's share of all CPU time "
                "used on the machine in the window; estimated CPU energy charges only this process's CPU time "
                "(idle share = P_idle x CPU time); GPU energy counted whole for the GPUs this process can see"
            )
        else:
            notes.append("attribution=machine: everything the counted devices drew during the window")
        for st in self.statuses:
            if not st.available and st.name != "estimator":
                notes.append(f"{st.name}: not used ({st.detail})")
        return notes

    # ---- introspection -------------------------------------------------------------------------
    @property
    def sources(self) -> tuple[EnergySource, ...]:
        return self._sources

    @property
    def open_windows(self) -> list[str]:
        return list(self._open)

    @property
    def sampler_running(self) -> bool:
        return self._sampler is not None

    def describe(self) -> dict[str, Any]:
        return {
            "attribution": self.attribution,
            "sources": [getattr(s, "name", type(s).__name__) for s in self._sources],
            "statuses": [s.to_dict() for s in self.statuses],
            "idle": None if self.idle is None else self.idle.to_dict(),
        }

    # ---- windows ---------------------------------------------------------------------------------
    def _edge(self) -> list[Snapshot]:
        for s in self._edge_hooks:
            try:
                s.before_edge()
            except Exception:  # noqa: BLE001 - a failed sync must not break the user's code
                pass
        snaps = []
        for s in self._sources:
            try:
                snaps.append(s.snapshot())
            except Exception as exc:  # noqa: BLE001 - snapshot is documented never to raise; be sure
                snaps.append(Snapshot(time.monotonic(), None, {s.name: f"snapshot failed: {exc}"}))
        return snaps

    def begin(self, name: str) -> None:
        """Open window ``name``. Windows may nest and overlap; names must be unique among open windows."""
        if name in self._open:
            raise MeterError(f"window {name!r} is already open; end or cancel it first")
        if self._closed:
            raise MeterError("this Monitor is closed; create a new one")
        if not isinstance(name, str) or not name:
            raise MeterError(f"a window name must be a non-empty string, got {name!r}")
        if self._sampled and not self._open:
            self._start_sampler()
        share = self._share.read() if self._share is not None else None
        t0 = time.monotonic()
        self._open[name] = (t0, time.time(), self._edge(), share)

    def end(self, name: str) -> Measurement:
        """Close window ``name`` and return its :class:`Measurement` (never raises for a meter failure)."""
        snaps1 = self._edge()
        t1 = time.monotonic()
        share1 = self._share.read() if self._share is not None else None
        try:
            t0, unix0, snaps0, share0 = self._open.pop(name)
        except KeyError:
            raise MeterError(self._unknown(name)) from None
        if not self._open:
            self._stop_sampler()
        comps: list[ComponentEnergy] = []
        for src, a, b in zip(self._sources, snaps0, snaps1):
            try:
                comps.extend(src.delta(a, b))
            except Exception as exc:  # noqa: BLE001 - delta is documented never to raise; be sure
                comps.append(ComponentEnergy.unavailable("unknown", getattr(src, "name", "source"), f"delta failed: {exc}"))
        notes = list(self._notes)
        if self._share is not None:
            comps = self._apply_share(comps, _ProcessShare.share(share0, share1), notes)
        return Measurement(name, unix0, t1 - t0, comps, self.attribution, self.idle, notes)

    def cancel(self, name: str) -> None:
        """Forget open window ``name`` without a result."""
        try:
            del self._open[name]
        except KeyError:
            raise MeterError(self._unknown(name)) from None
        if not self._open:
            self._stop_sampler()

    def window(self, name: str) -> Window:
        """``with mon.window("step") as w: ...`` then ``w.result`` is the Measurement."""
        return Window(self, name)

    def _unknown(self, name: str) -> str:
        opened = ", ".join(repr(n) for n in self._open) or "none"
        return f"window {name!r} was never begun (or was already ended/cancelled); open windows: {opened}"

    @staticmethod
    def _apply_share(comps: list[ComponentEnergy], share: float | None, notes: list[str]) -> list[ComponentEnergy]:
        if share is None:
            notes.append("process CPU-time share unavailable (no CPU time used in the window?): machine-level figures")
            return comps
        notes.append(f"process CPU-time share of the machine in this window: {share:.1%}")
        out = []
        for c in comps:
            if c.domain in _SHARED_DOMAINS and c.source not in (ESTIMATED, UNAVAILABLE):
                out.append(c.scaled(share, "×process-share"))
            else:
                out.append(c)
        return out

    # ---- idle baseline ------------------------------------------------------------------------------
    def measure_idle(self, duration_s: float = 2.0) -> IdleBaseline:
        """Measure the machine with nothing of ours running for ``duration_s`` and apply it to later results.

        Returns the :class:`IdleBaseline` (power per domain); every later Measurement then has
        ``idle_j`` = baseline power x its duration and ``net_j`` = gross - idle.
        """
        if not isinstance(duration_s, (int, float)) or not math.isfinite(duration_s) or not 0 < duration_s <= MAX_IDLE_S:
            raise MeterError(f"idle duration must be a number of seconds in (0, {MAX_IDLE_S:g}], got {duration_s!r}")
        self.begin(IDLE_WINDOW)
        time.sleep(duration_s)
        m = self.end(IDLE_WINDOW)
        self.idle = baseline_from(m)
        return self.idle

    # ---- sampler ----------------------------------------------------------------------------------------
    # One process-wide thread (wattlens.meters.sampler.shared_sampler) polls the sources that ask for it.
    # This monitor registers its polled sources once and tells the sampler when its first window opens and
    # its last one closes; the sampler counts those across monitors and joins its thread at zero.
    def _start_sampler(self) -> None:
        with self._lock:
            if self._sampler is not None:
                return
            try:
                from wattlens.meters.sampler import shared_sampler

                sampler = shared_sampler()
                for src in self._sampled:
                    sampler.register(src)
                sampler.open_window()
                self._sampler = sampler
            except Exception as exc:  # noqa: BLE001 - no sampler: polled sources are read at edges only
                self._notes.append(f"background sampler unavailable ({type(exc).__name__}: {exc})")

    def _stop_sampler(self) -> None:
        if self._sampler is None:
            return
        with self._lock:
            sampler, self._sampler = self._sampler, None
            if sampler is not None:
                try:
                    sampler.close_window()
                    for src in self._sampled:
                        sampler.unregister(src)
                except Exception:  # noqa: BLE001
                    pass

    # ---- lifecycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Cancel open windows, stop the sampler, release every source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._open.clear()
        self._stop_sampler()
        for s in self._sources:
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def baseline_from(m: Measurement) -> IdleBaseline:
    """An IdleBaseline (watts per domain) from a window measured while idle."""
    d = m.duration_s if m.duration_s > 0 else float("nan")
    power: dict[str, float] = {}
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    sources = []
    for c in m.available_components:
        key = f"{c.domain}:{c.device}" if c.device else c.domain
        power[key] = power.get(key, 0.0) + c.energy_j / d  # type: ignore[operator]
        low[key] = low.get(key, 0.0) + (c.low_j if c.low_j is not None else c.energy_j) / d  # type: ignore[operator]
        high[key] = high.get(key, 0.0) + (c.high_j if c.high_j is not None else c.energy_j) / d  # type: ignore[operator]
        sources.append(c.source)
    weakest = min(sources, key=lambda s: SOURCE_RANK.get(s, 0)) if sources else UNAVAILABLE
    return IdleBaseline(power, low, high, m.duration_s, weakest)
