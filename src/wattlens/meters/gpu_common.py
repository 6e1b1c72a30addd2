"""What the GPU energy sources (:mod:`~wattlens.meters.nvml`, :mod:`~wattlens.meters.amd`) have in common.

Both vendors offer the same two ways to a GPU's energy, chosen per device: an energy **counter** read at
window edges, or **power** polled by the shared sampler and integrated with the trapezoid rule. So the
per-device state machine lives here once — library start/stop, device selection, edge snapshots,
power integration, the short-window rules of counter deltas and the status line — and each vendor module
only says how to talk to its library (class attributes and the ``_init_lib`` / ``_open_devices`` / ``_read_*``
... hooks) and how to turn one device's pair of readings into a component (``_component``).

Edge reads (``edge_reads``): a vendor read can cost milliseconds (3.8 ms median, 15 ms p95 for one NVML counter
read on a virtualised H200, docs/HARDWARE-RUNS.md), so by default an edge does not read at all: ``snapshot()``
records the edge's time and asks the source's background reader (:mod:`wattlens.meters.edge_reader`) for a
reading, and ``delta()`` waits for it (at most ``edge_timeout_s`` after the edge; then the part is ``unavailable``
with the reason). The lag between an edge and the read that served it widens the window's interval by the
window's mean power × the two lags, and the note says so. For windows shorter than two counter steps the power
figure comes from the reader too (the counter's mean over the last second or more, or a power reading it made),
never from a driver call in ``delta``: so ``delta`` is arithmetic on the two snapshots and NVML declares
``pure_delta``. ``edge_reads="blocking"`` reads at the edge, as Zeus does; ``"auto"`` (the default) reads in the
background with the vendor's real library and at the edge with an in-memory stand-in (tests drive those step by
step).

No vendor library is imported when this module loads: ``GpuSource._load_lib`` imports it on first use.
"""

from __future__ import annotations

import importlib
import threading
import types
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from wattlens._logging import get_logger
from wattlens.meters.base import (
    DOMAIN_GPU,
    INTEGRATED,
    MEASURED,
    ComponentEnergy,
    EnergySource,
    Snapshot,
    SourceStatus,
)
from wattlens.meters.edge_reader import EDGE_TIMEOUT_S, EdgeBatch, EdgeReader
from wattlens.meters.sampler import SourceUnavailableError

logger = get_logger(__name__)

# NVML's documented power accuracy, assumed for every GPU energy counter unless a vendor module says otherwise
COUNTER_REL_ERR = 0.05
MODE_COUNTER = "counter"  # energy counter read at window edges
MODE_POWER = "power"  # power polled by the shared sampler and integrated
MODE_BROKEN = "broken"  # neither works; the device yields an ``unavailable`` component with ``reason``

EDGE_READS = ("auto", "async", "blocking")  # see the module docstring
HINT_SPAN_S = 1.0  # a power figure derived from the counter averages at least this long (≥ 10 steps of 100 ms)
HINT_MAX_AGE_S = 2.0  # an edge whose power figure is older than this makes the reader read power

# One edge reading of one device: (energy, number of power readings folded in). For counter devices the
# second item is 0 (so that AMD can tell a counter edge from a power edge); None where nothing was read.
Reading = tuple[float, int]
# What the reader knows of a device's power at an edge, for short windows and the lag bound:
# (W, when (the source's clock), span in s over which the counter was averaged; 0 for a power reading).
PowerHint = tuple[float, float, float]


class EdgeReading(Snapshot):
    """A snapshot whose background reading has arrived: the reading, plus how late it was taken (``lag_s``,
    from the edge to the end of the read) and the reader's power figure per device (``hints``)."""

    __slots__ = ("hints", "lag_s")

    def __init__(
        self,
        t_s: float,
        values: tuple[Reading | None, ...],
        errors: dict[str, str],
        lag_s: float,
        hints: tuple[PowerHint | None, ...],
    ) -> None:
        super().__init__(t_s, values, errors)
        self.lag_s = lag_s
        self.hints = hints


class GpuLike(Protocol):
    """What the shared code needs of a vendor's device record (``GpuDevice``, ``AmdGpu``)."""

    index: int
    mode: str
    handle: Any
    note: str
    reason: str

    @property
    def method(self) -> str: ...


def err(exc: BaseException) -> str:
    """An exception as the one-line reason that goes into notes and errors."""
    return f"{type(exc).__name__}: {exc}"


def join_notes(a: str, b: str) -> str:
    """``a; b``, or whichever of the two is not empty."""
    return f"{a}; {b}" if a and b else a or b


def mode_text(d: GpuLike) -> str:
    """How a device is measured, for status lines (the reason when it cannot be)."""
    return "energy counter" if d.mode == MODE_COUNTER else "power integration" if d.mode == MODE_POWER else d.reason


def gpu_status(
    name: str, devices: Sequence[GpuLike], parts: list[str], notes: list[str], none_visible: str
) -> SourceStatus:
    """The ``wattlens sources`` line: ``parts`` (one per device) and ``notes``; usable when any device is."""
    usable = [d for d in devices if d.mode != MODE_BROKEN]
    detail = "; ".join(parts + notes) or none_visible
    if not usable:
        return SourceStatus(name, False, detail)
    kind = MEASURED if any(d.mode == MODE_COUNTER for d in usable) else INTEGRATED
    return SourceStatus(name, True, detail, (DOMAIN_GPU,), kind)


def counter_window_component(
    energy_j: float,
    duration_s: float,
    *,
    method: str,
    device: str,
    note: str,
    power_w: Callable[[], float | None],
    period_s: float,
    approx_method: str,
    rel_err: float = COUNTER_REL_ERR,
    power_label: str = "current power",
) -> ComponentEnergy:
    """A GPU energy-counter delta as a component, with the short-window rules of :mod:`wattlens.meters.nvml`.

    ``power_w`` is called only for windows shorter than two counter steps (it may cost a driver call);
    ``power_label`` says in the note where that figure comes from.
    """
    if energy_j < 0:
        return ComponentEnergy.unavailable(
            DOMAIN_GPU, method, "energy counter went backwards (driver reloaded or GPU reset inside the window)", device
        )
    if duration_s >= 2 * period_s:
        # The counter advances in steps (every 100 ms on an H200, docs/hardware-runs/): each edge may be up to one
        # step behind, so the window's figure may be off by one step of energy at the window's own mean power.
        step_j = energy_j / duration_s * period_s + 1e-3
        return ComponentEnergy(
            DOMAIN_GPU,
            energy_j,
            MEASURED,
            method,
            max(0.0, energy_j * (1 - rel_err) - step_j),
            energy_j * (1 + rel_err) + step_j,
            device,
            join_notes(
                note,
                f"±{rel_err:.0%} accuracy (assumed for the counter) ± one counter step "
                f"(≤{period_s * 1e3:.0f} ms at the window's mean power)",
            ),
        )
    p_w = power_w()
    flag = f"window {duration_s * 1e3:.1f} ms is shorter than two counter updates (≤{period_s * 1e3:.0f} ms each)"
    if p_w is None:
        if energy_j == 0:
            return ComponentEnergy.unavailable(
                DOMAIN_GPU,
                method,
                flag + "; counter did not move and power is unreadable, so the energy is unknown",
                device,
            )
        return ComponentEnergy(
            DOMAIN_GPU, energy_j, MEASURED, method, 0.0, 2 * energy_j, device, join_notes(note, flag + "; bounds ×0…×2")
        )
    if energy_j == 0:
        approx_j = p_w * duration_s
        return ComponentEnergy(
            DOMAIN_GPU,
            approx_j,
            INTEGRATED,
            approx_method,
            0.5 * approx_j,
            2 * approx_j,
            device,
            join_notes(note, flag + f"; counter did not move, so {power_label} {p_w:.0f} W × duration, bounds ×0.5…×2"),
        )
    step_j = p_w * period_s
    return ComponentEnergy(
        DOMAIN_GPU,
        energy_j,
        MEASURED,
        method,
        max(0.0, energy_j * (1 - rel_err) - step_j),
        energy_j * (1 + rel_err) + step_j,
        device,
        join_notes(note, flag + f"; bounds widened by one step at {power_label} {p_w:.0f} W"),
    )


class GpuSource(EnergySource):
    """Counter-or-power-integration energy of a list of GPUs; a vendor subclass supplies the library calls.

    Subclasses set the class attributes below and implement the abstract hooks (``_init_lib`` …
    ``_read_power_w``, ``_component``). State shared with the sampler thread and the edge reader (modes,
    integration accumulators, device reads) is only touched under ``self._lock``; the power hints belong to
    the edge reader's thread alone (and to the constructor, before that thread exists).
    """

    # Set by each vendor subclass; they are the only texts that differ between the vendors' messages.
    _LIB_NAME: ClassVar[str]  # as the library calls itself ("NVML", "AMD SMI")
    _MISSING: ClassVar[str]  # why the constructor fails when the library cannot be imported
    _MISSING_PROBE: ClassVar[str]  # the same for probe() (AMD words it shorter there)
    _NONE_VISIBLE: ClassVar[str]  # status / error when no device is visible at all
    _MODULE: ClassVar[str]  # the vendor's Python module ("pynvml", "amdsmi")
    _LIB_KWARG: ClassVar[str]  # the constructor keyword that passes a stand-in library; probe() reads it too
    _COUNTER_J: ClassVar[float] = 1.0  # joules per unit of what _read_counter returns
    # Whether a counter-derived power may serve short windows. AMD says no: its counter is only trusted after
    # the plausibility check against a power reading, so its power figure must come from a power reading.
    _COUNTER_HINTS: ClassVar[bool] = True
    # Whether delta is arithmetic on the two snapshots once edges are read in the background (pure_delta).
    _PURE_WHEN_ASYNC: ClassVar[bool] = True

    devices: list[Any]
    notes: list[str]

    def __init__(
        self,
        devices: Sequence[int | str] | None,
        *,
        lib: Any | None,
        env: Mapping[str, str] | None,
        clock: Callable[[], float],
        counter_period_s: float,
        power_period_s: float,
        edge_reads: str = "auto",
        edge_timeout_s: float = EDGE_TIMEOUT_S,
    ) -> None:
        if edge_reads not in EDGE_READS:
            raise ValueError(f"edge_reads must be one of {EDGE_READS}, got {edge_reads!r}")
        self._clock = clock
        self._counter_period_s = counter_period_s
        self._power_period_s = power_period_s
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        try:
            self._lib = self._load_lib(lib)
        except ImportError as exc:
            raise SourceUnavailableError(self._MISSING) from exc
        self._init_lib(self._lib)
        try:
            self.devices, self.notes = self._open_devices(self._lib, devices, env)
        except Exception as exc:
            self._shutdown()
            raise SourceUnavailableError(f"{self._LIB_NAME} device query failed: {err(exc)}") from exc
        if not any(d.mode != MODE_BROKEN for d in self.devices):
            self._shutdown()
            raise SourceUnavailableError("; ".join([d.reason for d in self.devices] + self.notes) or self._NONE_VISIBLE)
        # Power-integration state, one slot per device (unused for counter devices until they switch).
        n = len(self.devices)
        self._acc_j = [0.0] * n  # integrated energy since construction
        self._n = [0] * n  # number of power readings folded in
        self._last_p_w: list[float | None] = [None] * n  # None: the next reading starts a new trapezoid chain
        self._last_t = [0.0] * n
        # Edge reads: in the background (see the module docstring) or at the edge.
        if edge_reads == "auto":
            edge_reads = "async" if self._is_vendor_module(self._lib) else "blocking"
        self.edge_reads = edge_reads
        self._edge_timeout_s = edge_timeout_s
        self._reader: EdgeReader | None = None
        self._anchor: list[tuple[float, float] | None] = [None] * n  # (t, counter) a power figure is taken from
        self._hint: list[PowerHint | None] = [None] * n
        first = self._blocking_snapshot()  # first power reading: integration starts now
        if edge_reads == "async":
            self._reader = EdgeReader(self._serve_batch, name=self.name, timeout_s=edge_timeout_s)
            self.pure_delta = self._PURE_WHEN_ASYNC
            self._update_hints(first.values, first.t_s, read_power=False)

    @classmethod
    def _is_vendor_module(cls, lib: Any) -> bool:
        """The vendor's bindings as imported from their package, not an in-memory stand-in."""
        return type(lib) is types.ModuleType and bool(getattr(lib, "__file__", None))

    # -- vendor hooks --------------------------------------------------------------------------------
    @classmethod
    def _load_lib(cls, lib: Any | None) -> Any:
        """The vendor module: ``lib`` when given (tests pass a stand-in), else imported now; ImportError when
        missing. Imported here, never at module import, so that ``import wattlens`` stays light."""
        if lib is not None:
            return lib
        return importlib.import_module(cls._MODULE)

    @classmethod
    @abstractmethod
    def _init_lib(cls, lib: Any) -> None:
        """Start the library; SourceUnavailableError (with the fix) when it cannot."""

    @classmethod
    @abstractmethod
    def _shutdown_lib(cls, lib: Any) -> None:
        """Stop the library; never raises."""

    @classmethod
    @abstractmethod
    def _open_devices(
        cls, lib: Any, devices: Sequence[Any] | None, env: Mapping[str, str] | None
    ) -> tuple[list[Any], list[str]]:
        """The visible devices, each with its mode chosen, and notes about the selection."""

    @classmethod
    @abstractmethod
    def _describe(cls, d: Any) -> str:
        """One device's part of the status line."""

    @classmethod
    def _status(cls, name: str, devices: list[Any], notes: list[str]) -> SourceStatus:
        return gpu_status(name, devices, [cls._describe(d) for d in devices], notes, cls._NONE_VISIBLE)

    @abstractmethod
    def _read_counter(self, d: Any) -> float:
        """The device's energy counter, in the unit ``_component`` expects; raises on failure."""

    @abstractmethod
    def _read_power_w(self, d: Any) -> float:
        """The device's current power in W; raises on failure (including 'not reported')."""

    @abstractmethod
    def _component(self, i: int, d: Any, start: Snapshot, end: Snapshot) -> ComponentEnergy:
        """Device ``i``'s energy over the window (may use :meth:`_edge_readings`)."""

    # -- EnergySource --------------------------------------------------------------------------------
    @classmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        try:
            lib = cls._load_lib(kwargs.get(cls._LIB_KWARG))
        except ImportError:
            return SourceStatus(cls.name, False, cls._MISSING_PROBE)
        try:
            cls._init_lib(lib)
        except SourceUnavailableError as exc:
            return SourceStatus(cls.name, False, str(exc))
        try:
            devices, notes = cls._open_devices(lib, kwargs.get("devices"), kwargs.get("env"))
        except Exception as exc:
            return SourceStatus(cls.name, False, f"{cls._LIB_NAME} device query failed: {err(exc)}")
        finally:
            cls._shutdown_lib(lib)
        return cls._status(cls.name, devices, notes)

    def status(self) -> SourceStatus:
        return self._status(self.name, self.devices, self.notes)

    def snapshot(self) -> Snapshot:
        reader = self._reader
        if reader is None:
            return self._blocking_snapshot()
        now = self._clock()
        try:
            batch = reader.request()
        except Exception as exc:  # contract: never raise
            return self._failed_snapshot(now, f"edge request failed: {err(exc)}")
        if batch is None:
            return self._failed_snapshot(now, "source closed")
        return Snapshot(now, batch)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        start, end = self._resolved(start), self._resolved(end)
        out = []
        for i, d in enumerate(self.devices):
            try:
                c = self._component(i, d, start, end)
                if isinstance(start, EdgeReading) and isinstance(end, EdgeReading):
                    c = self._with_lag(i, c, start, end)
                out.append(c)
            except Exception as exc:  # contract: never raise
                out.append(ComponentEnergy.unavailable(DOMAIN_GPU, d.method, f"internal error: {exc!r}", str(d.index)))
        return out

    def sample_period_s(self) -> float | None:
        # Re-evaluated on every call: an AMD device may switch to power integration mid-run.
        if self._closed or not any(d.mode == MODE_POWER for d in self.devices):
            return None
        return self._power_period_s

    def sample(self) -> None:
        now = self._clock()
        errors: dict[str, str] = {}
        with self._lock:
            if self._closed:
                return
            for i, d in enumerate(self.devices):
                if d.mode == MODE_POWER:
                    self._integrate(i, now, errors)

    def close(self) -> None:
        with self._close_lock:  # not self._lock: a reader stuck in the driver holds that one
            if self._closed:
                return
            self._closed = True
        # The reader serves the edges asked for before the close, then stops; the library outlives it, and any
        # read in flight on another thread (the sampler's) ends before the library is shut down.
        if (self._reader is None or self._reader.close()) and self._lock.acquire(timeout=self._edge_timeout_s):
            try:
                self._shutdown()
            finally:
                self._lock.release()
            return
        logger.warning(
            "%s: a read is still inside a driver call %.1f s after close(); the library is left initialised",
            self._LIB_NAME,
            self._edge_timeout_s,
        )

    # -- edge reads ------------------------------------------------------------------------------------
    def _blocking_snapshot(self) -> Snapshot:
        """Read every device now, on the caller's thread."""
        now = self._clock()
        errors: dict[str, str] = {}
        with self._lock:
            values = self._read_devices(now, errors, self._closed)
        return Snapshot(now, values, errors)

    def _read_devices(self, now: float, errors: dict[str, str], closed: bool) -> tuple[Reading | None, ...]:
        """One reading of every device (counter, or a power reading folded into its integral). Caller holds
        the lock."""
        values: list[Reading | None] = []
        for i, d in enumerate(self.devices):
            if closed:
                errors[str(d.index)] = "source closed"
                values.append(None)
            elif d.mode == MODE_COUNTER:
                try:
                    values.append((self._read_counter(d), 0))
                except Exception as exc:
                    errors[str(d.index)] = f"GPU {d.index}: {err(exc)}"
                    values.append(None)
            elif d.mode == MODE_POWER:
                values.append(self._integrate(i, now, errors))
            else:
                values.append(None)
        return tuple(values)

    def _failed_snapshot(self, now: float, reason: str) -> Snapshot:
        return Snapshot(now, (None,) * len(self.devices), {str(d.index): reason for d in self.devices})

    def _serve_batch(self, batch: EdgeBatch) -> None:
        """The edge reader's read (its thread): every device, then the power figures short windows need.
        The library is shut down only after the reader stopped, so this reads even after close() began."""
        errors: dict[str, str] = {}
        with self._lock:
            batch.t_start_s = now = self._clock()
            values = self._read_devices(now, errors, closed=False)
        batch.t_end_s = self._clock()
        batch.values, batch.errors = values, errors
        batch.extra = self._update_hints(values, batch.t_end_s)

    def _update_hints(
        self, values: tuple[Reading | None, ...], t: float, read_power: bool = True
    ) -> tuple[PowerHint | None, ...]:
        """Each counter device's power figure at ``t``: the counter's mean since the anchor once that spans
        HINT_SPAN_S, else the last figure; a power reading when that is missing or older than HINT_MAX_AGE_S."""
        out: list[PowerHint | None] = []
        for i, d in enumerate(self.devices):
            v = values[i]
            if d.mode != MODE_COUNTER or v is None:
                out.append(None)
                continue
            anchor = self._anchor[i]
            if self._COUNTER_HINTS and anchor is not None and v[0] >= anchor[1] and t - anchor[0] >= HINT_SPAN_S:
                span = t - anchor[0]
                self._hint[i] = ((v[0] - anchor[1]) * self._COUNTER_J / span, t, span)
                self._anchor[i] = (t, v[0])
            elif anchor is None or v[0] < anchor[1]:  # first reading, or the counter was reset
                self._anchor[i] = (t, v[0])
            hint = self._hint[i]
            if read_power and (hint is None or t - hint[1] > HINT_MAX_AGE_S):
                p_w = self._power_now_w(d)
                if p_w is not None:
                    hint = self._hint[i] = (p_w, t, 0.0)
            out.append(hint)
        return tuple(out)

    def _resolved(self, snap: Snapshot) -> Snapshot:
        """A snapshot whose values are there: a background reading waited for (bounded), else ``snap`` itself."""
        batch = snap.values
        if not isinstance(batch, EdgeBatch):
            return snap
        if not batch.wait() or batch.failure:
            return self._failed_snapshot(
                snap.t_s, batch.failure_reason(self._edge_timeout_s, f"{self._LIB_NAME} edge reading")
            )
        return EdgeReading(snap.t_s, batch.values, batch.errors, max(0.0, batch.t_end_s - snap.t_s), batch.extra)

    @staticmethod
    def _power_hint(i: int, start: Snapshot, end: Snapshot) -> tuple[float, str] | None:
        """The reader's power figure for device ``i`` nearest the window's end, with what it is."""
        for edge in (end, start):
            hint = edge.hints[i] if isinstance(edge, EdgeReading) else None
            if hint is not None:
                p_w, t, span = hint
                age_s = max(0.0, end.t_s - t)
                what = f"the counter's mean power over {span:.1f} s" if span else "a power reading"
                return p_w, f"{what} {age_s:.1f} s before the window's end"
        return None

    def _short_window_power(
        self, i: int, d: Any, start: Snapshot, end: Snapshot
    ) -> tuple[Callable[[], float | None], str]:
        """The power figure (a callable: it is only wanted for short windows) and its label for the note: the
        reader's figure for background readings — no driver call in delta — else a power reading now."""
        if isinstance(start, EdgeReading) or isinstance(end, EdgeReading):
            hint = self._power_hint(i, start, end)
            if hint is None:
                return (lambda: None), ""
            p_w, label = hint
            return (lambda: p_w), f"power ({label})"
        return (lambda: self._power_now_w(d)), "current power"

    def _with_lag(self, i: int, c: ComponentEnergy, start: EdgeReading, end: EdgeReading) -> ComponentEnergy:
        """``c`` with its interval widened by the energy of the two read lags at the window's mean power."""
        if c.energy_j is None or c.low_j is None or c.high_j is None:
            return c
        lag_s = start.lag_s + end.lag_s
        window_s = end.t_s - start.t_s
        hint = self._power_hint(i, start, end)
        if hint is not None and (window_s < 2 * self._counter_period_s or c.energy_j == 0):
            p_w = hint[0]  # a short window's own energy / duration is one counter step over a few ms
        else:
            p_w = c.energy_j / window_s if window_s > 0 else 0.0
        extra_j = p_w * lag_s
        return c.replace(
            low_j=max(0.0, c.low_j - extra_j),
            high_j=c.high_j + extra_j,
            note=join_notes(
                c.note,
                f"read off the edge, lag {start.lag_s * 1e3:.1f} + {end.lag_s * 1e3:.1f} ms: "
                f"bounds ±{extra_j:.3g} J ({p_w:.0f} W × lag)",
            ),
        )

    # -- internals -------------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        self._shutdown_lib(self._lib)

    def _power_now_w(self, d: Any) -> float | None:
        """Current power for the short-window rules, None when unreadable (never raises)."""
        try:
            return self._read_power_w(d)
        except Exception:
            return None

    def _integrate(self, i: int, now: float, errors: dict[str, str]) -> Reading | None:
        """Fold one power reading of device ``i`` into its accumulator (trapezoid rule). Caller holds the lock."""
        d = self.devices[i]
        try:
            p_w = self._read_power_w(d)
        except Exception as exc:
            errors[str(d.index)] = f"GPU {d.index}: {err(exc)}"
            return None
        last = self._last_p_w[i]
        if last is not None:
            self._acc_j[i] += 0.5 * (last + p_w) * max(now - self._last_t[i], 0.0)
        self._last_p_w[i] = p_w
        self._last_t[i] = now
        self._n[i] += 1
        return self._acc_j[i], self._n[i]

    def _edge_readings(
        self, i: int, d: Any, start: Snapshot, end: Snapshot
    ) -> ComponentEnergy | tuple[Reading, Reading, float]:
        """Device ``i``'s two edge readings and the window length, or the ``unavailable`` component saying
        why there is no pair to subtract (broken device, failed read)."""
        dev = str(d.index)
        if d.mode == MODE_BROKEN:
            return ComponentEnergy.unavailable(DOMAIN_GPU, self.name, d.reason, dev)
        s, e = start.values[i], end.values[i]
        if s is None or e is None:
            reason = end.errors.get(dev) or start.errors.get(dev) or "not read"
            return ComponentEnergy.unavailable(DOMAIN_GPU, d.method, reason, dev)
        return s, e, max(end.t_s - start.t_s, 0.0)


__all__ = [
    "COUNTER_REL_ERR",
    "EDGE_READS",
    "MODE_BROKEN",
    "MODE_COUNTER",
    "MODE_POWER",
    "EdgeReading",
    "GpuSource",
    "counter_window_component",
    "err",
    "gpu_status",
    "join_notes",
    "mode_text",
]
