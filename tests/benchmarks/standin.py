"""A clocked stand-in of one NVIDIA GPU for ``benchmarks/gpu_truth.py``: NVML readings that follow a load in time.

It extends the NVML stand-in of the meter tests (:mod:`tests.meters.fakes.nvml`) with physics: power is
``idle_w`` or, while a load runs, ``min(load_w, power limit)``; the energy counter is the integral of that power,
advanced in ``counter_step_s`` steps like the real counter; the power-management calls of NVML are there so
that optimize's knob can set and restore a limit. ``latency_s`` makes every energy and power read take that
long (the value is taken half-way through), like the 3.8 ms median NVML read of a virtualised H200. There is
no CUDA behind it, so ``async_work`` runs nothing and a window never waits for it: the stream-synchronisation
check must *fail* on this rig, which the tests assert.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from benchmarks.gpu_truth import Rig

from tests.meters.fakes.nvml import HOPPER, FakeGpu, FakeNvml, _Handle, uuid_for


class ClockedNvml(FakeNvml):
    def __init__(
        self, idle_w: float = 75.0, load_w: float = 650.0, counter_step_s: float = 0.01, latency_s: float = 0.0
    ) -> None:
        super().__init__([FakeGpu(HOPPER, uuid_for(0))])
        self.idle_w, self.load_w, self.step_s, self.latency_s = idle_w, load_w, counter_step_s, latency_s
        self.limit_mw, self.default_mw, self.constraints_mw = 700_000, 700_000, (200_000, 700_000)
        self.busy_since = self.busy_until = 0.0
        self._lock = threading.Lock()
        self._energy_j = 0.0
        self._t = time.monotonic()

    def _power_at_w(self, busy: bool) -> float:
        return min(self.load_w, self.limit_mw / 1e3) if busy else self.idle_w

    def _advance(self) -> None:
        """Integrate power up to now (the load edge is handled exactly)."""
        with self._lock:
            now = time.monotonic()
            t = self._t
            if t < self.busy_until:
                edge = min(now, self.busy_until)
                self._energy_j += self._power_at_w(True) * (edge - t)
                t = edge
            self._energy_j += self._power_at_w(False) * max(0.0, now - t)
            self._t = now

    def _wait(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s / 2)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetTotalEnergyConsumption")
        self._wait()
        self._advance()
        steps = int(time.monotonic() / self.step_s)  # the counter moves in steps, as the real one does
        self._wait()
        return int(self._energy_j * 1e3) if steps else 0

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetPowerUsage")
        self._wait()
        p_mw = int(self._power_at_w(time.monotonic() < self.busy_until) * 1e3)
        self._wait()
        return p_mw

    def start_load(self, seconds: float) -> None:
        """The GPU works at ``load_w`` from now for ``seconds``."""
        self._advance()
        self.busy_since = time.monotonic()
        self.busy_until = self.busy_since + seconds

    def energy_between_j(self, t0: float, t1: float) -> float:
        """The true energy over [t0, t1] (monotonic s), for the latest load and an unchanged power limit: what a
        perfect meter would read."""
        busy = max(0.0, min(t1, self.busy_until) - max(t0, self.busy_since))
        return self._power_at_w(True) * busy + self._power_at_w(False) * (t1 - t0 - busy)

    def nvmlDeviceGetPowerManagementLimit(self, handle: _Handle) -> int:
        return self.limit_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: _Handle) -> int:
        return self.default_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: _Handle) -> tuple[int, int]:
        return self.constraints_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle: _Handle, mw: int) -> None:
        self._advance()
        self.limit_mw = int(mw)

    def nvmlSystemGetDriverVersion(self) -> str:
        return "stand-in"


class StandInRig(Rig):
    hardware = "stand-in"

    edge_reads = "async"  # the stand-in drives the GPU checks through the path real GPUs get by default

    def __init__(self, **kw: float) -> None:
        self.nvml = ClockedNvml(**kw)
        self._load_s = 0.0

    def start(self) -> None:
        self.nvml.nvmlInit()  # held for the run, as pynvml's refcount would be by the sources

    def close(self) -> None:
        self.nvml.nvmlShutdown()

    def load_begin(self, seconds: float) -> None:
        self.nvml.start_load(seconds)
        self._load_s = seconds

    def load_wait(self) -> int:
        time.sleep(max(0.0, self.nvml.busy_until - time.monotonic()))
        return int(self._load_s * 100)

    def async_work(self, target_s: float) -> Callable[[], float]:
        self.load_begin(target_s)  # the "GPU" is busy, but nothing in this process can wait for it
        return lambda: (self.load_wait(), target_s)[1]
