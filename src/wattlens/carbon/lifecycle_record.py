"""The lifecycle fields every record that carries CO2e gains: embodied CO2e, water, and the total.

Operational ``co2e_g`` is never changed: the embodied figure and the water figure sit beside it, each with
low/high and basis, and ``co2e_total_g`` = operational + embodied is a separate key. Fields are present only
for what was switched on (``--embodied`` / ``--water`` or their environment settings).

>>> record_fields(None, None, 1.0)
{}
"""

from __future__ import annotations

from typing import Any

from wattlens.carbon.lifecycle import EmbodiedFootprint
from wattlens.carbon.water import WaterFootprint


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def record_fields(
    embodied: EmbodiedFootprint | None,
    water: WaterFootprint | None,
    co2e_g: float | None,
    co2e_low_g: float | None = None,
    co2e_high_g: float | None = None,
) -> dict[str, Any]:
    """Flat keys for a measurement/bench/project record (see the module docstring)."""
    out: dict[str, Any] = {}
    if embodied is not None:
        low = co2e_g if co2e_low_g is None else co2e_low_g
        high = co2e_g if co2e_high_g is None else co2e_high_g
        out.update(
            {
                "co2e_embodied_g": embodied.co2e_embodied_g,
                "co2e_embodied_low_g": embodied.co2e_embodied_low_g,
                "co2e_embodied_high_g": embodied.co2e_embodied_high_g,
                "embodied_basis": embodied.basis,
                "embodied_complete": embodied.complete,
                "co2e_total_g": _add(co2e_g, embodied.co2e_embodied_g),
                "co2e_total_low_g": _add(low, embodied.co2e_embodied_low_g),
                "co2e_total_high_g": _add(high, embodied.co2e_embodied_high_g),
                "embodied": embodied.to_dict(),
            }
        )
    if water is not None:
        out.update(
            {
                "water_l": water.water_l,
                "water_low_l": water.water_low_l,
                "water_high_l": water.water_high_l,
                "water_basis": water.basis,
                "water": water.to_dict(),
            }
        )
    return out
