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

from wattlens.records import JsonDict, Record
from wattlens.tracking.result import IdleBaseline, Measurement

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


@dataclass(frozen=True)
class WindowComponent(Record):
    """One device/domain figure of a measured window, as the ``measure --json`` record lists it."""

    domain: str  # cpu, memory, gpu, soc, ...
    energy_j: float | None  # None (never 0) when the domain could not be read; note says why
    source: str  # measured counter, integrated power or estimated
    method: str  # how the figure was obtained (e.g. cpu-time-model, rapl-counter)
    low_j: float | None  # the interval the method allows
    high_j: float | None
    device: str  # which device of the domain (e.g. a GPU's index), "" for the whole domain
    note: str  # the model, its inputs and its assumptions, or why the figure is unavailable


@dataclass(frozen=True)
class WindowRecord(Record):
    """A measured window and its footprint: the keys every ``wattlens measure --json`` record, every
    ``wattlens.measure(...)`` record and every training record start with. The layers above add their own keys
    beside these (the command and its exit codes, the meter's sources, tags, lifecycle figures, the rank share)."""

    name: str  # the window's name (the command line for `wattlens measure`)
    start_unix_s: float  # when the window began (Unix time, s)
    duration_s: float  # how long it lasted (s)
    energy_j: float | None  # node energy: the sum of the available components (= gross_j); None if none could be read
    low_j: float | None  # the node figure's interval
    high_j: float | None
    power_w: float | None  # energy_j / duration_s
    source: str  # the weakest kind of figure in the total
    methods: tuple[str, ...]  # every method that went into it
    attribution: str  # machine (everything the counted devices drew) or process (this process tree's share)
    components: tuple[WindowComponent, ...]  # the device boundary: one figure per device/domain
    boundary: str  # the boundary of energy_j: node
    boundaries: dict[str, str]  # what each boundary's figure is, in words
    pue: float  # facility overhead applied to facility_energy_j (1.0 by default, and pue_origin says so)
    pue_origin: str  # where the PUE came from (default, --pue, provider, environment)
    facility_energy_j: float | None  # node energy x PUE: the facility boundary
    facility_low_j: float | None
    facility_high_j: float | None
    co2e_g: float | None  # operational CO2e of facility_energy_j at the location's grid intensity
    co2e_low_g: float | None
    co2e_high_g: float | None
    carbon_intensity_g_per_kwh: float | None  # the grid intensity used
    carbon_basis: str | None  # what the intensity counts (lifecycle or direct), from the carbon table's source
    location: dict[str, object] | None  # the grid location (key, name, intensity, year, source, stated_default)
    cost: dict[str, object] | None  # amount and currency of the electricity, None when no price is set
    cost_note: str  # why the cost is what it is ("not set", the price used)
    gross_j: float | None  # = energy_j
    idle_j: float | None  # the idle baseline's energy over the window, None without a baseline
    net_j: float | None  # gross_j - idle_j, None without a baseline
    idle: IdleBaseline | None  # the idle baseline applied, None without one
    notes: tuple[str, ...]  # attribution, model and carbon notes, in words


def _component(c: Any) -> WindowComponent:
    return WindowComponent(c.domain, c.energy_j, c.source, c.method, c.low_j, c.high_j, c.device, c.note)


def window_record(m: Measurement, fp: Footprint | None = None) -> WindowRecord:
    """The typed record of a measured window and its footprint (see :func:`build_record` for the JSON)."""
    fpd: dict[str, Any] = fp.to_dict() if fp is not None else {}
    notes = list(m.notes) + [n for n in fpd.get("notes", []) if n not in m.notes]
    return WindowRecord(
        name=m.name,
        start_unix_s=m.start_unix_s,
        duration_s=m.duration_s,
        energy_j=m.energy_j,
        low_j=m.low_j,
        high_j=m.high_j,
        power_w=m.power_w,
        source=m.source,
        methods=tuple(m.methods),
        attribution=m.attribution,
        components=tuple(_component(c) for c in m.components),
        boundary=fpd.get("boundary", "node"),
        boundaries=dict(BOUNDARIES),
        pue=fpd.get("pue", 1.0),
        pue_origin=fpd.get("pue_origin", "default"),
        facility_energy_j=fpd.get("facility_energy_j", m.energy_j),
        facility_low_j=fpd.get("facility_low_j", m.low_j),
        facility_high_j=fpd.get("facility_high_j", m.high_j),
        co2e_g=fpd.get("co2e_g"),
        co2e_low_g=fpd.get("co2e_low_g"),
        co2e_high_g=fpd.get("co2e_high_g"),
        carbon_intensity_g_per_kwh=fpd.get("carbon_intensity_g_per_kwh"),
        carbon_basis=fpd.get("basis"),
        location=fpd.get("location"),
        cost=fpd.get("cost"),
        cost_note=fpd.get("cost_note", ""),
        gross_j=m.energy_j,
        idle_j=m.idle_j,
        net_j=m.net_j,
        idle=m.idle,
        notes=tuple(notes),
    )


def build_record(m: Measurement, fp: Footprint | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON contract of ``wattlens measure --json``: :class:`WindowRecord`'s keys, then the ``extra`` keys
    the caller adds (a plain dict, so that the layers above can add theirs)."""
    record: JsonDict = window_record(m, fp).to_dict()
    if extra:
        record.update(extra)
    return record
