"""Star ratings per task that resist outliers, against a FROZEN reference population.

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

Caveat printed next to every star: PHP's boundary is a whole 8xA100 node measured gross (~1 kW floor),
so any measurement on another boundary is placed on PHP's scale, not compared like for like.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from wattlens.bench.method import percentile, robust_clip

DATA_DIR = Path(__file__).resolve().parent / "data"
POPULATION_CSV = DATA_DIR / "reference_population.csv"
RATING_VERSION = "wattlens-stars-1: PHP 2023 per-model population, log10 Wh quantiles, median/MAD clip k=3"
QUANTILES = (20.0, 40.0, 60.0, 80.0)
CLIP_K = 3.0

# Names people use for the PHP tasks -> the task names of the reference population (HF pipeline names).
TASK_ALIASES = {
    "sentiment": "text-classification",
    "extractive-qa": "question-answering",
    "qa": "question-answering",
    "masked-lm": "fill-mask",
    "ner": "token-classification",
    "image-captioning": "image-to-text",
    "captioning": "image-to-text",
    "image-generation": "text-to-image",
}


def canonical_task(task: str) -> str:
    return TASK_ALIASES.get(task, task)


@lru_cache(maxsize=1)
def reference_population() -> tuple[dict[str, Any], ...]:
    with POPULATION_CSV.open(newline="", encoding="utf-8") as f:
        rows = []
        for r in csv.DictReader(f):
            r["kwh_per_1000_queries"] = float(r["kwh_per_1000_queries"])
            r["wh_per_1000_queries"] = r["kwh_per_1000_queries"] * 1000.0
            rows.append(r)
    return tuple(rows)


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

    def stars(self, wh_per_1000: float) -> int:
        for i, edge in enumerate(self.edges_wh_per_1000):
            if wh_per_1000 <= edge:
                return 5 - i
        return 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "edges_wh_per_1000": list(self.edges_wh_per_1000),
            "population_n": self.population_n,
            "clipped_n": self.clipped_n,
            "population_min_wh_per_1000": self.population_min_wh,
            "population_max_wh_per_1000": self.population_max_wh,
            "boundary": self.boundary,
            "source": self.source,
            "rule": RATING_VERSION,
        }


def bands_from_values(task: str, wh_values: list[float], boundary: str = "", source: str = "") -> Bands:
    """Band edges for any population (used for the frozen one, and testable on synthetic populations)."""
    if len(wh_values) < 2 or any(v <= 0 for v in wh_values):
        raise ValueError("a rating population needs >= 2 positive values")
    logs = [math.log10(v) for v in wh_values]
    clipped, lo, hi = robust_clip(logs, CLIP_K)
    n_clipped = sum(1 for v in logs if v < lo or v > hi)
    edges = tuple(10 ** percentile(clipped, q) for q in QUANTILES)
    return Bands(task, edges, len(wh_values), n_clipped, min(wh_values), max(wh_values), boundary, source)  # type: ignore[arg-type]


@cache
def bands_for(task: str) -> Bands | None:
    """The frozen bands of a task, or None when the reference population has no such task."""
    t = canonical_task(task)
    rows = [r for r in reference_population() if r["task"] == t]
    if len(rows) < 2:
        return None
    sources = sorted({r["source"].split(";")[0] for r in rows})
    return bands_from_values(t, [r["wh_per_1000_queries"] for r in rows], rows[0]["boundary"], " | ".join(sources))


def rate(task: str, wh_per_1000: float | None) -> dict[str, Any] | None:
    """Stars for a measured Wh per 1,000 queries, with the edges and population that gave them."""
    if wh_per_1000 is None:
        return None
    b = bands_for(task)
    if b is None:
        return {"stars": None, "note": f"no reference population for task {task!r}", "rule": RATING_VERSION}
    return {"stars": b.stars(wh_per_1000) if wh_per_1000 > 0 else 5, "wh_per_1000": wh_per_1000, **b.to_dict()}


def describe(task: str) -> str:
    """One line for the leaderboard: band edges and the population behind them."""
    b = bands_for(task)
    if b is None:
        return f"{task}: no reference population (stars not given)"
    edges = " | ".join(f"{e:.3g}" for e in b.edges_wh_per_1000)
    return (f"{b.task}: 5* <= {edges} Wh/1000 queries < 1*  (PHP reference, n={b.population_n}, "
            f"{b.clipped_n} clipped; range {b.population_min_wh:.3g}-{b.population_max_wh:.3g} Wh/1000; "
            f"boundary: {b.boundary})")
