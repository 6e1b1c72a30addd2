"""Which hardware a measured window used, named the way the lifecycle tables can look it up.

The components of a :class:`~wattlens.tracking.result.Measurement` say which devices were used (``cpu``,
``memory``, ``gpu`` with device ids, ``soc``); this module puts a name on each: the CPU model the meters
detected (normalised, as in ``cpu_power.csv``), the GPU name the driver reported (NVML / amdsmi), the
machine's memory size. The embodied-carbon model (``wattlens.carbon.lifecycle``) takes these as plain values.

>>> from wattlens.meters.base import ComponentEnergy
>>> from wattlens.tracking.result import Measurement
>>> gpu = ComponentEnergy("gpu", 5.0, "measured", "nvml:energy-counter", 4.9, 5.1, device="0")
>>> m = Measurement("w", 0.0, 2.0, [gpu])
>>> class Gpu: index, name = 0, "NVIDIA H100 80GB HBM3"
>>> class Src: devices = [Gpu()]
>>> [(d.domain, d.device, d.name) for d in used_devices(m, [Src()])]
[('gpu', '0', 'NVIDIA H100 80GB HBM3')]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from wattlens.tracking.result import Measurement


@dataclass(frozen=True)
class UsedDevice:
    """One device a window used: domain, device id, its model name, and (CPU/memory) how much of it we saw."""

    domain: str  # cpu | memory | gpu | soc
    device: str | None
    name: str | None
    logical_cpus: int | None = None  # cpu: hardware threads visible to this OS (a VM's vCPUs)
    memory_gb: float | None = None  # memory: physical memory visible to this OS
    virtualised: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gpu_names(sources: Iterable[Any]) -> dict[str, str]:
    """Device id -> model name for every GPU an energy source opened (NVML and amdsmi expose ``devices``)."""
    names: dict[str, str] = {}
    for source in sources:
        for dev in getattr(source, "devices", None) or ():
            index, name = getattr(dev, "index", None), getattr(dev, "name", "")
            if index is not None and name:
                names.setdefault(str(index), str(name))
    return names


def used_devices(measurement: Measurement, sources: Iterable[Any] = ()) -> tuple[UsedDevice, ...]:
    """The devices of ``measurement``'s components (unavailable ones included: they were used, just not read),
    one per GPU id and one each for the CPU, memory and SoC domains."""
    names = gpu_names(sources)
    out: list[UsedDevice] = []
    seen: set[tuple[str, str | None]] = set()
    for c in measurement.components:
        key = (c.domain, c.device if c.domain == "gpu" else None)
        if key in seen:
            continue
        seen.add(key)
        if c.domain == "gpu":
            out.append(UsedDevice("gpu", c.device, names.get(str(c.device))))
        elif c.domain in ("cpu", "soc"):
            out.append(_cpu_device(c.domain))
        elif c.domain == "memory":
            out.append(_memory_device())
    return tuple(out)


def _cpu_device(domain: str) -> UsedDevice:
    from wattlens.meters.cpu import detect_cpu  # cached after the monitor's first use

    info = detect_cpu()
    return UsedDevice(domain, None, info.model or info.raw_model or None, info.logical_cpus, None, info.virtualised)


def _memory_device() -> UsedDevice:
    from wattlens.meters.estimator import machine_memory_gb

    gb = machine_memory_gb()
    return UsedDevice("memory", None, None, None, gb if gb > 0 else None)
