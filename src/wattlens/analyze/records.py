"""The typed results of ``wattlens analyze`` that other layers read: the levers (what-ifs) and their price.

Import-light (no torch): a report, an exporter or a web page can read an analysis' ``levers`` back with
``Lever.from_dict`` without importing the analysis machinery. The analysis itself is
:class:`wattlens.analyze.analysis.Analysis` (its ``to_dict()`` is the ``--json`` contract, ``levers`` inside it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wattlens.records import Record, optional


@dataclass(frozen=True)
class LeverPrice(Record):
    """What a lever costs elsewhere, in words: quality risk, latency (modelled change first), memory."""

    quality: str = ""
    latency: str = ""
    memory: str = ""


@dataclass(frozen=True)
class Lever(Record):
    """One what-if, computed by re-analysis: the energy after it (mid and its low/mid/high corners), the share it
    saves, the modelled time after it, its price, how it was computed and the published figure behind it."""

    lever: str
    role: str  # the computational role it moves (dense_gemm, attention, kv_cache_read, ...)
    energy_j_after: float  # modelled energy after the lever, mid corner
    energy_j_after_range: Mapping[str, float]  # low | mid | high corners
    saving_fraction: float  # (energy before - after) / before
    time_s_after: float  # modelled time after the lever, mid corner
    price: LeverPrice
    method: str  # how it was re-analysed (re-traced model, rewritten op graph, modified profile)
    published: str | None = optional()  # the published figure it is compared with (analysis anchors)
    clock_fraction: float | None = optional()  # power cap / DVFS: the clock fraction chosen
