"""Find the energy sources of this machine: RAPL, NVML, amdsmi, Apple, and the estimator for the rest.

Hardware sources are imported lazily and defensively: a missing module, a missing library or a probe that
raises becomes a ``SourceStatus(available=False, detail=<why>)`` — never an exception in user code. The
estimator then covers every CPU/memory domain that no sensor measures, so there is always an answer,
labelled ``estimated`` where that is all there is.

>>> statuses = probe_all()
>>> statuses[-1].name, statuses[-1].available
('estimator', True)
"""

from __future__ import annotations

import os
import sys

from wattlens.meters.base import (
    DOMAIN_CPU,
    DOMAIN_MEMORY,
    DOMAIN_SOC,
    UNAVAILABLE,
    ComponentEnergy,
    EnergySource,
    MeterError,
    Snapshot,
    SourceStatus,
)

TYPE_CHECKING = False  # not `import typing` (5-7 ms): Monitor() runs this module
if TYPE_CHECKING:
    from typing import Any

    from wattlens.meters.allocation import Allocation

# name -> (module, class). Order = preference when two sources cover one domain.
HARDWARE_SOURCES: dict[str, tuple[str, str]] = {
    "rapl": ("wattlens.meters.rapl", "RaplSource"),
    "nvml": ("wattlens.meters.nvml", "NvmlSource"),
    "amd": ("wattlens.meters.amd", "AmdSource"),
    "apple": ("wattlens.meters.apple", "AppleSource"),
}
ESTIMATOR = "estimator"
ENV_PROBE_ALL = "WATTLENS_PROBE_ALL"  # set to 1 to import and probe every source even where its driver looks absent
_NVIDIA_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/usr/lib/wsl/lib/libnvidia-ml.so.1")
_AMD_PATHS = ("/dev/kfd", "/sys/module/amdgpu")
_POWERCAP_PATHS = ("/sys/class/powercap", "/sys/devices/virtual/powercap")  # = rapl.DEFAULT_ROOTS
KNOWN_NAMES = (*HARDWARE_SOURCES, ESTIMATOR)
ALIASES = {"amdsmi": "amd", "nvidia": "nvml", "powercap": "rapl", "macos": "apple"}
_ESTIMABLE = (DOMAIN_CPU, DOMAIN_MEMORY)
# what a named source would have measured, for the "unavailable" components of one that cannot work here
_TYPICAL_DOMAINS = {"rapl": (DOMAIN_CPU,), "nvml": ("gpu",), "amd": ("gpu",), "apple": (DOMAIN_SOC,)}


class UnavailableSource(EnergySource):
    """Stands in for a source that was asked for but cannot work here: every window says why."""

    pure_delta = True

    def __init__(self, name: str, reason: str, domains: tuple[str, ...] = ()) -> None:
        self.name = name
        self.reason = reason
        self.domains = domains or ("unknown",)

    @classmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        return SourceStatus("unavailable", False, "placeholder")

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, False, self.reason)

    def snapshot(self) -> Snapshot:
        return Snapshot(0.0)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        return [ComponentEnergy.unavailable(d, self.name, self.reason) for d in self.domains]


class Discovery:
    """The sources a Monitor will read, and the status of every source tried (for ``wattlens sources``)."""

    def __init__(self) -> None:  # a plain class: a dataclass costs ~1 ms to create at import
        self.sources: list[EnergySource] = []
        self.statuses: list[SourceStatus] = []

    def to_dict(self) -> dict[str, Any]:
        return {"statuses": [s.to_dict() for s in self.statuses], "active": [s.name for s in self.sources]}


def load_source_class(name: str) -> tuple[type[EnergySource] | None, str]:
    """The class for a hardware source name, or ``None`` and why it could not be imported."""
    module_name, class_name = HARDWARE_SOURCES[name]
    import importlib  # lazy: only where some driver looks present

    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name), ""
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None, f"{module_name} is not part of this wattlens build"
        return None, f"needs the Python package '{exc.name}' (not installed)"
    except Exception as exc:  # a broken optional module must not break the meter
        return None, f"{module_name} failed to import: {type(exc).__name__}: {exc}"


def _linux_any(paths: tuple[str, ...]) -> bool:
    return any(os.path.exists(p) for p in paths)


def hardware_absent(name: str) -> str | None:
    """Why a hardware source certainly cannot work here, from a few ``stat`` calls — or None if it might.

    This keeps ``Monitor()`` cheap (a few ms): importing pynvml/amdsmi or the macOS code costs tens of ms,
    and even the RAPL module 3 ms (profiled), pointless on a machine without the driver. Only definite
    absences are reported; anything uncertain (Windows, WSL, unusual layouts) goes on to the real probe.
    """
    if os.environ.get(ENV_PROBE_ALL):
        return None
    if name == "apple" and sys.platform != "darwin":
        return f"not macOS (platform {sys.platform})"
    if not sys.platform.startswith("linux"):
        return None
    if name == "nvml" and not _linux_any(_NVIDIA_PATHS):
        return "no NVIDIA driver here (" + ", ".join(_NVIDIA_PATHS) + " absent)"
    if name == "amd" and not _linux_any(_AMD_PATHS):
        return "no AMD GPU driver here (" + ", ".join(_AMD_PATHS) + " absent)"
    if name == "rapl" and not _linux_any(_POWERCAP_PATHS):
        return (
            "no RAPL zones: " + ", ".join(_POWERCAP_PATHS) + " absent (no powercap driver: a VM, a container "
            "without /sys/class/powercap, or a CPU without RAPL)"
        )
    return None


def probe_source(name: str, **kwargs: Any) -> tuple[type[EnergySource] | None, SourceStatus]:
    absent = hardware_absent(name) if not kwargs.pop("full", False) else None
    if absent is not None:
        return None, SourceStatus(name, False, absent)
    cls, why = load_source_class(name)
    if cls is None:
        return None, SourceStatus(name, False, why)
    try:
        status = cls.probe(**kwargs)
    except Exception as exc:  # probe() is documented never to raise; be sure
        return cls, SourceStatus(name, False, f"probe failed: {type(exc).__name__}: {exc}")
    if not isinstance(status, SourceStatus):
        return cls, SourceStatus(name, False, f"probe returned {type(status).__name__}, not SourceStatus")
    # one spelling per source in every listing (the AMD class calls itself "amdsmi")
    return cls, status if status.name == name else status.replace(name=name)


def _covered(statuses: list[SourceStatus]) -> set[str]:
    domains: set[str] = set()
    for st in statuses:
        if st.available:
            domains.update(st.domains)
    return domains


def _estimator_domains(covered: set[str]) -> tuple[str, ...]:
    # A whole-SoC reading (Apple package, psys) already contains CPU and memory: estimate nothing then.
    if DOMAIN_SOC in covered:
        return ()
    return tuple(d for d in _ESTIMABLE if d not in covered)


def _make(cls: type[EnergySource], status: SourceStatus) -> tuple[EnergySource | None, SourceStatus]:
    try:
        return cls(), status
    except Exception as exc:  # failing to open = unavailable, with the reason
        return None, SourceStatus(status.name, False, f"{status.detail}; but opening it failed: {exc}", status.domains)


def _estimator(covered: set[str], attribution: str, **est_kwargs: Any) -> tuple[EnergySource | None, SourceStatus]:
    from wattlens.meters.estimator import EstimatorSource

    domains = _estimator_domains(covered)
    if not domains:
        return None, SourceStatus(ESTIMATOR, False, "not needed: sensors cover CPU and memory", (), "estimated")
    src = EstimatorSource(attribution=attribution, domains=domains, **est_kwargs)
    return src, src.status()


def discover(
    names: list[str | EnergySource] | tuple[str | EnergySource, ...] | None = None,
    attribution: str = "machine",
    cpu_tdp_w: float | None = None,
    cpu_threads: int | None = None,
    allocation: Allocation | None = None,
) -> Discovery:
    """Open the sources to read. ``names=None``: every hardware source that works + the estimator for the rest.

    ``names`` may list source names (``"rapl"``, ``"nvml"``, ``"amd"``, ``"apple"``, ``"estimator"``) or
    ready ``EnergySource`` objects (tests, custom meters). A named source that cannot work here is kept as
    an :class:`UnavailableSource`, so each window reports it as unavailable with the reason instead of
    silently measuring less. Unknown names raise :class:`MeterError` (a user error). ``allocation``: the part
    of the node the job owns, for the estimator (default: detected by the estimator).
    """
    est_kwargs = {"cpu_tdp_w": cpu_tdp_w, "cpu_threads": cpu_threads, "allocation": allocation}
    found = Discovery()
    if names is None:
        for name in HARDWARE_SOURCES:
            cls, status = probe_source(name)
            if cls is not None and status.available:
                src, status = _make(cls, status)
                if src is not None:
                    found.sources.append(src)
            found.statuses.append(status)
        est, st = _estimator(_covered(found.statuses), attribution, **est_kwargs)
        if est is not None:
            found.sources.append(est)
        found.statuses.append(st)
        return found

    wanted = [ALIASES.get(n, n) if isinstance(n, str) else n for n in names]
    bad = [n for n in wanted if isinstance(n, str) and n not in KNOWN_NAMES]
    if bad:
        raise MeterError(f"unknown energy source(s) {bad}; known: {', '.join(KNOWN_NAMES)}")
    for item in wanted:
        if isinstance(item, EnergySource):
            found.sources.append(item)
            try:
                found.statuses.append(item.status())
            except Exception as exc:  # a custom source's status is informative only
                found.statuses.append(SourceStatus(getattr(item, "name", "source"), False, f"status failed: {exc}"))
        elif item != ESTIMATOR:
            cls, status = probe_source(item)
            src = None
            if cls is not None and status.available:
                src, status = _make(cls, status)
            domains = status.domains or _TYPICAL_DOMAINS.get(item, ())
            found.sources.append(src or UnavailableSource(item, status.detail, domains))
            found.statuses.append(status)
    if ESTIMATOR in wanted:
        est, st = _estimator(_covered(found.statuses), attribution, **est_kwargs)
        if est is not None:
            found.sources.append(est)
        found.statuses.append(st)
    return found


def probe_all(cpu_tdp_w: float | None = None, cpu_threads: int | None = None) -> list[SourceStatus]:
    """The status of every source, for ``wattlens sources``; opens nothing that stays open."""
    statuses = [probe_source(name)[1] for name in HARDWARE_SOURCES]
    from wattlens.meters.estimator import EstimatorSource

    est = EstimatorSource.probe(cpu_tdp_w=cpu_tdp_w, cpu_threads=cpu_threads)
    domains = _estimator_domains(_covered(statuses))
    if est.available and not domains:
        est = SourceStatus(ESTIMATOR, True, f"standby (sensors cover CPU and memory); {est.detail}", (), est.source)
    elif est.available:
        est = SourceStatus(ESTIMATOR, True, est.detail, domains, est.source)
    return [*statuses, est]


__all__ = ["HARDWARE_SOURCES", "UNAVAILABLE", "Discovery", "UnavailableSource", "discover", "probe_all"]
