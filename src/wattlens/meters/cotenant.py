"""How busy the machine's CPUs are with other people's work, while we measure (Linux ``/proc/stat``).

A window's energy is only the model's when the model had the CPUs it asked for. On a shared machine the other
processes take cores away, and PyTorch's intra-op threads then spin while they wait: the energy is real but it
is not the model's figure (1.3–8.8x more J/query measured with a co-tenant, issue 18). So every bench window
is bracketed by two snapshots:

* machine busy time: ``/proc/stat``'s first line, every field but ``idle``, ``iowait`` and ``steal``
  (steal is time the hypervisor gave to another guest, not work on this machine), in ``USER_HZ`` ticks;
* this process tree's CPU time: this process, its live descendants and its reaped children (psutil).

Others' load = (machine busy − own) / wall time, in logical CPUs. Where ``/proc/stat`` cannot be read (macOS,
Windows, a locked-down container) the snapshot is ``None``: unknown, never 0.

>>> a = CpuSnapshot(wall_s=0.0, machine_busy_s=10.0, own_s=1.0)
>>> b = CpuSnapshot(wall_s=2.0, machine_busy_s=13.0, own_s=2.0)
>>> others_cpus(a, b)   # 3 CPU-s of busy time in 2 s, 1 of them ours: one other CPU busy on average
1.0
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

import psutil

PROC_STAT = "/proc/stat"
# /proc/stat cpu fields: user nice system idle iowait irq softirq steal guest guest_nice (guest* are inside user)
_NOT_BUSY = (3, 4, 7)


class CpuSnapshot(NamedTuple):
    wall_s: float  # time.monotonic()
    machine_busy_s: float  # CPU-seconds every logical CPU spent busy since boot
    own_s: float  # CPU-seconds of this process tree


def _ticks_per_s() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0  # Linux's USER_HZ everywhere it is configurable from userspace


def machine_busy_s(path: str = PROC_STAT) -> float | None:
    """CPU-seconds all logical CPUs have spent busy since boot, or None where ``/proc/stat`` is unreadable."""
    try:
        with open(path, encoding="ascii") as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    fields = [int(x) for x in first[1:9]]
    busy = sum(v for i, v in enumerate(fields) if i not in _NOT_BUSY)
    return busy / _ticks_per_s()


def own_tree_cpu_s() -> float:
    """CPU-seconds of this process, its live descendants and the children it has reaped."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:  # ended between listing and reading: its time shows as reaped or is lost
            continue
        total += c.user + c.system
    return float(total)


def snapshot(path: str = PROC_STAT) -> CpuSnapshot | None:
    busy = machine_busy_s(path)
    if busy is None:
        return None
    return CpuSnapshot(time.monotonic(), busy, own_tree_cpu_s())


def others_cpus(start: CpuSnapshot, end: CpuSnapshot) -> float | None:
    """Mean logical CPUs busy with other processes between two snapshots (None for an empty interval)."""
    wall = end.wall_s - start.wall_s
    if wall <= 0:
        return None
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_s - start.own_s)
    return max(0.0, others / wall)


def logical_cpus() -> int:
    return os.cpu_count() or 1


def free_cpus(sample_s: float = 0.1) -> float | None:
    """Logical CPUs not busy with other processes, sampled over ``sample_s`` (None where unknown)."""
    start = snapshot()
    if start is None:
        return None
    time.sleep(sample_s)
    end = snapshot()
    others = None if end is None else others_cpus(start, end)
    return None if others is None else max(0.0, logical_cpus() - others)
