"""Per-process GPU energy for ``wattlens exporter --processes``: each GPU's energy of a tick shared among the
processes that used it, by their SM utilisation samples from NVML (``nvmlDeviceGetProcessUtilization``).

DCGM exporter and Kepler attribute GPU energy the same way (by a process's share of the device's activity); the
series are labelled ``attributed="sm-utilisation-share"`` because they are a share of a measured figure, not a
per-process sensor (none exists). Where NVML keeps no per-process samples (older drivers, vGPU guests, MIG
instances), the device simply has no per-process series, and :attr:`GpuProcessShares.unavailable` says why.

>>> shares = GpuProcessShares(nvml=None)   # no NVIDIA driver: nothing attributed, the reason kept
>>> shares.attribute({"0": 12.0}); shares.top(), shares.unavailable["*"][:16]
((), 'no NVML module: ')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from wattlens._logging import get_logger

logger = get_logger(__name__)


class GpuProcessShares:
    """Running per-(process, GPU) energy totals; processes that ended drop out (their series end)."""

    def __init__(self, nvml: Any = "import", proc: str = "/proc", limit: int = 50) -> None:
        self._proc = proc
        self._limit = limit
        self._energy: dict[tuple[int, str], float] = {}
        self._last_seen_us: dict[str, int] = {}
        self.unavailable: dict[str, str] = {}
        self._nvml = self._load(nvml)

    def _load(self, nvml: Any) -> Any:
        if nvml == "import":
            try:
                import pynvml as nvml  # type: ignore[no-redef]

                nvml.nvmlInit()
            except Exception as exc:  # no driver, no library: no GPU per-process series
                self.unavailable["*"] = f"no NVML module: {type(exc).__name__}: {exc}"
                return None
        elif nvml is None:
            self.unavailable["*"] = "no NVML module: no NVIDIA driver or nvidia-ml-py here"
        return nvml

    def _samples(self, device: str) -> dict[int, float]:
        """SM utilisation summed per pid over the samples NVML took since the last tick (empty when none)."""
        nvml = self._nvml
        handle = nvml.nvmlDeviceGetHandleByIndex(int(device))
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen_us.get(device, 0))
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) == getattr(nvml, "NVML_ERROR_NOT_FOUND", -1):
                return {}  # no process ran on it since the last tick
            raise
        used: dict[int, float] = {}
        for s in samples:
            self._last_seen_us[device] = max(self._last_seen_us.get(device, 0), int(s.timeStamp))
            if s.smUtil > 0:
                used[int(s.pid)] = used.get(int(s.pid), 0.0) + float(s.smUtil)
        return used

    def attribute(self, gpu_j: Mapping[str, float]) -> None:
        """Share each GPU's energy of the tick (J, by device index) among the processes that used it."""
        if self._nvml is None:
            return
        for device, joules in gpu_j.items():
            try:
                used = self._samples(device)
            except Exception as exc:  # not supported on this device: its energy stays unattributed
                self.unavailable[device] = f"{type(exc).__name__}: {exc}"
                continue
            self.unavailable.pop(device, None)
            total = sum(used.values())
            if total <= 0 or joules <= 0:
                continue
            for pid, util in used.items():
                key = (pid, device)
                self._energy[key] = self._energy.get(key, 0.0) + joules * util / total
        for key in [k for k in self._energy if not os.path.exists(f"{self._proc}/{k[0]}")]:
            del self._energy[key]

    def top(self) -> tuple[tuple[int, str, str, float], ...]:
        """The ``limit`` largest: (pid, comm, device, J)."""
        ranked = sorted(self._energy.items(), key=lambda kv: kv[1], reverse=True)[: self._limit]
        return tuple((pid, self._comm(pid), device, e) for (pid, device), e in ranked)

    def _comm(self, pid: int) -> str:
        try:
            with open(f"{self._proc}/{pid}/comm", encoding="utf-8", errors="replace") as f:
                return f.read().strip() or "?"
        except OSError:
            return "?"
