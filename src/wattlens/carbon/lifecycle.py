"""Embodied carbon of the hardware a window used, amortised over its service life — stated, per device.

For every device the window used (each GPU, the CPU threads, the DRAM, the host machine)::

    co2e_embodied_g = embodied_kg x 1000 x busy_s x share / (service_life_s x utilisation)

``embodied_kg`` comes from ``embodied_hardware.csv`` (manufacturer PCFs, published LCAs) or from the
component model (die area, memory, board; labelled ``estimated``). Service life and utilisation are
explicit inputs; their defaults and sources live in ``lifecycle_defaults.csv`` and are shown in every
output. A device with no figure is ``unavailable`` with the reason — never 0 — and the total says it is
partial. This module imports no other wattlens layer: callers pass plain :class:`DeviceUse` values.

>>> life = resolve_amortisation(5, 1.0, use_env=False)
>>> round(amortised_g(164.0, 3600.0, 5.0, 1.0), 3)  # one H100-hour over 5 years
3.742
>>> fp = embodied_footprint([DeviceUse("gpu", 3600.0, name="NVIDIA H100 80GB HBM3", device="0")], life,
...                         host="generic-rack-server-platform")
>>> round(fp.co2e_embodied_g, 3), fp.complete
(9.933, True)
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.carbon.component_model import cpu_package_kg, dram_kg_range, factors
from wattlens.carbon.hardware_footprints import (
    HOST_KINDS,
    HardwareFootprint,
    LifecycleError,
    cpu_dies,
    find_hardware,
    hardware_table,
    hosts_for_cpu,
    match_gpu,
)
from wattlens.carbon.intensity import _as_number
from wattlens.stats import median

DEFAULTS_CSV = Path(__file__).resolve().parent / "data" / "lifecycle_defaults.csv"
SECONDS_PER_YEAR = 365.25 * 86400.0
MAX_LIFETIME_YEARS = 30.0

ENV_EMBODIED = "WATTLENS_EMBODIED"
ENV_LIFETIME = "WATTLENS_LIFETIME_YEARS"
ENV_UTILISATION = "WATTLENS_UTILISATION"
ENV_HOST = "WATTLENS_HOST"

COUNTED = "counted"
IN_HOST = "in-host"  # covered by the whole-machine figure of the host (server or laptop PCF)
UNAVAILABLE = "unavailable"
DEVICE_KINDS = ("gpu", "cpu", "memory", "soc", "hardware")


# --- defaults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Default:
    """A default of ``lifecycle_defaults.csv`` with its range and source."""

    name: str
    value: float
    low: float
    high: float
    unit: str
    source: str
    url: str


@lru_cache(maxsize=1)
def defaults() -> dict[str, Default]:
    """Service life, utilisation and the unknown-site WUE, each with its source."""
    with DEFAULTS_CSV.open(newline="", encoding="utf-8") as fh:
        return {
            r["name"]: Default(
                r["name"], float(r["value"]), float(r["low"]), float(r["high"]), r["unit"], r["source"], r["url"]
            )
            for r in csv.DictReader(fh)
        }


def env_flag(name: str) -> bool:
    """True for 1/true/yes/on in the environment variable ``name`` (the config switch of --embodied/--water)."""
    return os.environ.get(name, "").strip().casefold() in ("1", "true", "yes", "on")


def _number(value: Any, what: str) -> float:
    return _as_number(value, what, LifecycleError)


# --- amortisation settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Amortisation:
    """Service life (with its range when it is the default) and utilisation, and where each came from."""

    lifetime_years: float
    lifetime_low_years: float
    lifetime_high_years: float
    utilisation: float
    lifetime_origin: str  # default | argument | environment
    utilisation_origin: str
    lifetime_source: str
    utilisation_source: str

    def fraction(self, busy_s: float, share: float = 1.0) -> tuple[float, float, float]:
        """(central, low, high) fraction of the device's useful life that ``busy_s`` seconds represent."""
        work = busy_s * share
        return (
            work / (self.lifetime_years * SECONDS_PER_YEAR * self.utilisation),
            work / (self.lifetime_high_years * SECONDS_PER_YEAR * self.utilisation),
            work / (self.lifetime_low_years * SECONDS_PER_YEAR * self.utilisation),
        )

    def describe(self) -> str:
        life = f"service life {self.lifetime_years:g} y"
        if self.lifetime_low_years != self.lifetime_high_years:
            life += f" [{self.lifetime_low_years:g}, {self.lifetime_high_years:g}]"
        return f"{life} ({self.lifetime_origin}), utilisation {self.utilisation:g} ({self.utilisation_origin})"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.describe()
        return d


def validate_lifetime(value: Any) -> float:
    years = _number(value, "service life (years)")
    if not 0.0 < years <= MAX_LIFETIME_YEARS:
        raise LifecycleError(
            f"service life {value!r} years is out of range: allowed (0, {MAX_LIFETIME_YEARS:g}] "
            "(servers are depreciated over 4-6 years by the largest operators)"
        )
    return years


def validate_utilisation(value: Any) -> float:
    share = _number(value, "utilisation")
    if not 0.0 < share <= 1.0:
        raise LifecycleError(
            f"utilisation {value!r} is out of range: allowed (0, 1], the fraction of the device's service life "
            "spent on work (1.0 = every second is charged to some work; 0.6 spreads 40% idle time over the work)"
        )
    return share


def resolve_amortisation(lifetime_years: Any = None, utilisation: Any = None, *, use_env: bool = True) -> Amortisation:
    """Service life and utilisation: argument > ``WATTLENS_LIFETIME_YEARS`` / ``WATTLENS_UTILISATION`` > default.

    A given service life is used as is (no range); the default carries its sourced range (4-6 years).

    >>> resolve_amortisation(use_env=False).describe()
    'service life 5 y [4, 6] (default), utilisation 1 (default)'
    """
    life_d, util_d = defaults()["service_life_years"], defaults()["utilisation"]
    life_origin = util_origin = "argument"
    if lifetime_years is None and use_env and os.environ.get(ENV_LIFETIME):
        lifetime_years, life_origin = os.environ[ENV_LIFETIME], "environment"
    if utilisation is None and use_env and os.environ.get(ENV_UTILISATION):
        utilisation, util_origin = os.environ[ENV_UTILISATION], "environment"
    if lifetime_years is None:
        life, low, high, life_origin, life_src = life_d.value, life_d.low, life_d.high, "default", life_d.source
    else:
        life = low = high = validate_lifetime(lifetime_years)
        life_src = f"{ENV_LIFETIME}={lifetime_years}" if life_origin == "environment" else "given by the user"
    if utilisation is None:
        util, util_origin, util_src = util_d.value, "default", util_d.source
    else:
        util = validate_utilisation(utilisation)
        util_src = f"{ENV_UTILISATION}={utilisation}" if util_origin == "environment" else "given by the user"
    return Amortisation(life, low, high, util, life_origin, util_origin, life_src, util_src)


def amortised_g(
    embodied_kg: float, busy_s: float, lifetime_years: float, utilisation: float, share: float = 1.0
) -> float:
    """grams CO2e charged to ``busy_s`` seconds of a device: kg x 1000 x busy x share / (life x utilisation).

    >>> amortised_g(1000.0, SECONDS_PER_YEAR, 4.0, 0.5)  # a year of a 1 t device, 4-year life, half used
    500000.0
    """
    return embodied_kg * 1000.0 * busy_s * share / (lifetime_years * SECONDS_PER_YEAR * utilisation)


# --- what the window used -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceUse:
    """One device a window used, in plain terms (built by the caller from the meters' components).

    ``kind``: ``gpu`` (``name`` = driver name, e.g. NVML's), ``cpu`` (``name`` = normalised CPU model,
    ``logical_cpus`` = hardware threads the window could use), ``memory`` (``memory_gb``), ``soc`` (an
    Apple-style system on chip, ``name`` = its model), ``hardware`` (``name`` = a key of
    embodied_hardware.csv, e.g. for a projection). ``busy_s`` is
    the device time charged (the window's duration for a device the window held); ``share`` the fraction of
    the device that was ours (e.g. a VM's part of its host).
    """

    kind: str
    busy_s: float
    name: str | None = None
    device: str | None = None
    logical_cpus: int | None = None
    memory_gb: float | None = None
    share: float = 1.0


@dataclass(frozen=True)
class DeviceEmbodied:
    """The embodied CO2e charged to one device for the window, or why it could not be."""

    kind: str
    device: str | None
    name: str | None
    status: str  # counted | in-host | unavailable
    reason: str
    busy_s: float
    share: float
    hardware: str | None = None  # key of embodied_hardware.csv (or the CPU/DRAM model used)
    embodied_kg: float | None = None
    embodied_low_kg: float | None = None
    embodied_high_kg: float | None = None
    co2e_g: float | None = None
    co2e_low_g: float | None = None
    co2e_high_g: float | None = None
    basis: str | None = None
    boundary: str | None = None
    scope: str | None = None
    source: str | None = None
    method: str | None = None

    @property
    def label(self) -> str:
        return self.kind + (f":{self.device}" if self.device not in (None, "") else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["label"] = self.label
        return d


@dataclass(frozen=True)
class EmbodiedFootprint:
    """The amortised embodied CO2e of a window: per device and in total, with the settings used."""

    co2e_embodied_g: float | None
    co2e_embodied_low_g: float | None
    co2e_embodied_high_g: float | None
    devices: tuple[DeviceEmbodied, ...]
    amortisation: Amortisation
    complete: bool  # False when a used device (or the host) has no figure
    basis: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "co2e_embodied_g": self.co2e_embodied_g,
            "co2e_embodied_low_g": self.co2e_embodied_low_g,
            "co2e_embodied_high_g": self.co2e_embodied_high_g,
            "complete": self.complete,
            "basis": self.basis,
            "amortisation": self.amortisation.to_dict(),
            "devices": [d.to_dict() for d in self.devices],
            "notes": list(self.notes),
        }


def _spread() -> tuple[float, float]:
    """(estimate_low_divisor, pcf_default_spread) from the factor table."""
    return factors()["estimate_low_divisor"].value, factors()["pcf_default_spread"].value


def _charged(
    use: DeviceUse,
    life: Amortisation,
    kg: tuple[float, float, float],
    **info: Any,
) -> DeviceEmbodied:
    central, low, high = life.fraction(use.busy_s, use.share)
    method = (
        f"{kg[0]:.4g} kg x {use.busy_s:.4g} s x share {use.share:.4g} / "
        f"({life.lifetime_years:g} y x {SECONDS_PER_YEAR:.0f} s/y x utilisation {life.utilisation:g})"
    )
    return DeviceEmbodied(
        kind=use.kind,
        device=use.device,
        name=use.name,
        status=COUNTED,
        reason="",
        busy_s=use.busy_s,
        share=use.share,
        embodied_kg=kg[0],
        embodied_low_kg=kg[1],
        embodied_high_kg=kg[2],
        co2e_g=kg[0] * 1000.0 * central,
        co2e_low_g=kg[1] * 1000.0 * low,
        co2e_high_g=kg[2] * 1000.0 * high,
        method=method,
        **info,
    )


def _unavailable(use: DeviceUse, reason: str, status: str = UNAVAILABLE, hardware: str | None = None) -> DeviceEmbodied:
    return DeviceEmbodied(use.kind, use.device, use.name, status, reason, use.busy_s, use.share, hardware=hardware)


def _row_info(row: HardwareFootprint) -> dict[str, Any]:
    return {
        "hardware": row.key,
        "basis": row.basis,
        "boundary": row.boundary,
        "scope": row.scope,
        "source": f"{row.source} ({row.url})" if row.url else row.source,
    }


def _assess_gpu(use: DeviceUse, life: Amortisation) -> DeviceEmbodied:
    row = match_gpu(use.name or "")
    if row is None:
        what = f"GPU {use.name!r}" if use.name else "a GPU whose model the driver did not report"
        return _unavailable(
            use,
            f"no embodied figure for {what}: no manufacturer PCF, published LCA or component estimate in "
            "embodied_hardware.csv matches it",
        )
    return _charged(use, life, (row.embodied_kg, row.low_kg, row.high_kg), **_row_info(row))


def _assess_cpu(use: DeviceUse, life: Amortisation) -> DeviceEmbodied:
    rows, how = cpu_dies(use.name or "")
    per_thread = [cpu_package_kg(r.die_mm2) / r.hw_threads for r in rows if r.hw_threads]
    if not per_thread:
        model = f"CPU model {use.name!r}" if use.name else "the CPU model (not detected)"
        return _unavailable(use, f"no die area for {model} in cpu_die_area.csv; its embodied carbon is unknown")
    divisor, spread = _spread()
    threads = max(1, int(use.logical_cpus or 1))
    central = median(per_thread) * threads
    low, high = min(per_thread) * threads / divisor, max(per_thread) * threads * (1.0 + spread)
    if how == "exact":
        r = rows[0]
        scope = (
            f"{threads} of the {r.hw_threads} hardware threads of one {r.model} package ({r.die_mm2:g} mm² of silicon)"
        )
        source = f"die area: {r.source}; Boavizta CPU model (die x 0.0197 kg/mm² + 9.14 kg per package)"
        hardware = r.model
    else:
        scope = (
            f"{threads} hardware threads of an unidentified {use.name!r}: span of the {len(per_thread)} "
            "matching models of cpu_die_area.csv (central = median per thread)"
        )
        source = "die areas of cpu_die_area.csv (TechPowerUp via BoaviztAPI); Boavizta CPU model"
        hardware = f"{use.name} (family span)"
    return _charged(
        use,
        life,
        (central, low, high),
        hardware=hardware,
        basis="estimated",
        boundary="cradle-to-gate",
        scope=scope,
        source=source,
    )


def _assess_memory(use: DeviceUse, life: Amortisation) -> DeviceEmbodied:
    if not use.memory_gb or use.memory_gb <= 0:
        return _unavailable(use, "memory size unknown: the DRAM's embodied carbon cannot be estimated")
    kg = dram_kg_range(use.memory_gb)
    return _charged(
        use,
        life,
        kg,
        hardware=f"{use.memory_gb:.3g} GB DRAM",
        basis="estimated",
        boundary="cradle-to-gate",
        scope=f"{use.memory_gb:.3g} GB of DRAM modules (range: DRAM density spread of Boavizta's RAM table)",
        source="Boavizta RAM model (2.20 kg per cm² of die, 5.22 kg per module; Umweltbundesamt, Green Cloud "
        "Computing 2021)",
    )


def _assess_key(use: DeviceUse, life: Amortisation) -> DeviceEmbodied:
    row = find_hardware(use.name or "")
    return _charged(use, life, (row.embodied_kg, row.low_kg, row.high_kg), **_row_info(row))


def _host_kg(rows: Sequence[HardwareFootprint]) -> tuple[float, float, float]:
    centrals = [r.embodied_kg for r in rows]
    return median(centrals), min(r.low_kg for r in rows), max(r.high_kg for r in rows)


@dataclass(frozen=True)
class _Host:
    rows: tuple[HardwareFootprint, ...]
    origin: str  # argument | environment | cpu-model

    @property
    def whole_machine(self) -> bool:
        return all(r.kind in ("server", "laptop") for r in self.rows)

    @property
    def laptop(self) -> bool:
        return all(r.kind == "laptop" for r in self.rows)


def _resolve_host(host: str | None, uses: Sequence[DeviceUse], use_env: bool) -> _Host | None:
    origin = "argument"
    if host is None and use_env and os.environ.get(ENV_HOST):
        host, origin = os.environ[ENV_HOST], "environment"
    if host is not None:
        row = find_hardware(host)
        if row.kind not in HOST_KINDS:
            raise LifecycleError(
                f"--host {host!r} is a {row.kind} ({row.key}); a host must be a whole server, a laptop or "
                "generic-rack-server-platform (the GPUs are found from the driver)"
            )
        return _Host((row,), origin)
    for use in uses:  # a CPU model that names its machine (Apple M-series -> MacBooks)
        if use.kind in ("cpu", "soc") and use.name:
            rows = hosts_for_cpu(use.name)
            if rows:
                return _Host(rows, "cpu-model")
    return None


def _assess_host(host: _Host | None, busy_s: float, share: float, life: Amortisation) -> DeviceEmbodied:
    use = DeviceUse("host", busy_s, share=share)
    if host is None:
        return _unavailable(
            use,
            "host machine unknown: its board, power supplies, chassis and storage are not counted; pass --host "
            "(a server or laptop key, or generic-rack-server-platform) or set WATTLENS_HOST",
        )
    rows = host.rows
    if len(rows) == 1:
        info = _row_info(rows[0])
        name = rows[0].name
    else:
        info = {
            "hardware": ";".join(r.key for r in rows),
            "basis": rows[0].basis,
            "boundary": rows[0].boundary,
            "scope": f"span of the {len(rows)} machines built around this CPU (central = median)",
            "source": "; ".join(sorted({r.source for r in rows})),
        }
        name = " / ".join(r.name for r in rows)
    return _charged(DeviceUse("host", busy_s, name=name, share=share), life, _host_kg(rows), **info)


def _covered_by_host(use: DeviceUse, host: _Host) -> bool:
    """A whole-machine PCF contains its CPU, memory and SoC, and a laptop's GPU too."""
    return host.whole_machine and (use.kind in ("cpu", "memory", "soc") or (use.kind == "gpu" and host.laptop))


def embodied_footprint(
    uses: Sequence[DeviceUse],
    amortisation: Amortisation | None = None,
    *,
    host: str | None = None,
    host_share: float = 1.0,
    host_busy_s: float | None = None,
    use_env: bool = True,
) -> EmbodiedFootprint:
    """Amortised embodied CO2e of the devices a window used (see the module docstring for the formula).

    ``host``: the whole machine (server or laptop key) or ``generic-rack-server-platform``; ``None`` ->
    ``WATTLENS_HOST``, else a machine named by the CPU model (Apple M-series), else the host's board,
    chassis and storage are ``unavailable`` and the total is partial. A whole-machine figure already
    contains its CPU and memory (and a laptop's GPU): those devices are then marked ``in-host``.
    ``host_busy_s`` is the host's device time (default: the longest of ``uses``).
    """
    life = amortisation or resolve_amortisation(use_env=use_env)
    share = _number(host_share, "host share")
    if not 0.0 < share <= 1.0:
        raise LifecycleError(f"host share {host_share!r} is out of range: allowed (0, 1]")
    for use in uses:
        if use.kind not in DEVICE_KINDS:
            raise LifecycleError(f"unknown device kind {use.kind!r}; allowed: {', '.join(DEVICE_KINDS)}")
    resolved = _resolve_host(host, uses, use_env)
    busy = max((u.busy_s for u in uses), default=0.0) if host_busy_s is None else _number(host_busy_s, "host busy time")
    out: list[DeviceEmbodied] = []
    for use in uses:
        if resolved is not None and _covered_by_host(use, resolved):
            keys = ";".join(r.key for r in resolved.rows)
            out.append(_unavailable(use, "counted in the host machine's figure", IN_HOST, keys))
        elif use.kind == "gpu":
            out.append(_assess_gpu(use, life))
        elif use.kind == "cpu":
            out.append(_assess_cpu(use, life))
        elif use.kind == "memory":
            out.append(_assess_memory(use, life))
        elif use.kind == "soc":
            out.append(
                _unavailable(use, f"no figure for the {use.name or 'SoC'} chip alone; pass --host with its machine")
            )
        else:
            out.append(_assess_key(use, life))
    if uses or resolved is not None:
        out.append(_assess_host(resolved, busy, share, life))
    return _total(tuple(out), life, resolved)


def _total(devices: tuple[DeviceEmbodied, ...], life: Amortisation, host: _Host | None) -> EmbodiedFootprint:
    counted = [d for d in devices if d.status == COUNTED]
    missing = [d for d in devices if d.status == UNAVAILABLE]
    notes = [f"{d.label} unavailable: {d.reason}" for d in missing]
    if host is not None and host.origin == "cpu-model":
        notes.append(f"host machine inferred from the CPU model: {', '.join(r.key for r in host.rows)}")
    if not counted:
        basis = "unavailable: no device used by the window has an embodied figure"
        return EmbodiedFootprint(None, None, None, devices, life, False, basis, tuple(notes))
    kinds = sorted({d.basis or "" for d in counted})
    parts = ", ".join(f"{d.label} {d.hardware} ({d.basis})" for d in counted)
    basis = f"amortised ({life.describe()}): {parts}"
    if missing:
        basis += f"; partial: {', '.join(d.label for d in missing)} not counted"
    if "estimated" in kinds:
        notes.append("some figures are component-model estimates (labelled estimated), not published footprints")
    return EmbodiedFootprint(
        sum(d.co2e_g or 0.0 for d in counted),
        sum(d.co2e_low_g or 0.0 for d in counted),
        sum(d.co2e_high_g or 0.0 for d in counted),
        devices,
        life,
        not missing,
        basis,
        tuple(notes),
    )


def hardware_lifecycle(name: str, amortisation: Amortisation | None = None, *, use_env: bool = True) -> dict[str, Any]:
    """What ``wattlens hardware NAME --lifecycle`` shows: the row(s), and the embodied CO2e of one device-hour.

    >>> d = hardware_lifecycle("b200", resolve_amortisation(use_env=False))
    >>> d["hardware"]["embodied_kg"], round(d["per_device_hour_g"], 2)
    (284.25, 6.49)
    """
    row = find_hardware(name)
    life = amortisation or resolve_amortisation(use_env=use_env)
    central, low, high = life.fraction(3600.0)
    related = _baseboard_of(row)
    return {
        "hardware": row.to_dict(),
        "amortisation": life.to_dict(),
        "per_device_hour_g": row.embodied_kg * 1000.0 * central,
        "per_device_hour_low_g": row.low_kg * 1000.0 * low,
        "per_device_hour_high_g": row.high_kg * 1000.0 * high,
        "related": [r.to_dict() for r in related],
    }


def _baseboard_of(row: HardwareFootprint) -> list[HardwareFootprint]:
    """The baseboard row a per-GPU share was derived from (same source document), if any."""
    return [r for r in hardware_table() if r.kind == "accelerator-baseboard" and r.key != row.key and r.url == row.url]
