"""Cumulative energy counters over the meter: what the exporter, the OpenTelemetry bridge and the middleware read.

One :class:`EnergyCounters` owns one :class:`~wattlens.tracking.Monitor` and a rolling window on it. Every
:meth:`EnergyCounters.tick` closes the window, adds each component's energy to a running total and opens the next
window at once (the same instant), so the totals cover the whole time since start with no gap and no overlap.

Guarantees a long-running exporter needs:

* **only grow** — a window's energy is added only when it is a finite number ≥ 0; an unreadable component adds
  nothing and sets its ``up`` to 0 with the reason (never a 0 J reading, never a reset);
* **wrap-safe** — counter wraps are undone inside the sources (RAPL ``max_energy_range_uj``, NVML 64-bit mJ); the
  totals here are Python floats in joules, no fixed-width register that could wrap (1 kW for 100 years is 3.2e12 J,
  still kept to better than 1 mJ by a double);
* **monotonic across the meter's own restarts** — when the meter fails (an exception from ``end``/``begin``) it is
  closed and rebuilt at the next tick; the totals live here, not in the meter, so they carry on;
* **bounded memory** — a fixed set of keys per component; per-process totals only for live processes.

The idle/active split follows Kepler's convention: ``idle`` is the idle power x time (a measured baseline when
one is given, else the lowest power seen over a full interval so far), ``active`` the rest of the gross energy.

>>> from wattlens.tracking import Monitor
>>> c = EnergyCounters(monitor_factory=lambda: Monitor(sources=["estimator"]))
>>> c.tick(); c.tick()
>>> sorted({k.domain for k in c.snapshot().energy})
['cpu', 'memory']
>>> c.close()
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from wattlens._logging import get_logger
from wattlens.meters.base import DOMAIN_CPU, DOMAIN_GPU, ComponentEnergy
from wattlens.tracking import IdleBaseline, Monitor

logger = get_logger(__name__)
T = TypeVar("T")
WINDOW = "wattlens-serving"
IDLE_BASIS_BASELINE = "measured-baseline"
IDLE_BASIS_MIN = "min-observed-power"
MAX_REASON = 120  # a reason label longer than this is cut: labels are indexed by Prometheus


@dataclass(frozen=True)
class CounterKey:
    """The identity of one energy series: what was measured, where, and how."""

    domain: str
    device: str
    source: str
    method: str


@dataclass
class Totals:
    """Running sums of one series (J): the central figure and its interval bounds, idle and active parts."""

    energy_j: float = 0.0
    low_j: float = 0.0
    high_j: float = 0.0
    idle_j: float = 0.0
    active_j: float = 0.0


@dataclass(frozen=True)
class Health:
    """Whether one component could be read at the last tick (1/0) and, when not, why."""

    up: int
    reason: str = ""


@dataclass(frozen=True)
class ProcessTotal:
    """Energy attributed to one live process: CPU by its share of the machine's busy CPU time, a GPU by its share
    of the device's SM utilisation samples (``attributed`` names which)."""

    pid: int
    comm: str
    energy_j: float
    domain: str = "cpu"
    device: str = ""
    attributed: str = "cpu-time-share"


@dataclass(frozen=True)
class CountersView:
    """A consistent copy of the counters at one tick, for rendering (no lock held while formatting)."""

    energy: dict[CounterKey, Totals]
    power_w: dict[CounterKey, float]
    health: dict[tuple[str, str], Health]
    processes: tuple[ProcessTotal, ...]
    restarts: int
    ticks: int
    idle_basis: str
    meter: dict[str, str]
    unattributed_j: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def default_monitor() -> Monitor:
    """The machine's meter, with the whole-node CPU model where no sensor measures the CPU package."""
    mon = Monitor()
    hardware = [s for s in mon.sources if s.name != "estimator"]
    covered = {d for s in hardware for d in (getattr(s, "domains", None) or ())}
    if DOMAIN_CPU in covered or not os.path.exists("/proc/stat"):
        return mon
    from wattlens.serving.node import NodeCpuSource

    names: list[object] = [s.name for s in hardware]
    mon.close()
    return Monitor(sources=[*names, NodeCpuSource(), "estimator"])  # type: ignore[list-item]


class EnergyCounters:
    """Monotonic joule counters over a rolling meter window; thread-safe; never raises from :meth:`tick`."""

    def __init__(
        self,
        monitor_factory: Callable[[], Monitor] | None = None,
        *,
        idle: IdleBaseline | None = None,
        processes: bool = False,
        power_interval_s: float = 1.0,
        gpu_processes: Any = None,
    ) -> None:
        self._factory = monitor_factory or default_monitor
        self._lock = threading.Lock()
        self._monitor: Monitor | None = None
        self._idle_w = dict(idle.power_w) if idle is not None else None
        self.idle_basis = IDLE_BASIS_BASELINE if idle is not None else IDLE_BASIS_MIN
        self._min_power: dict[CounterKey, float] = {}
        self._totals: dict[CounterKey, Totals] = {}
        self._power: dict[CounterKey, float] = {}
        self._acc: dict[CounterKey, float] = {}
        self._acc_s = 0.0
        self._power_interval_s = power_interval_s
        self._health: dict[tuple[str, str], Health] = {}
        self._restarts = 0
        self._ticks = 0
        self._meter_info: dict[str, str] = {}
        self._listeners: list[Callable[[float, float], None]] = []
        self._procs = ProcessShares() if processes else None
        # GPU shares: opened at the first tick that has a GPU reading (NVML is only asked where a GPU was metered)
        self._gpu_procs = gpu_processes
        self._want_gpu_procs = processes
        self._closed = False
        self._open_meter()

    # ---- the meter --------------------------------------------------------------------------------------------
    def _open_meter(self) -> None:
        try:
            mon = self._factory()
            mon.begin(WINDOW)
        except Exception as exc:  # a meter that cannot start: every component down, retried at the next tick
            self._monitor = None
            self._health = {("meter", ""): Health(0, _reason(exc))}
            logger.warning("the meter could not start: %s (retrying at the next tick)", exc)
            return
        self._monitor = mon
        self._meter_info = {
            "sources": ",".join(s.name for s in mon.sources),
            "attribution": mon.attribution,
            "boundary": "device",
        }

    def _restart_meter(self, exc: BaseException) -> None:
        logger.warning("the meter failed (%s); restarting it, the counters carry on", exc)
        self._restarts += 1
        mon, self._monitor = self._monitor, None
        if mon is not None:
            try:
                mon.close()
            except Exception:  # a broken meter may fail to close too; it is dropped either way
                logger.debug("closing the failed meter failed", exc_info=True)
        self._open_meter()

    # ---- ticks ------------------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[float, float], None]) -> None:
        """Call ``fn(duration_s, energy_j)`` with every tick's readable energy (under the counters' lock)."""
        self._listeners.append(fn)

    def tick(self, after: Callable[[], T] | None = None) -> T | None:
        """Close the current window, add its energy to the totals, open the next. Never raises.

        ``after`` runs under the same lock right after the tick (the middleware changes its count of active requests
        there, so that no other tick can fall between the reading and the change)."""
        with self._lock:
            self._tick_locked()
            return after() if after is not None else None

    def _tick_locked(self) -> None:
        if self._closed:
            return
        if self._monitor is None:
            self._open_meter()
            return
        try:
            m = self._monitor.end(WINDOW)
            self._monitor.begin(WINDOW)
            comps, duration_s = m.components, float(m.duration_s)
        except Exception as exc:
            self._restart_meter(exc)
            return
        self._ticks += 1
        self._add(comps, duration_s)

    def _add(self, comps: list[ComponentEnergy], duration_s: float) -> None:
        health: dict[tuple[str, str], Health] = {}
        readable = 0.0
        cpu_j = 0.0
        gpu_j: dict[str, float] = {}
        for c in comps:
            where = (c.domain, c.device or "")
            e = c.energy_j
            if e is None or not math.isfinite(e) or e < 0:
                health[where] = Health(0, _reason(c.note or f"{c.method}: no reading"))
                continue
            health[where] = Health(1)
            key = CounterKey(c.domain, c.device or "", c.source, c.method)
            self._accumulate(key, c, e, duration_s)
            readable += e
            if c.domain == DOMAIN_CPU:
                cpu_j += e
            elif c.domain == DOMAIN_GPU and c.device:
                gpu_j[c.device] = gpu_j.get(c.device, 0.0) + e
        self._health = health
        self._track_power(duration_s)
        if self._procs is not None:
            self._procs.attribute(cpu_j)
        if gpu_j and self._want_gpu_procs:
            if self._gpu_procs is None:
                from wattlens.serving.gpu_processes import GpuProcessShares

                self._gpu_procs = GpuProcessShares()
            self._gpu_procs.attribute(gpu_j)
        for fn in self._listeners:
            try:
                fn(duration_s, readable)
            except Exception:  # a listener's failure must not stop the counters
                logger.debug("energy listener failed", exc_info=True)

    def _accumulate(self, key: CounterKey, c: ComponentEnergy, e: float, duration_s: float) -> None:
        t = self._totals.get(key)
        if t is None:
            t = self._totals[key] = Totals()
        lo = c.low_j if c.low_j is not None and math.isfinite(c.low_j) else e
        hi = c.high_j if c.high_j is not None and math.isfinite(c.high_j) else e
        t.energy_j += e
        t.low_j += max(0.0, min(lo, e))
        t.high_j += max(hi, e)
        idle = min(e, self._idle_power(key) * duration_s)
        t.idle_j += idle
        t.active_j += e - idle
        self._acc[key] = self._acc.get(key, 0.0) + e

    def _idle_power(self, key: CounterKey) -> float:
        if self._idle_w is not None:
            return float(self._idle_w.get(key.domain, 0.0))
        return self._min_power.get(key, 0.0)

    def _track_power(self, duration_s: float) -> None:
        """Power over the last full interval (>= power_interval_s), and Kepler's idle: the lowest such power."""
        self._acc_s += duration_s
        if self._acc_s < self._power_interval_s:
            return
        for key, e in self._acc.items():
            p = e / self._acc_s
            self._power[key] = p
            low = self._min_power.get(key)
            self._min_power[key] = p if low is None else min(low, p)
        self._acc = {}
        self._acc_s = 0.0

    # ---- reading ----------------------------------------------------------------------------------------------
    def snapshot(self) -> CountersView:
        with self._lock:
            return CountersView(
                energy={k: Totals(**vars(t)) for k, t in self._totals.items()},
                power_w=dict(self._power),
                health=dict(self._health),
                processes=self._process_totals(),
                restarts=self._restarts,
                ticks=self._ticks,
                idle_basis=self.idle_basis,
                meter=dict(self._meter_info),
            )

    def _process_totals(self) -> tuple[ProcessTotal, ...]:
        cpu = self._procs.top() if self._procs is not None else ()
        gpu = self._gpu_procs.top() if self._gpu_procs is not None else ()
        shares = tuple(ProcessTotal(pid, comm, e, "gpu", dev, "sm-utilisation-share") for pid, comm, dev, e in gpu)
        return (*cpu, *shares)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            mon, self._monitor = self._monitor, None
        if mon is not None:
            try:
                mon.close()
            except Exception:  # closing is best effort: nothing of ours keeps running either way
                logger.debug("closing the meter failed", exc_info=True)


def _reason(what: object) -> str:
    text = str(what).replace("\n", " ").strip() or "unknown"
    return text[:MAX_REASON]


class ProcessShares:
    """Per-process energy: each live process's share of the machine's busy CPU time x the CPU energy of the tick.

    Kepler's rule for node-level counters without per-process sensors. Processes that ended drop out (their
    series end, as with node exporters); memory is bounded by the live process count. ``top`` keeps the
    ``limit`` largest for the output so that a scrape stays small on a busy host.
    """

    def __init__(self, proc: str = "/proc", limit: int = 50) -> None:
        self._proc = proc
        self._limit = limit
        self._last: dict[int, float] = {}
        self._energy: dict[int, float] = {}
        self._comm: dict[int, str] = {}
        self._tick_s = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0

    def _read(self) -> dict[int, float]:
        now: dict[int, float] = {}
        try:
            names = os.listdir(self._proc)
        except OSError:
            return now
        for name in names:
            if not name.isdigit():
                continue
            try:
                with open(f"{self._proc}/{name}/stat", "rb") as f:
                    raw = f.read()
            except OSError:  # ended while listing
                continue
            pid = int(name)
            close = raw.rfind(b")")
            fields = raw[close + 2 :].split()
            now[pid] = (int(fields[11]) + int(fields[12])) / self._tick_s  # utime + stime
            if pid not in self._comm:
                self._comm[pid] = raw[raw.find(b"(") + 1 : close].decode("utf-8", "replace")
        return now

    def attribute(self, cpu_j: float) -> None:
        now = self._read()
        deltas = {pid: max(0.0, t - self._last[pid]) for pid, t in now.items() if pid in self._last}
        busy = sum(deltas.values())
        if busy > 0 and cpu_j > 0:
            for pid, d in deltas.items():
                if d > 0:
                    self._energy[pid] = self._energy.get(pid, 0.0) + cpu_j * d / busy
        self._last = now
        for gone in [p for p in self._energy if p not in now]:
            del self._energy[gone]
        for gone in [p for p in self._comm if p not in now]:
            del self._comm[gone]

    def top(self) -> tuple[ProcessTotal, ...]:
        ranked = sorted(self._energy.items(), key=lambda kv: kv[1], reverse=True)[: self._limit]
        return tuple(ProcessTotal(pid, self._comm.get(pid, "?"), e) for pid, e in ranked)
