"""Hardware knobs (NVIDIA power limit, locked SM clocks via NVML) that are *always* put back, and thermal reads.

:class:`GpuKnobs` is a context manager: on entry it records the current power limit, then applies the
requested limit / clock lock; on exit — normal, exception, SIGINT/SIGTERM, or interpreter exit (atexit) —
it restores the recorded limit and resets the clock lock. Restoring is idempotent and never raises (a
failure to restore is logged as an error on ``wattlens.optimize.hardware`` and kept in ``restore_errors``;
it is the one thing a user must hear, and the CLI prints it).

The NVML functions come from ``pynvml`` (package nvidia-ml-py) or from a stand-in object passed as ``nvml``
(tests: there is no GPU here). Setting limits needs root / CAP_SYS_ADMIN.
"""

from __future__ import annotations

import atexit
import glob
import os
import signal
import threading
from typing import Any

from wattlens._logging import get_logger
from wattlens.optimize.results import Config
from wattlens.stats import mean

logger = get_logger(__name__)

_ACTIVE: list[GpuKnobs] = []
_LOCK = threading.Lock()
_HANDLERS_INSTALLED: dict[int, Any] = {}
NVML_CLOCK_SM = 1  # pynvml.NVML_CLOCK_SM
NVML_TEMPERATURE_GPU = 0


def _pynvml() -> Any:
    import pynvml  # nvidia-ml-py; lazy

    return pynvml


def nvml_device_count(nvml: Any = None) -> int:
    """Number of NVIDIA GPUs NVML sees; 0 when the library or driver is missing."""
    try:
        nv = nvml or _pynvml()
        nv.nvmlInit()
        try:
            return int(nv.nvmlDeviceGetCount())
        finally:
            nv.nvmlShutdown()
    except Exception:  # no driver/library = no GPU knobs
        return 0


def _restore_all() -> None:
    with _LOCK:
        active = list(_ACTIVE)
    for k in reversed(active):
        k.restore()


def _signal_handler(signum: int, frame: Any) -> None:
    _restore_all()
    prev = _HANDLERS_INSTALLED.get(signum)
    if callable(prev) and prev not in (signal.SIG_IGN, signal.SIG_DFL):
        prev(signum, frame)
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _install_handlers() -> None:
    """SIGINT/SIGTERM restore the knobs first (main thread only: Python's rule for signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig not in _HANDLERS_INSTALLED:
            _HANDLERS_INSTALLED[sig] = signal.getsignal(sig)
            signal.signal(sig, _signal_handler)


def _uninstall_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, prev in list(_HANDLERS_INSTALLED.items()):
        signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        del _HANDLERS_INSTALLED[sig]


atexit.register(_restore_all)


class GpuKnobs:
    """Apply a power limit (fraction of the default limit, clamped to the allowed range) and/or lock the SM
    clock (fraction of the maximum SM clock) on GPU ``index``; restore both afterwards, whatever happens."""

    def __init__(
        self, index: int = 0, power_limit: float | None = None, gpu_clock: float | None = None, nvml: Any = None
    ) -> None:
        self.index = index
        self.power_limit = power_limit
        self.gpu_clock = gpu_clock
        self.nv = nvml
        self.handle: Any = None
        self.saved_limit_mw: int | None = None
        self.clock_locked = False
        self.applied: dict[str, object] = {}
        self.restore_errors: list[str] = []
        self._restored = True

    # -- entering ---------------------------------------------------------------------------------
    def __enter__(self) -> GpuKnobs:
        self.nv = self.nv or _pynvml()
        self.nv.nvmlInit()
        self.handle = self.nv.nvmlDeviceGetHandleByIndex(self.index)
        self._restored = False
        with _LOCK:
            _ACTIVE.append(self)
        _install_handlers()
        try:
            self._apply()
        except BaseException:
            self.restore()
            raise
        return self

    def _apply(self) -> None:
        nv, h = self.nv, self.handle
        if self.power_limit is not None:
            self.saved_limit_mw = int(nv.nvmlDeviceGetPowerManagementLimit(h))
            default_mw = int(nv.nvmlDeviceGetPowerManagementDefaultLimit(h))
            lo, hi = nv.nvmlDeviceGetPowerManagementLimitConstraints(h)
            target = int(min(max(default_mw * self.power_limit, lo), hi))
            nv.nvmlDeviceSetPowerManagementLimit(h, target)
            self.applied["power_limit_w"] = target / 1000.0
        if self.gpu_clock is not None:
            max_mhz = int(nv.nvmlDeviceGetMaxClockInfo(h, NVML_CLOCK_SM))
            mhz = int(max_mhz * self.gpu_clock)
            self.clock_locked = True  # set before the call: a half-applied lock is reset too
            nv.nvmlDeviceSetGpuLockedClocks(h, mhz, mhz)
            self.applied["gpu_clock_mhz"] = mhz

    # -- leaving ----------------------------------------------------------------------------------
    def restore(self) -> None:
        """Put everything back. Safe to call repeatedly, from a signal handler or atexit."""
        if self._restored:
            return
        self._restored = True
        nv, h = self.nv, self.handle
        if self.saved_limit_mw is not None:
            try:
                nv.nvmlDeviceSetPowerManagementLimit(h, self.saved_limit_mw)
            except Exception as exc:  # report, keep restoring the rest
                self.restore_errors.append(f"power limit: {exc}")
        if self.clock_locked:
            try:
                nv.nvmlDeviceResetGpuLockedClocks(h)
            except Exception as exc:
                self.restore_errors.append(f"locked clocks: {exc}")
        try:
            nv.nvmlShutdown()
        except Exception:  # shutting down the library is best-effort
            pass
        with _LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            empty = not _ACTIVE
        if empty:
            _uninstall_handlers()
        for e in self.restore_errors:
            logger.error("could not restore GPU %s %s", self.index, e)

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def thermal(self) -> dict[str, object]:
        """Temperature (C) and current SM clock (MHz) while the knobs are applied."""
        out: dict[str, object] = {}
        try:
            out["gpu_temp_c"] = int(self.nv.nvmlDeviceGetTemperature(self.handle, NVML_TEMPERATURE_GPU))
            out["gpu_sm_clock_mhz"] = int(self.nv.nvmlDeviceGetClockInfo(self.handle, NVML_CLOCK_SM))
        except Exception:  # a sensor that cannot be read is simply not reported
            pass
        return out


class NoKnobs:
    """Stand-in context manager when no hardware knob is set (CPU runs)."""

    applied: dict[str, object] = {}

    def __enter__(self) -> NoKnobs:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def thermal(self) -> dict[str, object]:
        return cpu_thermal()


def knobs_for(config: Config, nvml: Any = None) -> GpuKnobs | NoKnobs:
    power, clock = config.get("power_limit"), config.get("gpu_clock")
    if power is None and clock is None:
        return NoKnobs()
    return GpuKnobs(0, _fraction(power), _fraction(clock), nvml=nvml)


def _fraction(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _thousandths(paths: list[str]) -> list[float]:
    """The integers the kernel writes in these sysfs files, divided by 1,000 (millidegrees -> °C, kHz -> MHz);
    a file that cannot be read or parsed is skipped."""
    values = []
    for f in paths:
        try:
            with open(f) as fh:
                values.append(int(fh.read().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return values


def cpu_thermal() -> dict[str, object]:
    """CPU temperature (thermal zones / hwmon) and mean current clock, where the kernel reports them."""
    out: dict[str, object] = {}
    temps = _thousandths(
        glob.glob("/sys/class/thermal/thermal_zone*/temp") + glob.glob("/sys/class/hwmon/hwmon*/temp*_input")
    )
    if temps:
        out["cpu_temp_c"] = max(temps)
    mhz = _thousandths(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"))
    if mhz:
        out["cpu_mhz"] = mean(mhz)
    elif os.path.exists("/proc/cpuinfo"):
        try:
            vals = [float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")]
            if vals:
                out["cpu_mhz"] = mean(vals)
                out["cpu_mhz_note"] = "/proc/cpuinfo (a VM may report a constant nominal clock)"
        except (OSError, ValueError, IndexError):
            pass
    return out
