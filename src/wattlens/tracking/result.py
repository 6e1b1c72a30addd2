"""The result of one measurement window: energy per component, gross / idle / net, with provenance.

Boundaries: each component is a *device* figure; their sum is the *node* figure; the *facility*
figure (node x PUE) is added by the carbon layer (:mod:`wattlens.carbon`), which owns PUE.

A :class:`Measurement` returned by ``Monitor.end()`` may hold its two edge readings rather than its
components: the components (a few multiplications per source) are computed the first time anything
reads them, so that a window wrapped around every training step costs its two counter reads and
little more (benchmarks/measure_overhead.py). Only sources that declare their ``delta`` a pure function
of the two readings are deferred; the readings themselves are always taken at the edges.
"""

from __future__ import annotations

from wattlens.meters.base import SOURCE_RANK, UNAVAILABLE, ComponentEnergy, Record

TYPE_CHECKING = False  # not `import typing` (5-7 ms): Monitor() imports this module
if TYPE_CHECKING:
    from typing import Any

ATTRIBUTION_MACHINE = "machine"  # everything the devices drew during the window
ATTRIBUTION_PROCESS = "process"  # the measured package energy times this process's CPU-time share


class IdleBaseline(Record):
    """Idle power per domain, measured on this machine with nothing of ours running."""

    __slots__ = ("power_w", "low_w", "high_w", "duration_s", "source", "method")  # noqa: RUF023 - the order is the field order
    power_w: dict[str, float]  # domain -> watts
    low_w: dict[str, float]
    high_w: dict[str, float]
    duration_s: float
    source: str  # the weakest source among the components used
    method: str

    def __init__(
        self,
        power_w: dict[str, float],
        low_w: dict[str, float],
        high_w: dict[str, float],
        duration_s: float,
        source: str,
        method: str = "idle-window",
    ) -> None:
        self._init(power_w, low_w, high_w, duration_s, source, method)

    def __hash__(self) -> int:  # dict fields: hash what is hashable
        return hash((self.duration_s, self.source, self.method, self.total_w))

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


# What a deferred Measurement keeps until its components are read: (compute, *readings). ``compute(pending,
# duration_s)`` (given the whole tuple) returns the components, or (components, notes to add); it never raises.
# Flat, so that the hot path builds one tuple (e.g. the estimator's (compute, start self CPU, start children,
# end self CPU, end children, start reused)).
if TYPE_CHECKING:
    Computed = list[ComponentEnergy] | tuple[list[ComponentEnergy], tuple[str, ...]]
    Pending = tuple[Any, ...]


class Measurement:
    """Energy of one named window.

    >>> from wattlens.meters.base import ComponentEnergy
    >>> m = Measurement("demo", 0.0, 2.0, [ComponentEnergy("cpu", 10.0, "estimated", "cpu-time-model", 6.0, 15.0)])
    >>> m.energy_j, m.low_j, m.high_j, m.source
    (10.0, 6.0, 15.0, 'estimated')
    """

    # _ctx = (attribution, idle, notes): one tuple shared by every window of a Monitor until one is changed,
    # so that Monitor.end() sets six slots, not eight (end() is on the hot path).
    __slots__ = ("_components", "_ctx", "_pending", "duration_s", "name", "start_unix_s")

    def __init__(
        self,
        name: str,
        start_unix_s: float,
        duration_s: float,
        components: list[ComponentEnergy],
        attribution: str = ATTRIBUTION_MACHINE,
        idle: IdleBaseline | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.name = name
        self.start_unix_s = start_unix_s
        self.duration_s = duration_s
        self._components: list[ComponentEnergy] | None = components
        self._pending: Pending | None = None
        self._ctx: tuple[str, IdleBaseline | None, list[str] | tuple[str, ...]] = (
            attribution,
            idle,
            [] if notes is None else notes,
        )

    @classmethod
    def deferred(
        cls,
        name: str,
        start_unix_s: float,
        duration_s: float,
        pending: Pending,
        ctx: tuple[str, IdleBaseline | None, tuple[str, ...]],
    ) -> Measurement:
        """A Measurement whose components are ``pending[0](pending, duration_s)``, computed when
        first read (see :data:`Pending`). ``ctx`` = (attribution, idle, notes) is shared: the notes tuple is
        copied into a list of this result's own when first read."""
        m = cls.__new__(cls)
        m.name = name
        m.start_unix_s = start_unix_s
        m.duration_s = duration_s
        m._components = None
        m._pending = pending
        m._ctx = ctx
        return m

    # --- components, notes and context (computed / copied on first use) ------------------------
    @property
    def components(self) -> list[ComponentEnergy]:
        comps = self._components
        if comps is None:
            pending: Pending = self._pending  # type: ignore[assignment]
            computed = pending[0](pending, self.duration_s)
            if isinstance(computed, tuple):
                computed, extra = computed
                attribution, idle, notes = self._ctx
                self._ctx = (attribution, idle, [*notes, *extra])
            comps = self._components = computed
            self._pending = None
        return comps

    @components.setter
    def components(self, value: list[ComponentEnergy]) -> None:
        self._components = value
        self._pending = None

    @property
    def notes(self) -> list[str]:
        if self._pending is not None:
            self.components  # noqa: B018 - computing may add notes (e.g. the process share used)
        attribution, idle, notes = self._ctx
        if isinstance(notes, tuple):
            notes = list(notes)
            self._ctx = (attribution, idle, notes)
        return notes

    @notes.setter
    def notes(self, value: list[str]) -> None:
        self._ctx = (self._ctx[0], self._ctx[1], value)

    @property
    def attribution(self) -> str:
        return self._ctx[0]

    @attribution.setter
    def attribution(self, value: str) -> None:
        self._ctx = (value, self._ctx[1], self._ctx[2])

    @property
    def idle(self) -> IdleBaseline | None:
        return self._ctx[1]

    @idle.setter
    def idle(self, value: IdleBaseline | None) -> None:
        self._ctx = (self._ctx[0], value, self._ctx[2])

    # --- gross (node boundary) -------------------------------------------------------------
    @property
    def available_components(self) -> list[ComponentEnergy]:
        return [c for c in self.components if c.energy_j is not None]

    @property
    def energy_j(self) -> float | None:
        """Node energy: the sum of every component that could be read; ``None`` if none could."""
        values = [c.energy_j for c in self.components if c.energy_j is not None]
        return sum(values) if values else None

    @property
    def low_j(self) -> float | None:
        comps = self.available_components
        return sum(c.energy_j if c.low_j is None else c.low_j for c in comps) if comps else None  # type: ignore[misc]

    @property
    def high_j(self) -> float | None:
        comps = self.available_components
        return sum(c.energy_j if c.high_j is None else c.high_j for c in comps) if comps else None  # type: ignore[misc]

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

    def _fields(self) -> tuple[object, ...]:
        comps = self.components
        return (self.name, self.start_unix_s, self.duration_s, comps, self.attribution, self.idle, self.notes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Measurement):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable (notes, name): not hashable

    def __repr__(self) -> str:
        return (
            f"Measurement(name={self.name!r}, start_unix_s={self.start_unix_s!r}, duration_s={self.duration_s!r}, "
            f"components={self.components!r}, attribution={self.attribution!r}, idle={self.idle!r}, "
            f"notes={self.notes!r})"
        )

    def __reduce__(self) -> tuple[type[Measurement], tuple[object, ...]]:
        return Measurement, self._fields()

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
