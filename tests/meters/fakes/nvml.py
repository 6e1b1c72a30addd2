"""A stand-in for the NVML Python bindings (``pynvml`` from nvidia-ml-py) with the real function names.

Error classes and constants are taken from the installed ``pynvml`` itself when it is importable (so
``NVMLError(NVML_ERROR_NOT_SUPPORTED)`` really is an ``NVMLError_NotSupported``, as in the library), and
otherwise defined here the same way. Behaviour per GPU generation follows NVML's documentation:

* Pascal (arch 4) and older: ``nvmlDeviceGetTotalEnergyConsumption`` -> NOT_SUPPORTED, power works;
* Volta (5) and newer: energy counter in mJ since driver load, power in mW;
* vGPU guests: no energy counter; power optional (``vgpu_power``);
* MIG: the parent GPU answers energy/power; MIG device handles answer NOT_SUPPORTED for both.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field

try:
    import pynvml as _real
except ImportError:  # pragma: no cover - nvidia-ml-py is a dev dependency
    _real = None

PASCAL, VOLTA, AMPERE, HOPPER = 4, 5, 7, 9
ARCH_NAMES = {
    PASCAL: "Tesla P100-PCIE-16GB",
    VOLTA: "Tesla V100-SXM2-32GB",
    AMPERE: "NVIDIA A100-SXM4-80GB",
    HOPPER: "NVIDIA H100 80GB HBM3",
}


def _error_namespace() -> dict[str, object]:
    if _real is not None:
        return {k: getattr(_real, k) for k in dir(_real) if k.startswith(("NVML_", "NVMLError"))}
    ns: dict[str, object] = {
        "NVML_SUCCESS": 0,
        "NVML_ERROR_UNINITIALIZED": 1,
        "NVML_ERROR_INVALID_ARGUMENT": 2,
        "NVML_ERROR_NOT_SUPPORTED": 3,
        "NVML_ERROR_NO_PERMISSION": 4,
        "NVML_ERROR_NOT_FOUND": 6,
        "NVML_ERROR_DRIVER_NOT_LOADED": 9,
        "NVML_ERROR_LIBRARY_NOT_FOUND": 12,
        "NVML_ERROR_GPU_IS_LOST": 15,
        "NVML_DEVICE_MIG_DISABLE": 0,
        "NVML_DEVICE_MIG_ENABLE": 1,
        "NVML_GPU_VIRTUALIZATION_MODE_NONE": 0,
        "NVML_GPU_VIRTUALIZATION_MODE_VGPU": 2,
        "NVML_DEVICE_ARCH_UNKNOWN": 0xFFFFFFFF,
    }

    class NVMLError(Exception):
        _map: dict[int, type] = {}

        def __new__(cls, value):
            cls = NVMLError._map.get(value, cls) if cls is NVMLError else cls
            obj = Exception.__new__(cls)
            obj.value = value
            return obj

        def __init__(self, value):
            self.value = value

    ns["NVMLError"] = NVMLError
    for k, v in list(ns.items()):
        if k.startswith("NVML_ERROR_"):
            name = "NVMLError_" + "".join(w.capitalize() for w in k[len("NVML_ERROR_") :].split("_"))
            sub = type(name, (NVMLError,), {})
            NVMLError._map[v] = sub
            ns[name] = sub
    return ns


@dataclass
class FakeGpu:
    arch: int
    uuid: str
    power_mw: int = 100_000
    energy_mj: int = 1_000_000
    mig: bool = False
    mig_uuids: list[str] = field(default_factory=list)
    vgpu: bool = False
    vgpu_power: bool = True
    lost: bool = False  # every call raises GPU_IS_LOST (GPU fell off the bus)
    # nvmlDeviceGetProcessUtilization: (pid, smUtil %, timeStamp µs) samples NVML keeps; None = NOT_SUPPORTED
    process_samples: list[tuple[int, int, int]] | None = field(default_factory=list)

    @property
    def name(self) -> str:
        return ARCH_NAMES.get(self.arch, "NVIDIA GPU")


@dataclass(frozen=True)
class _Handle:
    index: int
    mig_uuid: str = ""


class FakeNvml(types.ModuleType):
    """``FakeNvml([FakeGpu(...), ...])`` behaves like the ``pynvml`` module for those GPUs."""

    def __init__(self, gpus: list[FakeGpu], *, driver_loaded: bool = True) -> None:
        super().__init__("pynvml")
        self.__dict__.update(_error_namespace())
        self.gpus = gpus
        self.driver_loaded = driver_loaded
        self.init_count = 0
        self.calls: dict[str, int] = {}

    # helpers -----------------------------------------------------------------------------------------
    def _raise(self, code_name: str):
        raise self.NVMLError(getattr(self, code_name))

    def _count(self, fn: str) -> None:
        self.calls[fn] = self.calls.get(fn, 0) + 1
        if self.init_count <= 0 and fn not in ("nvmlInit", "nvmlShutdown"):
            self._raise("NVML_ERROR_UNINITIALIZED")

    def _gpu(self, handle: _Handle, *, mig_ok: bool = False) -> FakeGpu:
        gpu = self.gpus[handle.index]
        if gpu.lost:
            self._raise("NVML_ERROR_GPU_IS_LOST")
        if handle.mig_uuid and not mig_ok:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        return gpu

    # the API -------------------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] = self.calls.get("nvmlInit", 0) + 1
        if not self.driver_loaded:
            self._raise("NVML_ERROR_LIBRARY_NOT_FOUND")
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        self._count("nvmlShutdown")
        if self.init_count <= 0:
            self._raise("NVML_ERROR_UNINITIALIZED")
        self.init_count -= 1

    def nvmlDeviceGetCount(self) -> int:
        self._count("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._count("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            self._raise("NVML_ERROR_INVALID_ARGUMENT")
        return _Handle(index)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _Handle:
        self._count("nvmlDeviceGetHandleByUUID")
        for i, g in enumerate(self.gpus):
            if g.uuid == uuid:
                return _Handle(i)
            if uuid in g.mig_uuids:
                return _Handle(i, uuid)
        self._raise("NVML_ERROR_NOT_FOUND")

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        self._count("nvmlDeviceGetUUID")
        return handle.mig_uuid or self._gpu(handle).uuid

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        self._count("nvmlDeviceGetName")
        return self._gpu(handle, mig_ok=True).name

    def nvmlDeviceGetIndex(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetIndex")
        return handle.index

    def nvmlDeviceGetArchitecture(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetArchitecture")
        return self._gpu(handle, mig_ok=True).arch

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        self._count("nvmlDeviceGetMigMode")
        gpu = self._gpu(handle, mig_ok=True)
        if gpu.arch < AMPERE:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        mode = self.NVML_DEVICE_MIG_ENABLE if gpu.mig else self.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceIsMigDeviceHandle(self, handle: _Handle):
        self._count("nvmlDeviceIsMigDeviceHandle")
        return int(bool(handle.mig_uuid))

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, handle: _Handle) -> _Handle:
        self._count("nvmlDeviceGetDeviceHandleFromMigDeviceHandle")
        if not handle.mig_uuid:
            self._raise("NVML_ERROR_INVALID_ARGUMENT")
        return _Handle(handle.index)

    def nvmlDeviceGetVirtualizationMode(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetVirtualizationMode")
        gpu = self._gpu(handle, mig_ok=True)
        return self.NVML_GPU_VIRTUALIZATION_MODE_VGPU if gpu.vgpu else self.NVML_GPU_VIRTUALIZATION_MODE_NONE

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetTotalEnergyConsumption")
        gpu = self._gpu(handle)
        if gpu.arch < VOLTA or gpu.vgpu:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        return gpu.energy_mj

    def nvmlDeviceGetProcessUtilization(self, handle: _Handle, last_seen_timestamp: int) -> list[types.SimpleNamespace]:
        """Samples newer than ``last_seen_timestamp`` (µs); NOT_FOUND when there are none, as the library does."""
        self._count("nvmlDeviceGetProcessUtilization")
        gpu = self._gpu(handle)
        if gpu.process_samples is None or gpu.vgpu:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        fresh = [(pid, sm, ts) for pid, sm, ts in gpu.process_samples or [] if ts > last_seen_timestamp]
        if not fresh:
            self._raise("NVML_ERROR_NOT_FOUND")
        return [
            types.SimpleNamespace(pid=pid, smUtil=sm, memUtil=0, encUtil=0, decUtil=0, timeStamp=ts)
            for pid, sm, ts in fresh
        ]

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        self._count("nvmlDeviceGetPowerUsage")
        gpu = self._gpu(handle)
        if gpu.vgpu and not gpu.vgpu_power:
            self._raise("NVML_ERROR_NOT_SUPPORTED")
        return gpu.power_mw


def uuid_for(i: int) -> str:
    return f"GPU-{i:08x}-1111-2222-3333-44445555{i:04x}"


def machine(arch: int, n: int = 4, **kw) -> FakeNvml:
    return FakeNvml([FakeGpu(arch, uuid_for(i), **kw) for i in range(n)])
