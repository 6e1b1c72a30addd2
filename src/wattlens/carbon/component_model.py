"""Component-based embodied-carbon estimates (die area, memory, board), for hardware with no published figure.

The method is Boavizta's bottom-up model (BoaviztAPI, docs "Explanations/components"): an integrated
circuit costs a fixed amount of CO2e per mm² of *wafer used*, a board per cm², a heatsink or casing per kg,
plus transport. The factors are not ours: they are read from ``data/embodied_factors.csv``, each with its
source (BoaviztAPI ``factors.yml``, which cites the German Environment Agency's *Green Cloud Computing*
study, 2021, for CPU and DRAM). End-of-life is left out, as everywhere in wattlens (docs/LIFECYCLE.md).

Every result here is an *estimate* and is labelled so by the callers; the relative spread applied to it
(``ESTIMATE_SPREAD``) is derived in docs/LIFECYCLE.md from how far the method lands from the two
accelerator footprints published by their makers.

>>> round(effective_die_area_mm2(814.0))  # GH100: 814 mm² of die costs ~2,800 mm² of wafer
2808
>>> round(cpu_package_kg(1064.0), 1)  # AMD EPYC 7763 (1,064 mm² of silicon)
30.1
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.errors import WattlensError

DATA_DIR = Path(__file__).resolve().parent / "data"
FACTORS_CSV = DATA_DIR / "embodied_factors.csv"


class ComponentModelError(WattlensError, ValueError):
    """An input the component model cannot use (negative area, zero dies, unknown factor)."""


@dataclass(frozen=True)
class Factor:
    """One factor of the component model, with its unit and source."""

    name: str
    value: float
    unit: str
    source: str
    url: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def factors() -> dict[str, Factor]:
    """All factors of ``embodied_factors.csv`` by name.

    >>> factors()["cpu_die_kg_per_mm2"].value
    0.0197
    """
    with FACTORS_CSV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["name"]: Factor(r["name"], float(r["value"]), r["unit"], r["source"], r["url"], r["note"]) for r in rows}


def _f(name: str) -> float:
    try:
        return factors()[name].value
    except KeyError:
        raise ComponentModelError(f"no factor {name!r} in {FACTORS_CSV.name}") from None


def _positive(value: float, what: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ComponentModelError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def effective_die_area_mm2(die_mm2: float) -> float:
    """Wafer area one *good* die costs: the die plus its saw street, its share of the wafer edge lost to
    partial dies, divided by the yield.

    Gross dies per wafer use the usual approximation ``pi r² / A - pi d / sqrt(2 A)``; the yield is
    ``exp(-sqrt(A * D0))`` with A in cm² and D0 the defect density of the factor table (Boavizta's choice).
    Large dies therefore cost more than their area: 814 mm² -> ~2,808 mm².
    """
    area = _positive(die_mm2, "die area (mm²)")
    side = math.sqrt(area) + _f("kerf_mm")
    footprint = side * side  # die plus saw street
    diameter = _f("wafer_diameter_mm")
    wafer = math.pi * (diameter / 2.0) ** 2
    gross_dies = wafer / footprint - math.pi * diameter / math.sqrt(2.0 * footprint)
    if gross_dies < 1.0:
        raise ComponentModelError(f"a {area:g} mm² die does not fit {diameter:g} mm wafers")
    per_die = wafer / gross_dies
    good_fraction = math.exp(-math.sqrt(footprint / 100.0 * _f("defect_density_per_cm2")))
    return per_die / good_fraction


@dataclass(frozen=True)
class GpuBoardInputs:
    """What the GPU-board estimate needs; every field comes from a cited spec sheet or Boavizta default."""

    die_mm2: float  # physical die area of the GPU (all compute dies together)
    memory_gb: float
    memory_dies: int  # DRAM chips (GDDR) or stacks (HBM)
    pcb_cm2: float
    heatsink_kg: float
    casing_kg: float
    mass_kg: float


def gpu_board_parts_kg(inp: GpuBoardInputs) -> dict[str, float]:
    """kg CO2e of one GPU board by part (die, memory, pcb, heatsink, casing, transport).

    >>> parts = gpu_board_parts_kg(GpuBoardInputs(814, 80, 6, 296.37, 0.90077, 0.78923, 1.69))
    >>> round(parts["die"], 1), round(parts["memory"], 1), round(sum(parts.values()))  # H100 SXM inputs
    (119.6, 430.7, 573)
    """
    dies = int(inp.memory_dies)
    if dies < 1:
        raise ComponentModelError(f"memory dies must be >= 1, got {inp.memory_dies!r}")
    memory_die_mm2 = _positive(inp.memory_gb, "memory (GB)") * _f("vram_mm2_per_gb") / dies
    mass = _positive(inp.mass_kg, "board mass (kg)")
    transport_per_kg = (
        _f("upstream_transport_kg_per_kg")
        + _f("boat_kg_per_kg_km") * _f("boat_km")
        + _f("truck_kg_per_kg_km") * _f("truck_km")
    )
    return {
        "die": effective_die_area_mm2(inp.die_mm2) * _f("gpu_die_kg_per_mm2_effective"),
        "memory": effective_die_area_mm2(memory_die_mm2) * dies * _f("vram_kg_per_mm2_effective"),
        "pcb": _positive(inp.pcb_cm2, "PCB area (cm²)") * _f("pcb_kg_per_cm2"),
        "heatsink": max(0.0, inp.heatsink_kg) * _f("heatsink_kg_per_kg"),
        "casing": max(0.0, inp.casing_kg) * _f("casing_kg_per_kg"),
        "transport": mass * transport_per_kg,
    }


def gpu_board_kg(inp: GpuBoardInputs) -> float:
    """Cradle-to-gate kg CO2e of one GPU board (sum of :func:`gpu_board_parts_kg`)."""
    return sum(gpu_board_parts_kg(inp).values())


def cpu_package_kg(die_mm2: float) -> float:
    """kg CO2e of one CPU package: die area x factor + a fixed package share (Boavizta CPU model)."""
    return _positive(die_mm2, "CPU die area (mm²)") * _f("cpu_die_kg_per_mm2") + _f("cpu_base_kg")


def dram_kg(memory_gb: float, density_gb_per_cm2: float | None = None) -> float:
    """kg CO2e of ``memory_gb`` of DRAM in modules of the factor table's size (Boavizta RAM model):
    die area (GB / density) x factor per cm² + a fixed share per module.

    >>> round(dram_kg(32.0), 1)
    61.8
    """
    gb = _positive(memory_gb, "memory (GB)")
    density = _f("ram_density_gb_per_cm2") if density_gb_per_cm2 is None else density_gb_per_cm2
    modules = max(1, math.ceil(gb / _f("ram_module_gb")))
    return gb / _positive(density, "DRAM density") * _f("ram_die_kg_per_cm2") + modules * _f("ram_base_kg_per_module")


def dram_kg_range(memory_gb: float) -> tuple[float, float, float]:
    """(central, low, high) kg CO2e of DRAM: the density spread of Boavizta's RAM table gives the range
    (denser chips, less silicon per GB)."""
    return (
        dram_kg(memory_gb),
        dram_kg(memory_gb, _f("ram_density_max_gb_per_cm2")),
        dram_kg(memory_gb, _f("ram_density_min_gb_per_cm2")),
    )


def rack_platform_kg() -> float:
    """kg CO2e of a rack server's platform without CPU, memory, storage or accelerators: motherboard, two
    power supplies, rack case and assembly (Boavizta server model defaults)."""
    return _f("motherboard_kg") + 2 * _f("psu_kg") + _f("rack_case_kg") + _f("assembly_kg")
