"""AMD GPU energy through AMD SMI (the ``amdsmi`` Python package shipped with ROCm, imported lazily).

* **Energy counter**: ``amdsmi_get_energy_count(handle)`` returns an accumulator in ticks
  (``energy_accumulator``; ``power`` in older releases) and ``counter_resolution`` in µJ per tick.
  Read at window edges only. Source ``measured``, method ``amdsmi:energy-counter``.
* **Counter validation without a sleep**: some boards report counters in the wrong unit or frozen
  (ROCm/amdsmi#38). Zeus validates at start-up with a 0.5 s sleep; we must be ready in ≤ 100 ms, so the
  check is done **lazily on the first window of at least** ``VALIDATE_MIN_S`` (0.1 s): the counter's
  energy is compared with the current power (``amdsmi_get_power_info``) × duration and accepted when
  the ratio lies in (0.1, 10), Zeus's bounds. An implausible counter makes that window a power × duration
  figure with wide bounds (×0.5 … ×2) and switches the device to 10 Hz **power integration** from then on
  (``sample_period_s`` becomes 0.1; the shared sampler re-reads it).
* **Power integration** (no counter, or counter rejected): ``amdsmi_get_power_info`` polled by the
  shared sampler, trapezoid rule. Source ``integrated``, method ``amdsmi:power-integration``.
* **MI250 / MI250X**: each OAM module holds two GCDs that appear as two devices; AMD reports the
  module's power/energy on one of them, the other reads (about) zero. A GCD whose counter does not move
  over a ≥ 1 s window is therefore reported ``unavailable`` with that reason instead of 0 J, and every
  MI250 component carries a note that its figure may cover the whole module.
* **Visible devices**: ``ROCR_VISIBLE_DEVICES`` (indices or ``GPU-<uuid>``) filters first, then
  ``HIP_VISIBLE_DEVICES`` (or ``CUDA_VISIBLE_DEVICES``, which HIP also honours) indexes into what is left,
  as the ROCm runtime does. Indices are taken in AMD SMI's enumeration order.

Edge reads go through the background reader of :mod:`wattlens.meters.gpu_common` as for NVML
(``edge_reads``), but the source does not declare ``pure_delta``: the counter's plausibility check in ``delta``
reads power and may switch the device to integration, so a Monitor computes AMD components at ``end()``, which
then waits for the end edge's reading (the begin edge never waits). Short windows take their power figure from a
power reading of the reader, never from the counter (which is trusted only once checked).

Uncertainty: AMD documents no accuracy for these readings; ±5 % is an **assumption** mirroring NVML's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from wattlens.meters.base import DOMAIN_GPU, INTEGRATED, ComponentEnergy, EnergySource, Snapshot
from wattlens.meters.edge_reader import EDGE_TIMEOUT_S
from wattlens.meters.gpu_common import (
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

REL_ERR = 0.05  # assumption, see module docstring
VALIDATE_MIN_S = 0.1  # shortest window used to validate a counter against power × time
VALID_RATIO = (0.1, 10.0)  # Zeus's acceptance bounds for measured / expected
COUNTER_PERIOD_S = 0.1  # assumed upper bound of the counter's update step
POWER_PERIOD_S = 0.1
_POWER_KEYS = ("current_socket_power", "socket_power", "average_socket_power")  # W; "N/A" when absent
_MI250_NOTE = (
    "MI250/MI250X: two GCDs per module and the module's energy is reported on one of them; "
    "this figure may cover the whole module"
)


@dataclass
class AmdGpu:
    index: int  # position in amdsmi_get_processor_handles()
    uuid: str
    name: str
    mode: str
    handle: Any = None
    validated: bool | None = None  # None: not yet checked against power × time
    note: str = ""
    reason: str = ""

    @property
    def method(self) -> str:
        return "amdsmi:energy-counter" if self.mode == MODE_COUNTER else "amdsmi:power-integration"

    @property
    def is_mi250(self) -> bool:
        return "MI250" in self.name.upper()


def energy_uj(amdsmi: Any, handle: Any) -> float:
    """The energy accumulator in µJ (ticks × ``counter_resolution``), either key name."""
    d = amdsmi.amdsmi_get_energy_count(handle)
    ticks = d.get("energy_accumulator", d.get("power"))
    return float(ticks) * float(d["counter_resolution"])


def power_w(amdsmi: Any, handle: Any) -> float | None:
    """Current socket power in W, or None where the board reports none ('N/A')."""
    info = amdsmi.amdsmi_get_power_info(handle)
    for key in _POWER_KEYS:
        v = info.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
            return float(v)
    return None


def resolve_visible(n: int, uuids: Sequence[str], env: Mapping[str, str]) -> tuple[list[int], list[str]]:
    """Indices (into AMD SMI's handle list) visible to HIP under ROCR/HIP/CUDA_VISIBLE_DEVICES."""
    notes: list[str] = []
    visible = list(range(n))
    for var in (
        "ROCR_VISIBLE_DEVICES",
        "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in env else "CUDA_VISIBLE_DEVICES",
    ):
        spec = env.get(var)
        if spec is None:
            continue
        chosen: list[int] = []
        for tok in (t.strip() for t in spec.split(",") if spec.strip()):
            pick: int | None = None
            if tok.isdigit() and int(tok) < len(visible):
                pick = visible[int(tok)]
            elif tok.upper().startswith("GPU-"):
                want = tok[4:].lower()
                hits = [i for i in visible if uuids[i].lower().removeprefix("gpu-").startswith(want)]
                pick = hits[0] if len(hits) == 1 else None
            if pick is None:
                notes.append(f"{var} entry {tok!r} is not a GPU here: it and later entries ignored")
                break
            if pick not in chosen:
                chosen.append(pick)
        visible = chosen
    return visible, notes


def _optional(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        return default


def _open_device(amdsmi: Any, index: int, handle: Any, uuid: str) -> AmdGpu:
    asic = _optional(lambda: amdsmi.amdsmi_get_gpu_asic_info(handle), {}) or {}
    board = _optional(lambda: amdsmi.amdsmi_get_gpu_board_info(handle), {}) or {}
    name = str(asic.get("market_name") or board.get("product_name") or "AMD GPU")
    dev = AmdGpu(index, uuid, name, MODE_BROKEN, handle)
    if dev.is_mi250:
        dev.note = _MI250_NOTE
    try:
        energy_uj(amdsmi, handle)
        dev.mode = MODE_COUNTER
        return dev
    except Exception as exc:
        counter_reason = f"energy counter: {err(exc)}"
    try:
        if power_w(amdsmi, handle) is None:
            raise ValueError("power reported as N/A")
        dev.mode = MODE_POWER
        dev.note = "; ".join(x for x in (dev.note, counter_reason + " -> 10 Hz power integration") if x)
    except Exception as exc:
        dev.reason = f"GPU {index} ({name}): {counter_reason}; power: {err(exc)}"
    return dev


class AmdSource(GpuSource):
    """Energy of each visible AMD GPU (domain ``gpu``, device = AMD SMI index).

    Args:
        devices: indices into AMD SMI's device list to measure; default from ROCR/HIP_VISIBLE_DEVICES.
        amdsmi: the AMD SMI module (default ``import amdsmi``); tests pass a stand-in.
        env: environment mapping (default ``os.environ``).
        clock: monotonic seconds.
        edge_reads / edge_timeout_s: as for :class:`~wattlens.meters.nvml.NvmlSource`.

    Raises:
        SourceUnavailableError: amdsmi missing, no driver, or no usable GPU visible.

    Example:
        >>> from wattlens.meters.amd import AmdSource
        >>> AmdSource.probe().available in (True, False)
        True
    """

    name = "amdsmi"
    _LIB_NAME = "AMD SMI"
    _MISSING = "amdsmi is not installed (it ships with ROCm: pip install /opt/rocm/share/amd_smi)"
    _MISSING_PROBE = "amdsmi is not installed (it ships with ROCm)"
    _NONE_VISIBLE = "no AMD GPU visible"
    _MODULE = "amdsmi"  # imported lazily: ROCm only
    _LIB_KWARG = "amdsmi"
    _COUNTER_HINTS = False  # the counter is trusted only after its check against a power reading
    _PURE_WHEN_ASYNC = False  # that check happens in delta: a power read, and maybe a switch to integration

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        amdsmi: Any | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        power_period_s: float = POWER_PERIOD_S,
        counter_period_s: float = COUNTER_PERIOD_S,
        edge_reads: str = "auto",
        edge_timeout_s: float = EDGE_TIMEOUT_S,
    ) -> None:
        super().__init__(
            devices,
            lib=amdsmi,
            env=env,
            clock=clock,
            counter_period_s=counter_period_s,
            power_period_s=power_period_s,
            edge_reads=edge_reads,
            edge_timeout_s=edge_timeout_s,
        )

    # -- GpuSource hooks -------------------------------------------------------------------------------
    @classmethod
    def _init_lib(cls, lib: Any) -> None:
        _init(lib)

    @classmethod
    def _shutdown_lib(cls, lib: Any) -> None:
        _optional(lib.amdsmi_shut_down, None)

    @classmethod
    def _open_devices(
        cls, lib: Any, devices: Sequence[int] | None, env: Mapping[str, str] | None
    ) -> tuple[list[AmdGpu], list[str]]:
        return _open_all(lib, devices, env)

    @classmethod
    def _describe(cls, d: AmdGpu) -> str:
        return f"GPU {d.index} {d.name}: " + mode_text(d)

    def _read_counter(self, d: AmdGpu) -> float:
        return energy_uj(self._lib, d.handle) / 1e6  # J

    def _read_power_w(self, d: AmdGpu) -> float:
        p = power_w(self._lib, d.handle)
        if p is None:
            raise ValueError("power reported as N/A")
        return p

    def _component(self, i: int, d: AmdGpu, start: Snapshot, end: Snapshot) -> ComponentEnergy:
        edges = self._edge_readings(i, d, start, end)
        if isinstance(edges, ComponentEnergy):
            return edges
        s, e, duration_s = edges
        dev = str(d.index)
        if s[1] == 0 and e[1] == 0:  # both edges are counter readings
            return self._counter_component(i, d, e[0] - s[0], duration_s, start, end)
        if s[1] == 0 or e[1] == 0:  # the device switched to power integration inside this window
            return ComponentEnergy.unavailable(
                DOMAIN_GPU,
                d.method,
                "counter rejected during this window; power integration applies from the next window",
                dev,
            )
        rel = REL_ERR + (0.2 if e[1] - s[1] < 3 else 0.0)
        note = "±5 % assumed" + ("; fewer than 3 power readings in the window: +20 %" if rel > REL_ERR else "")
        energy_j = e[0] - s[0]
        return ComponentEnergy(
            DOMAIN_GPU,
            energy_j,
            INTEGRATED,
            d.method,
            energy_j * (1 - rel),
            energy_j * (1 + rel),
            dev,
            join_notes(d.note, note),
        )

    def _counter_component(
        self, i: int, d: AmdGpu, energy_j: float, duration_s: float, start: Snapshot, end: Snapshot
    ) -> ComponentEnergy:
        dev = str(d.index)
        if d.is_mi250 and energy_j == 0 and duration_s >= 1.0:
            return ComponentEnergy.unavailable(
                DOMAIN_GPU,
                d.method,
                "MI250 GCD whose counter does not move: the module's energy is reported on its sibling GCD",
                dev,
            )
        if d.validated is None and duration_s >= VALIDATE_MIN_S:
            rejected = self._validate(i, d, energy_j, duration_s)
            if rejected is not None:
                return rejected
        note = d.note if d.validated else join_notes(d.note, "counter not yet checked against power × time")
        power_w, power_label = self._short_window_power(i, d, start, end)
        return counter_window_component(
            energy_j,
            duration_s,
            method=d.method,
            device=dev,
            note=note,
            power_w=power_w,
            period_s=self._counter_period_s,
            approx_method="amdsmi:power×duration",
            rel_err=REL_ERR,
            power_label=power_label,
        )

    def _validate(self, i: int, d: AmdGpu, energy_j: float, duration_s: float) -> ComponentEnergy | None:
        """Zeus's plausibility test, done on a real window instead of a 0.5 s sleep at start-up."""
        p = self._power_now_w(d)
        if p is None or p * duration_s < 1e-3:
            return None  # nothing to compare with (idle MI250 sibling, power N/A): try again next window
        expected_j = p * duration_s
        ratio = energy_j / expected_j
        if VALID_RATIO[0] < ratio < VALID_RATIO[1]:
            d.validated = True
            return None
        with self._lock:
            d.validated = False
            d.mode = MODE_POWER
            d.note = join_notes(
                d.note,
                f"energy counter implausible ({energy_j:.3g} J vs power × time "
                f"{expected_j:.3g} J): 10 Hz power integration instead",
            )
            self._last_p_w[i] = None
        return ComponentEnergy(
            DOMAIN_GPU,
            expected_j,
            INTEGRATED,
            "amdsmi:power×duration",
            0.5 * expected_j,
            2 * expected_j,
            str(d.index),
            join_notes(d.note, "this window: current power × duration, bounds ×0.5…×2"),
        )


def _init(smi: Any) -> None:
    flags = getattr(getattr(smi, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
    try:
        smi.amdsmi_init(flags) if flags is not None else smi.amdsmi_init()
    except Exception as exc:
        raise SourceUnavailableError(f"AMD SMI cannot start (no amdgpu driver?): {err(exc)}") from exc


def _open_all(smi: Any, devices: Sequence[int] | None, env: Mapping[str, str] | None) -> tuple[list[AmdGpu], list[str]]:
    handles = list(smi.amdsmi_get_processor_handles())
    uuids = [str(_optional(partial(smi.amdsmi_get_gpu_device_uuid, h), "")) for h in handles]
    notes: list[str] = []
    if devices is not None:
        visible = [i for i in devices if 0 <= i < len(handles)]
    else:
        visible, notes = resolve_visible(len(handles), uuids, os.environ if env is None else env)
    return [_open_device(smi, i, handles[i], uuids[i]) for i in visible], notes


def discover(**kwargs: Any) -> list[EnergySource]:
    """``[AmdSource(**kwargs)]`` when a visible AMD GPU can be measured, else ``[]``."""
    try:
        return [AmdSource(**kwargs)]
    except SourceUnavailableError:
        return []


__all__ = ["AmdGpu", "AmdSource", "discover", "energy_uj", "power_w", "resolve_visible"]
