"""A node-level CPU energy model for the exporter on a machine without a CPU energy counter.

The library's estimator (:mod:`wattlens.meters.estimator`) charges the dynamic power of *its own process tree*
only: right for ``wattlens measure``, wrong for an exporter, which must see the whole node (Kepler's scope). This
source keeps the estimator's coefficients (the same CPU power tables, the same intervals) and replaces the CPU-time
input with the whole machine's busy CPU time from ``/proc/stat``::

    E_cpu = n_threads * P_idle * T + (P_max - P_idle) * machine_busy_cpu_s          (estimated, method below)

Used only where no sensor measures the CPU package (RAPL absent); memory stays with the estimator.

>>> src = NodeCpuSource()
>>> a = src.snapshot(); b = src.snapshot()
>>> [c.domain for c in src.delta(a, b)]
['cpu']
"""

from __future__ import annotations

import os
import time
from typing import Any

from wattlens.meters.base import DOMAIN_CPU, ESTIMATED, ComponentEnergy, EnergySource, Snapshot, SourceStatus
from wattlens.meters.cotenant import machine_busy_s
from wattlens.meters.estimator import CpuPowerModel, resolve_cpu_power

METHOD = "cpu-time-model:node"
# /proc/stat counts CPU time in USER_HZ ticks (10 ms): a second read within 2 ms cannot show anything new, so an edge
# that follows another that closely (the middleware closes a window and opens the next at once) reuses it.
REUSE_S = 0.002
_NOT_BUSY = (3, 4, 7)  # idle, iowait, steal: the fields of the "cpu" line that are not this machine's busy time


class NodeCpuSource(EnergySource):
    """Whole-node CPU energy, estimated from ``/proc/stat`` busy time and the estimator's per-thread power."""

    name = "node-cpu-model"
    pure_delta = True
    domains = (DOMAIN_CPU,)

    def __init__(self, model: CpuPowerModel | None = None, proc_stat: str = "/proc/stat") -> None:
        self.model = model or resolve_cpu_power(None, None)
        self._path = proc_stat
        m = self.model
        n = m.n_threads
        self._static = (n * m.idle_w.low, n * m.idle_w.mid, n * m.idle_w.high)
        self._dynamic = (m.dynamic_w.low, m.dynamic_w.mid, m.dynamic_w.high)
        self._note = (
            f"{m.note}. Node attribution: idle of all {n} logical CPUs + dynamic power x every process's CPU time"
        )
        self._fd: int | None = None
        self._last = (-1.0, 0.0)  # (monotonic s of the read, busy CPU-s)
        try:
            self._tick_s = float(os.sysconf("SC_CLK_TCK"))
        except (ValueError, OSError, AttributeError):
            self._tick_s = 100.0

    def _busy_s(self) -> float | None:
        """Busy CPU-seconds of the whole machine: one pread of a kept descriptor (no open/close per edge)."""
        now = time.monotonic()
        if now - self._last[0] < REUSE_S:
            return self._last[1]
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDONLY)
            head = os.pread(self._fd, 256, 0).split(b"\n", 1)[0].split()
            if not head or head[0] != b"cpu":
                return None
            busy = sum(int(v) for i, v in enumerate(head[1:9]) if i not in _NOT_BUSY) / self._tick_s
        except (OSError, ValueError):
            return None
        self._last = (now, busy)
        return busy

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None

    @classmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        if machine_busy_s(kwargs.get("proc_stat", "/proc/stat")) is None:
            return SourceStatus(cls.name, False, "/proc/stat unreadable (not Linux?)", (), ESTIMATED)
        return SourceStatus(cls.name, True, "whole-node CPU time from /proc/stat", (DOMAIN_CPU,), ESTIMATED)

    def status(self) -> SourceStatus:
        ok = machine_busy_s(self._path) is not None
        return SourceStatus(self.name, ok, self._note if ok else "/proc/stat unreadable", (DOMAIN_CPU,), ESTIMATED)

    def snapshot(self) -> Snapshot:
        busy = self._busy_s()  # never raises: None where unreadable
        if busy is None:
            return Snapshot(time.monotonic(), None, {"cpu": f"{self._path} unreadable"})
        return Snapshot(time.monotonic(), busy)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        if start.values is None or end.values is None:
            reason = "; ".join({**start.errors, **end.errors}.values()) or "no /proc/stat reading"
            return [ComponentEnergy.unavailable(DOMAIN_CPU, METHOD, reason)]
        t = max(0.0, end.t_s - start.t_s)
        # /proc/stat ticks at USER_HZ (10 ms): clamp so a tick boundary never makes busy time exceed wall time
        busy = min(max(0.0, end.values - start.values), t * self.model.n_threads)
        lo, mid, hi = (s * t + d * busy for s, d in zip(self._static, self._dynamic, strict=True))
        return [ComponentEnergy(DOMAIN_CPU, mid, ESTIMATED, METHOD, lo, hi, "", self._note)]
