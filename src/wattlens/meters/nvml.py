"""NVIDIA GPU energy through NVML (the ``nvidia-ml-py`` package, imported lazily as ``pynvml``).

Two ways to get a GPU's energy, chosen per device at construction:

* **Energy counter** (Volta and newer): ``nvmlDeviceGetTotalEnergyConsumption`` returns mJ since the
  driver loaded, read for each window edge. Source ``measured``, method ``nvml:energy-counter``.
* **Power integration** where the counter is missing (pre-Volta, vGPU guests, ``NotSupported``):
  ``nvmlDeviceGetPowerUsage`` (mW) polled at 10 Hz by the shared sampler (and at each edge), integrated
  with the trapezoid rule. Source ``integrated``, method ``nvml:power-integration``. (CodeCarbon reports
  0 kWh here, #1316.)

Which GPUs: only those this process can use. ``CUDA_VISIBLE_DEVICES`` is honoured with CUDA's own
rules: comma-separated integer indices, ``GPU-<uuid>`` (a unique prefix is enough) or ``MIG-<uuid>`` /
``MIG-GPU-<uuid>/<gi>/<ci>``; parsing stops at the first invalid entry; an empty value means no GPU.
Integer indices are taken as NVML (PCI bus) indices, which is CUDA's numbering when
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (and on nodes with identical GPUs); the status detail says so otherwise.

MIG: NVML has no per-instance energy, so a MIG instance is measured through its parent GPU and the note
says the figure is whole-GPU (Zeus crashed here, #109). vGPU guests usually lack the counter and often
power too: such devices become ``unavailable`` components with the NVML reason; nothing raises.

Short windows: the counter advances in steps (about every 10 ms on one GPU, gpuopenanalytics/pynvml#18;
every 100 ms on an H200, measured by ``benchmarks/gpu_truth.py``; we assume up to ``counter_period_s`` = 100 ms).
Every window's bounds include one step of energy at the window's mean power (an edge can be a step behind).
A window shorter than two steps is flagged in ``note`` and its bounds widened by one step of energy at the
current power; a zero delta there is replaced by power × duration with wide bounds (×0.5 … ×2), never
reported as 0.

Edge reads off the caller's path (``edge_reads``): one counter read costs 3.8 ms median, 15 ms p95 on a
virtualised H200 (``benchmarks/gpu_truth.py``), i.e. ~15 % of a 50 ms training step if both edges read it. By
default (``edge_reads="auto"`` with the real pynvml) an edge only records its time and asks this source's
background reader thread for a reading (:mod:`wattlens.meters.edge_reader`, started on the first edge, stopped
and joined by ``close()``): begin+end costs tens of µs, plus the CUDA synchronisation of ``before_edge``, which
stays on the caller's path because queued kernels belong to the window. Edges asked for while a read runs
share the next read (back-to-back windows then tile exactly). ``delta`` waits for both readings (at most
``edge_timeout_s`` = 2 s after the edge, then the GPU is ``unavailable`` with the reason: never 0, never a hang)
and widens the interval by the window's mean power × the two edges' lags (request to end of read), noted as
"read off the edge, lag X + Y ms". Short windows take their power figure from the reader (the counter's mean
over ≥ 1 s, or a power reading it made), so ``delta`` makes no driver call and the source declares
``pure_delta``: a ``Monitor`` ends a window without waiting for NVML, and the first read of the result waits
for the readings. ``edge_reads="blocking"`` reads at the edge on the caller's thread (what Zeus does; the
default with an in-memory stand-in, which tests drive step by step).

Uncertainty: NVML documents ``nvmlDeviceGetPowerUsage`` as "accurate to within +/- 5% of current power
draw" (NVML API reference, Fermi/Kepler). The same ±5 % is *assumed* for the energy counter and later
generations. On GA100 and newer ``nvmlDeviceGetPowerUsage`` is a 1 s average (ml-energy/zeus#45), so
integrated windows shorter than 1 s get a wider band.

``before_edge()`` synchronises CUDA (every visible device) when torch is already imported and CUDA is
initialised, so that queued kernels land in the right window; torch is never imported here.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattlens.meters.base import DOMAIN_GPU, INTEGRATED, ComponentEnergy, EnergySource, Snapshot
from wattlens.meters.edge_reader import EDGE_TIMEOUT_S
from wattlens.meters.gpu_common import (
    COUNTER_REL_ERR,
    MODE_BROKEN,
    MODE_COUNTER,
    MODE_POWER,
    GpuSource,
    counter_window_component,
    err,
    join_notes,
    mode_text,
)
from wattlens.meters.sampler import SourceUnavailableError

REL_ERR = COUNTER_REL_ERR  # NVML power accuracy (documented for Fermi/Kepler), assumed for the energy counter too
SHORT_WINDOW_REL_ERR = 0.20  # integrated window < 1 s on GPUs whose power reading is a 1 s average
COUNTER_PERIOD_S = 0.1  # the counter's update step: 100 ms measured on an H200 (docs/HARDWARE-RUNS.md)
POWER_PERIOD_S = 0.1  # 10 Hz power polling; NVML errors were seen below 0.05 s (ml-energy/zeus#186)
_ARCH_VOLTA = 5
NVML_MODES = ("auto", "power")  # auto: the counter where it exists; power: 10 Hz power integration always
_ARCH_AMPERE = 7


@dataclass
class GpuDevice:
    """One GPU as this source sees it."""

    index: int  # NVML index of the physical GPU
    uuid: str
    name: str
    mode: str  # counter | power | broken
    handle: Any = None
    arch: int | None = None
    note: str = ""  # MIG / vGPU caveats that go into every component of this GPU
    reason: str = ""  # why it is broken

    @property
    def method(self) -> str:
        return "nvml:energy-counter" if self.mode == MODE_COUNTER else "nvml:power-integration"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_nvml_error(nvml: Any, exc: BaseException) -> bool:
    cls = getattr(nvml, "NVMLError", None)
    return isinstance(cls, type) and isinstance(exc, cls)


# ---------------------------------------------------------------------------------------------------------
# CUDA_VISIBLE_DEVICES
# ---------------------------------------------------------------------------------------------------------
def resolve_visible(nvml: Any, spec: str | Sequence[int | str] | None) -> tuple[list[tuple[int, str]], list[str]]:
    """NVML indices of the GPUs named by ``spec`` (a CUDA_VISIBLE_DEVICES value or a list), with notes.

    Returns ``([(nvml_index, mig_uuid_or_empty), ...], notes)``, in CUDA order, duplicates dropped.
    """
    count = int(nvml.nvmlDeviceGetCount())
    if spec is None:
        return [(i, "") for i in range(count)], []
    tokens = [t.strip() for t in spec.split(",")] if isinstance(spec, str) else [str(t).strip() for t in spec]
    if isinstance(spec, str) and spec.strip() == "":
        return [], ["CUDA_VISIBLE_DEVICES is empty: no GPU visible"]
    uuids: list[str] | None = None
    out: list[tuple[int, str]] = []
    notes: list[str] = []
    for tok in tokens:
        idx: int | None = None
        mig = ""
        if tok.lstrip("-").isdigit():
            n = int(tok)
            idx = n if 0 <= n < count else None
        elif tok.startswith("GPU-"):
            if uuids is None:
                uuids = [_text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
            hits = [i for i, u in enumerate(uuids) if u.startswith(tok)]
            idx = hits[0] if len(hits) == 1 else None
        elif tok.startswith("MIG-"):
            idx, mig = _resolve_mig(nvml, tok, count), tok
        if idx is None:
            notes.append(
                f"CUDA_VISIBLE_DEVICES entry {tok!r} is not a GPU here: it and later entries ignored "
                "(CUDA stops at the first invalid entry)"
            )
            break
        if all(idx != j for j, _ in out):
            out.append((idx, mig))
    return out, notes


def _resolve_mig(nvml: Any, tok: str, count: int) -> int | None:
    """Index of the physical GPU that holds MIG instance ``tok``."""
    if tok.startswith("MIG-GPU-"):  # legacy form MIG-GPU-<gpu uuid>/<gi>/<ci>
        parent_uuid = tok[len("MIG-") :].split("/", 1)[0]
        for i in range(count):
            if _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i))) == parent_uuid:
                return i
        return None
    try:
        mig_handle = nvml.nvmlDeviceGetHandleByUUID(tok)
        parent = nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig_handle)
        return int(nvml.nvmlDeviceGetIndex(parent))
    except Exception as exc:
        if _is_nvml_error(nvml, exc):
            return None
        raise


# ---------------------------------------------------------------------------------------------------------
# per-device set-up
# ---------------------------------------------------------------------------------------------------------
def _open_device(nvml: Any, index: int, mig_uuid: str = "") -> GpuDevice:
    """Query one GPU and choose counter / power / broken. Never raises for NVML errors."""
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        uuid = _text(nvml.nvmlDeviceGetUUID(handle))
    except Exception as exc:
        if not _is_nvml_error(nvml, exc):
            raise
        return GpuDevice(index, "", "", MODE_BROKEN, reason=f"GPU {index}: {err(exc)}")
    name = _optional(nvml, "nvmlDeviceGetName", handle, "")
    arch = _optional(nvml, "nvmlDeviceGetArchitecture", handle, None)
    notes = []
    mig_mode = _optional(nvml, "nvmlDeviceGetMigMode", handle, None)
    if mig_uuid or (mig_mode and mig_mode[0] == getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1)):
        what = f"MIG instance {mig_uuid}" if mig_uuid else "MIG mode on"
        notes.append(f"{what}: NVML has no per-instance energy, figure is the whole GPU {index}")
    virt = _optional(nvml, "nvmlDeviceGetVirtualizationMode", handle, None)
    if virt == getattr(nvml, "NVML_GPU_VIRTUALIZATION_MODE_VGPU", 2):
        notes.append("vGPU guest: the host's GPU may be shared with other VMs")
    dev = GpuDevice(index, uuid, _text(name), MODE_BROKEN, handle, arch, "; ".join(notes))
    counter_reason = ""
    if arch is not None and arch < _ARCH_VOLTA and arch != getattr(nvml, "NVML_DEVICE_ARCH_UNKNOWN", -1):
        counter_reason = "no energy counter before Volta"
    else:
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            dev.mode = MODE_COUNTER
            return dev
        except Exception as exc:
            if not _is_nvml_error(nvml, exc):
                raise
            counter_reason = f"energy counter: {err(exc)}"
    try:
        nvml.nvmlDeviceGetPowerUsage(handle)
        dev.mode = MODE_POWER
        dev.note = "; ".join(x for x in (dev.note, counter_reason + " -> 10 Hz power integration") if x)
    except Exception as exc:
        if not _is_nvml_error(nvml, exc):
            raise
        dev.reason = f"GPU {index} ({dev.name}): {counter_reason}; power: {err(exc)}"
    return dev


def _optional(nvml: Any, fn_name: str, handle: Any, default: Any) -> Any:
    fn = getattr(nvml, fn_name, None)
    if fn is None:
        return default
    try:
        return fn(handle)
    except Exception as exc:
        if _is_nvml_error(nvml, exc):
            return default
        raise


# ---------------------------------------------------------------------------------------------------------
# the source
# ---------------------------------------------------------------------------------------------------------
class NvmlSource(GpuSource):
    """Energy of each visible NVIDIA GPU (domain ``gpu``, device = NVML index).

    Args:
        devices: GPUs to measure (NVML indices or ``GPU-``/``MIG-`` UUIDs). Default: those named by
            ``CUDA_VISIBLE_DEVICES``, or all when it is unset.
        nvml: the NVML module (default: ``import pynvml``); tests pass a stand-in.
        env: environment mapping to read ``CUDA_VISIBLE_DEVICES`` from (default ``os.environ``).
        clock: monotonic seconds.
        counter_period_s / power_period_s: see module docstring.
        mode: ``"auto"`` (the energy counter where the GPU has one) or ``"power"`` (power integration on
            every GPU: an independent cross-check of the counter).
        edge_reads: ``"auto"`` (background reads with the real pynvml, edge reads with a stand-in), ``"async"``
            or ``"blocking"``: see the module docstring.
        edge_timeout_s: how long after an edge its background reading may arrive before the GPU is reported
            ``unavailable`` for that window.

    Raises:
        SourceUnavailableError: nvidia-ml-py missing, no driver, or no usable GPU visible.

    Example:
        >>> from wattlens.meters.nvml import NvmlSource
        >>> NvmlSource.probe().available in (True, False)
        True
        >>> # src = NvmlSource(); a = src.snapshot(); ...; src.before_edge(); parts = src.delta(a, src.snapshot())
    """

    name = "nvml"
    _LIB_NAME = "NVML"
    _MISSING = _MISSING_PROBE = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    _NONE_VISIBLE = "no NVIDIA GPU visible"
    _MODULE = "pynvml"  # imported lazily: only when an NVIDIA source is actually wanted
    _LIB_KWARG = "nvml"
    _COUNTER_J = 1e-3  # the counter is in mJ

    def __init__(
        self,
        devices: Sequence[int | str] | None = None,
        *,
        nvml: Any | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        counter_period_s: float = COUNTER_PERIOD_S,
        power_period_s: float = POWER_PERIOD_S,
        mode: str = "auto",
        edge_reads: str = "auto",
        edge_timeout_s: float = EDGE_TIMEOUT_S,
    ) -> None:
        if mode not in NVML_MODES:
            raise ValueError(f"mode must be one of {NVML_MODES}, got {mode!r}")
        super().__init__(
            devices,
            lib=nvml,
            env=env,
            clock=clock,
            counter_period_s=counter_period_s,
            power_period_s=power_period_s,
            edge_reads=edge_reads,
            edge_timeout_s=edge_timeout_s,
        )
        if mode == "power":
            self._force_power_integration()
        self._has_power = any(d.mode == MODE_POWER for d in self.devices)  # NVML modes never change

    def _force_power_integration(self) -> None:
        """Integrate power even where the energy counter exists: the independent cross-check of the counter
        (``benchmarks/gpu_truth.py`` compares the two on the same window)."""
        with self._lock:
            for d in self.devices:
                if d.mode != MODE_COUNTER:
                    continue
                try:
                    self._read_power_w(d)
                except Exception as exc:
                    d.mode, d.reason = MODE_BROKEN, f"GPU {d.index}: power unreadable: {err(exc)}"
                    continue
                d.mode = MODE_POWER
                d.note = join_notes(d.note, "power integration chosen (mode='power') although the counter exists")
        self._blocking_snapshot()  # the first power reading of each switched device starts its integration now

    # -- EnergySource --------------------------------------------------------------------------------
    def sample(self) -> None:
        if not self._has_power:  # counter-only: nothing to poll, not even the clock
            return
        super().sample()

    def before_edge(self) -> None:
        """Wait for queued CUDA work so that it is counted in the window it belongs to."""
        torch = sys.modules.get("torch")
        if torch is None:
            return
        try:
            cuda = torch.cuda
            if not cuda.is_initialized():
                return
            for i in range(cuda.device_count()):
                cuda.synchronize(i)
        except Exception:  # a broken CUDA context must not break measuring
            return

    # -- GpuSource hooks -------------------------------------------------------------------------------
    @classmethod
    def _init_lib(cls, lib: Any) -> None:
        try:
            lib.nvmlInit()
        except Exception as exc:
            raise SourceUnavailableError(f"NVML cannot start (no NVIDIA driver?): {err(exc)}") from exc

    @classmethod
    def _shutdown_lib(cls, lib: Any) -> None:
        try:
            lib.nvmlShutdown()
        except Exception:
            pass

    @classmethod
    def _open_devices(
        cls, lib: Any, devices: Sequence[int | str] | None, env: Mapping[str, str] | None
    ) -> tuple[list[GpuDevice], list[str]]:
        return _open_all(lib, devices, env)

    @classmethod
    def _describe(cls, d: GpuDevice) -> str:
        return f"GPU {d.index} {d.name} ({d.uuid}): " + mode_text(d) + (f" [{d.note}]" if d.note else "")

    def _read_counter(self, d: GpuDevice) -> float:
        return float(self._lib.nvmlDeviceGetTotalEnergyConsumption(d.handle))  # mJ

    def _read_power_w(self, d: GpuDevice) -> float:
        return float(self._lib.nvmlDeviceGetPowerUsage(d.handle)) / 1000.0

    def _component(self, i: int, d: GpuDevice, start: Snapshot, end: Snapshot) -> ComponentEnergy:
        edges = self._edge_readings(i, d, start, end)
        if isinstance(edges, ComponentEnergy):
            return edges
        s, e, duration_s = edges
        if d.mode == MODE_COUNTER:
            power_w, power_label = self._short_window_power(i, d, start, end)
            return counter_window_component(
                (e[0] - s[0]) * self._COUNTER_J,
                duration_s,
                method=d.method,
                device=str(d.index),
                note=d.note,
                power_w=power_w,
                period_s=self._counter_period_s,
                approx_method="nvml:power×duration",
                power_label=power_label,
            )
        return self._integrated_component(d, e[0] - s[0], e[1] - s[1], duration_s)

    def _integrated_component(self, d: GpuDevice, energy_j: float, n_reads: int, duration_s: float) -> ComponentEnergy:
        rel = REL_ERR
        note = "±5 % NVML power accuracy"
        if duration_s < 1.0 and (d.arch or 0) >= _ARCH_AMPERE:
            rel += SHORT_WINDOW_REL_ERR
            note += "; window < 1 s but this GPU's power reading is a 1 s average: +20 %"
        if n_reads < 3:
            rel += SHORT_WINDOW_REL_ERR
            note += f"; only {n_reads + 1} power readings in the window: +20 %"
        return ComponentEnergy(
            DOMAIN_GPU,
            energy_j,
            INTEGRATED,
            d.method,
            energy_j * (1 - rel),
            energy_j * (1 + rel),
            str(d.index),
            join_notes(d.note, note),
        )


def _open_all(
    nvml: Any, devices: Sequence[int | str] | None, env: Mapping[str, str] | None
) -> tuple[list[GpuDevice], list[str]]:
    env = os.environ if env is None else env
    spec: str | Sequence[int | str] | None = devices if devices is not None else env.get("CUDA_VISIBLE_DEVICES")
    visible, notes = resolve_visible(nvml, spec)
    order = env.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    if spec is not None and order != "PCI_BUS_ID" and any(str(t).strip().isdigit() for t in _tokens(spec)):
        notes.append(
            "integer GPU indices read as NVML/PCI order; set CUDA_DEVICE_ORDER=PCI_BUS_ID to be sure "
            "they match CUDA's on nodes with mixed GPU models"
        )
    out: list[GpuDevice] = []
    for index, mig in visible:
        out.append(_open_device(nvml, index, mig))
    return out, notes


def _tokens(spec: str | Sequence[int | str]) -> list[str]:
    return spec.split(",") if isinstance(spec, str) else [str(t) for t in spec]


def discover(**kwargs: Any) -> list[EnergySource]:
    """``[NvmlSource(**kwargs)]`` when at least one visible NVIDIA GPU can be measured, else ``[]``."""
    try:
        return [NvmlSource(**kwargs)]
    except SourceUnavailableError:
        return []


__all__ = ["GpuDevice", "NvmlSource", "counter_window_component", "discover", "resolve_visible"]
