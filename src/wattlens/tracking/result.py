"""The result of one measurement window: energy per component, gross / idle / net, with provenance.

Boundaries: each component is a *device* figure; their sum is the *node* figure; the *facility*
figure (node x PUE) is added by the carbon layer (:mod:`wattlens.carbon`), which owns PUE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlens.meters.base import SOURCE_RANK, UNAVAILABLE, ComponentEnergy

ATTRIBUTION_MACHINE = "machine"  # everything the devices drew during the window
ATTRIBUTION_PROCESS = "process"  # the measured package energy times this process's CPU-time share


@dataclass(frozen=True)
class IdleBaseline:
    """Idle power per domain, measured on this machine with nothing of ours running."""

    power_w: dict[str, float]  # domain -> watts
    low_w: dict[str, float]
    high_w: dict[str, float]
    duration_s: float
    source: str  # the weakest source among the components used
    method: str = "idle-window"

    @property
    def total_w(self) -> float:
        return sum(self.power_w.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "power_w": dict(self.power_w),
            "low_w": dict(self.low_w),
            "high_w": dict(self.high_w),
            "total_w": self.total_w,
            "duration_s": self.duration_s,
            "source": self.source,
            "method": self.method,
        }


@dataclass
class Measurement:
    """Energy of one named window.

    >>> from wattlens.meters.base import ComponentEnergy
    >>> m = Measurement("demo", 0.0, 2.0, [ComponentEnergy("cpu", 10.0, "estimated", "cpu-time-model", 6.0, 15.0)])
    >>> m.energy_j, m.low_j, m.high_j, m.source
    (10.0, 6.0, 15.0, 'estimated')
    """

    name: str
    start_unix_s: float
    duration_s: float
    components: list[ComponentEnergy]
    attribution: str = ATTRIBUTION_MACHINE
    idle: IdleBaseline | None = None
    notes: list[str] = field(default_factory=list)

    # --- gross (node boundary) -------------------------------------------------------------
    @property
    def available_components(self) -> list[ComponentEnergy]:
        return [c for c in self.components if c.energy_j is not None]

    @property
    def energy_j(self) -> float | None:
        """Node energy: the sum of every component that could be read; ``None`` if none could."""
        comps = self.available_components
        return sum(c.energy_j for c in comps) if comps else None  # type: ignore[misc]

    @property
    def low_j(self) -> float | None:
        comps = self.available_components
        return sum(c.low_j if c.low_j is not None else c.energy_j for c in comps) if comps else None  # type: ignore[misc]

    @property
    def high_j(self) -> float | None:
        comps = self.available_components
        return sum(c.high_j if c.high_j is not None else c.energy_j for c in comps) if comps else None  # type: ignore[misc]

    @property
    def power_w(self) -> float | None:
        e = self.energy_j
        return None if e is None or self.duration_s <= 0 else e / self.duration_s

    @property
    def source(self) -> str:
        """The weakest kind of figure that went into the total (a chain is as strong as its weakest link)."""
        comps = self.available_components
        if not comps:
            return UNAVAILABLE
        return min((c.source for c in comps), key=lambda s: SOURCE_RANK.get(s, 0))

    @property
    def methods(self) -> list[str]:
        return sorted({c.method for c in self.available_components})

    # --- idle and net -----------------------------------------------------------------------
    @property
    def idle_j(self) -> float | None:
        return None if self.idle is None else self.idle.total_w * self.duration_s

    @property
    def net_j(self) -> float | None:
        """Gross minus the idle baseline over the same duration (the marginal energy of the work)."""
        e, i = self.energy_j, self.idle_j
        return None if e is None or i is None else e - i

    def component(self, domain: str) -> ComponentEnergy | None:
        for c in self.components:
            if c.domain == domain:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_unix_s": self.start_unix_s,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "low_j": self.low_j,
            "high_j": self.high_j,
            "power_w": self.power_w,
            "source": self.source,
            "attribution": self.attribution,
            "components": [c.to_dict() for c in self.components],
            "gross_j": self.energy_j,
            "idle_j": self.idle_j,
            "net_j": self.net_j,
            "idle": None if self.idle is None else self.idle.to_dict(),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.duration_s:.3f} s"]
        e = self.energy_j
        if e is None:
            lines[0] += ", energy unavailable"
        else:
            lines[0] += f", {e:.3f} J [{self.low_j:.3f}, {self.high_j:.3f}] ({self.source}, {self.attribution})"
        for c in self.components:
            if c.energy_j is None:
                lines.append(f"  {c.domain:<8} unavailable  {c.method}: {c.note}")
            else:
                lines.append(
                    f"  {c.domain:<8} {c.energy_j:10.3f} J [{c.low_j:.3f}, {c.high_j:.3f}]  {c.source:<10} {c.method}"
                    + (f"  ({c.note})" if c.note else "")
                )
        if self.idle is not None:
            lines.append(f"  idle baseline {self.idle_j:.3f} J, net {self.net_j:.3f} J")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)
