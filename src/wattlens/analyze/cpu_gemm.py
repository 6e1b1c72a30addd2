"""Batch-1 GEMMs on one CPU core: what they achieve against the large-GEMM rate and the stream bandwidth.

A CPU profile's ``gemm_frac`` and ``mem_bw_gbs`` describe large GEMMs and a streaming copy. At batch 1 the
GEMMs of a transformer are skinny (M = the tokens of one query) and decode steps are GEMVs over weights that
do not stay in the last-level cache. Both run below those rates on this machine
(``data/cpu_gemm_efficiency.csv``, measured with ``benchmarks/cpu_gemm_efficiency.py``):

* **compute**: the achieved fraction of the large-GEMM rate falls with the GEMM's arithmetic intensity (FLOP per
  byte moved; for a skinny GEMM ~ M / 2), from ~0.3 at M = 4 to ~1 at M = 256: an efficiency range per measured
  intensity, interpolated log-linearly and clamped at the ends;
* **memory**: a GEMV streams its weights at 0.47-0.67 of the stream-read bandwidth.

Both apply to matrix ops on ``kind == "cpu"`` profiles, as part of the size derating (``Options.derating``).
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from wattlens.analyze.profiles import Figure

CSV_NAME = "cpu_gemm_efficiency.csv"


@dataclass(frozen=True)
class CpuGemmEfficiency:
    compute: tuple[tuple[float, Figure], ...]  # (intensity FLOP/B, efficiency range), ascending intensity
    memory: Figure
    source: str  # how and where the rows were measured (the first row's source column)

    def compute_at(self, intensity: float, corner: str) -> float:
        """Efficiency against the large-GEMM rate at ``intensity``, at a time corner (low time: high end)."""
        end = _flip(corner)
        pts = self.compute
        x = math.log(max(intensity, 1e-9))
        if x <= math.log(pts[0][0]):
            return pts[0][1].at(end)
        for (i0, f0), (i1, f1) in itertools.pairwise(pts):
            if x <= math.log(i1):
                w = (x - math.log(i0)) / (math.log(i1) - math.log(i0))
                return f0.at(end) + w * (f1.at(end) - f0.at(end))
        return pts[-1][1].at(end)

    def memory_at(self, corner: str) -> float:
        return self.memory.at(_flip(corner))

    def describe(self) -> str:
        lo = min(f.low for _, f in self.compute)
        hi = max(f.high for _, f in self.compute)
        return (
            f"CPU matrix ops: batch-1 (skinny) GEMMs at {lo:g}-{hi:g} of the large-GEMM rate by arithmetic "
            f"intensity, GEMVs streaming weights at {self.memory.low:g}-{self.memory.high:g} of the stream "
            f"bandwidth ({CSV_NAME}, {self.source})"
        )


def _flip(corner: str) -> str:
    return {"low": "high", "mid": "mid", "high": "low"}[corner]


@lru_cache(maxsize=1)
def cpu_gemm_efficiency() -> CpuGemmEfficiency:
    text = resources.files("wattlens.analyze").joinpath("data", CSV_NAME).read_text(encoding="utf-8")
    compute: list[tuple[float, Figure]] = []
    memory: Figure | None = None
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        src = f"{CSV_NAME} ({r['measured']}): {r['source']}"
        fig = Figure(float(r["eff_low"]), float(r["eff_high"]), "fraction", src)
        if r["kind"] == "compute":
            compute.append((float(r["intensity_flop_per_byte"]), fig))
        elif r["kind"] == "memory":
            memory = fig
    if not compute or memory is None:
        raise ValueError(f"{CSV_NAME}: needs compute rows and one memory row")
    return CpuGemmEfficiency(tuple(sorted(compute, key=lambda p: p[0])), memory, rows[0]["source"])


__all__ = ["CSV_NAME", "CpuGemmEfficiency", "cpu_gemm_efficiency"]
