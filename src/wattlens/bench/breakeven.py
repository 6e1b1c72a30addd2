"""Training vs inference: queries until inference energy equals training (+ fine-tuning) energy.

PHP's example (benchmark-anchors.md §1.5): BLOOMz-7B, training 51,686 kWh + fine-tuning 7,571 kWh, at
1.0e-4 kWh per query -> (51,686 + 7,571) / 1.0e-4 = 592.6 million queries. The BLOOMz figures ship in
``bench/data/bloomz_reference.csv`` with their source, so the paper's numbers can be reproduced and a
user's own per-query figure (from a bench run, or ``--j-per-query``) put next to them.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from wattlens.bench.ratings import DATA_DIR
from wattlens.bench.training import TrainingBreakeven
from wattlens.errors import WattlensError
from wattlens.records import JsonDict, Record, optional
from wattlens.units import j_to_kwh


class BreakevenError(WattlensError, ValueError):
    """Missing or inconsistent inputs for a break-even; the message says what to pass."""


@dataclass(frozen=True)
class BloomzReference:
    """One row of ``bench/data/bloomz_reference.csv``: PHP's training, fine-tuning and per-query figures."""

    model: str
    alias: str
    training_kwh: float
    finetune_kwh: float
    inference_kwh_per_query_paper: float
    inference_kwh_per_query_recomputed: float
    paper_breakeven_queries: float
    source: str


@lru_cache(maxsize=1)
def bloomz_reference() -> tuple[BloomzReference, ...]:
    with (DATA_DIR / "bloomz_reference.csv").open(newline="", encoding="utf-8") as f:
        return tuple(
            BloomzReference(
                model=r["model"],
                alias=r["alias"],
                training_kwh=float(r["training_kwh"]),
                finetune_kwh=float(r["finetune_kwh"]),
                inference_kwh_per_query_paper=float(r["inference_kwh_per_query_paper"]),
                inference_kwh_per_query_recomputed=float(r["inference_kwh_per_query_recomputed"]),
                paper_breakeven_queries=float(r["paper_breakeven_queries"]),
                source=r["source"],
            )
            for r in csv.DictReader(f)
        )


def reference_model(name: str) -> BloomzReference | None:
    """A BLOOMz reference row by hub id or short alias (``bloomz-7b1``), case-insensitive."""
    key = name.strip().lower()
    for r in bloomz_reference():
        if key in (r.model.lower(), r.alias.lower(), r.model.lower().split("/")[-1]):
            return r
    return None


@dataclass(frozen=True)
class Breakeven(Record):
    """Queries until inference energy equals training (+ fine-tuning) energy, with the per-query interval's
    bounds turned into a range of queries."""

    training_kwh: float
    finetune_kwh: float
    kwh_per_query: float
    kwh_per_query_low: float | None
    kwh_per_query_high: float | None
    queries: float  # to equal training + fine-tuning
    queries_low: float | None  # at the high per-query energy (fewer queries needed)
    queries_high: float | None
    per_query_source: str
    training_source: str = "given"  # given | published reference | estimated (wattlens analyze training run)
    training_kwh_low: float | None = optional()  # the training figure's interval, when it has one (an estimate)
    training_kwh_high: float | None = optional()

    @property
    def total_training_kwh(self) -> float:
        return self.training_kwh + self.finetune_kwh

    def days_at(self, queries_per_day: float) -> float | None:
        return None if queries_per_day <= 0 else self.queries / queries_per_day

    def to_dict(self) -> JsonDict:
        return {**super().to_dict(), "total_training_kwh": self.total_training_kwh}


@dataclass(frozen=True)
class PaperFigure(Record):
    """What the paper itself states for a reference model (to check the computation against)."""

    model: str
    breakeven_queries: float
    kwh_per_query: float
    source: str

    @classmethod
    def of(cls, ref: BloomzReference) -> PaperFigure:
        return cls(ref.model, ref.paper_breakeven_queries, ref.inference_kwh_per_query_paper, ref.source)


@dataclass(frozen=True)
class BreakevenReport(Record):
    """The ``wattlens breakeven --json`` contract: the break-even, how its inputs were chosen, the days to parity
    and a year's projection at a request rate, and the paper's own figure for a reference model."""

    breakeven: Breakeven
    notes: tuple[str, ...] = ()
    days_to_breakeven: float | None = optional()
    yearly: Mapping[str, object] | None = optional()  # wattlens.carbon.project_yearly's figures
    paper: PaperFigure | None = optional()
    training_run: TrainingBreakeven | None = optional()  # --training-run: the measured training and its range


def breakeven(
    training_kwh: float,
    kwh_per_query: float,
    finetune_kwh: float = 0.0,
    *,
    kwh_per_query_low: float | None = None,
    kwh_per_query_high: float | None = None,
    per_query_source: str = "given",
    training_source: str = "given",
    training_kwh_low: float | None = None,
    training_kwh_high: float | None = None,
) -> Breakeven:
    """Queries whose inference energy equals ``training_kwh + finetune_kwh``.

    >>> round(breakeven(51686, 1.0e-4, 7571).queries / 1e6, 1)
    592.6
    """
    if training_kwh < 0 or finetune_kwh < 0:
        raise BreakevenError("training and fine-tuning energy must be >= 0 kWh")
    if kwh_per_query is None or kwh_per_query <= 0:
        raise BreakevenError(
            f"energy per query must be > 0 (got {kwh_per_query!r}); a net figure at or below "
            "zero means the workload is not distinguishable from idle on this meter"
        )
    total = training_kwh + finetune_kwh
    t_lo = (training_kwh_low if training_kwh_low is not None else training_kwh) + finetune_kwh
    t_hi = (training_kwh_high if training_kwh_high is not None else training_kwh) + finetune_kwh
    q_low = t_lo / (kwh_per_query_high or kwh_per_query) if (kwh_per_query_high or t_lo != total) else None
    q_high = t_hi / (kwh_per_query_low or kwh_per_query) if (kwh_per_query_low or t_hi != total) else None
    return Breakeven(
        training_kwh,
        finetune_kwh,
        kwh_per_query,
        kwh_per_query_low,
        kwh_per_query_high,
        total / kwh_per_query,
        q_low,
        q_high,
        per_query_source,
        training_source,
        training_kwh_low,
        training_kwh_high,
    )


def from_joules(
    training_kwh: float,
    j_per_query: float,
    finetune_kwh: float = 0.0,
    *,
    j_low: float | None = None,
    j_high: float | None = None,
    source: str = "given",
) -> Breakeven:
    return breakeven(
        training_kwh,
        j_to_kwh(j_per_query),
        finetune_kwh,
        kwh_per_query_low=None if j_low is None else j_to_kwh(j_low),
        kwh_per_query_high=None if j_high is None else j_to_kwh(j_high),
        per_query_source=source,
    )
