"""Training vs inference: queries until inference energy equals training (+ fine-tuning) energy.

PHP's example (benchmark-anchors.md §1.5): BLOOMz-7B, training 51,686 kWh + fine-tuning 7,571 kWh, at
1.0e-4 kWh per query -> (51,686 + 7,571) / 1.0e-4 = 592.6 million queries. The BLOOMz figures ship in
``bench/data/bloomz_reference.csv`` with their source, so the paper's numbers can be reproduced and a
user's own per-query figure (from a bench run, or ``--j-per-query``) put next to them.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from wattlens.bench.ratings import DATA_DIR
from wattlens.errors import WattlensError

J_PER_KWH = 3.6e6


class BreakevenError(WattlensError, ValueError):
    """Missing or inconsistent inputs for a break-even; the message says what to pass."""


@lru_cache(maxsize=1)
def bloomz_reference() -> tuple[dict[str, Any], ...]:
    rows = []
    with (DATA_DIR / "bloomz_reference.csv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            for k in (
                "training_kwh",
                "finetune_kwh",
                "inference_kwh_per_query_paper",
                "inference_kwh_per_query_recomputed",
                "paper_breakeven_queries",
            ):
                r[k] = float(r[k])
            rows.append(r)
    return tuple(rows)


def reference_model(name: str) -> dict[str, Any] | None:
    """A BLOOMz reference row by hub id or short alias (``bloomz-7b1``), case-insensitive."""
    key = name.strip().lower()
    for r in bloomz_reference():
        if key in (r["model"].lower(), r["alias"].lower(), r["model"].lower().split("/")[-1]):
            return r
    return None


@dataclass(frozen=True)
class Breakeven:
    training_kwh: float
    finetune_kwh: float
    kwh_per_query: float
    kwh_per_query_low: float | None
    kwh_per_query_high: float | None
    queries: float  # to equal training + fine-tuning
    queries_low: float | None  # at the high per-query energy (fewer queries needed)
    queries_high: float | None
    per_query_source: str

    @property
    def total_training_kwh(self) -> float:
        return self.training_kwh + self.finetune_kwh

    def days_at(self, queries_per_day: float) -> float | None:
        return None if queries_per_day <= 0 else self.queries / queries_per_day

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_training_kwh": self.total_training_kwh}


def breakeven(
    training_kwh: float,
    kwh_per_query: float,
    finetune_kwh: float = 0.0,
    *,
    kwh_per_query_low: float | None = None,
    kwh_per_query_high: float | None = None,
    per_query_source: str = "given",
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
    q_low = total / kwh_per_query_high if kwh_per_query_high and kwh_per_query_high > 0 else None
    q_high = total / kwh_per_query_low if kwh_per_query_low and kwh_per_query_low > 0 else None
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
    conv = lambda j: None if j is None else j / J_PER_KWH
    return breakeven(
        training_kwh,
        conv(j_per_query),
        finetune_kwh,
        kwh_per_query_low=conv(j_low),  # type: ignore[arg-type]
        kwh_per_query_high=conv(j_high),
        per_query_source=source,
    )
