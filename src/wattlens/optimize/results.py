"""The typed results of ``wattlens optimize``: trials, confirmed points, the Pareto set and the whole result.

Every record is a frozen dataclass (:class:`wattlens.records.Record`): ``to_dict()`` is the ``--json``
contract (docs/CONTRACTS.md) and what the store keeps; ``from_dict()`` reads it back
(:func:`wattlens.optimize.engine.load_result`). Pure Python: importing this module imports no torch.

* :class:`Trial` — one configuration measured at one fidelity (what a search strategy sees), with its
  measurement details in :class:`TrialDetail`;
* :class:`OptimizePoint` — a configuration confirmed in interleaved rounds (baseline, recommendation, Pareto
  points), with its hidden costs (:class:`HiddenCosts`) and its energy accounting;
* :class:`Rejection` — a configuration that was not recommended, and why;
* :class:`OptimizeResult` — the whole run: baseline, recommendation, saving factors, Pareto set, rejected,
  :class:`SearchSummary`, :class:`Savings`, :class:`EnergyBoundary`, :class:`OptimizeContext`, artefact.

Units are in the names: ``j_per_query`` joules per query, ``_ms`` milliseconds, ``_mb`` megabytes (MiB),
``_s`` seconds, ``wh_per_1000`` watt-hours per 1,000 queries, ``kwh_*``/``tco2e_*`` per year.

>>> t = Trial({"engine": "torch", "batch": 1}, "probe", j_per_query=0.02, quality=1.0)
>>> Trial.from_dict(t.to_dict()) == t
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from wattlens.records import JsonDict, Record, internal, optional

ConfigValue = str | int | float | bool | None
Config = Mapping[str, ConfigValue]  # one configuration: knob -> value (engine, precision, threads, batch, ...)
ConfigDict = dict[str, ConfigValue]  # a configuration being built
Knobs = dict[str, list[ConfigValue]]  # knob -> the values a search may choose


def config_str(config: Config, key: str, default: str = "") -> str:
    """A text knob (engine, precision, quant, prune, wait) of a configuration; ``default`` when it is unset."""
    value = config.get(key)
    return default if value is None else str(value)


def config_int(config: Config, key: str, default: int = 1) -> int:
    """An integer knob (threads, batch) of a configuration; ``default`` when it is unset."""
    value = config.get(key)
    return default if value is None or isinstance(value, str) else int(value)


def config_key(config: Config) -> str:
    """Canonical text key of a configuration (store cell keys, caches)."""
    return ";".join(f"{k}={config[k]}" for k in sorted(config))


# --- the search's unit: one measured trial ----------------------------------------------------------------


@dataclass(frozen=True)
class Fidelity(Record):
    """How hard one trial measures: ``queries`` per window, ``repeats`` windows (the last rung = full)."""

    name: str
    queries: int
    repeats: int = 1
    warmup: int = 2
    min_window_s: float = 0.0  # a window also lasts at least this long (cheap configs loop over the inputs)

    @property
    def work(self) -> int:
        return self.queries * self.repeats


@dataclass(frozen=True)
class TrialDetail(Record):
    """What a trial's measurement saw beyond its headline figures (all optional: a failed or pruned trial, or a
    trial measured in a worker process, has fewer)."""

    throughput_qps: float | None = optional()
    j_low: float | None = optional()  # J per query interval (meter + repeats), on the trial's accounting basis
    j_high: float | None = optional()
    cv: float | None = optional()
    source: str | None = optional()  # measured | integrated | estimated
    basis: str | None = optional()  # gross | net
    queries: int | None = optional()
    duration_s: float | None = optional()
    wall_s: float | None = optional()
    per_repeat: tuple[float, ...] | None = optional()
    model_size_mb: float | None = optional()
    thermal: Mapping[str, object] | None = optional()
    applied_knobs: Mapping[str, object] | None = optional()
    co_tenant_cpu_share: float | None = optional()  # other processes' CPU share of the machine meanwhile
    cpu_j_per_query: float | None = optional()
    memory_j_per_query: float | None = optional()
    meter_rss_mb: float | None = optional()  # the RSS the meter's memory term charged (the search process)
    meter_w_per_gb: float | None = optional()  # the W/GB of the meter's memory term (its components' own)
    memory_rescalable: bool | None = optional()  # the memory term is a W/GB x RSS model that can be re-charged
    memory_j_per_gb: float | None = optional()  # J per query per GB resident: re-charges the memory term
    j_per_query_search_process: float | None = optional()  # as the meter charged it, before re-charging
    footprint_mb: float | None = optional()
    footprint_basis: str | None = optional()
    j_per_query_machine: float | None = optional()  # the same windows in machine attribution
    pruned_early: bool | None = optional()
    resumed: bool | None = optional()
    process: str | None = optional()  # where it ran when not in the search process (worker)
    omp_wait_policy: str | None = optional()


@dataclass(frozen=True)
class Trial(Record):
    """One measured configuration at one fidelity. ``ok`` False = error or gate failure (``why`` says which)."""

    config: Config
    fidelity: str
    j_per_query: float | None = None
    quality: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    peak_rss_mb: float | None = None
    ok: bool = True
    why: str = ""
    cost_s: float = 0.0  # measurement time this trial spent (what a search pays)
    extra: TrialDetail = field(default_factory=TrialDetail)

    def with_detail(self, **changes: object) -> Trial:
        return dataclasses.replace(self, extra=dataclasses.replace(self.extra, **changes))  # type: ignore[arg-type]


@dataclass(frozen=True)
class WorkerResult(Record):
    """What a worker process answers for one measurement (``wattlens.optimize.worker``), or its error."""

    j_per_query: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    peak_rss_mb: float | None = None
    extra: TrialDetail = field(default_factory=TrialDetail)
    error: str | None = optional()


@dataclass(frozen=True)
class Constraints(Record):
    """User limits. Quality is a floor, the others ceilings; ``None`` = no limit."""

    min_quality: float | None = None
    max_p95_ms: float | None = None
    max_rss_mb: float | None = None

    def violation(self, t: Trial, slack: float = 1.0) -> str:
        """Empty when ``t`` meets every limit; else why not. ``slack`` > 1 relaxes latency/memory on short rungs."""
        if not t.ok:
            return t.why or "failed"
        return self.limits_violation(t.quality, t.p95_ms, t.peak_rss_mb, slack)

    def limits_violation(
        self, quality: float | None, p95_ms: float | None, peak_rss_mb: float | None, slack: float = 1.0
    ) -> str:
        if self.min_quality is not None and quality is not None and quality < self.min_quality:
            return f"quality {quality:.4f} < min {self.min_quality}"
        if self.max_p95_ms is not None and p95_ms is not None and p95_ms > self.max_p95_ms * slack:
            return f"p95 {p95_ms:.1f} ms > max {self.max_p95_ms} ms"
        if self.max_rss_mb is not None and peak_rss_mb is not None and peak_rss_mb > self.max_rss_mb * slack:
            return f"peak RSS {peak_rss_mb:.0f} MB > max {self.max_rss_mb} MB"
        return ""


# --- quality -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityReport(Record):
    """A variant's outputs measured against the unmodified model's: ``quality`` is the gated figure, ``metrics``
    every figure of the task's metric family (cosine mean/min/p01, nn agreement, top-1 agreement, ...), written
    flat beside it; ``batch``/``sort`` the batching the outputs were produced with."""

    quality: float | None = None
    metric: str | None = optional()  # named when it is not the task's default (e.g. similarity_spearman)
    batch: int | None = optional()
    sort: bool | None = optional()
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> JsonDict:
        out: JsonDict = dict(self.metrics)
        own = super().to_dict()
        own.pop("metrics", None)
        out.update(own)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> QualityReport:
        own = {"quality", "metric", "batch", "sort"}
        base = super().from_dict({k: v for k, v in data.items() if k in own})
        metrics = {
            k: float(v) for k, v in data.items() if k not in own and isinstance(v, (int, float)) and k != "outputs"
        }
        return dataclasses.replace(base, metrics=metrics)

    def at(self, batch: int, sort: bool) -> QualityReport:
        return dataclasses.replace(self, batch=batch, sort=sort)


@dataclass(frozen=True)
class Rejection(Record):
    """A configuration that was not recommended: failed to build, failed the gate, or broke a limit."""

    config: Config
    why: str
    label: str = ""
    quality: float | None = None
    quality_detail: QualityReport | None = None
    j_per_query: float | None = optional()  # present when it was measured
    p50_ms: float | None = optional()
    p95_ms: float | None = optional()
    peak_rss_mb: float | None = optional()


# --- confirmed points --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundAccount:
    """One confirmation round's energy terms, kept to re-charge the memory term for another footprint."""

    j_search_process: float  # J per query as the meter charged it (memory term at the search process's RSS)
    memory_j: float | None  # the memory term per query
    memory_j_per_gb: float | None  # J per query per GB resident (W/GB x seconds / queries): re-charges the term
    rescalable: bool


@dataclass(frozen=True)
class HiddenCosts(Record):
    """What a point costs elsewhere, relative to the baseline (ratios > 1 = more than the baseline)."""

    quality_delta: float | None = None
    p50_ratio: float | None = None
    p95_ratio: float | None = None
    throughput_ratio: float | None = None
    peak_rss_ratio: float | None = None
    model_size_ratio: float | None = None
    thermal: Mapping[str, object] | None = None


@dataclass(frozen=True)
class TrialPoint(Record):
    """A full-fidelity trial as listed in ``trials`` (before confirmation)."""

    config: Config
    label: str
    j_per_query: float | None
    quality: float | None
    p50_ms: float | None
    p95_ms: float | None
    peak_rss_mb: float | None

    @classmethod
    def of(cls, t: Trial, label: str, config: Config) -> TrialPoint:
        return cls(config, label, t.j_per_query, t.quality, t.p50_ms, t.p95_ms, t.peak_rss_mb)


@dataclass(frozen=True)
class OptimizePoint(Record):
    """A configuration confirmed in interleaved rounds: medians over the rounds, its quality re-checked at its
    exact batching, and its energy on the deployment-footprint basis (see ``OptimizeResult.assumptions``)."""

    config: Config
    j_per_query: float
    label: str = ""
    j_per_query_runs: tuple[float, ...] = ()
    j_per_query_low: float | None = None
    j_per_query_high: float | None = None
    j_per_query_machine: float | None = None  # the same rounds in machine attribution
    quality: float | None = None
    quality_detail: QualityReport | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    throughput_qps: float | None = None
    peak_rss_mb: float | None = None
    model_size_mb: float | None = None
    thermal: Mapping[str, object] | None = None
    source: str | None = None
    rounds: int = 0
    co_tenant_cpu_share: float | None = None
    j_per_query_cpu: float | None = None
    j_per_query_memory: float | None = None
    meter_rss_mb: float | None = None
    j_per_query_search_process: float | None = None
    memory_footprint_mb: float | None = None
    memory_footprint_basis: str | None = None
    wh_per_1000: float | None = None
    violation: str | None = optional()  # the limit it breaks (kept, not recommended)
    deploy_rss_mb: float | None = optional()  # peak RSS of a fresh process serving only this configuration
    memory_footprint_estimate_mb: float | None = optional()  # what the search charged before the deploy check
    j_per_query_memory_deployed: float | None = optional()
    meter_w_per_gb: float | None = optional()  # the W/GB of the meter's memory term (its components' own)
    hidden_costs: HiddenCosts | None = optional()
    accounts: tuple[RoundAccount, ...] = internal()

    def trial(self) -> Trial:
        """This point as a trial (for the limits and the Pareto front)."""
        return Trial(self.config, "confirm", self.j_per_query, self.quality, self.p50_ms, self.p95_ms, self.peak_rss_mb)


# --- the whole run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrunedEarly(Record):
    label: str
    why: str


@dataclass(frozen=True)
class SearchSummary(Record):
    """What the search did and what it cost: trials, measurement time against an exhaustive search, and its own
    metered energy (``energy_j``; the payback of the recommendation is computed from it)."""

    strategy: str = ""
    trials: int = 0
    resumed_trials: int = 0
    exhaustive_trials: int = 0
    measure_s: float = 0.0
    exhaustive_measure_s_est: float | None = None
    measure_share_of_exhaustive: float | None = None
    build_cpu_s: float = 0.0
    variants_screened: int = 0
    pruned_early: tuple[PrunedEarly, ...] = ()
    notes: tuple[str, ...] = ()
    rungs: tuple[Fidelity, ...] = ()
    phases: Mapping[str, float] = field(default_factory=dict)  # CPU seconds per phase of the run
    duration_s: float | None = optional()
    energy_j: float | None = optional()
    energy_low_j: float | None = optional()
    energy_high_j: float | None = optional()
    energy_source: str | None = optional()
    cpu_s: float | None = optional()
    deploy_check_s: float | None = optional()


@dataclass(frozen=True)
class TransformInfo(Record):
    """One transform of the search space: the knob it sets, the values it tries, its price, and whether it
    applied here (``why_not`` when not)."""

    name: str
    knob: str
    values: tuple[object, ...]
    price: str
    lossy: bool
    applicable: bool
    why_not: str | None


@dataclass(frozen=True)
class SkippedTransform(Record):
    transform: str
    why: str | None
    price: str | None = optional()


@dataclass(frozen=True)
class EnergyBoundary(Record):
    """Which boundary the J per query figures are on, and the saving factor on the machine boundary."""

    attribution: str
    explanation: str
    saving_factor_machine_attribution: float | None = optional()


@dataclass(frozen=True)
class HardwareProfile(Record):
    """The machine a saving was measured on: savings are specific to it (int8 gains most with VNNI/AMX)."""

    cpu_model: str
    avx2: bool
    avx512: bool
    avx512_vnni: bool
    avx_vnni: bool
    amx: bool
    torch_cpu_capability: str  # what ATen dispatches to here (torch.backends.cpu.get_cpu_capability())
    quantized_engine: str  # torch's int8 kernel library (x86 = fbgemm+onednn, qnnpack, ...)
    int4_cpu_kernel: bool  # torch.ops.aten._weight_int4pack_mm_for_cpu present in this torch build
    n_cpus: int
    gpu_compute_capability: str | None = optional()
    note: str = "savings are specific to this CPU/GPU, its instruction sets and this software stack"


@dataclass(frozen=True)
class OptimizeContext(Record):
    n_cpus: int
    default_threads: int
    loadavg_start: tuple[float, ...] | None
    loadavg_end: tuple[float, ...] | None
    device: str
    gpu_count: int
    weights: str
    notes: tuple[str, ...] = ()
    hardware: HardwareProfile | None = optional()  # ISA flags and kernels: the savings are specific to them


@dataclass(frozen=True)
class DeployCheck(Record):
    """The artefact loaded and served in a fresh process: proves it is self-contained, gives its footprint."""

    ok: bool
    load_s: float | None = optional()
    n: int | None = optional()
    peak_rss_mb: float | None = optional()
    error: str | None = optional()


@dataclass(frozen=True)
class ArtefactInfo(Record):
    path: str | None = None  # None when no --out was given (written only for the deploy check)
    files: tuple[str, ...] = ()
    deploy_check: DeployCheck | None = optional()
    error: str | None = optional()  # why the artefact could not be written (the search result stands)


@dataclass(frozen=True)
class SavingsPerYear(Record):
    kwh_baseline: float
    kwh_recommended: float
    kwh_saved: float
    tco2e_saved: float
    cost_saved: float | None
    cost_currency: str | None
    cost_note: str | None
    grid: str
    pue: float | None


@dataclass(frozen=True)
class Savings(Record):
    j_per_query_saved: float
    wh_per_1000_baseline: float | None
    wh_per_1000_recommended: float | None
    wh_per_1000_saved: float
    queries_per_day: float
    per_year_error: str | None = optional()  # carbon data problems never lose the search


@dataclass(frozen=True)
class OptimizeResult(Record):
    """The whole optimisation (``wattlens optimize --json``; the run's ``result`` cell in the store)."""

    run_id: str = ""
    model: str = ""
    task: str = ""
    mode: str = ""
    candidates: tuple[str, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    quality_metric: str = ""
    baseline: OptimizePoint | None = None
    recommended: OptimizePoint | None = None
    saving_factor: float | None = None
    saving_factor_best_round: float | None = None  # least-contended round of each: an upper view
    saving_factor_vs_single_thread_default: float | None = None  # robust to co-tenants inflating the default
    single_thread_default: OptimizePoint | None = None
    pareto: tuple[OptimizePoint, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    search: SearchSummary = field(default_factory=SearchSummary)
    trials: tuple[TrialPoint, ...] = ()
    transforms: tuple[TransformInfo, ...] = ()
    skipped_transforms: tuple[SkippedTransform, ...] = ()
    energy_boundary: EnergyBoundary | None = optional()
    context: OptimizeContext | None = optional()
    wattlens: str = "optimize"
    schema: int = 1
    artefact: ArtefactInfo | None = optional()
    saving_factor_search_process: float | None = optional()
    saving_factor_cpu_only: float | None = optional()
    saving_factor_deployed_memory: float | None = optional()  # the former name of the primary factor
    assumptions: tuple[str, ...] = ()
    payback_queries: int | None = None
    savings: Savings | None = optional()
    savings_per_year: SavingsPerYear | None = optional()

    def points(self) -> list[tuple[str, OptimizePoint]]:
        """(role, point) for the baseline, the recommendation and the Pareto points, in that order."""
        out: list[tuple[str, OptimizePoint]] = []
        if self.baseline is not None:
            out.append(("baseline", self.baseline))
        if self.recommended is not None:
            out.append(("recommended", self.recommended))
        out.extend(("pareto", p) for p in self.pareto)
        return out
