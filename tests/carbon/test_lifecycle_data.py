"""Every row of the lifecycle tables has a source, a boundary and a range; estimated rows are reproducible
from their stated inputs (issue 15)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from wattlens.carbon.component_model import GpuBoardInputs, factors, gpu_board_kg, rack_platform_kg
from wattlens.carbon.hardware_footprints import BASES, BOUNDARIES, KINDS, cpu_die_table, hardware_table
from wattlens.carbon.lifecycle import defaults
from wattlens.carbon.water import offsite_table, onsite_table

DATA = Path(__file__).resolve().parents[2] / "src" / "wattlens" / "carbon" / "data"
ROWS = hardware_table()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.key)
def test_every_hardware_row_has_source_boundary_and_range(row) -> None:
    assert row.source.strip() and row.url.startswith("http") and row.via.strip()
    assert row.boundary in BOUNDARIES and row.basis in BASES and row.kind in KINDS
    assert row.scope.strip() and row.range_basis.strip()
    assert 0 < row.low_kg <= row.embodied_kg <= row.high_kg
    if row.boundary == "lifecycle":  # only the manufacturing share of a whole-life PCF is embodied
        assert row.lifecycle_total_kg and 0 < row.manufacturing_share < 1
        assert row.embodied_kg == pytest.approx(row.lifecycle_total_kg * row.manufacturing_share, rel=1e-3)


def test_keys_and_aliases_are_unique() -> None:
    keys = [r.key for r in ROWS]
    assert len(keys) == len(set(keys))
    aliases = [a for r in ROWS for a in r.aliases]
    assert len(aliases) == len(set(aliases))
    assert not set(aliases) & set(keys)  # an alias never shadows another row's key


def test_the_issue_names_are_covered() -> None:
    by_key = {r.key: r for r in ROWS}
    assert by_key["nvidia-hgx-h100"].embodied_kg == 1312 and by_key["nvidia-hgx-b200"].embodied_kg == 2274
    assert by_key["nvidia-h100-sxm"].embodied_kg == pytest.approx(1312 / 8)
    vendors = {r.key.split("-")[0] for r in ROWS if r.kind in ("server", "laptop")}
    assert {"dell", "hpe", "apple"} <= vendors
    assert sum(r.basis == "estimated" and r.kind == "gpu" for r in ROWS) >= 10


@pytest.mark.parametrize("row", [r for r in ROWS if r.basis == "estimated" and r.kind == "gpu"], ids=lambda r: r.key)
def test_estimated_gpu_rows_are_reproducible_from_their_inputs(row) -> None:
    with (DATA / "embodied_hardware.csv").open(newline="", encoding="utf-8") as fh:
        raw = next(r for r in csv.DictReader(fh) if r["key"] == row.key)
    inputs = GpuBoardInputs(
        float(raw["die_mm2"]),
        float(raw["memory_gb"]),
        int(raw["memory_dies"]),
        float(raw["pcb_cm2"]),
        float(raw["heatsink_kg"]),
        float(raw["casing_kg"]),
        float(raw["mass_kg"]),
    )
    assert gpu_board_kg(inputs) == pytest.approx(row.embodied_kg, rel=1e-4)
    divisor, spread = factors()["estimate_low_divisor"].value, factors()["pcf_default_spread"].value
    assert row.low_kg == pytest.approx(row.embodied_kg / divisor, rel=1e-3)
    assert row.high_kg == pytest.approx(row.embodied_kg * (1 + spread), rel=1e-3)
    assert "mm²" in row.source and row.via == "computed here"


def test_estimate_spread_is_what_the_method_gives_against_published_figures() -> None:
    # the low divisor is the component model's largest overshoot of a published accelerator footprint
    h100 = gpu_board_kg(GpuBoardInputs(814, 80, 6, 296.37, 0.90077, 0.78923, 1.69)) / 164.0
    a100 = gpu_board_kg(GpuBoardInputs(826, 40, 6, 105.0, 1.25, 0.09, 1.56)) / 127.6
    assert factors()["estimate_low_divisor"].value == pytest.approx(max(h100, a100), rel=1e-3)


def test_rack_platform_row_matches_the_factors() -> None:
    row = next(r for r in ROWS if r.key == "generic-rack-server-platform")
    assert row.embodied_kg == pytest.approx(rack_platform_kg()) == pytest.approx(66.1 + 2 * 24.3 + 150 + 6.68)


def test_factor_and_default_tables_carry_sources() -> None:
    for f in factors().values():
        assert f.source.strip() and f.unit.strip() and f.value >= 0
    for d in defaults().values():
        assert d.source.strip() and d.low <= d.value <= d.high


def test_cpu_die_rows_have_a_source_and_an_area() -> None:
    rows = cpu_die_table()
    assert len(rows) > 1000
    assert all(r.source.startswith("http") and r.die_mm2 > 0 and r.model for r in rows)


def test_water_tables_have_sources() -> None:
    assert len(offsite_table()) >= 50 and "WORLD" in offsite_table()
    for r in offsite_table().values():
        assert r.source.strip() and r.url.startswith("http") and 0 < r.l_per_kwh < 30
    assert {"aws", "gcp", "azure"} <= {r.provider for r in onsite_table()}
    for r in onsite_table():
        assert r.source.strip() and r.url.startswith("http") and 0 < r.wue_l_per_kwh < 2
