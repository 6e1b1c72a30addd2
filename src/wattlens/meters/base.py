"""The one small interface every energy source implements, and the reading it produces.

A source is read only at window edges (``snapshot``); the window's energy is the difference of two
snapshots (``delta``). Sources that cannot be read that way (power that must be integrated, a counter
that may wrap more than once inside a window) say so through ``sample_period_s`` and are then polled
by one shared background sampler (:mod:`wattlens.meters.sampler`), which keeps their accumulated
energy current so that ``snapshot`` stays cheap.

No torch, no pandas here: this module is imported by ``import wattlens``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from wattlens.errors import WattlensError

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


@dataclass(frozen=True)
class ComponentEnergy:
    """Energy of one domain over one window, with where the number came from.

    ``energy_j`` is ``None`` (never 0) when the component could not be measured; ``note`` then says why.
    ``low_j``/``high_j`` bound the true value as honestly as the method allows.
    """

    domain: str
    energy_j: float | None
    source: str
    method: str
    low_j: float | None
    high_j: float | None
    device: str = ""
    note: str = ""
    # The inputs of a modelled memory term (the estimator's W/GB x GB x time), so that a consumer can re-charge
    # it for another footprint without inverting the formula: the resident memory it charged (MB; peak RSS in
    # process attribution) and the central W/GB coefficient. None for every measured component.
    rss_mb: float | None = None
    w_per_gb: float | None = None

    @property
    def available(self) -> bool:
        return self.energy_j is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
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


@dataclass(frozen=True)
class SourceStatus:
    """What ``wattlens sources`` prints for one source: found or not, and why."""

    name: str
    available: bool
    detail: str  # what was found (zones, GPUs, CPU model) or why not (the fix, when there is one)
    domains: tuple[str, ...] = ()
    source: str = UNAVAILABLE  # the kind of figure it would give: measured / integrated / estimated

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["domains"] = list(self.domains)
        return d


@dataclass
class Snapshot:
    """Opaque per-source state at a window edge. ``t_s`` is ``time.monotonic()`` at the read."""

    t_s: float
    values: Any = None
    errors: dict[str, str] = field(default_factory=dict)


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
    """

    name: str = "source"

    @classmethod
    @abstractmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        """Cheap check whether this source can work here, without keeping anything open."""

    @abstractmethod
    def snapshot(self) -> Snapshot: ...

    @abstractmethod
    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]: ...

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
