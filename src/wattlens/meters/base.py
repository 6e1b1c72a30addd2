"""The one small interface every energy source implements, and the reading it produces.

A source is read only at window edges (``snapshot``); the window's energy is the difference of two
snapshots (``delta``). Sources that cannot be read that way (power that must be integrated, a counter
that may wrap more than once inside a window) say so through ``sample_period_s`` and are then polled
by one shared background sampler (:mod:`wattlens.meters.sampler`), which keeps their accumulated
energy current so that ``snapshot`` stays cheap.

No torch, no pandas here: this module is imported by ``import wattlens``. Nor ``dataclasses`` or
``typing``: importing those costs 6-11 ms and 5-7 ms on the 2-core development VM — more than the
whole budget of a first ``Monitor()`` (benchmarks/measure_overhead.py) — so the value objects below are
small immutable classes with ``__slots__`` built on :class:`Record`.

>>> c = ComponentEnergy("cpu", 2.0, ESTIMATED, "cpu-time-model", 1.0, 3.0)
>>> c.scaled(0.5).energy_j, c.to_dict()["low_j"], c == ComponentEnergy(*c.values())
(1.0, 1.0, True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from wattlens.errors import WattlensError

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Self

# How a figure was obtained, from strongest to weakest. ``unavailable`` is never a number.
MEASURED = "measured"  # a hardware energy counter (RAPL, NVML total-energy, amdsmi, IOReport)
INTEGRATED = "integrated"  # sampled power integrated over time
ESTIMATED = "estimated"  # a documented model (e.g. process CPU time x per-core power)
UNAVAILABLE = "unavailable"  # the source failed or cannot cover this window; energy_j is None
SOURCE_RANK = {MEASURED: 3, INTEGRATED: 2, ESTIMATED: 1, UNAVAILABLE: 0}

# Domains, so that every layer spells them the same way.
DOMAIN_CPU = "cpu"  # CPU package(s)
DOMAIN_MEMORY = "memory"  # DRAM
DOMAIN_GPU = "gpu"  # one accelerator; the component's ``device`` says which
DOMAIN_SOC = "soc"  # whole-SoC / platform (psys, Apple package) when nothing finer exists

_setattr = object.__setattr__


class Record:
    """Base of the immutable value objects of the meter layers: a frozen record over ``__slots__``.

    Subclasses declare ``__slots__`` (the fields, in order: hence ``noqa: RUF023``), annotate them, and set them
    in ``__init__``
    with :meth:`_init`. They get value equality and hashing, a readable ``repr``, ``to_dict()``,
    ``replace(**changes)`` and pickling (``__reduce__`` rebuilds through ``__init__``); assignment raises.

    >>> class Pair(Record):
    ...     __slots__ = ("a", "b")
    ...     def __init__(self, a: int, b: int = 0) -> None:
    ...         self._init(a, b)
    >>> p = Pair(1, 2)
    >>> p, p.replace(b=5).to_dict(), p == Pair(1, 2)
    (Pair(a=1, b=2), {'a': 1, 'b': 5}, True)
    >>> p.a = 3
    Traceback (most recent call last):
    AttributeError: Pair is immutable; use replace(a=...)
    """

    __slots__: tuple[str, ...] = ()

    def _init(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            _setattr(self, name, value)

    def values(self) -> tuple[object, ...]:
        """The field values, in declaration order."""
        return tuple([getattr(self, name) for name in self.__slots__])

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (``dataclasses.replace`` for these records)."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        fields = self.to_dict()
        fields.update(changes)
        return type(self)(**fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), self.values()


class ComponentEnergy(Record):
    """Energy of one domain over one window, with where the number came from.

    ``energy_j`` is ``None`` (never 0) when the component could not be measured; ``note`` then says why.
    ``low_j``/``high_j`` bound the true value as honestly as the method allows.
    """

    __slots__ = (  # noqa: RUF023 - the order is the field order
        "domain",
        "energy_j",
        "source",
        "method",
        "low_j",
        "high_j",
        "device",
        "note",
        "rss_mb",
        "w_per_gb",
    )
    domain: str
    energy_j: float | None
    source: str
    method: str
    low_j: float | None
    high_j: float | None
    device: str
    note: str
    # The inputs of a modelled memory term (the estimator's W/GB x GB x time), so that a consumer can re-charge
    # it for another footprint without inverting the formula: the resident memory it charged (MB; peak RSS in
    # process attribution) and the central W/GB coefficient. None for every measured component.
    rss_mb: float | None
    w_per_gb: float | None

    def __init__(
        self,
        domain: str,
        energy_j: float | None,
        source: str,
        method: str,
        low_j: float | None,
        high_j: float | None,
        device: str = "",
        note: str = "",
        rss_mb: float | None = None,
        w_per_gb: float | None = None,
    ) -> None:
        # The slots' own setters, spelled out: this runs for every component of every result read (~0.45 µs,
        # against ~0.8 µs through object.__setattr__ and ~1 µs for a frozen dataclass).
        _set_domain(self, domain)
        _set_energy_j(self, energy_j)
        _set_source(self, source)
        _set_method(self, method)
        _set_low_j(self, low_j)
        _set_high_j(self, high_j)
        _set_device(self, device)
        _set_note(self, note)
        _set_rss_mb(self, rss_mb)
        _set_w_per_gb(self, w_per_gb)

    @property
    def available(self) -> bool:
        return self.energy_j is not None

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for key in ("rss_mb", "w_per_gb"):  # present only where the source modelled memory from them
            if d[key] is None:
                del d[key]
        return d

    @classmethod
    def unavailable(cls, domain: str, method: str, reason: str, device: str = "") -> ComponentEnergy:
        return cls(domain, None, UNAVAILABLE, method, None, None, device, reason)

    def scaled(self, factor: float, method_suffix: str = "") -> ComponentEnergy:
        """The same reading multiplied by ``factor`` (attribution shares, PUE)."""
        if self.energy_j is None:
            return self
        return ComponentEnergy(
            self.domain,
            self.energy_j * factor,
            self.source,
            self.method + method_suffix,
            None if self.low_j is None else self.low_j * factor,
            None if self.high_j is None else self.high_j * factor,
            self.device,
            self.note,
            self.rss_mb,
            self.w_per_gb,
        )


(
    _set_domain,
    _set_energy_j,
    _set_source,
    _set_method,
    _set_low_j,
    _set_high_j,
    _set_device,
    _set_note,
    _set_rss_mb,
    _set_w_per_gb,
) = (ComponentEnergy.__dict__[name].__set__ for name in ComponentEnergy.__slots__)


class SourceStatus(Record):
    """What ``wattlens sources`` prints for one source: found or not, and why."""

    __slots__ = ("name", "available", "detail", "domains", "source")  # noqa: RUF023 - the order is the field order
    name: str
    available: bool
    detail: str  # what was found (zones, GPUs, CPU model) or why not (the fix, when there is one)
    domains: tuple[str, ...]
    source: str  # the kind of figure it would give: measured / integrated / estimated

    def __init__(
        self, name: str, available: bool, detail: str, domains: tuple[str, ...] = (), source: str = UNAVAILABLE
    ) -> None:
        self._init(name, available, detail, tuple(domains), source)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["domains"] = list(self.domains)
        return d


class Snapshot:
    """Opaque per-source state at a window edge. ``t_s`` is ``time.monotonic()`` at the read.

    A plain mutable holder (sources build one per edge, so it stays as cheap as an object can be);
    ``errors`` maps a part of the source (a zone, a GPU) to why it could not be read.
    """

    __slots__ = ("errors", "t_s", "values")

    def __init__(self, t_s: float, values: Any = None, errors: dict[str, str] | None = None) -> None:
        self.t_s = t_s
        self.values = values
        self.errors: dict[str, str] = {} if errors is None else errors

    def __repr__(self) -> str:
        return f"Snapshot(t_s={self.t_s!r}, values={self.values!r}, errors={self.errors!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (self.t_s, self.values, self.errors) == (other.t_s, other.values, other.errors)

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable, like the dataclass it replaces


class EnergySource(ABC):
    """One energy source: RAPL, NVML, amdsmi, Apple, or the estimator.

    Contract:
    * ``snapshot()`` is on the hot path (window begin/end): no allocation-heavy work, no syscalls
      beyond the counter reads, and it must never raise; errors go into ``Snapshot.errors``.
    * ``delta(a, b)`` turns two snapshots into components. It must never raise either: a failure
      becomes ``ComponentEnergy.unavailable(...)`` with the reason.
    * ``sample_period_s()`` is ``None`` when edge reads suffice, else the polling period the shared
      sampler should use while at least one window is open; ``sample()`` is then called from that thread.
    * ``close()`` releases file descriptors / library handles; after it nothing of the source runs.

    Two optional fast paths, both off by default:

    * ``pure_delta = True`` declares that ``delta`` depends on the two snapshots only (no live state of the
      source, no I/O): a :class:`~wattlens.tracking.Monitor` may then compute a window's components when
      its result is first read instead of at ``end()``. The edges are still read at the edges.
    * ``edge_calls()`` may return zero-argument callables (ideally C functions: no Python frame) whose
      results, as a tuple, are the source's raw reading at an edge — no ``Snapshot`` object, no clock read
      (the Monitor reads the clock once per edge); ``delta_values(a, b, duration_s)`` then turns two such
      tuples into components, never raising. ``snapshot``/``delta`` must keep working as well.
    """

    name: str = "source"
    pure_delta: bool = False

    @classmethod
    @abstractmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        """Cheap check whether this source can work here, without keeping anything open."""

    @abstractmethod
    def snapshot(self) -> Snapshot: ...

    @abstractmethod
    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]: ...

    def edge_calls(self) -> tuple[Callable[[], Any], ...] | None:
        """Zero-argument callables giving this source's raw reading, for the single-source fast path (or None)."""
        return None

    def delta_values(self, start: tuple[Any, ...], end: tuple[Any, ...], duration_s: float) -> list[ComponentEnergy]:
        """Components from two raw readings of :meth:`edge_calls` (only called when that is not None)."""
        return self.delta(Snapshot(0.0, start), Snapshot(duration_s, end))

    def sample_period_s(self) -> float | None:
        return None

    def sample(self) -> None:  # noqa: B027 - optional hook
        """Called periodically by the sampler thread when ``sample_period_s`` is not None."""

    def before_edge(self) -> None:  # noqa: B027 - optional hook
        """Called just before a window edge is read (e.g. synchronise the CUDA stream)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release handles. Idempotent."""

    def status(self) -> SourceStatus:
        return self.probe()


class MeterError(WattlensError):
    """A problem with the meter set-up that the user can fix (bad PUE, unknown window, ...)."""


class SourceUnavailableError(MeterError):
    """A hardware energy source cannot be used here; the message says why and, when possible, the fix."""
