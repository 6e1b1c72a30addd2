"""Embodied-carbon figures of hardware (``data/embodied_hardware.csv``) and CPU die areas (``cpu_die_area.csv``).

Every row carries its source, its system boundary (``cradle-to-gate``, or ``lifecycle`` when only a
whole-life PCF exists and its manufacturing share is used), its scope (one GPU, an 8-GPU baseboard, a
whole server or laptop) and a range [low, high] with the reason for that range. Provenance in
docs/LIFECYCLE.md. Tables are read on first use (stdlib ``csv``), so ``import wattlens`` stays light.

>>> row = find_hardware("h100")
>>> row.key, row.embodied_kg, row.boundary, row.basis
('nvidia-h100-sxm', 164.0, 'cradle-to-gate', 'manufacturer-pcf')
>>> match_gpu("NVIDIA A100-SXM4-40GB").key
'nvidia-a100-sxm4-40gb'
>>> match_gpu("Matrox G200") is None
True
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.carbon.intensity import CarbonError

DATA_DIR = Path(__file__).resolve().parent / "data"
HARDWARE_CSV = DATA_DIR / "embodied_hardware.csv"
CPU_DIE_CSV = DATA_DIR / "cpu_die_area.csv"

KINDS = ("gpu", "accelerator-baseboard", "server", "laptop", "host-platform")
HOST_KINDS = ("server", "laptop", "host-platform")
BOUNDARIES = ("cradle-to-gate", "lifecycle")
BASES = ("manufacturer-pcf", "published-lca", "estimated")


class LifecycleError(CarbonError):
    """Lifecycle input wattlens cannot use (unknown hardware, bad service life or utilisation)."""


@dataclass(frozen=True)
class HardwareFootprint:
    """One row of ``embodied_hardware.csv``: the embodied kg CO2e of one piece of hardware, with provenance."""

    key: str
    name: str
    kind: str
    scope: str
    units: int  # GPUs a baseboard row covers; 1 otherwise
    boundary: str
    basis: str
    embodied_kg: float
    low_kg: float
    high_kg: float
    range_basis: str
    source: str
    url: str
    year: int | None
    via: str
    notes: str
    lifecycle_total_kg: float | None = None
    manufacturing_share: float | None = None
    aliases: tuple[str, ...] = ()
    match: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d

    def describe(self) -> str:
        """One line: figure, range, boundary, basis, source."""
        return (
            f"{self.name}: {self.embodied_kg:g} kg CO2e [{self.low_kg:g}, {self.high_kg:g}], {self.boundary}, "
            f"{self.basis}; {self.scope}; source: {self.source}"
        )


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _row(r: dict[str, str]) -> HardwareFootprint:
    return HardwareFootprint(
        key=r["key"],
        name=r["name"],
        kind=r["kind"],
        scope=r["scope"],
        units=int(r["units"] or 1),
        boundary=r["boundary"],
        basis=r["basis"],
        embodied_kg=float(r["embodied_kg"]),
        low_kg=float(r["low_kg"]),
        high_kg=float(r["high_kg"]),
        range_basis=r["range_basis"],
        source=r["source"],
        url=r["url"],
        year=int(r["year"]) if r["year"].strip() else None,
        via=r["via"],
        notes=r["notes"],
        lifecycle_total_kg=_num(r["lifecycle_total_kg"]),
        manufacturing_share=_num(r["manufacturing_share"]),
        aliases=tuple(a.strip().casefold() for a in r["aliases"].split(";") if a.strip()),
        match=r["match"],
    )


@lru_cache(maxsize=1)
def hardware_table() -> tuple[HardwareFootprint, ...]:
    """Every row of ``embodied_hardware.csv``.

    >>> len(hardware_table()) > 100
    True
    """
    with HARDWARE_CSV.open(newline="", encoding="utf-8") as fh:
        return tuple(_row(r) for r in csv.DictReader(fh))


@lru_cache(maxsize=1)
def _index() -> dict[str, HardwareFootprint]:
    index: dict[str, HardwareFootprint] = {}
    for row in hardware_table():
        index.setdefault(row.key.casefold(), row)
        for alias in row.aliases:
            index.setdefault(alias, row)
    return index


def find_hardware(name: str) -> HardwareFootprint:
    """A row by key or alias (case-insensitive), else by a unique key prefix; :class:`LifecycleError` otherwise."""
    text = (name or "").strip().casefold()
    if not text:
        raise LifecycleError("empty hardware name: give a key such as h100, nvidia-b200 or dell-poweredge-r740")
    row = _index().get(text)
    if row is not None:
        return row
    prefixed = [r for r in hardware_table() if r.key.startswith(text)]
    if len(prefixed) == 1:
        return prefixed[0]
    names = sorted(_index())
    close = difflib.get_close_matches(text, names, n=5, cutoff=0.5) or [r.key for r in prefixed[:5]]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise LifecycleError(
        f"no embodied-carbon figure for hardware {name!r}.{hint} Allowed: a key or alias of "
        f"embodied_hardware.csv ({len(hardware_table())} rows; `wattlens hardware --lifecycle` lists them)."
    )


def match_gpu(gpu_name: str) -> HardwareFootprint | None:
    """The per-GPU row whose ``match`` pattern fits a driver's GPU name (NVML / amdsmi), or ``None``."""
    text = (gpu_name or "").strip()
    if not text:
        return None
    for row in hardware_table():
        if row.kind == "gpu" and row.match and re.search(row.match, text, flags=re.IGNORECASE):
            return row
    return None


def hosts_for_cpu(cpu_model: str) -> tuple[HardwareFootprint, ...]:
    """Whole machines whose ``match`` pattern names this CPU model (e.g. ``Apple M2`` -> the M2 MacBooks).

    >>> sorted(r.key for r in hosts_for_cpu("Apple M2"))[:1]
    ['apple-macbook-air-m2-2022-with-256gb']
    """
    text = (cpu_model or "").strip()
    if not text:
        return ()
    return tuple(
        r for r in hardware_table() if r.kind in HOST_KINDS and r.match and re.search(r.match, text, re.IGNORECASE)
    )


# --- CPU die areas --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuDie:
    """Silicon area of one CPU model (all dies of the package) and its thread count, with the source."""

    model: str
    vendor: str
    cores: int | None
    threads: int | None
    die_mm2: float
    source: str

    @property
    def hw_threads(self) -> int | None:
        """Hardware threads, falling back to cores where the source gives no thread count."""
        return self.threads or self.cores

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def cpu_die_table() -> tuple[CpuDie, ...]:
    """Every row of ``cpu_die_area.csv`` (TechPowerUp and other spec pages, collected by BoaviztAPI)."""
    with CPU_DIE_CSV.open(newline="", encoding="utf-8") as fh:
        return tuple(
            CpuDie(
                r["model"],
                r["vendor"],
                int(r["cores"]) if r["cores"] else None,
                int(r["threads"]) if r["threads"] else None,
                float(r["die_mm2"]),
                r["source"],
            )
            for r in csv.DictReader(fh)
        )


def cpu_dies(model: str) -> tuple[tuple[CpuDie, ...], str]:
    """The die rows for a (normalised) CPU model name and how they matched.

    ``exact`` — one row with that name; ``family`` — the model was not identified precisely (e.g. a VM
    reporting only "Intel Xeon"), so every row whose name starts with it is returned and the caller states
    the span; ``none`` — nothing matches.

    >>> rows, how = cpu_dies("AMD EPYC 7763")
    >>> how, rows[0].die_mm2, rows[0].threads
    ('exact', 1064.0, 128)
    >>> rows, how = cpu_dies("Intel Xeon")
    >>> how, len(rows) > 100
    ('family', True)
    """
    text = " ".join((model or "").split()).casefold()
    if not text:
        return (), "none"
    exact = tuple(r for r in cpu_die_table() if r.model.casefold() == text)
    if exact:
        return exact, "exact"
    family = tuple(r for r in cpu_die_table() if r.model.casefold().startswith(text + " "))
    return (family, "family") if family else ((), "none")
