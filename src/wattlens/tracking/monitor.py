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
  window's energy is ``delta(begin, end)`` per source, computed when the result is first read for sources
  whose delta is pure arithmetic on the two readings (``pure_delta``: the estimator, RAPL). With a single
  such source that offers raw edge reads (the estimator on a sensor-less VM), an edge is that source's
  syscalls (two, or one when the previous edge was < 0.5 ms ago), one clock read and a dict operation: about
  1.5 µs per window, below Zeus's ~1.9 µs for reading nothing (benchmarks/measure_overhead.py). Nothing
  polls unless a source asks for it through
  ``sample_period_s()``; then one shared sampler thread runs while at least one window is open, and stops
  when the last one closes or at ``close()``.
* ``time.monotonic`` for durations: wall-clock jumps (NTP, DST) cannot distort a window.
* Meter failures never raise into user code: a snapshot or delta that fails becomes a component with
  ``source="unavailable"`` and the reason. Only user errors raise :class:`MeterError` (ending a window
  that was never begun, a bad argument, using a closed monitor).
"""

from __future__ import annotations

import _thread
import os
import resource
import time

from wattlens.meters.allocation import Allocation, detect_allocation
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

TYPE_CHECKING = False  # not `import typing` (5-7 ms) nor `threading` (2.4 ms): Monitor() must be ready in ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any

    from wattlens.meters.sampler import Sampler
    from wattlens.tracking.result import Computed

ATTRIBUTIONS = (ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS)
IDLE_WINDOW = "__wattlens_idle__"
MAX_IDLE_S = 3600.0
_SHARED_DOMAINS = (DOMAIN_CPU, DOMAIN_MEMORY, DOMAIN_SOC)  # process attribution scales these
_getrusage = resource.getrusage
_SELF, _CHILDREN = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN
_monotonic = time.monotonic  # local aliases: one global lookup instead of two per call on the hot path
_time = time.time
_EDGE_FAILED = "__wattlens_edge__"  # key in Snapshot.errors when the source's snapshot() itself raised


def _overrides(src: EnergySource, method: str) -> bool:
    return getattr(type(src), method, None) is not getattr(EnergySource, method)


class _ProcessShare:
    """This process tree's share of all CPU time used on the machine (for measured package energy).

    Read only at window edges and only in ``attribution="process"`` with a sensor source. Linux: one
    ``getrusage`` pair for this process + reaped children and one ``pread`` of the first line of
    ``/proc/stat`` on a kept descriptor (~5 µs); elsewhere psutil. ``/proc/stat`` counts in clock ticks
    (10 ms), so the share of a window shorter than ~1 s is coarse — stated in the notes.

    On a node the job shares (``allocation`` partial: Slurm, a cpuset), the idle time of the CPUs the job does not
    own joins the denominator: their static power belongs to the node's other tenants, so a job busy on 4 of 64
    otherwise idle CPUs gets about 4/64 of the package, not all of it. That central share can under-charge the
    dynamic power the job alone caused, so the upper bound keeps the plain use share (own CPU time / all busy
    CPU time). The whole ``/proc/stat`` is read then (its per-CPU lines).
    """

    def __init__(self, allocation: Allocation | None = None) -> None:
        self._fd: int | None = None
        self._psutil: Any = None
        # CPUs the job does not own: their /proc/stat line names, or (ids unknown) the fraction of all idle time
        self._foreign: frozenset[bytes] | None = None
        self._foreign_frac = 0.0
        if allocation is not None and allocation.cpu_fraction < 1.0:
            if allocation.cpu_ids is not None:
                own = allocation.cpu_ids
                self._foreign = frozenset(b"cpu%d" % i for i in range(allocation.node_cpus) if i not in own)
            else:
                self._foreign_frac = 1.0 - allocation.cpu_fraction
        try:
            self._fd = os.open("/proc/stat", os.O_RDONLY)
            self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):
            import psutil  # type: ignore[import-untyped,unused-ignore]  # lazy: off Linux only

            self._psutil = psutil
            self._proc = psutil.Process()

    def read(self) -> tuple[float, ...] | None:
        """(own CPU s, busy CPU s of the machine[, idle CPU s of the CPUs the job does not own])."""
        try:
            if self._fd is not None:
                me, ch = _getrusage(_SELF), _getrusage(_CHILDREN)
                mine = me[0] + me[1] + ch[0] + ch[1]
                if self._foreign is None and not self._foreign_frac:
                    fields = os.pread(self._fd, 256, 0).split(b"\n", 1)[0].split()
                    # cpu user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
                    busy_ticks = sum(int(v) for v in fields[1:4]) + sum(int(v) for v in fields[6:9])
                    return mine, busy_ticks * self._tick_s
                return (mine, *self._busy_and_foreign_idle())
            p = self._proc.cpu_times()
            s = self._psutil.cpu_times()
            mine = p.user + p.system + getattr(p, "children_user", 0.0) + getattr(p, "children_system", 0.0)
            busy = sum(v for k, v in s._asdict().items() if k not in ("idle", "iowait", "guest", "guest_nice"))
            return mine, busy
        except Exception:  # no share: the note says so and the figures stay machine-level
            return None

    def _busy_and_foreign_idle(self) -> tuple[float, float]:
        lines = os.pread(self._fd, 1 << 20, 0).split(b"\n")  # type: ignore[arg-type]  # _fd is set here
        fields = lines[0].split()
        busy = sum(int(v) for v in fields[1:4]) + sum(int(v) for v in fields[6:9])
        if self._foreign is None:  # which CPUs is unknown: their share of all idle time
            foreign = (int(fields[4]) + int(fields[5])) * self._foreign_frac
        else:
            foreign = 0
            for line in lines[1:]:
                if not line.startswith(b"cpu"):
                    break  # the per-CPU lines come first, right after the total
                cpu = line.split(maxsplit=6)
                if cpu[0] in self._foreign:
                    foreign += int(cpu[4]) + int(cpu[5])
        return busy * self._tick_s, foreign * self._tick_s

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    @staticmethod
    def share(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> float | None:
        """Own CPU time / (busy CPU time + idle time of CPUs not owned) in the window, or None."""
        if a is None or b is None:
            return None
        busy = b[1] - a[1]
        if len(a) > 2 and len(b) > 2:
            busy += b[2] - a[2]
        if busy <= 0:
            return None
        return min(max((b[0] - a[0]) / busy, 0.0), 1.0)

    @staticmethod
    def use_share(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> float | None:
        """Own CPU time / busy CPU time: the upper end of the share on a partly owned node."""
        return _ProcessShare.share(a[:2] if a else None, b[:2] if b else None)


class _Watchdog:
    """A pseudo-source polled by the sampler thread: lets an idle Monitor release the sampler (see Monitor)."""

    name = "wattlens-monitor-watchdog"

    def __init__(self, monitor: Monitor, sources: tuple[EnergySource, ...]) -> None:
        import weakref

        self._monitor = weakref.ref(monitor)  # the sampler must not keep a forgotten Monitor alive
        self._sources = sources

    def sample_period_s(self) -> float:
        return LINGER_S

    def sample(self) -> None:
        mon = self._monitor()
        if mon is not None:
            mon._watchdog_check()
            return
        # The Monitor was garbage-collected without close(): release what it held so the thread can end.
        sampler = _SAMPLER
        if sampler is not None:
            for src in self._sources:
                sampler.unregister(src)
            sampler.unregister(self)
            sampler.close_window()


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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.result = self.monitor.end(self.name)
        if exc_type is not None:
            self.result.notes.append(f"the measured block raised {exc_type.__name__}")
        # returns None: never swallows the user's exception


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
        allocation: Allocation | None = None,
    ) -> None:
        if attribution not in ATTRIBUTIONS:
            raise MeterError(f"attribution must be one of {ATTRIBUTIONS}, got {attribution!r}")
        if isinstance(sources, (str, EnergySource)):
            sources = [sources]
        from wattlens.meters.discovery import discover

        # The CPUs and memory this job owns on the node (meters.allocation): on a shared node the estimator charges
        # only those, and measured node-level counters are scaled to the job's share (see _apply_allocation).
        self.allocation = allocation if allocation is not None else detect_allocation()
        found = discover(
            sources, attribution=attribution, cpu_tdp_w=cpu_tdp_w, cpu_threads=cpu_threads, allocation=self.allocation
        )
        self.attribution = attribution
        self._idle = idle
        self.statuses = found.statuses
        self._sources: tuple[EnergySource, ...] = tuple(found.sources)
        self._domains = tuple(self._source_domains(s) for s in self._sources)
        self._edge_hooks = tuple(s for s in self._sources if _overrides(s, "before_edge"))
        # Sources that can be polled: registered with the shared sampler, which starts its thread only while
        # one of them asks for it (sample_period_s() not None; a source may start asking later, e.g. an AMD
        # counter found implausible). Edge-read-only sources (the estimator) cost the sampler nothing.
        self._sampled = tuple(s for s in self._sources if _overrides(s, "sample") or self._period(s) is not None)
        # name -> (monotonic s, unix s, snapshots, process share), or on the raw fast path (see _bind_raw_edges)
        # (monotonic s, unix s, first reading, second reading, s between the previous edge and begin() when the
        # window starts at that edge, else 0.0)
        self._open: dict[str, tuple[Any, ...]] = {}
        self._lock = _thread.allocate_lock()
        self._sampler: Sampler | None = None
        self._idle_since: float | None = None  # when this monitor's last window closed (sampler still held)
        self._watchdog: _Watchdog | None = None  # created with the sampler (needs self._sampled)
        self._closed = False
        self._share = self._make_share()
        self._alloc_scale = self._allocation_scale()
        self._plain = not self._edge_hooks and self._share is None and self._alloc_scale is None
        # Deferred components: every source's delta is arithmetic on the two readings (see result.Measurement).
        self._pure = all(getattr(s, "pure_delta", False) for s in self._sources)
        # The single-source hot path: raw edge reads, no Snapshot objects (the estimator on a sensor-less VM).
        single = self._sources[0] if self._plain and len(self._sources) == 1 else None
        self._single = single
        calls = self._raw_calls(single) if single is not None else None
        if calls is not None:
            self._bind_raw_edges(calls)
        self._notes: tuple[str, ...] = tuple(self._static_notes())
        self._ctx = (attribution, idle, self._notes)  # what every Measurement of this monitor shares

    # ---- set-up helpers ------------------------------------------------------------------------
    @staticmethod
    def _source_domains(src: EnergySource) -> tuple[str, ...]:
        doms = getattr(src, "domains", None)
        if not doms:
            try:
                doms = src.status().domains
            except Exception:  # domains only label failures; an unknown one is labelled so
                doms = ()
        return tuple(doms) or ("unknown",)

    @staticmethod
    def _period(src: EnergySource) -> float | None:
        try:
            return src.sample_period_s()
        except Exception:  # a source that cannot say is read at edges only
            return None

    @staticmethod
    def _raw_calls(src: EnergySource) -> tuple[Callable[[], Any], ...] | None:
        try:
            calls = src.edge_calls()
        except Exception:  # a source that cannot say is read through snapshot()
            return None
        return tuple(calls) if calls else None

    def _sensed(self) -> bool:
        """Whether a hardware source (not the estimator, not a placeholder) is read."""
        from wattlens.meters.discovery import UnavailableSource
        from wattlens.meters.estimator import EstimatorSource

        return any(not isinstance(s, (EstimatorSource, UnavailableSource)) for s in self._sources)

    def _make_share(self) -> _ProcessShare | None:
        if self.attribution != ATTRIBUTION_PROCESS or not self._sensed():
            return None
        try:
            return _ProcessShare(self.allocation)
        except Exception:  # no share reader: the note states machine-level figures
            return None

    def _allocation_scale(self) -> tuple[float, float] | None:
        """(CPU, memory) fractions that scale measured node-level counters in machine attribution on a node the
        job owns only part of; None when it owns the whole node (or nothing is measured)."""
        alloc = self.allocation
        if self.attribution != ATTRIBUTION_MACHINE or not alloc.partial or not self._sensed():
            return None
        return alloc.cpu_fraction, alloc.memory_fraction

    def _static_notes(self) -> list[str]:
        notes = []
        if self.allocation.partial:
            notes.append(self.allocation.describe())
        if self._alloc_scale is not None:
            notes.append(
                "attribution=machine on a node the job owns only part of: measured CPU/SoC counters x the job's CPU "
                f"fraction ({self._alloc_scale[0]:.1%}), DRAM x its memory fraction ({self._alloc_scale[1]:.1%}) "
                "(static and dynamic power taken as proportional to the allocation; --attribution process charges "
                "by CPU time instead)"
            )
        if self.attribution == ATTRIBUTION_PROCESS:
            notes.append(
                "attribution=process: measured CPU/DRAM/SoC energy x this process tree's share of all CPU time "
                "used on the machine in the window; estimated CPU energy charges only this process's CPU time "
                "(idle share = P_idle x CPU time); GPU energy counted whole for the GPUs this process can see"
            )
        else:
            notes.append("attribution=machine: everything the counted devices drew during the window")
        missing = [f"{st.name} ({st.detail})" for st in self.statuses if not st.available and st.name != "estimator"]
        if missing:
            notes.append("sources not used: " + "; ".join(missing))
        return notes

    @property
    def idle(self) -> IdleBaseline | None:
        """The idle baseline applied to every later result (set by :meth:`measure_idle`, or by you)."""
        return self._idle

    @idle.setter
    def idle(self, value: IdleBaseline | None) -> None:
        self._idle = value
        self._ctx = (self.attribution, value, self._notes)

    def _add_note(self, note: str) -> None:
        if note not in self._notes:
            self._notes = (*self._notes, note)
            self._ctx = (self.attribution, self._idle, self._notes)

    # ---- introspection -------------------------------------------------------------------------
    @property
    def sources(self) -> tuple[EnergySource, ...]:
        return self._sources

    @property
    def open_windows(self) -> list[str]:
        return list(self._open)

    @property
    def sampler_running(self) -> bool:
        """Whether this monitor holds the shared sampler (a window is open, or closed less than ~LINGER_S ago)."""
        return self._sampler is not None

    def describe(self) -> dict[str, Any]:
        """What this monitor reads and how (for run records): sources, statuses, the CPU model, idle baseline."""
        model = next((getattr(s, "model", None) for s in self._sources if getattr(s, "name", "") == "estimator"), None)
        return {
            "attribution": self.attribution,
            "sources": [getattr(s, "name", type(s).__name__) for s in self._sources],
            "statuses": [s.to_dict() for s in self.statuses],
            "cpu_power_model": None if model is None else model.to_dict(),
            "idle": None if self.idle is None else self.idle.to_dict(),
            "allocation": self.allocation.to_dict(),
        }

    # ---- windows ---------------------------------------------------------------------------------
    def _edge(self) -> list[Snapshot]:
        """Every source's snapshot, after the edge hooks (e.g. CUDA synchronisation). Never raises."""
        if self._edge_hooks:
            for s in self._edge_hooks:
                try:
                    s.before_edge()
                except Exception:  # a failed GPU sync must not break the user's code: the edge is still read
                    pass
        try:
            return [s.snapshot() for s in self._sources]
        except Exception:  # snapshot() is documented never to raise; if one does, read source by source
            return [self._safe_snapshot(s) for s in self._sources]

    @staticmethod
    def _safe_snapshot(s: EnergySource) -> Snapshot:
        try:
            return s.snapshot()
        except Exception as exc:  # recorded: end() turns it into unavailable components with this reason
            return Snapshot(time.monotonic(), None, {_EDGE_FAILED: f"snapshot failed: {type(exc).__name__}: {exc}"})

    def begin(self, name: str) -> None:
        """Open window ``name``. Windows may nest and overlap; names must be unique among open windows."""
        opened = self._open
        if not isinstance(name, str) or not name or name in opened or self._closed:
            self._begin_error(name)
        if not opened and self._sampled:
            self._start_sampler()
        share = self._share.read() if self._share is not None else None
        opened[name] = (_monotonic(), _time(), self._edge(), share)

    def _begin_error(self, name: object) -> None:
        if self._closed:
            raise MeterError("this Monitor is closed; create a new one")
        if not isinstance(name, str) or not name:
            raise MeterError(f"a window name must be a non-empty string, got {name!r}")
        raise MeterError(f"window {name!r} is already open; end or cancel it first")

    def end(self, name: str) -> Measurement:
        """Close window ``name`` and return its :class:`Measurement` (never raises for a meter failure)."""
        snaps1 = None
        if self._plain:
            try:
                snaps1 = [s.snapshot() for s in self._sources]
            except Exception:  # snapshot() must not raise; if one does, take the careful path
                snaps1 = None
        if snaps1 is None:
            snaps1 = self._edge()
        t1 = _monotonic()
        share1 = self._share.read() if self._share is not None else None
        entry = self._pop(name)
        if len(entry) == 5:  # begun by the raw fast path (see _bind_raw_edges): (t0, unix0, r0, r1, early_s)
            t0, unix0, snaps0, share0 = entry[0], entry[1], [Snapshot(entry[0], entry[2:4])], None
        else:
            t0, unix0, snaps0, share0 = entry
        ends = ((snaps0, share0), (snaps1, share1))
        if self._pure:
            return Measurement.deferred(name, unix0, t1 - t0, (self._compute_pending, *ends), self._ctx)
        comps, extra = self._compute(*ends, t1 - t0)
        notes = [*self._notes, *extra]
        return Measurement(name, unix0, t1 - t0, comps, self.attribution, self.idle, notes)

    def _bind_raw_edges(self, calls: tuple[Callable[[], Any], ...]) -> None:
        """Give this monitor ``begin``/``end`` for its single raw-read source (the estimator on a sensor-less VM).

        They are closures over the monitor's state installed on the instance, shadowing the general methods
        above: an edge is then the source's raw calls (C functions), one clock read and one dict operation.
        Profiled on the 2-core VM (benchmarks/measure_overhead.py --profile): process_time() and
        getrusage(RUSAGE_CHILDREN) cost 0.25-0.6 µs each per edge, depending on the host; Python's share of a
        window fell from ~2.9 µs (methods, Snapshot objects, components built at end) to ~0.5 µs. A begin edge
        within REUSE_GAP_S of the previous edge reads nothing: the window starts at that edge, with its reading and
        time (see REUSE_GAP_S). ``close()`` removes the closures (and their reference cycle). A raw read that
        fails falls back to the general methods, which record the reason.
        """
        delta = self._single_delta
        if len(calls) == 2:  # the estimator's shape: the edge calls its two C functions directly
            f0, f1 = calls
        else:  # any other shape: one tuple-building call, and a no-op C call in the second place
            f0, f1 = (lambda: tuple([f() for f in calls])), tuple
            delta = self._nested_delta
        # The latest edge's reading, (first value, second value, monotonic s), replaced whole (one store: a window
        # begun in another thread never mixes two edges); -1.0: no edge yet.
        last: list[tuple[Any, Any, float]] = [(None, None, -1.0)]
        reuse_gap_s = REUSE_GAP_S

        def compute(p: tuple[Any, ...], duration_s: float) -> Computed:  # p: see Measurement
            comps = delta((p[1], p[2]), (p[3], p[4]), duration_s)
            return (comps, (_started_early(p[5]),)) if p[5] else comps

        opened = self._open
        mono, wall = _monotonic, _time
        new = Measurement.__new__
        sampled, pure, attribution = bool(self._sampled), self._pure, self.attribution

        def begin(name: str) -> None:
            try:
                bad = name in opened or self._closed or (name.__class__ is not str and not isinstance(name, str))
            except TypeError:  # unhashable
                bad = True
            if bad or not name:
                self._begin_error(name)
            if sampled and not opened:
                self._start_sampler()
            try:
                t0 = mono()
                r0, r1, t_prev = last[0]
                gap = t0 - t_prev
                if gap < reuse_gap_s:  # the previous edge was read just now: the window starts there
                    opened[name] = (t_prev, wall() - gap, r0, r1, gap)  # five fields: a raw start
                else:
                    unix0, a0, a1 = wall(), f0(), f1()
                    last[0] = (a0, a1, t0)
                    opened[name] = (t0, unix0, a0, a1, 0.0)
            except Exception:  # the raw read failed: the careful path records why
                Monitor.begin(self, name)

        def end(name: str) -> Measurement:
            try:
                b0, b1 = f0(), f1()
            except Exception:  # the careful path reads snapshot(), which records why
                return Monitor.end(self, name)
            t1 = mono()
            last[0] = (b0, b1, t1)
            try:
                entry = opened.pop(name)
            except (KeyError, TypeError):
                raise MeterError(self._unknown(name)) from None
            if sampled and self._sampler is not None and not opened:
                self._idle_since = t1  # the sampler watchdog closes it after LINGER_S
            try:
                t0, unix0, a0, a1, early_s = entry
            except ValueError:  # four fields: begun on the careful path
                t0, unix0, snaps0 = entry[:3]
                comps = self._deltas(snaps0, [Snapshot(t1, (b0, b1))])
                return Measurement(name, unix0, t1 - t0, comps, attribution, self.idle, list(self._notes))
            if pure:  # Measurement.deferred(), inlined: this is the hot path
                m = new(Measurement)
                m.name = name
                m.start_unix_s = unix0
                m.duration_s = t1 - t0
                m._components = None
                m._pending = (compute, a0, a1, b0, b1, early_s)
                m._ctx = self._ctx
                return m
            comps = delta((a0, a1), (b0, b1), t1 - t0)
            notes = [*self._notes, _started_early(early_s)] if early_s else list(self._notes)
            return Measurement(name, unix0, t1 - t0, comps, attribution, self.idle, notes)

        self.begin = begin  # type: ignore[method-assign]
        self.end = end  # type: ignore[method-assign]

    def _pop(self, name: str) -> tuple[Any, ...]:
        try:
            opened = self._open.pop(name)
        except (KeyError, TypeError):
            raise MeterError(self._unknown(name)) from None
        if self._sampler is not None and not self._open:
            self._idle_since = _monotonic()  # the sampler watchdog closes it after LINGER_S
        return opened

    def _single_delta(self, a: Any, b: Any, duration_s: float) -> list[ComponentEnergy]:
        """The single source's components from two raw readings (never raises)."""
        src: EnergySource = self._single  # type: ignore[assignment]
        try:
            return src.delta_values(a, b, duration_s)
        except Exception as exc:  # delta_values() must not raise; be sure
            return self._failed(0, f"delta failed: {type(exc).__name__}: {exc}")

    def _nested_delta(self, a: Any, b: Any, duration_s: float) -> list[ComponentEnergy]:
        return self._single_delta(a[0], b[0], duration_s)  # readings of the generic shape: (values, ())

    def _compute_pending(
        self, pending: tuple[Any, ...], duration_s: float
    ) -> tuple[list[ComponentEnergy], tuple[str, ...]]:
        return self._compute(pending[1], pending[2], duration_s)

    def _compute(
        self, start: tuple[list[Snapshot], Any], end: tuple[list[Snapshot], Any], duration_s: float
    ) -> tuple[list[ComponentEnergy], tuple[str, ...]]:
        """Components of a window from its edge snapshots (and process shares), plus the notes they add."""
        comps = self._deltas(start[0], end[0])
        if self._alloc_scale is not None:
            return self._apply_allocation(comps, self._alloc_scale), ()
        if self._share is None:
            return comps, ()
        notes: list[str] = []
        raw = comps
        comps = self._apply_share(raw, _ProcessShare.share(start[1], end[1]), notes)
        if self._share._foreign is not None or self._share._foreign_frac:
            comps = self._widen_to_use_share(raw, comps, _ProcessShare.use_share(start[1], end[1]), notes)
        return comps, tuple(notes)

    @staticmethod
    def _apply_allocation(comps: list[ComponentEnergy], scale: tuple[float, float]) -> list[ComponentEnergy]:
        """Measured node-level components x the job's share of the node (machine attribution, partial node)."""
        out = []
        for c in comps:
            if c.domain in _SHARED_DOMAINS and c.source not in (ESTIMATED, UNAVAILABLE) and c.energy_j is not None:
                out.append(c.scaled(scale[1] if c.domain == DOMAIN_MEMORY else scale[0], "×allocation-share"))
            else:
                out.append(c)
        return out

    @staticmethod
    def _widen_to_use_share(
        raw: list[ComponentEnergy], scaled: list[ComponentEnergy], use: float | None, notes: list[str]
    ) -> list[ComponentEnergy]:
        """Process attribution on a partly owned node: the high end charged at the plain use share."""
        if use is None:
            return scaled
        notes.append(
            "the job owns part of this node: the share counts the idle time of the CPUs it does not own as "
            f"theirs; the high end charges its share of busy CPU time alone ({use:.1%})"
        )
        out = []
        for r, c in zip(raw, scaled, strict=True):
            if c is not r and c.high_j is not None and r.high_j is not None:
                c = c.replace(high_j=max(c.high_j, r.high_j * use))
            out.append(c)
        return out

    def _deltas(self, snaps0: list[Snapshot], snaps1: list[Snapshot]) -> list[ComponentEnergy]:
        """Each source's delta; a snapshot or delta that failed becomes unavailable components with the reason."""
        comps: list[ComponentEnergy] = []
        for i, (src, a, b) in enumerate(zip(self._sources, snaps0, snaps1, strict=True)):
            if _EDGE_FAILED in a.errors or _EDGE_FAILED in b.errors:
                comps += self._failed(i, a.errors.get(_EDGE_FAILED) or b.errors[_EDGE_FAILED])
                continue
            try:
                comps += src.delta(a, b)
            except Exception as exc:  # delta() is documented never to raise; be sure
                comps += self._failed(i, f"delta failed: {type(exc).__name__}: {exc}")
        return comps

    def _failed(self, i: int, reason: str) -> list[ComponentEnergy]:
        src = self._sources[i]
        name = getattr(src, "name", type(src).__name__)
        return [ComponentEnergy.unavailable(d, name, reason) for d in self._domains[i]]

    def cancel(self, name: str) -> None:
        """Forget open window ``name`` without a result."""
        try:
            del self._open[name]
        except KeyError:
            raise MeterError(self._unknown(name)) from None
        if self._sampler is not None and not self._open:
            self._idle_since = _monotonic()

    def window(self, name: str) -> Window:
        """``with mon.window("step") as w: ...`` then ``w.result`` is the Measurement."""
        return Window(self, name)

    def _unknown(self, name: str) -> str:
        opened = ", ".join(repr(n) for n in self._open) or "none"
        return f"window {name!r} was never begun (or was already ended/cancelled); open windows: {opened}"

    @staticmethod
    def _apply_share(comps: list[ComponentEnergy], share: float | None, notes: list[str]) -> list[ComponentEnergy]:
        if share is None:
            notes.append(
                "process CPU-time share unknown (no machine CPU tick in the window: too short?): CPU/DRAM/SoC "
                "figures are the machine's, with low = 0"
            )
        else:
            notes.append(f"process CPU-time share of the machine in this window: {share:.1%}")
        out = []
        for c in comps:
            if c.domain in _SHARED_DOMAINS and c.source not in (ESTIMATED, UNAVAILABLE) and c.energy_j is not None:
                if share is None:
                    out.append(
                        ComponentEnergy(
                            c.domain,
                            c.energy_j,
                            c.source,
                            c.method + "×process-share-unknown",
                            0.0,
                            c.high_j,
                            c.device,
                            c.note,
                        )
                    )
                else:
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
        ok = isinstance(duration_s, (int, float)) and 0 < duration_s <= MAX_IDLE_S  # NaN fails both comparisons
        if not ok:
            raise MeterError(f"idle duration must be a number of seconds in (0, {MAX_IDLE_S:g}], got {duration_s!r}")
        self.begin(IDLE_WINDOW)
        time.sleep(duration_s)
        m = self.end(IDLE_WINDOW)
        self.idle = baseline_from(m)
        return self.idle

    # ---- sampler ----------------------------------------------------------------------------------------
    # One process-wide sampler thread for all Monitors (see _monitor_sampler) polls the sources that ask for
    # it while windows are open. Telling the sampler about every window would cost a lock round and a thread
    # wake-up per window (~20 µs), so this monitor "opens" the sampler at its first window and a watchdog
    # entry, polled by the sampler thread itself every LINGER_S, "closes" it once no window of this monitor
    # has been open for LINGER_S. The thread then exits after the sampler's own linger (LINGER_S). So: no
    # thread before the first window, none ~2 x LINGER_S after the last, none at all after close().
    def _start_sampler(self) -> None:
        with self._lock:
            self._idle_since = None
            if self._sampler is not None:
                return
            try:
                sampler = _monitor_sampler()
                for src in self._sampled:
                    sampler.register(src)
                if self._watchdog is None:
                    self._watchdog = _Watchdog(self, self._sampled)
                sampler.register(self._watchdog)
                sampler.open_window()
                self._sampler = sampler
            except Exception as exc:  # no sampler: polled sources are read at edges only, and we say so
                note = f"background sampler unavailable ({type(exc).__name__}: {exc}); sources read at edges only"
                self._add_note(note)

    def _watchdog_check(self) -> None:
        """Called from the sampler thread every LINGER_S: release the sampler once we have been idle long enough."""
        with self._lock:
            idle = self._idle_since
            if self._sampler is None or self._open or idle is None or _monotonic() - idle < LINGER_S:
                return
            self._release_sampler_locked(final=False)

    def _release_sampler_locked(self, final: bool) -> None:
        sampler, self._sampler = self._sampler, None
        self._idle_since = None
        try:
            if sampler is not None:
                sampler.unregister(self._watchdog)
                sampler.close_window()
            if final and _SAMPLER is not None:
                for src in self._sampled:
                    _SAMPLER.unregister(src)
        except Exception:  # releasing must never raise into user code (close() runs in finally blocks)
            pass

    def _stop_sampler(self, final: bool = False) -> None:
        with self._lock:
            if self._open and not final:  # another thread opened a window meanwhile: keep polling for it
                return
            self._release_sampler_locked(final)
        # Join outside our lock: the sampler thread may be in our watchdog, waiting for that lock.
        if final and self._sampled and _SAMPLER is not None and _SAMPLER.open_windows == 0:
            try:
                _SAMPLER.stop()  # joins the (lingering) thread: nothing of ours left running
            except Exception:  # never raise from close()
                pass

    # ---- lifecycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Cancel open windows, stop the sampler, release every source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.__dict__.pop("begin", None)  # the raw-edge closures (see _bind_raw_edges): general methods again
        self.__dict__.pop("end", None)
        self._open.clear()
        self._stop_sampler(final=True)
        if self._share is not None:
            self._share.close()
        for s in self._sources:
            try:
                s.close()
            except Exception:  # releasing one source must not stop the others being released
                pass

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LINGER_S = 0.5
# A begin edge less than this long after the previous edge of the same Monitor (raw fast path) reads nothing: the
# window starts at that edge, with its reading and its time, so its duration and its energy cover the same span
# (up to this much longer than asked; the Measurement's notes say by how much). Back-to-back windows in a step
# loop then cost one edge read instead of two, and tile exactly.
REUSE_GAP_S = 0.0001


def _started_early(gap_s: float) -> str:
    return (
        f"began at the previous window edge, {gap_s * 1e6:.1f} µs before begin() (that edge's reading reused; "
        "duration and energy both include the gap)"
    )


_SAMPLER: Sampler | None = None
_SAMPLER_LOCK = _thread.allocate_lock()


def _monitor_sampler() -> Sampler:
    """The one Sampler all Monitors share (created on first need, with a short linger)."""
    global _SAMPLER
    with _SAMPLER_LOCK:
        if _SAMPLER is None:
            from wattlens.meters.sampler import Sampler

            _SAMPLER = Sampler(linger_s=LINGER_S)
        return _SAMPLER


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
