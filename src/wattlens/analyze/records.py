"""The typed results of ``wattlens analyze`` that other layers read: the levers (what-ifs) and their price, and
the summary ``wattlens analyze --db`` stores (:class:`AnalysisSummary`).

Import-light (no torch): a report, an exporter or a web page can read an analysis' ``levers`` back with
``Lever.from_dict`` without importing the analysis machinery. The analysis itself is
:class:`wattlens.analyze.analysis.Analysis` (its ``to_dict()`` is the ``--json`` contract, ``levers`` inside it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Span(Record):
    """A modelled figure as its low, mid and high corners (the analysis' ranges)."""

    low: float = 0.0
    mid: float = 0.0
    high: float = 0.0

    @classmethod
    def of(cls, corners: object) -> Span | None:
        if not isinstance(corners, Mapping):
            return None
        low, high = _number(corners.get("low")), _number(corners.get("high"))
        mid = _number(corners.get("mid"))
        if low is None or high is None:
            return None
        return cls(low=low, mid=(low + high) / 2 if mid is None else mid, high=high)


@dataclass(frozen=True)
class RoleCost(Record):
    """One computational role of an analysis: its work, its traffic, what bounds it, its time and energy."""

    role: str  # dense_gemm, attention, kv_cache_read, convolution, embedding, norm_elementwise, transfer, collective
    ops: int = 0
    flops: float = 0.0
    bytes_low: float = 0.0  # DRAM bytes, fused lower bound
    bytes_high: float = 0.0  # DRAM bytes, eager upper bound
    bound: str = ""  # compute | memory
    time_s: Span | None = None
    energy_j: Span | None = None
    energy_parts_j_mid: Mapping[str, float] = field(default_factory=dict)  # dram | on_chip | compute | static | link


@dataclass(frozen=True)
class AnalysisSummary(Record):
    """What ``wattlens analyze --db`` keeps of an analysis (the run's ``analysis`` cell): the workload, the energy
    and time ranges, energy by memory level and by role, the levers and the assumptions behind them."""

    model: str
    description: str = ""
    params: int | None = None
    dtype: str = ""
    hardware: str = ""
    hardware_calibrated: bool = False
    phase: str = ""
    batch: int = 1
    seq: int | None = None
    prompt: int | None = None
    new_tokens: int | None = None
    tensor_parallel: int = 1
    flops: float = 0.0
    bytes_low: float = 0.0
    bytes_high: float = 0.0
    time_s: Span | None = None
    energy_j: Span | None = None
    energy_j_per_output_token: Span | None = optional()
    energy_by_level_j_mid: Mapping[str, float] = field(default_factory=dict)  # dram | on_chip | compute | static | link
    bytes_by_category: Mapping[str, Span] = field(default_factory=dict)  # weights | activations | kv_cache | optimizer
    roles: tuple[RoleCost, ...] = ()
    levers: tuple[Lever, ...] = ()
    unsupported_ops: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()

    @classmethod
    def of(cls, analysis: Mapping[str, object]) -> AnalysisSummary:
        """From ``Analysis.to_dict()`` (the ``wattlens analyze --json`` contract)."""
        d = analysis
        nbytes = _mapping(d.get("bytes"))
        cats = nbytes.get("by_category")
        categories = {
            str(k): span for k, v in (cats.items() if isinstance(cats, Mapping) else ()) if (span := Span.of(v))
        }
        roles = d.get("by_role")
        levers = d.get("levers")
        unsupported = d.get("unsupported_ops")
        return cls(
            model=str(d.get("model") or ""),
            description=str(d.get("description") or ""),
            params=_int(d.get("params")),
            dtype=str(d.get("dtype") or ""),
            hardware=str(d.get("hardware") or ""),
            hardware_calibrated=bool(_mapping(d.get("hardware_profile")).get("calibrated")),
            phase=str(d.get("phase") or ""),
            batch=_int(d.get("batch")) or 1,
            seq=_int(d.get("seq")),
            prompt=_int(d.get("prompt")),
            new_tokens=_int(d.get("new_tokens")),
            tensor_parallel=_int(d.get("tensor_parallel")) or 1,
            flops=_number(d.get("flops")) or 0.0,
            bytes_low=_number(nbytes.get("low")) or 0.0,
            bytes_high=_number(nbytes.get("high")) or 0.0,
            time_s=Span.of(d.get("time_s")),
            energy_j=Span.of(d.get("energy_j")),
            energy_j_per_output_token=Span.of(d.get("energy_j_per_output_token")),
            energy_by_level_j_mid=_numbers(d.get("energy_parts_j_mid")),
            bytes_by_category=categories,
            roles=tuple(_role(r) for r in roles if isinstance(r, Mapping)) if isinstance(roles, list) else (),
            levers=tuple(Lever.from_dict(lv) for lv in levers if isinstance(lv, Mapping))
            if isinstance(levers, list)
            else (),
            unsupported_ops=tuple(str(_mapping(u).get("op", u)) for u in unsupported)
            if isinstance(unsupported, list)
            else (),
            assumptions=tuple(str(a) for a in _list(d.get("assumptions")) if a),
        )


def _role(d: Mapping[str, object]) -> RoleCost:
    nbytes = _mapping(d.get("bytes"))
    return RoleCost(
        role=str(d.get("role") or ""),
        ops=_int(d.get("ops")) or 0,
        flops=_number(d.get("flops")) or 0.0,
        bytes_low=_number(nbytes.get("low")) or 0.0,
        bytes_high=_number(nbytes.get("high")) or 0.0,
        bound=str(d.get("bound") or ""),
        time_s=Span.of(d.get("time_s")),
        energy_j=Span.of(d.get("energy_j")),
        energy_parts_j_mid=_numbers(d.get("energy_parts_j_mid")),
    )


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _numbers(value: object) -> dict[str, float]:
    return {str(k): n for k, v in _mapping(value).items() if (n := _number(v)) is not None}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
