"""The no-sensor fallback: CPU and memory energy *estimated* from process CPU time (method ``cpu-time-model``).

Model (per hardware thread / vCPU; every figure is labelled ``estimated`` and carries an interval)::

    P_thread(u) = P_idle + u * (P_max - P_idle)        # CCF's linear model, docs/DATA.md §4

    cpu, attribution="machine":  E = n_threads * P_idle * T   +   (P_max - P_idle) * cpu_s
    cpu, attribution="process":  E = P_max * cpu_s           (= P_idle * cpu_s + (P_max - P_idle) * cpu_s)
    memory, "machine":           E = W_per_GB * machine_GB * T
    memory, "process":           E = W_per_GB * peak_RSS_GB(self + largest child) * T

``cpu_s`` is this process's CPU time plus that of its reaped children over the window; ``T`` the
window's duration; ``n_threads`` the logical CPUs this OS sees (vCPUs on a VM) — or, when the job owns only
part of the node (``SLURM_CPUS_ON_NODE``, ``os.sched_getaffinity``; :mod:`wattlens.meters.allocation`), the
CPUs it owns, and ``machine_GB`` the memory it was given (``SLURM_MEM_PER_NODE`` / ``SLURM_MEM_PER_CPU``): a
job sharing a node is never charged the whole node's static power. The notes say which.

``static=False`` (a rank of a distributed job that was not elected to meter its node, see
:mod:`wattlens.distributed`) drops the ``n_threads * P_idle * T`` term and the memory: the elected process of
that node charges them once, every rank charges its own dynamic CPU power.

**Idle share rule.** In *machine* attribution the whole machine's static power (every logical CPU's
idle draw for the whole window) is charged: it is what a package energy counter would include, and it is
what ``Monitor.measure_idle`` then measures and ``net`` removes. In *process* attribution the process is
charged the static power of the CPUs it occupied, in proportion to its CPU time (``P_idle * cpu_s``):
an idle process is charged nothing, a process busy on one vCPU for the whole window is charged that
vCPU's full idle draw. The dynamic part always counts only this process tree (the estimator has no
machine-wide counter; other processes' work is not seen).

Where ``P_idle``/``P_max`` come from (first that applies; the component's ``note`` says which):

1. user-given TDP (``Monitor(cpu_tdp_w=...)`` or ``WATTLENS_CPU_TDP_W``): ``P_max = TDP / threads``;
2. ``cpu_power.csv`` exact match with a core/thread count: ``P_max = TDP / threads``;
3. known microarchitecture: the ``cloud_vcpu_power.csv`` rows of that family (all providers);
4. unknown model (e.g. this VM's bare "AMD EPYC"): the rows of every generation the name allows,
   low = min over rows, high = max over rows, central = median, and the note says the model is unknown.

For 1-2, ``P_idle = f * P_max`` with ``f`` the idle/max ratio of the cloud rows (SPECpower servers; low =
min ratio, high = max ratio) and ``P_max`` spans ``TDP_SHARE_FACTORS`` x ``TDP / threads`` (see below).
The interval of a component is computed with every coefficient at its low (resp. high) end, so it is
conservative. Identical inputs give identical outputs: nothing here is random or time-dependent.
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
import time

from wattlens.meters import cpu as cpu_tables
from wattlens.meters.allocation import Allocation, detect_allocation
from wattlens.meters.base import (
    DOMAIN_CPU,
    DOMAIN_MEMORY,
    ESTIMATED,
    ComponentEnergy,
    EnergySource,
    MeterError,
    Record,
    Snapshot,
    SourceStatus,
)
from wattlens.stats import median

TYPE_CHECKING = False  # not `import typing` (5-7 ms): this module is on the first Monitor()'s path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

METHOD = "cpu-time-model"
ATTRIBUTION_MACHINE = "machine"
ATTRIBUTION_PROCESS = "process"

# Memory power per GB: CCF's 0.392 W/GB is the mean of Crucial's rule of thumb (~3 W per 8 GB ≈ 0.375 W/GB)
# and Micron's DDR4 model (~0.4083 W/GB); those two are the interval. Source: docs/DATA.md §4 table
# "Other CCF coefficients", row "memory".
MEMORY_W_PER_GB = (0.375, 0.392, 0.4083)

# A per-thread share of TDP is not a per-thread draw: one busy thread on an idle chip boosts and wakes the
# uncore (more than TDP/threads), two SMT siblings share a core (less). Assumption, stated in every note
# that uses it: the true per-thread full-load draw lies within a factor of 2 of TDP / threads.
# (docs/DATA.md §3: "TDP is a thermal design limit, not a measured draw; treat it as an estimate".)
TDP_SHARE_FACTORS = (0.5, 1.0, 2.0)

ENV_TDP = "WATTLENS_CPU_TDP_W"
ENV_THREADS = "WATTLENS_CPU_THREADS"

_GB = 1024**3
_getrusage = resource.getrusage
_CHILDREN = resource.RUSAGE_CHILDREN
_SELF = resource.RUSAGE_SELF
_monotonic = time.monotonic
_process_time = time.process_time
# ru_maxrss unit: kilobytes on Linux, bytes on macOS (getrusage(2) man pages).
_MAXRSS_BYTES = 1 if sys.platform == "darwin" else 1024


class Band(Record):
    """low / central / high of one coefficient."""

    __slots__ = ("low", "mid", "high")  # noqa: RUF023 - the order is the field order
    low: float
    mid: float
    high: float

    def __init__(self, low: float, mid: float, high: float) -> None:
        self._init(low, mid, high)

    @classmethod
    def of(cls, values: list[float]) -> Band:
        return cls(min(values), median(values), max(values))


class CpuPowerModel(Record):
    """Per-thread idle and full-load watts with their provenance (what the estimator multiplies)."""

    __slots__ = ("idle_w", "max_w", "dynamic_w", "basis", "note", "cpu", "n_threads", "match", "citations")  # noqa: RUF023 - the order is the field order
    idle_w: Band  # per thread, at idle
    max_w: Band  # per thread, at 100 % load
    dynamic_w: Band  # per thread, max - idle
    basis: str  # "user-tdp" | "tdp-table" | "cloud-vcpu-table" | "unknown-cpu-range"
    note: str  # one sentence naming the table rows / assumptions used
    cpu: cpu_tables.CpuInfo
    n_threads: int  # logical CPUs of this machine (static power of all of them in machine mode)
    match: str
    citations: tuple[str, ...]

    def __init__(
        self,
        idle_w: Band,
        max_w: Band,
        dynamic_w: Band,
        basis: str,
        note: str,
        cpu: cpu_tables.CpuInfo,
        n_threads: int,
        match: str = cpu_tables.MATCH_NONE,
        citations: tuple[str, ...] = (),
    ) -> None:
        self._init(idle_w, max_w, dynamic_w, basis, note, cpu, n_threads, match, tuple(citations))

    def to_dict(self) -> dict[str, object]:
        return {
            "basis": self.basis,
            "note": self.note,
            "cpu_model_raw": self.cpu.raw_model,
            "cpu_model": self.cpu.model,
            "match": self.match,
            "n_threads": self.n_threads,
            "idle_w_per_thread": [self.idle_w.low, self.idle_w.mid, self.idle_w.high],
            "max_w_per_thread": [self.max_w.low, self.max_w.mid, self.max_w.high],
            "citations": list(self.citations),
        }


def _from_hypotheses(pairs: list[tuple[float, float]]) -> tuple[Band, Band, Band]:
    """(idle, max) hypotheses -> idle, max and dynamic bands."""
    return (
        Band.of([i for i, _ in pairs]),
        Band.of([m for _, m in pairs]),
        Band.of([max(m - i, 0.0) for i, m in pairs]),
    )


def _idle_fractions() -> list[float]:
    """idle/max ratios of the SPECpower-derived cloud rows (Graviton rows are EPYC copies: skipped)."""
    rows = cpu_tables.cloud_vcpu_rows()
    return [r.min_w_per_vcpu / r.max_w_per_vcpu for r in rows if "Graviton" not in r.microarchitecture]


def _tdp_model(
    tdp_w: float,
    threads: list[int],
    basis: str,
    note: str,
    info: cpu_tables.CpuInfo,
    match: str,
    citations: tuple[str, ...],
) -> CpuPowerModel:
    fr = _idle_fractions()
    f_band = (min(fr), median(fr), max(fr))
    pairs = [(f * k * tdp_w / t, k * tdp_w / t) for t in threads for k in TDP_SHARE_FACTORS for f in f_band]
    idle, mx, dyn = _from_hypotheses(pairs)
    note += (
        f"; P_max per thread = TDP/threads within a factor of 2 (assumption), idle = {f_band[0]:.2f}-{f_band[2]:.2f}"
        " x P_max (idle/max ratios of cloud_vcpu_power.csv rows)"
    )
    return CpuPowerModel(idle, mx, dyn, basis, note, info, info.logical_cpus, match, citations)


def _rows_model(
    rows: Iterable[cpu_tables.VcpuRow],
    basis: str,
    note: str,
    info: cpu_tables.CpuInfo,
    match: str,
    citations: tuple[str, ...] = (),
) -> CpuPowerModel:
    pairs = [(r.min_w_per_vcpu, r.max_w_per_vcpu) for r in rows]
    idle, mx, dyn = _from_hypotheses(pairs)
    cites = tuple(citations) + tuple(r.citation for r in rows)
    return CpuPowerModel(idle, mx, dyn, basis, note, info, info.logical_cpus, match, cites)


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise MeterError(f"{name}={raw!r} is not a number of watts") from exc
    return value


def resolve_cpu_power(
    cpu_tdp_w: float | None = None, cpu_threads: int | None = None, info: cpu_tables.CpuInfo | None = None
) -> CpuPowerModel:
    """Choose P_idle / P_max for this CPU (rules 1-4 of the module docstring). Deterministic, cached lookups."""
    info = info or cpu_tables.detect_cpu()
    if cpu_tdp_w is None:
        cpu_tdp_w = _env_float(ENV_TDP)
        tdp_origin = f"{ENV_TDP}={cpu_tdp_w:g} W" if cpu_tdp_w is not None else ""
    else:
        tdp_origin = f"cpu_tdp_w={cpu_tdp_w:g} W"
    if cpu_threads is None and (env_t := _env_float(ENV_THREADS)) is not None:
        cpu_threads = int(env_t)
    if cpu_tdp_w is not None and not (0 < cpu_tdp_w <= 2000):
        raise MeterError(f"CPU TDP must be in (0, 2000] W, got {cpu_tdp_w!r}")
    if cpu_threads is not None and cpu_threads < 1:
        raise MeterError(f"CPU thread count must be >= 1, got {cpu_threads!r}")

    record = cpu_tables.lookup_cpu(info.model) if info.model else None
    match = record.match if record else cpu_tables.MATCH_NONE
    label = f"'{info.raw_model}'" if info.raw_model else "an unreadable CPU model"

    # 1. user-given TDP
    if cpu_tdp_w is not None:
        if cpu_threads is not None:
            threads, how = [cpu_threads], "user-given"
        elif record is not None and record.threads:
            threads, how = [record.threads], "from cpu_power.csv"
        else:
            threads, how = [info.logical_cpus], "this OS's logical CPU count (assumes the whole chip is visible)"
        note = f"user-given TDP ({tdp_origin}) / {threads[0]} threads ({how})"
        return _tdp_model(cpu_tdp_w, threads, "user-tdp", note, info, "user", ())

    # 2. exact (or uniquely prefixed) table row with a core or thread count
    if record is not None and (record.threads or record.cores):
        if record.threads:
            threads, how = [record.threads], f"{record.threads} threads"
        elif record.vendor == "Apple":
            threads, how = [record.cores], f"{record.cores} cores, no SMT"  # type: ignore[list-item]
        else:  # Intel rows carry no thread count: 1 or 2 threads per core
            threads, how = [record.cores, 2 * record.cores], f"{record.cores} cores, 1-2 threads each"  # type: ignore[list-item,operator]
        kind = "measured CPU load power" if record.power_kind != "tdp" else "TDP"
        fuzzy = " (PREFIX match, not exact)" if record.match == cpu_tables.MATCH_PREFIX else ""
        note = f"{label} -> {record.model}{fuzzy}: {kind} {record.tdp_w:g} W, {how}"
        return _tdp_model(record.tdp_w, threads, "tdp-table", note, info, match, (record.citation,))

    # 2b. a TDP row without core/thread counts: on bare metal the OS sees the whole chip
    if record is not None and not info.virtualised and cpu_tables.microarchitecture(info.model) is None:
        fuzzy = " (PREFIX match, not exact)" if record.match == cpu_tables.MATCH_PREFIX else ""
        note = (
            f"{label} -> {record.model}{fuzzy}: TDP {record.tdp_w:g} W (table has no core count) / "
            f"{info.logical_cpus} logical CPUs of this machine (assumes bare metal, one socket)"
        )
        return _tdp_model(record.tdp_w, [info.logical_cpus], "tdp-table", note, info, match, (record.citation,))

    # 3. microarchitecture known -> per-vCPU rows
    family = cpu_tables.microarchitecture(info.model)
    rows = cpu_tables.rows_for_family(family)
    if rows:
        extra = f"; {record.model} is in cpu_power.csv but without a core count" if record else ""
        note = f"{label} -> {family}: per-vCPU idle/max watts of cloud_vcpu_power.csv ({len(rows)} rows){extra}"
        cites = (record.citation,) if record else ()
        return _rows_model(rows, "cloud-vcpu-table", note, info, match, cites)

    # 4. unknown: honest, wide
    rows, which = cpu_tables.rows_for_vendor_family(info.model)
    n_cand = cpu_tables.prefix_candidates(info.model) if info.model else 0
    if record is not None:
        why = f"{record.model} is in cpu_power.csv ({record.tdp_w:g} W) but without core count, and this is a VM"
    elif n_cand > 1:
        why = f"{n_cand} table rows share that prefix, none can be chosen"
    else:
        why = "no row in cpu_power.csv"
    note = (
        f"CPU model UNKNOWN ({label}: {why}); range spans the per-vCPU idle/max watts of {which} in "
        f"cloud_vcpu_power.csv ({len(rows)} rows, low = min, high = max, central = median). "
        f"Set {ENV_TDP} (and {ENV_THREADS}) for a narrower estimate"
    )
    return _rows_model(rows, "unknown-cpu-range", note, info, match)


def machine_memory_gb() -> float:
    """Physical memory this OS sees (a VM's own memory), without psutil."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / _GB
    except (ValueError, OSError, AttributeError):
        try:
            import psutil  # type: ignore[import-untyped,unused-ignore]

            return float(psutil.virtual_memory().total) / _GB
        except Exception:  # no size known: the machine-mode memory component is then unavailable, with why
            return 0.0


def _children_usage_reader() -> Callable[[], resource.struct_rusage]:
    """``getrusage(RUSAGE_CHILDREN)`` as a zero-argument C callable: no Python frame on the window edge.

    (``functools.partial`` would do the same but importing functools costs ~1.8 ms of the first Monitor().)
    """
    return itertools.starmap(_getrusage, itertools.repeat((_CHILDREN,))).__next__


def _self_usage_reader() -> Callable[[], resource.struct_rusage]:
    """``getrusage(RUSAGE_SELF)`` as a zero-argument C callable (see :func:`_children_usage_reader`)."""
    return itertools.starmap(_getrusage, itertools.repeat((_SELF,))).__next__


def _seconds(value: float | resource.struct_rusage) -> float:
    """CPU seconds of an edge value: a float, or a ``struct_rusage`` (user + system)."""
    return value if value.__class__ is float else value[0] + value[1]  # type: ignore[index]


def _rss_kb(value: float | resource.struct_rusage) -> float:
    return value if isinstance(value, (int, float)) else value[2]


class EstimatorSource(EnergySource):
    """CPU (and memory) energy estimated from process CPU time. Never needs a thread.

    >>> src = EstimatorSource(attribution="process", cpu_tdp_w=100.0, cpu_threads=10)
    >>> a = src.snapshot(); b = src.snapshot()
    >>> [c.domain for c in src.delta(a, b)]
    ['cpu', 'memory']
    """

    name = "estimator"
    pure_delta = True  # delta() is arithmetic on the two edge readings

    def __init__(
        self,
        attribution: str = ATTRIBUTION_MACHINE,
        domains: tuple[str, ...] = (DOMAIN_CPU, DOMAIN_MEMORY),
        cpu_tdp_w: float | None = None,
        cpu_threads: int | None = None,
        model: CpuPowerModel | None = None,
        memory_gb: float | None = None,
        *,
        allocation: Allocation | None = None,
        static: bool = True,
    ) -> None:
        if attribution not in (ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS):
            raise MeterError(f"attribution must be 'machine' or 'process', got {attribution!r}")
        self.attribution = attribution
        # static=False: another process of the same job on this node charges the node's static power and memory
        # (wattlens.distributed elects one per node); this one charges only its own tree's dynamic CPU power.
        self.static = static
        self.domains = tuple(d for d in domains if d in (DOMAIN_CPU, DOMAIN_MEMORY) and (static or d == DOMAIN_CPU))
        self.model = model or resolve_cpu_power(cpu_tdp_w, cpu_threads)
        # The CPUs and memory the job owns on this node (a Slurm job or a pinned container on a shared node): in
        # machine attribution only those are charged static power and memory, never the whole node's.
        self.allocation = allocation if allocation is not None else detect_allocation()
        alloc = self.allocation
        if memory_gb is None:
            memory_gb = alloc.memory_gb if alloc.memory_fraction < 1.0 and alloc.memory_gb else machine_memory_gb()
        self.memory_gb = memory_gb
        self._process = attribution == ATTRIBUTION_PROCESS
        # The raw edge reading (see edge_calls): machine attribution reads this process's CPU seconds and its
        # reaped children's usage; process attribution needs the peak RSS too, so both usages. Two syscalls,
        # measured at ~0.24 µs (process_time) and ~0.27 µs (getrusage) on the development VM: process_time()
        # is CLOCK_PROCESS_CPUTIME_ID, ns resolution (os.times() ticks at 10 ms: too coarse for short windows);
        # children's CPU time exists only through getrusage(RUSAGE_CHILDREN) (reaped children, cumulative), and
        # no single syscall gives both.
        first = _self_usage_reader() if self._process else _process_time
        self._calls: tuple[Callable[[], Any], Callable[[], Any]] = (first, _children_usage_reader())
        self._want_cpu = DOMAIN_CPU in self.domains
        self._want_mem = DOMAIN_MEMORY in self.domains
        m = self.model
        # Precomputed coefficients so that delta() is a handful of multiplications.
        if self._process:
            self._cpu_t = (0.0, 0.0, 0.0)  # J per second of window
            self._cpu_c = (m.max_w.low, m.max_w.mid, m.max_w.high)  # J per CPU-second
            self._cpu_note = f"{m.note}. Process attribution: P_max x CPU time (self + reaped children)"
        else:
            partial_cpus = alloc.cpu_fraction < 1.0
            n = alloc.cpus if partial_cpus else m.n_threads
            whose = (
                f"the job's {n} of {alloc.node_cpus} CPUs ({alloc.cpu_basis})"
                if partial_cpus
                else f"all {n} logical CPUs"
            )
            self._cpu_c = (m.dynamic_w.low, m.dynamic_w.mid, m.dynamic_w.high)
            if static:
                self._cpu_t = (n * m.idle_w.low, n * m.idle_w.mid, n * m.idle_w.high)
                self._cpu_note = (
                    f"{m.note}. Machine attribution: idle of {whose} + dynamic power x this process "
                    "tree's CPU time (other processes unseen)"
                )
            else:
                self._cpu_t = (0.0, 0.0, 0.0)
                self._cpu_note = (
                    f"{m.note}. Dynamic power x this process tree's CPU time only: the idle power of {whose} and "
                    "the memory are charged by the process elected to meter this node"
                )
        self._cpu_coefs = (*self._cpu_t, *self._cpu_c)
        self._mem_unknown = not self._process and self.memory_gb <= 0  # never a silent 0 J
        overlap = m.basis in ("cloud-vcpu-table", "unknown-cpu-range")
        lo_w_gb = 0.0 if overlap else MEMORY_W_PER_GB[0]
        self._mem_w_gb = (lo_w_gb, MEMORY_W_PER_GB[1], MEMORY_W_PER_GB[2])
        owned = alloc.memory_fraction < 1.0 and memory_gb == alloc.memory_gb
        mem_basis = (
            "peak RSS of this process + its largest child"
            if self._process
            else f"{self.memory_gb:.1f} GB " + (f"owned by the job ({alloc.memory_basis})" if owned else "machine")
        )
        self._mem_note = f"{MEMORY_W_PER_GB[1]} W/GB x {mem_basis} (CCF, docs/DATA.md §4)" + (
            "; low = 0 because the per-vCPU figures already include the SPECpower servers' memory" if overlap else ""
        )

    # ---- EnergySource ----------------------------------------------------------------------------
    @classmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        try:
            model = resolve_cpu_power(kwargs.get("cpu_tdp_w"), kwargs.get("cpu_threads"))
        except Exception as exc:  # probe never raises
            return SourceStatus("estimator", False, f"cannot build the CPU-time model: {exc}", (), ESTIMATED)
        return SourceStatus("estimator", True, model.note, (DOMAIN_CPU, DOMAIN_MEMORY), ESTIMATED)

    def status(self) -> SourceStatus:
        return SourceStatus("estimator", True, self.model.note, self.domains, ESTIMATED)

    def snapshot(self) -> Snapshot:
        """Snapshots carry plain numbers: (self CPU s, children CPU s[, peak RSS kB of self + largest child])."""
        try:
            first, children = self._calls[0](), self._calls[1]()
            ch_s = children[0] + children[1]
            if self._process:
                return Snapshot(_monotonic(), (first[0] + first[1], ch_s, first[2] + children[2]))
            return Snapshot(_monotonic(), (first, ch_s))
        except Exception as exc:  # snapshot never raises
            return Snapshot(time.monotonic(), None, {"estimator": f"{type(exc).__name__}: {exc}"})

    def edge_calls(self) -> tuple[Callable[[], Any], ...]:
        return self._calls

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        a, b = start.values, end.values
        if a is None or b is None:
            reason = "; ".join({**start.errors, **end.errors}.values()) or "no CPU-time reading"
            return [ComponentEnergy.unavailable(d, METHOD, reason) for d in self.domains]
        return self.delta_values(a, b, end.t_s - start.t_s)

    def delta_values(self, a: tuple[Any, ...], b: tuple[Any, ...], duration_s: float) -> list[ComponentEnergy]:
        try:
            t = duration_s
            self_s = _seconds(b[0]) - _seconds(a[0])
            children_s = _seconds(b[1]) - _seconds(a[1])
            cpu_s = self_s + children_s
            if cpu_s < 0.0:
                cpu_s = 0.0
            out = []
            if self._want_cpu:
                t0, t1, t2, c0, c1, c2 = self._cpu_coefs
                out.append(
                    ComponentEnergy(
                        DOMAIN_CPU,
                        t1 * t + c1 * cpu_s,
                        ESTIMATED,
                        METHOD,
                        t0 * t + c0 * cpu_s,
                        t2 * t + c2 * cpu_s,
                        "",
                        self._cpu_note,
                    )
                )
            if self._want_mem:
                if self._mem_unknown:
                    out.append(ComponentEnergy.unavailable(DOMAIN_MEMORY, METHOD, "machine memory size unknown"))
                    return out
                if self._process:  # peak RSS: summed in a snapshot, two usages in a raw reading
                    peak_kb = b[2] if len(b) > 2 else _rss_kb(b[0]) + _rss_kb(b[1])
                    gb = peak_kb * _MAXRSS_BYTES / _GB
                else:
                    gb = self.memory_gb
                gb_t = gb * t
                w0, w1, w2 = self._mem_w_gb
                # w_per_gb (and rss_mb in process attribution): the term's own inputs, which a consumer re-charges
                # for another footprint (wattlens.optimize.accounting)
                rss_mb = gb * 1024.0 if self._process else None
                mem = ComponentEnergy(
                    DOMAIN_MEMORY, w1 * gb_t, ESTIMATED, METHOD, w0 * gb_t, w2 * gb_t, "", self._mem_note, rss_mb, w1
                )
                out.append(mem)
            return out
        except Exception as exc:  # delta never raises
            reason = f"estimator failed: {type(exc).__name__}: {exc}"
            return [ComponentEnergy.unavailable(d, METHOD, reason) for d in self.domains]
