"""One measured window plus its carbon footprint, as the flat record that ``wattlens measure --json`` prints.

carbon sits below tracking (it imports no other layer), so the footprint has its real type,
:class:`wattlens.carbon.Footprint`; it is imported for type checking only, so that ``Monitor`` users do
not pay for the carbon tables' module.

Boundaries in the record: each entry of ``components`` is a *device* figure; ``energy_j`` (= ``gross_j``)
is the *node* figure (their sum); ``facility_energy_j`` = node x ``pue`` is the *facility* figure
(PUE 1.0 by default, and the record says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattlens.tracking.result import Measurement

if TYPE_CHECKING:
    from wattlens.carbon.footprint import Footprint

BOUNDARIES = {
    "device": "components[]: one figure per device/domain (CPU package, DRAM, each GPU)",
    "node": "energy_j: sum of the available components (gross)",
    "facility": "facility_energy_j: node energy x PUE",
}


@dataclass
class MeasuredFootprint:
    """A :class:`Measurement` and its footprint (``wattlens.carbon.Footprint`` or ``None``)."""

    measurement: Measurement
    footprint: Footprint | None = None
    extra: dict[str, Any] | None = None  # e.g. {"command": [...], "exit_code": 0}

    # convenient pass-throughs
    @property
    def energy_j(self) -> float | None:
        return self.measurement.energy_j

    @property
    def co2e_g(self) -> float | None:
        return None if self.footprint is None else self.footprint.co2e_g

    @property
    def co2e_embodied_g(self) -> float | None:
        """Amortised embodied CO2e of the hardware used (``embodied=True``); None when off or unavailable."""
        return (self.extra or {}).get("co2e_embodied_g")

    @property
    def water_l(self) -> float | None:
        """Water consumed on site and off site (``water=True``); None when off or unavailable."""
        return (self.extra or {}).get("water_l")

    def to_dict(self) -> dict[str, Any]:
        return build_record(self.measurement, self.footprint, self.extra)

    def __str__(self) -> str:
        lines = [str(self.measurement)]
        if self.footprint is not None:
            fp = self.footprint
            if fp.facility_energy_j is not None:
                lines.append(
                    f"  facility {fp.facility_energy_j:.3f} J [{fp.facility_low_j:.3f}, {fp.facility_high_j:.3f}]"
                    f" = node x PUE {fp.pue:g} ({fp.pue_origin})"
                )
            lines.append("  carbon: " + fp.summary())
        return "\n".join(lines)


def _component_dict(c: Any) -> dict[str, Any]:
    d = c.to_dict()
    return {k: d.get(k) for k in ("domain", "energy_j", "source", "method", "low_j", "high_j", "device", "note")}


def build_record(m: Measurement, fp: Footprint | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON contract of ``wattlens measure --json`` (see docs): flat, every figure with provenance."""
    fpd: dict[str, Any] = fp.to_dict() if fp is not None else {}
    notes = list(m.notes) + [n for n in fpd.get("notes", []) if n not in m.notes]
    record: dict[str, Any] = {
        "name": m.name,
        "start_unix_s": m.start_unix_s,
        "duration_s": m.duration_s,
        "energy_j": m.energy_j,
        "low_j": m.low_j,
        "high_j": m.high_j,
        "power_w": m.power_w,
        "source": m.source,
        "methods": m.methods,
        "attribution": m.attribution,
        "components": [_component_dict(c) for c in m.components],
        "boundary": fpd.get("boundary", "node"),
        "boundaries": dict(BOUNDARIES),
        "pue": fpd.get("pue", 1.0),
        "pue_origin": fpd.get("pue_origin", "default"),
        "facility_energy_j": fpd.get("facility_energy_j", m.energy_j),
        "facility_low_j": fpd.get("facility_low_j", m.low_j),
        "facility_high_j": fpd.get("facility_high_j", m.high_j),
        "co2e_g": fpd.get("co2e_g"),
        "co2e_low_g": fpd.get("co2e_low_g"),
        "co2e_high_g": fpd.get("co2e_high_g"),
        "carbon_intensity_g_per_kwh": fpd.get("carbon_intensity_g_per_kwh"),
        "carbon_basis": fpd.get("basis"),
        "location": fpd.get("location"),
        "cost": fpd.get("cost"),
        "cost_note": fpd.get("cost_note", ""),
        "gross_j": m.energy_j,
        "idle_j": m.idle_j,
        "net_j": m.net_j,
        "idle": None if m.idle is None else m.idle.to_dict(),
        "notes": notes,
    }
    if extra:
        record.update(extra)
    return record
