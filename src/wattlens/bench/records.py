"""The typed results of the bench layer: what a cell stores, what a run returns, what a leaderboard row says.

Every record is a frozen dataclass (:class:`wattlens.records.Record`) whose ``to_dict()`` is the JSON
contract and whose ``from_dict()`` reads it back:

* :class:`PhaseResult` — one measured phase of a cell (query, prefill, decode): J per query on its basis
  with the interval, gross/idle/net, latency, throughput (written by ``CellStats.to_dict()``);
* :class:`CellResult` — what ``wattlens bench`` commits to the store for one cell (its ``result`` column);
* :class:`RunSummary` — what :func:`wattlens.bench.execute.execute` returns;
* :class:`BenchRow` — one leaderboard row, the ``wattlens results --json`` contract (docs/CONTRACTS.md),
  with its :class:`Rating`\\ s and :class:`Tier`-dict;
* :class:`IdlePower`, :class:`LoadResult`, :class:`PerUnit`, :class:`PhaseFigures`, :class:`RatingBand`:
  their parts.

Units are in the names: ``_j`` joules, ``_w`` watts, ``_s`` seconds, ``_ms`` milliseconds,
``wh_per_1000`` watt-hours per 1,000 queries, ``co2e_g_per_1000`` grams CO2e per 1,000 queries.

>>> row = BenchRow.from_dict({"task": "fill-mask", "model": "m", "status": "ok", "j_per_query": 0.36,
...                           "prefill_j_per_query": 0.1})
>>> row.wh_per_1000 is None, row.phases["prefill"].j_per_query
(True, 0.1)
>>> row.to_dict()["prefill_j_per_query"]
0.1
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wattlens.carbon import Location
from wattlens.records import JsonDict, Record, optional

# --- parts of a cell -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdlePower(Record):
    """Idle power of the measured boundary (W) with its interval; built from an IdleBaseline or watts."""

    power_w: float
    low_w: float
    high_w: float
    source: str = "unknown"

    @classmethod
    def of(cls, idle: object) -> IdlePower | None:
        """Accept ``None``, watts, an :class:`IdlePower`, or a tracking ``IdleBaseline``."""
        if idle is None:
            return None
        if isinstance(idle, IdlePower):
            return idle
        if isinstance(idle, (int, float)):
            return cls(float(idle), float(idle), float(idle), "given")
        power = getattr(idle, "total_w", None)
        if power is None:
            return None
        low_w, high_w = getattr(idle, "low_w", None), getattr(idle, "high_w", None)
        low = sum(low_w.values()) if low_w else power
        high = sum(high_w.values()) if high_w else power
        return cls(float(power), float(low), float(high), str(getattr(idle, "source", "unknown")))

    @classmethod
    def mean_of(cls, a: IdlePower | None, b: IdlePower | None) -> IdlePower | None:
        """Average of the baselines taken before and after a cell (either may be missing)."""
        both = [x for x in (a, b) if x is not None]
        if not both:
            return None
        n = len(both)
        return cls(
            sum(x.power_w for x in both) / n,
            sum(x.low_w for x in both) / n,
            sum(x.high_w for x in both) / n,
            both[0].source,
        )


@dataclass(frozen=True)
class WindowComponent(Record):
    """One domain of one measured window, as the meter reported it (``ComponentEnergy``), or an idle
    baseline's mean power per domain (``power_w`` only)."""

    domain: str = ""
    energy_j: float | None = optional()
    source: str | None = optional()
    method: str | None = optional()
    low_j: float | None = optional()
    high_j: float | None = optional()
    device: str | None = optional()
    note: str | None = optional()
    rss_mb: float | None = optional()  # the resident memory a modelled memory term charged (estimator)
    w_per_gb: float | None = optional()  # and its W/GB coefficient
    power_w: float | None = optional()  # idle-baseline rows: mean power of the domain

    @classmethod
    def of(cls, component: object) -> WindowComponent:
        """From a meter's ``ComponentEnergy`` (or anything with its attributes / its ``to_dict``)."""
        if isinstance(component, Mapping):
            return cls.from_dict(component)
        to_dict = getattr(component, "to_dict", None)
        return cls.from_dict(to_dict() if callable(to_dict) else {})


@dataclass(frozen=True)
class WindowRow(Record):
    """One raw timeline row: a measured window (load, query, prefill, decode) or an idle baseline, with its
    energy per component. Kept by ``store.save_timeline``; the unit of the report's timelines."""

    phase: str = ""
    repeat: int = 0
    sub: int = 0
    name: str = ""
    start_unix_s: float | None = None
    duration_s: float = 0.0
    queries: int | None = optional()  # absent on idle-baseline rows
    energy_j: float | None = None
    low_j: float | None = None
    high_j: float | None = None
    idle_j: float | None = None
    net_j: float | None = None
    source: str = "unknown"
    components: tuple[WindowComponent, ...] = ()
    latencies_ms: tuple[float, ...] | None = optional()  # query windows: the per-request log (one per batch)


@dataclass(frozen=True)
class PhaseResult(Record):
    """One measured phase of a cell over its repeats (warm-up excluded); J per query on ``basis``.

    ``gross_j``/``idle_j``/``net_j`` are totals over the measured windows; ``queries`` is the number of queries
    in those windows; ``j_per_query_low/high`` combine the meter's interval with the 95 % t-interval.
    """

    phase: str = "query"
    batch: int = 1
    repeats: int = 0
    warmup: int = 0
    min_window_s: float | None = None
    queries: int = 0
    queries_per_repeat: tuple[int, ...] = ()
    expected_queries: int = 0
    inputs_per_repeat: int = 0
    completed_queries: int = 0
    duration_s: float | None = None
    busy_s: float | None = None
    basis: str | None = None
    source: str | None = None
    j_per_query: float | None = None
    j_per_query_low: float | None = None
    j_per_query_high: float | None = None
    ci95_j: float | None = None
    cv: float | None = None
    per_repeat_j_per_query: tuple[float, ...] = ()
    gross_j: float | None = None
    idle_j: float | None = None
    net_j: float | None = None
    gross_j_per_query: float | None = None
    net_j_per_query: float | None = None
    idle: IdlePower | None = None
    mean_power_w: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    throughput_qps: float | None = None
    harness_overhead_frac: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadResult(Record):
    """The model-loading window of a cell (PHP's "load model" task), never mixed into the query windows."""

    duration_s: float | None = None
    wall_s: float | None = None
    energy_j: float | None = None
    low_j: float | None = None
    high_j: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class TokenCounts(Record):
    input_total: int = 0
    output_total: int = 0
    inputs: int = 0


@dataclass(frozen=True)
class IdleBaselines(Record):
    """Idle power measured before and after a cell, and the mean of both that the figures were restated on."""

    before: IdlePower | None = None
    after: IdlePower | None = None
    used: IdlePower | None = None


@dataclass(frozen=True)
class CoTenantLoad(Record):
    """Other processes' CPU load during a cell's measured windows (``/proc/stat``; see wattlens.meters.cotenant).

    ``contended`` when the others kept more CPUs busy than the cell left free, plus a quarter of a CPU of slack,
    and that excess adds up to at least 0.1 CPU-s (a daemon's burst in a 50 ms cell is not contention): then the
    cell's energy is not the model's figure and it stays out of ratings and comparisons.
    """

    others_cpus: float  # mean logical CPUs busy with other processes over the windows
    machine_cpus: int  # logical CPUs of the machine
    cell_cpus: int  # CPUs the cell asked for (its threads, or the machine's when the library chose)
    threshold_cpus: float  # machine_cpus - cell_cpus + 0.25
    duration_s: float  # wall time the two snapshots spanned
    contended: bool
    method: str = "/proc/stat busy time minus this process tree's CPU time, over the cell's windows"


@dataclass(frozen=True)
class PerUnit(Record):
    """J per output token / per image where the task's unit makes it meaningful (absent where it does not)."""

    unit: str | None = None
    input_tokens_per_query: float | None = optional()
    output_tokens_per_query: float | None = optional()
    j_per_output_token: float | None = optional()
    prefill_j_per_input_token: float | None = optional()
    decode_j_per_token: float | None = optional()
    j_per_image: float | None = optional()

    def figures(self) -> JsonDict:
        """The per-unit figures without the unit's name (what a leaderboard row carries flat)."""
        return {k: v for k, v in self.to_dict().items() if k != "unit"}


@dataclass(frozen=True)
class CellConfig(Record):
    """How a cell ran: batch, precision, threads (0 = library default), engine, device (resolved), and the
    load options of the suite (e.g. ``steps``), written flat beside them."""

    batch: int | None = None
    precision: str | None = None
    threads: int | None = None
    engine: str | None = None
    device: str | None = optional()  # absent in runs from before devices were recorded (they ran on the CPU)
    device_requested: str | None = optional()  # present when ``auto`` (or another request) resolved differently
    options: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> JsonDict:
        out = super().to_dict()
        out.pop("options", None)
        out.update(self.options)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CellConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        base = super().from_dict(data)
        return dataclasses.replace(base, options={k: v for k, v in data.items() if k not in known})

    def with_threads(self, threads: int) -> CellConfig:
        return dataclasses.replace(self, threads=threads)


@dataclass(frozen=True)
class CellResult(Record):
    """What the store holds for one bench cell (the ``result`` column of its cell row).

    A failed cell carries only its identity, ``error`` (one line), ``traceback`` and ``cell_s``; the measured
    fields are absent there (``None`` here).
    """

    schema: int = 1
    task: str = ""
    model: str = ""
    config: CellConfig = field(default_factory=CellConfig)
    cell: Mapping[str, object] = field(default_factory=dict)  # the suite's cell as run (Cell.to_dict)
    quality: float | None = optional()
    quality_n: int | None = optional()  # the items the task metric was computed on
    quality_low: float | None = optional()  # 95 % Wilson interval over those items
    quality_high: float | None = optional()
    metric: str | None = optional()
    tokens: TokenCounts | None = optional()
    weights: str | None = optional()
    params: int | None = optional()
    generative: bool | None = optional()
    unit: str | None = optional()
    engine: str | None = optional()
    precision: str | None = optional()
    threads: int | None = optional()
    info: Mapping[str, object] | None = optional()
    device: str | None = optional()
    input_description: str | None = optional()
    threads_used: int | None = optional()
    text_input: bool | None = optional()
    load: LoadResult | None = optional()
    status: str | None = optional()
    reasons: tuple[str, ...] | None = optional()
    warnings: tuple[str, ...] | None = optional()
    checks_skipped: tuple[str, ...] | None = optional()
    query: PhaseResult | None = optional()
    phases: Mapping[str, PhaseResult] | None = optional()
    per_unit: PerUnit | None = optional()
    idle: IdleBaselines | None = optional()
    cotenant: CoTenantLoad | None = optional()
    cell_s: float | None = optional()
    error: str | None = optional()
    traceback: str | None = optional()


@dataclass(frozen=True)
class RunSummary(Record):
    """What one ``execute`` call did: cells stored now and before, by status, and how long it took."""

    run_id: str
    status: str  # done | interrupted
    done: int  # cells stored for the run, before and now
    total: int  # cells of the suite
    counts: Mapping[str, int]  # cells measured by this call, per status (ok | invalid | failed)
    duration_s: float


# --- leaderboard rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseFigures(Record):
    """A generative cell's prefill or decode phase in a leaderboard row (written ``<phase>_<field>``)."""

    j_per_query: float | None = None
    j_per_query_low: float | None = None
    j_per_query_high: float | None = None
    p50_ms: float | None = None

    @classmethod
    def of(cls, phase: PhaseResult) -> PhaseFigures:
        return cls(phase.j_per_query, phase.j_per_query_low, phase.j_per_query_high, phase.p50_ms)


@dataclass(frozen=True)
class RatingBand(Record):
    """The band edges behind a star rating and the population they come from (``wattlens.bench.ratings``)."""

    basis: str | None = optional()  # the energy basis the result was rated on (gross | net)
    run_tier: str | None = optional()  # the result's tier, where it was rated against the reference population
    task: str = ""
    edges_wh_per_1000: tuple[float, ...] = ()  # upper edges of 5, 4, 3, 2 stars
    population_n: int = 0
    clipped_n: int = 0
    population_min_wh_per_1000: float | None = None
    population_max_wh_per_1000: float | None = None
    boundary: str = ""
    source: str = ""
    kind: str = "reference"  # reference (the frozen PHP population) | relative (this run's own results)
    population: str = ""
    tier: str = ""
    rule: str = ""


@dataclass(frozen=True)
class Rating(Record):
    """Stars for one result against one population, or ``None`` stars with the ``note`` saying why not."""

    stars: int | None = None
    wh_per_1000: float | None = optional()
    reference_tier: str | None = optional()
    run_tier: str | None = optional()
    note: str | None = optional()
    band: RatingBand | None = optional()

    def __post_init__(self) -> None:
        # one form: with a band, the tier the result was rated in belongs to the band (JSON: one `run_tier`)
        if self.band is not None and self.run_tier is not None:
            object.__setattr__(self, "band", dataclasses.replace(self.band, run_tier=self.run_tier))
            object.__setattr__(self, "run_tier", None)

    def to_dict(self) -> JsonDict:
        out = super().to_dict()
        band = out.pop("band", None)
        if isinstance(band, dict):
            out.update(band)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Rating:
        own = {"stars", "wh_per_1000", "reference_tier", "note"}
        base = super().from_dict({k: v for k, v in data.items() if k in own | {"run_tier"}})
        if "edges_wh_per_1000" not in data:
            return base
        band = RatingBand.from_dict({k: v for k, v in data.items() if k not in own})
        return dataclasses.replace(base, run_tier=None, band=band)


_PHASE_KEY = re.compile(r"^(?P<phase>[a-z][a-z0-9]*)_(?P<field>j_per_query|j_per_query_low|j_per_query_high|p50_ms)$")


@dataclass(frozen=True)
class BenchRow(Record):
    """One leaderboard row: the ``wattlens results --json`` contract (see docs/CONTRACTS.md).

    ``gross_j``/``idle_j``/``net_j`` are totals over the measured query windows and ``queries`` their query
    count (``inputs`` is how many distinct inputs each repeat covered); ``j_per_query*`` are per query on
    ``energy_basis`` (``net`` when an idle baseline was measured). ``phases`` (prefill, decode) and
    ``per_unit`` figures are written flat (``prefill_j_per_query``, ``j_per_output_token``, ...).
    """

    run_id: str = ""
    cell_key: str = ""
    task: str = ""
    model: str = ""
    config: CellConfig = field(default_factory=CellConfig)
    weights: str | None = None
    status: str = ""  # ok | invalid | failed
    queries: int | None = None
    inputs: int | None = None
    repeats: int | None = None
    error: str | None = None
    error_detail: str | None = None
    validity: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # energy of the query phase
    j_per_query: float | None = None
    j_per_query_low: float | None = None
    j_per_query_high: float | None = None
    ci95_j: float | None = None
    cv: float | None = None
    energy_basis: str | None = None
    gross_j_per_query: float | None = None
    net_j_per_query: float | None = None
    wh_per_1000: float | None = None
    kwh_per_1000: float | None = None
    source: str | None = None
    gross_j: float | None = None
    idle_j: float | None = None
    net_j: float | None = None
    measured_s: float | None = None
    mean_power_w: float | None = None
    idle_w: float | None = None
    # speed and quality
    p50_ms: float | None = None
    p95_ms: float | None = None
    throughput_qps: float | None = None
    harness_overhead_frac: float | None = None
    min_window_s: float | None = None
    quality: float | None = None  # None where not applicable (random weights): never a fake score
    quality_metric: str | None = None
    quality_n: int | None = optional()  # items the metric was computed on (the measured queries and more)
    quality_low: float | None = optional()  # 95 % Wilson interval
    quality_high: float | None = optional()
    params: int | None = None
    unit: str | None = None
    phases: Mapping[str, PhaseFigures] = field(default_factory=dict)
    per_unit: PerUnit = field(default_factory=PerUnit)
    load_j: float | None = None
    load_s: float | None = None
    # carbon and cost per 1,000 queries, from the energy with the run's carbon settings
    co2e_g_per_1000: float | None = None
    co2e_g_per_1000_low: float | None = None
    co2e_g_per_1000_high: float | None = None
    cost_per_1000: float | None = None
    currency: str | None = None
    location: Location | None = optional()
    carbon_intensity_g_per_kwh: float | None = optional()
    intensity_basis: str | None = optional()
    pue: float | None = optional()
    facility_kwh_per_1000: float | None = optional()
    php_task_kwh_per_1000: float | None = optional()
    # lifecycle per 1,000 queries, present only when asked for (wattlens.bench.lifecycle_rows, docs/LIFECYCLE.md)
    co2e_embodied_g_per_1000: float | None = optional()  # amortised embodied CO2e of the device
    co2e_embodied_g_per_1000_low: float | None = optional()
    co2e_embodied_g_per_1000_high: float | None = optional()
    co2e_total_g_per_1000: float | None = optional()  # operational + embodied
    co2e_total_g_per_1000_low: float | None = optional()
    co2e_total_g_per_1000_high: float | None = optional()
    embodied_basis: str | None = optional()
    embodied_complete: bool | None = optional()
    embodied: Mapping[str, object] | None = optional()  # the embodied footprint's details (carbon.lifecycle)
    water_l_per_1000: float | None = optional()  # water withdrawn for the energy (WUE x facility kWh)
    water_l_per_1000_low: float | None = optional()
    water_l_per_1000_high: float | None = optional()
    water_basis: str | None = optional()
    water: Mapping[str, object] | None = optional()  # the water footprint's details (carbon.water)
    lifecycle_note: str | None = optional()  # why the lifecycle figures are unavailable for this row
    # what the figures are comparable with
    boundary: str | None = None
    tier: Mapping[str, str] | None = None  # Tier.to_dict(): key, label, device, boundary, basis, source, detail
    versions: Mapping[str, str | None] = field(default_factory=dict)
    cpu: str | None = None
    threads_used: int | None = None
    threads_requested: int | None = optional()
    # ratings (stars next to the raw Wh, with the population behind them)
    rating: int | None = None
    rating_band: RatingBand | None = None
    rating_text: str | None = None
    rating_reference: Rating | None = None
    rating_relative: Rating | None = None

    # --- derived ---------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def tier_key(self) -> str:
        return str((self.tier or {}).get("key") or "")

    @property
    def tier_label(self) -> str:
        return str((self.tier or {}).get("label") or "")

    def figure(self, name: str) -> object:
        """A figure by its JSON name, flat phase/per-unit ones included (e.g. ``decode_j_per_query``)."""
        if name in _FIELD_NAMES:
            return getattr(self, name)
        m = _PHASE_KEY.match(name)
        if m and m.group("phase") in self.phases:
            return getattr(self.phases[m.group("phase")], m.group("field"))
        return getattr(self.per_unit, name, None) if name in _PER_UNIT_FIGURES else None

    # --- the JSON contract ---------------------------------------------------------------------------
    def to_dict(self) -> JsonDict:
        out = super().to_dict()
        phases = out.pop("phases")
        out.pop("per_unit")
        flat: JsonDict = {}
        for key, value in out.items():
            flat[key] = value
            if key == "unit":  # phase and per-unit figures sit right after the unit, as they always did
                if isinstance(phases, dict):
                    for name, figs in phases.items():
                        if isinstance(figs, dict):
                            flat.update({f"{name}_{k}": v for k, v in figs.items()})
                flat.update(self.per_unit.figures())
        return flat

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BenchRow:
        base = super().from_dict(data)
        phases: dict[str, dict[str, object]] = {}
        for key, value in data.items():
            m = _PHASE_KEY.match(key)
            if m and key not in _FIELD_NAMES:
                phases.setdefault(m.group("phase"), {})[m.group("field")] = value
        unit = PerUnit.from_dict({k: v for k, v in data.items() if k in _PER_UNIT_FIGURES or k == "unit"})
        return dataclasses.replace(
            base, phases={name: PhaseFigures.from_dict(figs) for name, figs in phases.items()}, per_unit=unit
        )


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(BenchRow)) - {"phases", "per_unit"}
_PER_UNIT_FIGURES = frozenset(f.name for f in dataclasses.fields(PerUnit)) - {"unit"}
