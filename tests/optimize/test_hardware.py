"""NVML knobs against a stand-in of the NVML functions: applied, then restored on every exit path."""

from __future__ import annotations

import os
import signal

import pytest

from wattlens.optimize import hardware as H


class FakeNVML:
    """The pynvml functions GpuKnobs uses, with the state a real GPU would keep."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.limit_mw = 300_000  # current
        self.default_mw = 350_000
        self.constraints = (100_000, 350_000)
        self.locked: tuple[int, int] | None = None
        self.calls: list[str] = []
        self.fail_on = fail_on
        self.inits = 0

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_on == name:
            raise RuntimeError(f"NVML_ERROR_NO_PERMISSION in {name}")

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.inits -= 1

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"gpu{i}"

    def nvmlDeviceGetPowerManagementLimit(self, h) -> int:
        return self.limit_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h) -> int:
        return self.default_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h):
        return self.constraints

    def nvmlDeviceSetPowerManagementLimit(self, h, mw: int) -> None:
        self._call("nvmlDeviceSetPowerManagementLimit")
        self.limit_mw = mw

    def nvmlDeviceGetMaxClockInfo(self, h, clock) -> int:
        return 1980

    def nvmlDeviceSetGpuLockedClocks(self, h, lo: int, hi: int) -> None:
        self._call("nvmlDeviceSetGpuLockedClocks")
        self.locked = (lo, hi)

    def nvmlDeviceResetGpuLockedClocks(self, h) -> None:
        self._call("nvmlDeviceResetGpuLockedClocks")
        self.locked = None

    def nvmlDeviceGetTemperature(self, h, sensor) -> int:
        return 61

    def nvmlDeviceGetClockInfo(self, h, clock) -> int:
        return self.locked[0] if self.locked else 1980


def test_applied_inside_restored_after() -> None:
    nv = FakeNVML()
    with H.GpuKnobs(0, power_limit=0.6, gpu_clock=0.7, nvml=nv) as k:
        assert nv.limit_mw == 210_000  # 0.6 x default 350 W
        assert nv.locked == (1386, 1386)
        assert k.thermal() == {"gpu_temp_c": 61, "gpu_sm_clock_mhz": 1386}
        assert k.applied == {"power_limit_w": 210.0, "gpu_clock_mhz": 1386}
    assert nv.limit_mw == 300_000 and nv.locked is None  # the *previous* limit, not the default
    assert nv.inits == 0 and not H._ACTIVE


def test_limit_clamped_to_allowed_range() -> None:
    nv = FakeNVML()
    with H.GpuKnobs(0, power_limit=0.1, nvml=nv):
        assert nv.limit_mw == 100_000
    assert nv.limit_mw == 300_000


def test_restored_when_the_workload_raises() -> None:
    nv = FakeNVML()
    with pytest.raises(ValueError), H.GpuKnobs(0, power_limit=0.5, gpu_clock=0.5, nvml=nv):
        raise ValueError("model crashed")
    assert nv.limit_mw == 300_000 and nv.locked is None


def test_restored_when_applying_fails_half_way() -> None:
    nv = FakeNVML(fail_on="nvmlDeviceSetGpuLockedClocks")
    with pytest.raises(RuntimeError, match="NO_PERMISSION"), H.GpuKnobs(0, power_limit=0.5, gpu_clock=0.5, nvml=nv):
        pass
    assert nv.limit_mw == 300_000
    assert "nvmlDeviceResetGpuLockedClocks" in nv.calls  # a half-applied lock is reset too
    assert not H._ACTIVE


def test_restored_on_sigterm() -> None:
    nv = FakeNVML()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exc, H.GpuKnobs(0, power_limit=0.5, nvml=nv):
        assert nv.limit_mw == 175_000
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass
    assert exc.value.code == 128 + signal.SIGTERM
    assert nv.limit_mw == 300_000
    assert signal.getsignal(signal.SIGTERM) == before  # our handler is removed again


def test_restored_at_exit() -> None:
    nv = FakeNVML()
    k = H.GpuKnobs(0, power_limit=0.5, nvml=nv).__enter__()
    assert nv.limit_mw == 175_000
    H._restore_all()  # what atexit runs if the process ends without leaving the block
    assert nv.limit_mw == 300_000
    k.restore()  # idempotent
    assert nv.calls.count("nvmlDeviceSetPowerManagementLimit") == 2


def test_restore_failure_is_reported_not_raised(caplog, capsys) -> None:
    nv = FakeNVML()
    k = H.GpuKnobs(0, gpu_clock=0.5, nvml=nv).__enter__()
    nv.fail_on = "nvmlDeviceResetGpuLockedClocks"
    with caplog.at_level("ERROR", logger="wattlens.optimize.hardware"):
        k.restore()
    assert k.restore_errors and k.restore_errors[0].startswith("locked clocks")
    (record,) = [r for r in caplog.records if r.name == "wattlens.optimize.hardware"]
    assert record.levelname == "ERROR" and "could not restore GPU 0 locked clocks" in record.getMessage()
    assert capsys.readouterr().err == ""  # the library logs; printing is the CLI's job


def test_knobs_for_and_device_count() -> None:
    assert isinstance(H.knobs_for({"power_limit": None, "gpu_clock": None}), H.NoKnobs)
    assert isinstance(H.knobs_for({"power_limit": 0.8}, nvml=FakeNVML()), H.GpuKnobs)
    assert H.nvml_device_count(FakeNVML()) == 1

    class Broken:
        def nvmlInit(self):
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    assert H.nvml_device_count(Broken()) == 0
    assert isinstance(H.cpu_thermal(), dict)
