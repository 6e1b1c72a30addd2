"""Star ratings per task that resist outliers, and that only compare like with like.

Why not AI Energy Score's rule: AIES cuts each task's [min, max] into 5 equal-width bands and
recomputes them at every release, so one outlier at the top moves every band and a model's stars
change although its Wh did not (benchmark-anchors.md §2.2, §10).

Rule here (versioned as :data:`RATING_VERSION`):

1. Reference population per task: the per-model PHP figures shipped in
   ``bench/data/reference_population.csv`` (kWh per 1,000 queries; cheapest and most expensive model of
   each task from §1.3, plus the zero-shot multi-purpose models run on the same datasets, §1.4). Frozen:
   edges only change with a new ``RATING_VERSION``.
2. Work in log10(Wh per 1,000 queries): energies span 4 orders of magnitude across tasks.
3. Robust clip: values beyond median +/- 3 x 1.4826 x MAD are clipped to that bound (Llama-2-7b base at
   170x the text-classification mean would otherwise stretch the top bands).
4. Band edges = the 20/40/60/80 % quantiles (linear interpolation) of the clipped log values.
   5 stars: Wh <= edge 1 (the cheapest fifth); 1 star: above edge 4.

With only two reference models (most tasks) the quantiles are equal steps in log space between PHP's
cheapest and most expensive model of the task; the output says so through ``population_n``.

Like with like (tiers). PHP's figures are a whole 8xA100 node measured gross (~1 kW floor): tier
``gpu-node-gross`` (the ``tier`` column of the CSV). A run's tier is computed from what its figures are:
device kind (``gpu`` only when the model ran on a GPU *and* a GPU meter read it; ``cpu``; ``soc``), boundary
(``node`` for machine attribution, ``process`` for a process share), basis (``gross`` | ``net``) and source
(measured | integrated | estimated). Rows are rated against the frozen population only when device kind and
boundary match it, and then on their *gross* Wh (PHP's basis). Otherwise the reference rating is
``n/a (reference population is <tier>; this run is <tier>)``: a net CPU estimate ~100x below a GPU node's
gross draw would get 5 stars for being on another boundary, not for being efficient.

Within-run relative rating (:func:`rate_rows`): for each (run, task, tier) with >= 3 ok results, the same
rule (log10 Wh, median/MAD clip, 20/40/60/80 % quantiles) over the run's own results, labelled "relative to
this run's N models". A row's ``rating`` is the reference stars where the tier matches, else the relative
stars, else None; ``rating_band`` says which population and edges gave it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

from wattlens.bench.method import robust_clip
from wattlens.bench.records import BenchRow, Rating, RatingBand
from wattlens.stats import percentile
from wattlens.units import kwh_to_wh, wh_per_1000
from wattlens.workloads.tasks import canonical_task

DATA_DIR = Path(__file__).resolve().parent / "data"
POPULATION_CSV = DATA_DIR / "reference_population.csv"
RATING_VERSION = (
    "wattlens-stars-2: PHP 2023 per-model population (tier gpu-node-gross) for runs of the same "
    "tier, else relative to the run's own results per task and tier (>= 3); log10 Wh quantiles "
    "20/40/60/80 %, median/MAD clip k=3"
)
QUANTILES = (20.0, 40.0, 60.0, 80.0)
CLIP_K = 3.0
MIN_RELATIVE = 3  # fewer results than this in a run's task: no relative rating (quantiles of 2 say little)
GPU_METERS = ("nvml", "amdsmi")  # sources that read a GPU's own energy
SOC_METERS = ("apple",)


@dataclass(frozen=True)
class ReferenceModel:
    """One row of the frozen PHP population (``bench/data/reference_population.csv``)."""

    task: str
    model: str
    kwh_per_1000_queries: float
    role: str
    tier: str
    boundary: str
    source: str

    @property
    def wh_per_1000_queries(self) -> float:
        return kwh_to_wh(self.kwh_per_1000_queries)


@lru_cache(maxsize=1)
def reference_population() -> tuple[ReferenceModel, ...]:
    with POPULATION_CSV.open(newline="", encoding="utf-8") as f:
        return tuple(_reference_model(r) for r in csv.DictReader(f))


def _reference_model(r: dict[str, str]) -> ReferenceModel:
    return ReferenceModel(
        task=r["task"],
        model=r["model"],
        kwh_per_1000_queries=float(r["kwh_per_1000_queries"]),
        role=r["role"],
        tier=r["tier"],
        boundary=r["boundary"],
        source=r["source"],
    )


@dataclass(frozen=True)
class Bands:
    task: str
    edges_wh_per_1000: tuple[float, float, float, float]  # upper edges of 5, 4, 3, 2 stars
    population_n: int
    clipped_n: int
    population_min_wh: float
    population_max_wh: float
    boundary: str
    source: str
    kind: str = "reference"  # "reference" (frozen PHP population) | "relative" (this run's own results)
    population: str = ""  # one line: which population the edges come from
    tier: str = ""

    def stars(self, wh_per_1000: float) -> int:
        for i, edge in enumerate(self.edges_wh_per_1000):
            if wh_per_1000 <= edge:
                return 5 - i
        return 1

    def band(self, basis: str | None = None, run_tier: str | None = None) -> RatingBand:
        """These edges as the record a rating carries (with the basis and tier the result was rated on)."""
        return RatingBand(
            basis=basis,
            run_tier=run_tier,
            task=self.task,
            edges_wh_per_1000=self.edges_wh_per_1000,
            population_n=self.population_n,
            clipped_n=self.clipped_n,
            population_min_wh_per_1000=self.population_min_wh,
            population_max_wh_per_1000=self.population_max_wh,
            boundary=self.boundary,
            source=self.source,
            kind=self.kind,
            population=self.population,
            tier=self.tier,
            rule=RATING_VERSION,
        )

    def to_dict(self) -> dict[str, object]:
        return self.band().to_dict()


def bands_from_values(
    task: str,
    wh_values: list[float],
    boundary: str = "",
    source: str = "",
    *,
    kind: str = "reference",
    population: str = "",
    tier: str = "",
) -> Bands:
    """Band edges for any population (used for the frozen one, the within-run one, and testable on
    synthetic populations)."""
    if len(wh_values) < 2 or any(v <= 0 for v in wh_values):
        raise ValueError("a rating population needs >= 2 positive values")
    logs = [math.log10(v) for v in wh_values]
    clipped, lo, hi = robust_clip(logs, CLIP_K)
    n_clipped = sum(1 for v in logs if v < lo or v > hi)
    e20, e40, e60, e80 = (10 ** percentile(clipped, q) for q in QUANTILES)
    return Bands(
        task,
        (e20, e40, e60, e80),
        len(wh_values),
        n_clipped,
        min(wh_values),
        max(wh_values),
        boundary,
        source,
        kind,
        population,
        tier,
    )


@cache
def bands_for(task: str) -> Bands | None:
    """The frozen bands of a task, or None when the reference population has no such task."""
    t = canonical_task(task)
    rows = [r for r in reference_population() if r.task == t]
    if len(rows) < 2:
        return None
    sources = sorted({r.source.split(";")[0] for r in rows})
    return bands_from_values(
        t,
        [r.wh_per_1000_queries for r in rows],
        rows[0].boundary,
        " | ".join(sources),
        kind="reference",
        tier=REFERENCE_TIER.label,
        population=f"PHP 2023 reference population, n={len(rows)} models ({REFERENCE_TIER.label})",
    )


def rate(task: str, wh: float | None) -> Rating | None:
    """Stars for a measured Wh per 1,000 queries against the frozen population, with the edges behind them."""
    if wh is None:
        return None
    b = bands_for(task)
    if b is None:
        return Rating(None, note=f"no reference population for task {task!r}")
    return Rating(b.stars(wh) if wh > 0 else 5, wh_per_1000=wh, band=b.band())


def describe(task: str) -> str:
    """One line for the leaderboard: band edges and the population behind them."""
    b = bands_for(task)
    if b is None:
        return f"{task}: no reference population (stars not given)"
    edges = " | ".join(f"{e:.3g}" for e in b.edges_wh_per_1000)
    return (
        f"{b.task}: 5* <= {edges} Wh/1000 queries < 1*  (PHP reference, n={b.population_n}, "
        f"{b.clipped_n} clipped; range {b.population_min_wh:.3g}-{b.population_max_wh:.3g} Wh/1000; "
        f"boundary: {b.boundary}; tier {b.tier}: rated against only in that tier)"
    )


# --- tiers: which figures may be compared with which -------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """What a population's figures are: device kind, boundary, gross/net basis and source."""

    device: str  # gpu (a GPU, read by a GPU meter) | gpu-unmetered | cpu | soc | unknown
    boundary: str  # node (everything the counted devices drew) | process (a process share)
    basis: str  # gross | net
    source: str  # measured | integrated | estimated | unavailable | mixed
    detail: str = ""

    @property
    def key(self) -> str:
        return f"{self.device}-{self.boundary}-{self.basis}"

    @property
    def label(self) -> str:
        return f"{self.key} ({self.detail})" if self.detail else self.key

    def comparable_to_reference(self) -> bool:
        """Same device kind and boundary as the frozen population; its basis (gross) is always available
        from a run's windows, so the run is rated on its gross figure."""
        return self.device == REFERENCE_TIER.device and self.boundary == REFERENCE_TIER.boundary

    def to_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "label": self.label,
            "device": self.device,
            "boundary": self.boundary,
            "basis": self.basis,
            "source": self.source,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Tier:
        return cls(*(str(d.get(k) or "") for k in ("device", "boundary", "basis", "source", "detail")))


REFERENCE_TIER = Tier(
    "gpu", "node", "gross", "measured GPUs (NVML) + estimated CPU/RAM", "PHP 2023, 8xA100, CodeCarbon"
)


def _device_kind(device: str | None) -> str:
    from wattlens.workloads.device import device_kind  # import-light (no torch)

    return "cpu" if device is None else device_kind(device)  # runs before devices existed ran on the CPU


def run_tier(
    device: str | None,
    attribution: str | None,
    meters: list[str] | tuple[str, ...],
    basis: str | None,
    source: str | None,
) -> Tier:
    """The tier of one result: ``device`` as recorded in its config (None: a run from before devices were
    recorded, i.e. cpu), the monitor's ``attribution`` and source names, the J/query ``basis`` and ``source``."""
    kind = _device_kind(device)
    meters = tuple(meters or ())
    if kind == "gpu" and not any(m in GPU_METERS for m in meters):
        kind = "gpu-unmetered"  # the model ran on a GPU that no meter read: its energy is not in the figure
    if kind == "soc" and not any(m in SOC_METERS for m in meters):
        kind = "soc-unmetered"
    boundary = "process" if attribution == "process" else "node"
    src = source or "unknown"
    detail = f"{src}; meters: {', '.join(meters) or 'unknown'}"
    return Tier(kind, boundary, basis or "gross", src, detail)


def _positive(x: float | None) -> float | None:
    return float(x) if x is not None and x > 0 else None


def _gross_wh(row: BenchRow) -> float | None:
    g = _positive(row.gross_j_per_query)
    return None if g is None else wh_per_1000(g)


def _reference_rating(row: BenchRow, tier: Tier) -> Rating:
    b = bands_for(row.task)
    if b is None:
        return Rating(None, note=f"n/a (no reference population for task {row.task!r})")
    if not tier.comparable_to_reference():
        return Rating(
            None,
            reference_tier=REFERENCE_TIER.label,
            run_tier=tier.label,
            note=f"n/a (reference population is {REFERENCE_TIER.label}; this run is {tier.label})",
        )
    wh = _gross_wh(row)
    if wh is None:
        return Rating(None, note="n/a (no gross energy for this result; the reference population is gross)")
    return Rating(b.stars(wh), wh_per_1000=wh, band=b.band(basis="gross", run_tier=tier.label))


def _relative_population(group: list[BenchRow]) -> tuple[str, list[tuple[BenchRow, float]]]:
    """(basis, [(row, Wh/1000)]): the rows' own basis when every value is positive, else gross for all (a net
    figure at or below 0 is noise around the idle baseline and has no logarithm)."""
    own = [(r, _positive(r.wh_per_1000)) for r in group]
    if all(v is not None for _, v in own):
        return group[0].energy_basis or "gross", [(r, v) for r, v in own if v is not None]
    gross = [(r, _gross_wh(r)) for r in group]
    return "gross", [(r, v) for r, v in gross if v is not None]


def relative_bands(
    task: str, values: list[float], models: list[str] | None = None, tier: str = "", run_id: str = ""
) -> Bands:
    """Bands over a run's own results for one task (same rule as the frozen population)."""
    n = len(values)
    distinct = len(set(models or [])) or n
    what = f"{n} {task} models" if distinct == n else f"{n} {task} results ({distinct} models x configs)"
    population = f"relative to this run's {what}" + (f", tier {tier}" if tier else "")
    return bands_from_values(
        task,
        values,
        "this run's boundary" + (f": {tier}" if tier else ""),
        f"run {run_id}" if run_id else "this run",
        kind="relative",
        population=population,
        tier=tier,
    )


def _relative_ratings(rows: Sequence[BenchRow]) -> dict[int, Rating]:
    """Within-run ratings per (run, task, tier) of ok rows, by row index."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if r.ok and r.tier:
            groups.setdefault((r.run_id, canonical_task(r.task), r.tier_key), []).append(i)
    relative: dict[int, Rating] = {}
    for (run_id, task, _), members in groups.items():
        group = [rows[i] for i in members]
        basis, pop = _relative_population(group)
        if len(pop) < MIN_RELATIVE:
            note = (
                f"n/a (a relative rating needs >= {MIN_RELATIVE} ok results of {task} in this run and tier; "
                f"this run has {len(pop)})"
            )
            relative.update({i: Rating(None, note=note) for i in members})
            continue
        b = relative_bands(task, [v for _, v in pop], [r.model for r, _ in pop], group[0].tier_label, run_id)
        value_of = {id(r): v for r, v in pop}
        for i in members:
            v = value_of.get(id(rows[i]))
            relative[i] = (
                Rating(None, note="n/a (no positive energy figure for this result)")
                if v is None
                else Rating(b.stars(v), wh_per_1000=v, band=b.band(basis=basis))
            )
    return relative


def rate_rows(rows: Sequence[BenchRow]) -> list[BenchRow]:
    """The rows with their rating fields (new records; the input is unchanged).

    Each row needs ``run_id, task, model, status, wh_per_1000, gross_j_per_query, energy_basis`` and ``tier``
    (a :meth:`Tier.to_dict`, from :func:`run_tier`). Sets ``rating`` (stars or None), ``rating_band`` (edges +
    population of those stars), ``rating_text`` (one line), ``rating_reference`` (against the frozen population,
    or n/a with the reason) and ``rating_relative`` (within this run).
    """
    relative = _relative_ratings(rows)
    return [_rated(r, relative.get(i)) for i, r in enumerate(rows)]


def _rated(row: BenchRow, relative: Rating | None) -> BenchRow:
    if not row.ok or not row.tier:
        text = f"n/a (status {row.status})" if not row.ok else "n/a"
        return replace(
            row, rating=None, rating_band=None, rating_text=text, rating_reference=None, rating_relative=None
        )
    ref = _reference_rating(row, Tier.from_dict(row.tier))
    chosen = ref if ref.stars is not None else relative if relative is not None and relative.stars else None
    if chosen is None:
        text = (ref.note or "") + ("" if relative is None else f"; within this run: {relative.note}")
        return replace(
            row, rating=None, rating_band=None, rating_text=text, rating_reference=ref, rating_relative=relative
        )
    band = chosen.band or RatingBand()
    text = f"{chosen.stars}/5 {band.population} ({band.basis} {chosen.wh_per_1000:.3g} Wh/1000)"
    if chosen is relative:
        text += f"; reference: {ref.note}"
    return replace(
        row,
        rating=chosen.stars,
        rating_band=chosen.band,
        rating_text=text,
        rating_reference=ref,
        rating_relative=relative,
    )


def describe_rows(rows: Sequence[BenchRow]) -> list[str]:
    """Leaderboard lines, one per task (and tier): the band edges and the population behind the stars, or why
    there are none."""
    lines: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for r in rows:
        if not r.ok:
            continue
        band = r.rating_band
        key = (r.run_id, r.task, r.tier_label)
        if key in seen:
            continue
        seen.add(key)
        if band:
            edges = " | ".join(f"{e:.3g}" for e in band.edges_wh_per_1000)
            lines.append(
                f"{r.task}: 5* <= {edges} Wh/1000 ({band.basis}) < 1*  — {band.population}, "
                f"{band.clipped_n} clipped; range {band.population_min_wh_per_1000:.3g}-"
                f"{band.population_max_wh_per_1000:.3g} Wh/1000"
            )
        ref = r.rating_reference
        if ref is not None and ref.stars is None and ref.note:
            lines.append(f"{r.task}: reference rating {ref.note}")
        rel = r.rating_relative
        if not band and rel is not None and rel.note:
            lines.append(f"{r.task}: within-run rating {rel.note}")
    return lines
