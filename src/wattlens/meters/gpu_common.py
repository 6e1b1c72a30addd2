"""What the GPU energy sources (:mod:`~wattlens.meters.nvml`, :mod:`~wattlens.meters.amd`) have in common.

Both vendors offer the same two ways to a GPU's energy, chosen per device: an energy **counter** read at
window edges, or **power** polled by the shared sampler and integrated with the trapezoid rule. So the
per-device state machine lives here once — library start/stop, device selection, edge snapshots,
power integration, the short-window rules of counter deltas and the status line — and each vendor module
only says how to talk to its library (class attributes and the ``_init_lib`` / ``_open_devices`` / ``_read_*``
... hooks) and how to turn one device's pair of readings into a component (``_component``).

No vendor library is imported when this module loads: ``GpuSource._load_lib`` imports it on first use.
"""

from __future__ import annotations

import importlib
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from wattlens.meters.base import (
    DOMAIN_GPU,
    INTEGRATED,
    MEASURED,
    ComponentEnergy,
    EnergySource,
    Snapshot,
    SourceStatus,
)
from wattlens.meters.sampler import SourceUnavailableError

# NVML's documented power accuracy, assumed for every GPU energy counter unless a vendor module says otherwise
COUNTER_REL_ERR = 0.05
MODE_COUNTER = "counter"  # energy counter read at window edges
MODE_POWER = "power"  # power polled by the shared sampler and integrated
MODE_BROKEN = "broken"  # neither works; the device yields an ``unavailable`` component with ``reason``

# One edge reading of one device: (energy, number of power readings folded in). For counter devices the
# second item is 0 (so that AMD can tell a counter edge from a power edge); None where nothing was read.
Reading = tuple[float, int]


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
) -> ComponentEnergy:
    """A GPU energy-counter delta as a component, with the short-window rules of :mod:`wattlens.meters.nvml`.

    ``power_w`` is called only for windows shorter than two counter steps (it costs a driver call).
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
            join_notes(note, flag + f"; counter did not move, so current power {p_w:.0f} W × duration, bounds ×0.5…×2"),
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
        join_notes(note, flag + f"; bounds widened by one step at {p_w:.0f} W"),
    )


class GpuSource(EnergySource):
    """Counter-or-power-integration energy of a list of GPUs; a vendor subclass supplies the library calls.

    Subclasses set the class attributes below and implement the abstract hooks (``_init_lib`` …
    ``_read_power_w``, ``_component``). State shared with the sampler thread (modes, integration accumulators) is only
    touched under ``self._lock``.
    """

    # Set by each vendor subclass; they are the only texts that differ between the vendors' messages.
    _LIB_NAME: ClassVar[str]  # as the library calls itself ("NVML", "AMD SMI")
    _MISSING: ClassVar[str]  # why the constructor fails when the library cannot be imported
    _MISSING_PROBE: ClassVar[str]  # the same for probe() (AMD words it shorter there)
    _NONE_VISIBLE: ClassVar[str]  # status / error when no device is visible at all
    _MODULE: ClassVar[str]  # the vendor's Python module ("pynvml", "amdsmi")
    _LIB_KWARG: ClassVar[str]  # the constructor keyword that passes a stand-in library; probe() reads it too

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
    ) -> None:
        self._clock = clock
        self._counter_period_s = counter_period_s
        self._power_period_s = power_period_s
        self._lock = threading.Lock()
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
        self.snapshot()  # first power reading: integration starts now

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
        now = self._clock()
        errors: dict[str, str] = {}
        values: list[Reading | None] = []
        with self._lock:
            for i, d in enumerate(self.devices):
                if self._closed:
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
        return Snapshot(now, tuple(values), errors)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        out = []
        for i, d in enumerate(self.devices):
            try:
                out.append(self._component(i, d, start, end))
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
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._shutdown()

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
    "MODE_BROKEN",
    "MODE_COUNTER",
    "MODE_POWER",
    "GpuSource",
    "counter_window_component",
    "err",
    "gpu_status",
    "join_notes",
    "mode_text",
]
