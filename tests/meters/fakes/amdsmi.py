"""A stand-in for the ``amdsmi`` Python package (ROCm's AMD SMI), with its function names and dict keys.

``amdsmi_get_energy_count`` returns ``{"energy_accumulator", "counter_resolution", "timestamp"}``
(ROCm 6.x; older releases named the accumulator ``power``, selectable with ``legacy_key=True``);
``amdsmi_get_power_info`` returns socket power in W or the string ``"N/A"``; library failures raise
``AmdSmiLibraryException(err_code)`` like the real bindings.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass


class AmdSmiException(Exception):
    pass


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int, err_info: str = "") -> None:
        super().__init__(f"Error code:\n\t{err_code} | {err_info}")
        self.err_code = err_code
        self.err_info = err_info


class AmdSmiInitFlags(enum.IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1 << 0
    INIT_AMD_GPUS = 1 << 1


AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_INIT_ERROR = 34


@dataclass
class FakeAmdGpu:
    market_name: str = "AMD Instinct MI300X"
    uuid: str = ""
    ticks: int = 0  # energy accumulator in ticks
    resolution_uj: float = 15.259  # counter_resolution (µJ per tick)
    power_w: float | str = 300.0  # "N/A" where the board reports no power
    has_counter: bool = True
    failing: bool = False

    def add_energy_j(self, joules: float) -> None:
        self.ticks += round(joules * 1e6 / self.resolution_uj)


class _Handle:  # amdsmi_processor_handle is an opaque ctypes pointer
    def __init__(self, gpu: FakeAmdGpu) -> None:
        self.gpu = gpu


class FakeAmdSmi(types.ModuleType):
    def __init__(self, gpus: list[FakeAmdGpu], *, driver: bool = True, legacy_key: bool = False) -> None:
        super().__init__("amdsmi")
        self.gpus = gpus
        self.driver = driver
        self.legacy_key = legacy_key
        self.initialised = 0
        self.AmdSmiException = AmdSmiException
        self.AmdSmiLibraryException = AmdSmiLibraryException
        self.AmdSmiInitFlags = AmdSmiInitFlags
        self._handles = [_Handle(g) for g in gpus]
        for i, g in enumerate(gpus):
            g.uuid = g.uuid or f"{i:02x}ff74a1-0000-1000-80f3-3c4fb5d0{i:04x}"

    def _check(self, h: _Handle) -> FakeAmdGpu:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR, "AMDSMI_STATUS_INIT_ERROR")
        if h.gpu.failing:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NO_PERM, "AMDSMI_STATUS_NO_PERM")
        return h.gpu

    def amdsmi_init(self, flag=AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        if not self.driver:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR, "AMDSMI_STATUS_INIT_ERROR")
        self.initialised += 1

    def amdsmi_shut_down(self) -> None:
        self.initialised = max(0, self.initialised - 1)

    def amdsmi_get_processor_handles(self) -> list[_Handle]:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR, "AMDSMI_STATUS_INIT_ERROR")
        return list(self._handles)

    def amdsmi_get_gpu_device_uuid(self, h: _Handle) -> str:
        return self._check(h).uuid

    def amdsmi_get_gpu_asic_info(self, h: _Handle) -> dict:
        g = self._check(h)
        return {"market_name": g.market_name, "vendor_id": "0x1002", "device_id": "0x74a1"}

    def amdsmi_get_energy_count(self, h: _Handle) -> dict:
        g = self._check(h)
        if not g.has_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED, "AMDSMI_STATUS_NOT_SUPPORTED")
        key = "power" if self.legacy_key else "energy_accumulator"
        return {key: g.ticks, "counter_resolution": g.resolution_uj, "timestamp": 0}

    def amdsmi_get_power_info(self, h: _Handle) -> dict:
        g = self._check(h)
        return {
            "current_socket_power": g.power_w,
            "average_socket_power": "N/A",
            "gfx_voltage": 800,
            "soc_voltage": 900,
            "mem_voltage": 1100,
            "power_limit": 750,
        }
