"""CPU package and DRAM energy from RAPL counters, read through the Linux powercap sysfs interface.

Zones live under ``/sys/class/powercap`` (symlinks) and ``/sys/devices/virtual/powercap`` (the real
tree): ``intel-rapl:N`` (package or psys, read through MSRs), ``intel-rapl:N:M`` (its subzones: core,
uncore, dram) and ``intel-rapl-mmio:N`` (the same package read through MMIO). Each zone has ``name``,
``energy_uj`` (a counter in µJ that wraps at ``max_energy_range_uj``) and optional
``constraint_*_max_power_uw``. AMD Zen CPUs appear under the same ``intel-rapl`` names.

What is reported, and why (CodeCarbon summed these and over-counted, see measurement-anchors §4):

* **Hierarchy.** ``psys`` ⊃ package ⊃ core/uncore. Packages are reported (domain ``cpu``) and DRAM
  (``memory``; the DRAM plane is *not* part of the package plane although it sits under it in sysfs).
  core/uncore are never added. ``psys`` is reported (domain ``soc``) only when no package zone exists.
* **MSR vs MMIO.** ``intel-rapl-mmio:N`` exposes the package already seen as ``intel-rapl:N``: zones with
  the same name are one zone; the MSR copy is preferred, the MMIO copy used when the MSR one is unreadable.
* **Mirrored dies.** Some multi-die CPUs (AMD Threadripper/EPYC, CodeCarbon #1274) expose one zone per die
  that all read the *same* package counter. Rule, applied per window in :meth:`RaplSource.delta`: two
  reported zones of the same domain whose raw counters agree within ``MIRROR_TOL_UJ`` (1 J) at **both**
  edges of the window are one counter read twice, and are counted once. Independent counters (e.g. the
  real per-die counters of Intel Cascade Lake-AP) drift apart immediately and are summed. 1 J covers two
  reads that straddle one ~1 ms counter update at up to 1 kW; on a counter whose range is under 1 kJ the
  tolerance is 0.1 % of the range (Kepler's 1000 µJ test counters at 900 and 800 µJ are two counters).
* **Wrap-around.** Every read (window edge or sampler tick) folds the raw counter into a 64-bit
  accumulator: if the new raw value is below the previous one the counter wrapped once, and
  ``max_energy_range_uj`` is added. That is exact as long as two reads are less than one full wrap apart,
  i.e. ``max_energy_range_uj / P_max``; :meth:`RaplSource.sample_period_s` asks the shared sampler for half
  of that (131 s for a 262 kJ range at the 1 kW conservative default), so long windows cannot lose wraps
  and short ones cost nothing. If a gap between reads ever exceeds the safe interval (sampler not running),
  the window's upper bound is widened by the wraps that could have been missed and a note says so.
* **Permissions.** Since the PLATYPUS fix (CVE-2020-8694) ``energy_uj`` is root-only on most
  distributions: :meth:`RaplSource.probe` then says so once, with the fix (:data:`PERMISSION_FIX`).
* **Vanishing files** (CPU hot-unplug, driver unload) make that zone ``unavailable`` with the reason; the
  source never raises from ``snapshot``/``delta``.

Uncertainty: RAPL is a model-based counter, not a meter. There is no single published error bound that
holds across CPU generations (Khan et al., "RAPL in Action", ACM TOMPECS 3(2), 2018, found package and
DRAM RAPL tracking wall power closely on Haswell/Skylake only), so the ±5 % band used here
(:data:`MODEL_REL_ERR`) is an **assumption**, plus one counter update (~1 ms) of staleness at each edge.

Hot path: file descriptors stay open and are read with ``os.pread`` (0.94 µs vs 14.6 µs for
open/read/close, measurement-anchors §6a); a window's components are computed when its result is
first read (``pure_delta``), so an edge is one ``pread`` per zone and the fold into the accumulators.
Nothing here imports ``re``, ``dataclasses``, ``typing`` or ``threading`` (milliseconds each on the
first ``Monitor()``): zone names are parsed by hand.
"""

from __future__ import annotations

import _thread
import errno
import os
import time

from wattlens.meters.base import (
    DOMAIN_CPU,
    DOMAIN_MEMORY,
    DOMAIN_SOC,
    MEASURED,
    ComponentEnergy,
    EnergySource,
    Record,
    Snapshot,
    SourceStatus,
    SourceUnavailableError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    Opener = Callable[[str], int]
    PRead = Callable[[int, int, int], bytes]

DEFAULT_ROOTS: tuple[str, ...] = ("/sys/class/powercap", "/sys/devices/virtual/powercap")
DEFAULT_PMAX_W = 1000.0  # conservative when the zone states no max power: no CPU socket draws more
MODEL_REL_ERR = 0.05  # assumption, see module docstring
UPDATE_PERIOD_S = 1e-3  # RAPL counters update about every millisecond (Intel SDM vol. 3B, ch. 15.10)
MIRROR_TOL_UJ = 1_000_000  # 1 J, see "Mirrored dies" above
PERMISSION_FIX = (
    "RAPL energy counters are readable by root only (kernel fix for CVE-2020-8694, 'PLATYPUS'). "
    "Fix: `sudo chmod a+r /sys/class/powercap/intel-rapl*/energy_uj "
    "/sys/class/powercap/intel-rapl*/*/energy_uj` (lasts until reboot; a udev rule or systemd-tmpfiles "
    "entry makes it permanent), or run as root. Falling back to the next source."
)

_READ_LEN = 32  # energy_uj holds at most 20 digits + newline
_CONTROL_TYPES = ("intel-rapl", "intel-rapl-mmio")


def zone_indices(entry: str) -> tuple[int, ...] | None:
    """``intel-rapl:0:2`` -> (0, 2); ``intel-rapl-mmio:0`` -> (0,); anything else (``intel-rapl``, the kernel's
    control-type directory, or a non-numeric id such as Kepler's ``intel-rapl:a`` fixture) -> None.

    >>> zone_indices("intel-rapl:0:2"), zone_indices("intel-rapl-mmio:1"), zone_indices("intel-rapl:a")
    ((0, 2), (1,), None)
    """
    control, sep, rest = entry.partition(":")
    if not sep or control not in _CONTROL_TYPES:
        return None
    parts = rest.split(":")
    if not all(p.isdigit() and p.isascii() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def _is_max_power_file(name: str) -> bool:
    """``constraint_<n>_max_power_uw``."""
    head, sep, tail = name.partition("_")
    number, sep2, rest = tail.partition("_")
    return head == "constraint" and bool(sep and sep2) and number.isdigit() and rest == "max_power_uw"


def _package_label(parent_name: str) -> str | None:
    """``package-0`` -> ``0``; ``package-1-die-0`` -> ``1-die-0``; other names -> None."""
    if not parent_name.startswith("package-"):
        return None
    rest = parent_name[len("package-") :]
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return rest if digits else None


class RaplZone(Record):
    """One powercap RAPL zone as found in sysfs."""

    __slots__ = ("zone_id", "path", "name", "provider", "indices", "max_range_uj", "pmax_w", "parent_name")  # noqa: RUF023 - the order is the field order
    zone_id: str  # "intel-rapl:0", "intel-rapl:0:2", "intel-rapl-mmio:0"
    path: str  # directory holding name / energy_uj
    name: str  # kernel's name: "package-0", "dram", "psys", "core", "uncore"
    provider: str  # "msr" (intel-rapl) or "mmio" (intel-rapl-mmio)
    indices: tuple[int, ...]  # (0,) for intel-rapl:0, (0, 2) for intel-rapl:0:2
    max_range_uj: int
    pmax_w: float
    parent_name: str  # name of the parent zone for subzones

    def __init__(
        self,
        zone_id: str,
        path: str,
        name: str,
        provider: str,
        indices: tuple[int, ...],
        max_range_uj: int,
        pmax_w: float,
        parent_name: str = "",
    ) -> None:
        self._init(zone_id, path, name, provider, tuple(indices), max_range_uj, pmax_w, parent_name)

    @property
    def is_subzone(self) -> bool:
        return len(self.indices) > 1

    @property
    def energy_path(self) -> str:
        return os.path.join(self.path, "energy_uj")

    @property
    def domain(self) -> str | None:
        """The domain this zone would be reported as, or None for zones never added (core, uncore)."""
        if self.name.startswith("package"):
            return DOMAIN_CPU
        if self.name.startswith("dram"):
            return DOMAIN_MEMORY
        if self.name.startswith("psys"):
            return DOMAIN_SOC
        return None

    @property
    def label(self) -> str:
        """Stable name used in methods: ``package-0``, ``dram-0``, ``psys``."""
        if self.domain == DOMAIN_MEMORY and self.is_subzone:
            package = _package_label(self.parent_name)
            return f"dram-{package}" if package is not None else f"dram-{self.indices[0]}"
        if self.domain == DOMAIN_MEMORY and self.name == "dram":
            return f"dram-{self.indices[0]}"
        return self.name

    @property
    def safe_gap_s(self) -> float:
        """Longest time between two reads for which at most one wrap can have happened."""
        return self.max_range_uj / (self.pmax_w * 1e6)


# ---------------------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------------------
def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _zone_pmax_w(path: str, default_w: float) -> float:
    best_uw = 0
    try:
        names = os.listdir(path)
    except OSError:
        return default_w
    for fn in names:
        if _is_max_power_file(fn):
            try:
                best_uw = max(best_uw, int(_read_text(os.path.join(path, fn))))
            except (OSError, ValueError):
                continue
    return best_uw / 1e6 if best_uw > 0 else default_w


def _walk_zone_dirs(root: str, depth: int = 0) -> Iterable[tuple[str, str]]:
    """Yield (zone_id, path) for every RAPL zone directory under root (symlinks followed, depth ≤ 3)."""
    if depth > 3:
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            continue
        if not is_dir:
            continue
        if zone_indices(entry.name) is not None:
            yield entry.name, entry.path
            yield from _walk_zone_dirs(entry.path, depth + 1)
        elif entry.name in _CONTROL_TYPES:  # control-type directories
            yield from _walk_zone_dirs(entry.path, depth + 1)


def find_zones(roots: Sequence[str] | str | None = None, *, default_pmax_w: float = DEFAULT_PMAX_W) -> list[RaplZone]:
    """All RAPL zones under ``roots`` (each real directory once), without judging what to report.

    Zones whose ``name`` or ``max_energy_range_uj`` cannot be read are left out (they cannot be used); a zone whose
    range is 0 is kept here and left out, with the reason, when the zones to read are chosen.
    """
    if roots is None:
        roots = DEFAULT_ROOTS
    elif isinstance(roots, str):
        roots = (roots,)
    found: dict[str, tuple[str, str]] = {}  # realpath -> (zone_id, path)
    for root in roots:
        for zone_id, path in _walk_zone_dirs(root):
            real = os.path.realpath(path)
            found.setdefault(real, (zone_id, path))
    names: dict[str, str] = {}
    raw: list[tuple[str, str, str, tuple[int, ...], int, float]] = []
    for zone_id, path in found.values():
        if zone_id in names:  # the same kernel zone seen through a second mount (bind-mounted sysfs)
            continue
        indices = zone_indices(zone_id)
        assert indices is not None  # _walk_zone_dirs yields zone directories only
        try:
            name = _read_text(os.path.join(path, "name"))
            max_range_uj = int(_read_text(os.path.join(path, "max_energy_range_uj")))
        except (OSError, ValueError):
            continue
        names[zone_id] = name
        raw.append((zone_id, path, name, indices, max_range_uj, _zone_pmax_w(path, default_pmax_w)))
    zones = []
    for zone_id, path, name, indices, max_range_uj, pmax_w in raw:
        parent_id = zone_id.rsplit(":", 1)[0] if len(indices) > 1 else ""
        provider = "mmio" if zone_id.startswith("intel-rapl-mmio") else "msr"
        zones.append(RaplZone(zone_id, path, name, provider, indices, max_range_uj, pmax_w, names.get(parent_id, "")))
    zones.sort(key=lambda z: (z.provider != "msr", z.indices))
    return zones


def _default_opener(path: str) -> int:
    return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))


class _Selection:
    """The zones chosen to report, their open descriptors, and what was left out and why."""

    def __init__(self) -> None:
        self.zones: list[RaplZone] = []
        self.fds: list[int] = []
        self.skipped: list[tuple[str, str]] = []  # (zone_id name, reason)
        self.denied: list[str] = []  # zone ids whose energy_uj gave EACCES/EPERM


def _select_and_open(zones: list[RaplZone], opener: Opener, keep_open: bool) -> _Selection:
    """Choose the zones to report (see module docstring) and open their ``energy_uj``."""
    sel = _Selection()
    by_label: dict[str, list[RaplZone]] = {}
    for z in zones:  # zones are sorted MSR first, so each label's first candidate is the MSR copy
        if z.max_range_uj <= 0:  # Kepler's fixture has such a case: it sums them as they come, wraps uncorrected
            sel.skipped.append((f"{z.zone_id} {z.name}", "max_energy_range_uj is 0: its wraps cannot be corrected"))
            continue
        if z.domain is None:
            sel.skipped.append((f"{z.zone_id} {z.name}", "contained in its package: never added"))
            continue
        by_label.setdefault(z.label, []).append(z)
    # psys last: it is reported only when no package zone could be read.
    for label, candidates in sorted(by_label.items(), key=lambda kv: kv[1][0].domain == DOMAIN_SOC):
        if candidates[0].domain == DOMAIN_SOC and any(z.domain == DOMAIN_CPU for z in sel.zones):
            for z in candidates:
                sel.skipped.append((f"{z.zone_id} {z.name}", "platform (psys) contains the packages: not added"))
            continue
        chosen = False
        for z in candidates:
            if chosen:
                sel.skipped.append((f"{z.zone_id} {z.name}", f"same zone as {label} already read: counted once"))
                continue
            try:
                fd = opener(z.energy_path)
            except PermissionError:
                sel.denied.append(z.zone_id)
                sel.skipped.append((f"{z.zone_id} {z.name}", "energy_uj not readable (permission denied)"))
                continue
            except OSError as exc:
                sel.skipped.append((f"{z.zone_id} {z.name}", f"energy_uj cannot be opened: {exc.strerror or exc}"))
                continue
            if keep_open:
                sel.fds.append(fd)
            else:
                os.close(fd)
            sel.zones.append(z)
            chosen = True
    return sel


# ---------------------------------------------------------------------------------------------------------
# the source
# ---------------------------------------------------------------------------------------------------------
class RaplSource(EnergySource):
    """Energy of CPU packages (``cpu``), DRAM (``memory``) or the platform (``soc``) from RAPL.

    Args:
        root: powercap directory (or several); default ``/sys/class/powercap`` and
            ``/sys/devices/virtual/powercap``. Tests point it at a fake tree.
        opener: ``path -> fd`` (default ``os.open``); injectable so that permission errors can be
            simulated when tests run as root.
        pread: ``(fd, n, offset) -> bytes`` (default ``os.pread``); injectable to simulate a zone vanishing.
        clock: monotonic seconds.
        pmax_w: maximum power assumed for the wrap-safety period when a zone states none (1 kW).

    Raises:
        SourceUnavailableError: no readable RAPL zone (message names the fix for permission problems).

    Example:
        >>> from wattlens.meters.rapl import RaplSource
        >>> RaplSource.probe(root="/nonexistent").available
        False
        >>> # src = RaplSource(); a = src.snapshot(); ...; parts = src.delta(a, src.snapshot())
    """

    name = "rapl"
    pure_delta = True  # delta() works on the two snapshots' accumulated values only

    def __init__(
        self,
        root: Sequence[str] | str | None = None,
        *,
        opener: Opener | None = None,
        pread: PRead | None = None,
        clock: Callable[[], float] = time.monotonic,
        pmax_w: float = DEFAULT_PMAX_W,
    ) -> None:
        self._clock = clock
        self._pread: PRead = pread or os.pread
        self._lock = _thread.allocate_lock()
        all_zones = find_zones(root, default_pmax_w=pmax_w)
        if not all_zones:
            raise SourceUnavailableError(_no_zones_reason(root))
        sel = _select_and_open(all_zones, opener or _default_opener, keep_open=True)
        if not sel.zones:
            if sel.denied:
                raise SourceUnavailableError(PERMISSION_FIX)
            raise SourceUnavailableError("no readable RAPL zone: " + "; ".join(f"{a}: {b}" for a, b in sel.skipped))
        self.zones: list[RaplZone] = sel.zones
        self.skipped: list[tuple[str, str]] = sel.skipped
        self._fds: list[int | None] = list(sel.fds)
        n = len(self.zones)
        self._last_raw: list[int | None] = [None] * n
        self._acc_uj: list[int] = [0] * n
        self._extra_uj: list[int] = [0] * n  # wraps that could have been missed (gap > safe interval)
        self._last_t: list[float] = [0.0] * n
        self._dead: list[str | None] = [None] * n  # reason once a zone's file is gone for good
        self._period_s = min(z.safe_gap_s for z in self.zones) / 2.0
        self.last_sample_error: str | None = None
        self._closed = False
        self.snapshot()  # prime the accumulators so that the first window's edge is a fold, not a start

    # -- EnergySource --------------------------------------------------------------------------------
    @classmethod
    def probe(cls, root: Sequence[str] | str | None = None, opener: Opener | None = None, **_: Any) -> SourceStatus:
        try:
            zones = find_zones(root)
        except Exception as exc:  # a broken sysfs must not break `wattlens sources`
            return SourceStatus(cls.name, False, f"powercap scan failed: {exc!r}")
        if not zones:
            return SourceStatus(cls.name, False, _no_zones_reason(root))
        try:
            sel = _select_and_open(zones, opener or _default_opener, keep_open=False)
        except Exception as exc:
            return SourceStatus(cls.name, False, f"powercap scan failed: {exc!r}")
        if not sel.zones:
            if sel.denied:
                return SourceStatus(cls.name, False, PERMISSION_FIX)
            return SourceStatus(cls.name, False, "no readable RAPL zone: " + _fmt_skipped(sel.skipped))
        domains = tuple(dict.fromkeys(z.domain for z in sel.zones if z.domain))
        detail = "zones: " + ", ".join(f"{z.label} ({z.zone_id})" for z in sel.zones)
        if sel.skipped:
            detail += "; not added: " + _fmt_skipped(sel.skipped)
        return SourceStatus(cls.name, True, detail, domains, MEASURED)

    def snapshot(self) -> Snapshot:
        now = self._clock()
        errors: dict[str, str] = {}
        with self._lock:
            values = tuple(self._read_zone(i, now, errors) for i in range(len(self.zones)))
        return Snapshot(now, values, errors)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        try:
            return self._delta(start, end)
        except Exception as exc:  # contract: never raise
            return [
                ComponentEnergy.unavailable(z.domain or DOMAIN_CPU, f"rapl:{z.label}", f"internal error: {exc!r}")
                for z in self.zones
            ]

    def sample_period_s(self) -> float | None:
        return None if self._closed else self._period_s

    def sample(self) -> None:
        """Fold the counters into the accumulators so that no window loses a wrap (sampler thread)."""
        if self._closed:
            return
        errors: dict[str, str] = {}
        now = self._clock()
        with self._lock:
            for i in range(len(self.zones)):
                self._read_zone(i, now, errors)
        self.last_sample_error = "; ".join(errors.values()) if errors else None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for i, fd in enumerate(self._fds):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                    self._fds[i] = None

    def status(self) -> SourceStatus:
        domains = tuple(dict.fromkeys(z.domain for z in self.zones if z.domain))
        detail = "zones: " + ", ".join(f"{z.label} ({z.zone_id})" for z in self.zones)
        if self.skipped:
            detail += "; not added: " + _fmt_skipped(self.skipped)
        return SourceStatus(self.name, not self._closed, detail, domains, MEASURED)

    # -- internals -------------------------------------------------------------------------------------
    def _read_zone(self, i: int, now: float, errors: dict[str, str]) -> tuple[int, int, int] | None:
        """Read zone i and fold it into its accumulator. Returns (raw_uj, acc_uj, extra_uj) or None."""
        fd = self._fds[i]
        if fd is None:
            errors[self.zones[i].label] = self._dead[i] or "source closed"
            return None
        try:
            raw = int(self._pread(fd, _READ_LEN, 0))
        except (OSError, ValueError) as exc:
            reason = _read_failure_reason(self.zones[i], exc)
            errors[self.zones[i].label] = reason
            if not os.path.exists(self.zones[i].energy_path):  # gone for good: stop reading it
                self._dead[i] = reason
                try:
                    os.close(fd)
                except OSError:
                    pass
                self._fds[i] = None
            return None
        last = self._last_raw[i]
        z = self.zones[i]
        if last is not None:
            step = raw - last
            if step < 0:  # wrapped (once, if reads are closer than safe_gap_s)
                step += z.max_range_uj
            self._acc_uj[i] += step
            gap_s = now - self._last_t[i]
            if gap_s > z.safe_gap_s:  # more wraps than one could hide in this gap
                self._extra_uj[i] += int(gap_s // z.safe_gap_s) * z.max_range_uj
        self._last_raw[i] = raw
        self._last_t[i] = now
        return raw, self._acc_uj[i], self._extra_uj[i]

    def _delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        duration_s = max(end.t_s - start.t_s, 0.0)
        out: list[ComponentEnergy] = []
        counted: list[tuple[int, ComponentEnergy]] = []  # (zone index, component) of counted zones
        for i, z in enumerate(self.zones):
            method = f"rapl:{z.label}"
            domain = z.domain or DOMAIN_CPU
            s = start.values[i] if start.values and i < len(start.values) else None
            e = end.values[i] if end.values and i < len(end.values) else None
            if s is None or e is None:
                reason = end.errors.get(z.label) or start.errors.get(z.label) or "counter not read"
                out.append(ComponentEnergy.unavailable(domain, method, reason, z.label))
                continue
            j = self._mirror_of(i, s, e, start, end, [k for k, _ in counted])
            if j is not None:
                extra = f"{z.zone_id} ({z.label}) reads the same counter: counted once"
                counted = [(k, c if k != j else _with_note(c, _join(c.note, extra))) for k, c in counted]
                continue
            counted.append((i, self._component(z, s, e, duration_s)))
        return [c for _, c in counted] + out

    def _mirror_of(
        self,
        i: int,
        s: tuple[int, int, int],
        e: tuple[int, int, int],
        start: Snapshot,
        end: Snapshot,
        counted: list[int],
    ) -> int | None:
        """Index of an already-counted zone that is the same counter as zone i in this window, if any."""
        z = self.zones[i]
        for j in counted:
            other = self.zones[j]
            if other.domain != z.domain or other.max_range_uj != z.max_range_uj:
                continue
            s2, e2 = start.values[j], end.values[j]
            tol = min(MIRROR_TOL_UJ, z.max_range_uj // 1000)  # never more than 0.1 % of the counter's range
            if abs(s2[0] - s[0]) <= tol and abs(e2[0] - e[0]) <= tol:
                return j
        return None

    def _component(
        self, z: RaplZone, s: tuple[int, int, int], e: tuple[int, int, int], duration_s: float
    ) -> ComponentEnergy:
        energy_j = (e[1] - s[1]) / 1e6
        missed_j = (e[2] - s[2]) / 1e6
        # Average power over at least two updates: a sub-millisecond window cannot show a higher rate.
        power_w = energy_j / max(duration_s, 2 * UPDATE_PERIOD_S)
        stale_j = 2 * UPDATE_PERIOD_S * power_w + 2e-6  # one update at each edge + 1 µJ quantisation
        low_j = max(0.0, energy_j * (1 - MODEL_REL_ERR) - stale_j)
        high_j = energy_j * (1 + MODEL_REL_ERR) + stale_j + missed_j
        note = f"±{MODEL_REL_ERR:.0%} RAPL model band (assumption) + 1 counter update (~1 ms) per edge"
        if missed_j > 0:
            note += (
                f"; reads were more than {z.safe_gap_s:.0f} s apart, so up to {missed_j:.0f} J of "
                "counter wraps may be missing (upper bound widened)"
            )
        return ComponentEnergy(
            z.domain or DOMAIN_CPU, energy_j, MEASURED, f"rapl:{z.label}", low_j, high_j, z.label, note
        )


def _with_note(c: ComponentEnergy, note: str) -> ComponentEnergy:
    return ComponentEnergy(c.domain, c.energy_j, c.source, c.method, c.low_j, c.high_j, c.device, note)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _fmt_skipped(skipped: list[tuple[str, str]]) -> str:
    return "; ".join(f"{a} ({b})" for a, b in skipped)


def _no_zones_reason(root: Sequence[str] | str | None) -> str:
    where = root if isinstance(root, str) else ", ".join(root or DEFAULT_ROOTS)
    return (
        f"no RAPL zones under {where} (no intel_rapl powercap driver: a VM, a container without "
        "/sys/class/powercap, or a CPU without RAPL)"
    )


def _read_failure_reason(z: RaplZone, exc: BaseException) -> str:
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
        return PERMISSION_FIX
    if isinstance(exc, ValueError):
        return f"{z.zone_id} energy_uj held no number ({exc})"
    return (
        f"{z.zone_id} ({z.label}) energy_uj read failed mid-window: {getattr(exc, 'strerror', None) or exc} "
        "(zone vanished: CPU hot-unplug or driver unload)"
    )


def discover(root: Sequence[str] | str | None = None, **kwargs: Any) -> list[EnergySource]:
    """``[RaplSource(...)]`` when RAPL is usable here, else ``[]`` (see :meth:`RaplSource.probe` for why)."""
    try:
        return [RaplSource(root, **kwargs)]
    except SourceUnavailableError:
        return []


__all__ = [
    "DEFAULT_ROOTS",
    "MODEL_REL_ERR",
    "PERMISSION_FIX",
    "RaplSource",
    "RaplZone",
    "discover",
    "find_zones",
]
