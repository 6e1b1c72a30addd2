"""The typed results of ``wattlens analyze``: the analysis report (its ``to_dict()`` is the ``--json``
contract), the levers (what-ifs) and their price, the boundary energies, whole training runs and co-design sweeps.

Import-light (no torch): a report, an exporter or a web page can read an analysis back with
``AnalysisReport.from_dict`` without importing the analysis machinery. The computation itself is
:class:`wattlens.analyze.analysis.Analysis`; ``Analysis.report()`` builds the :class:`AnalysisReport`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wattlens.records import Record, optional

CornerMap = Mapping[str, float]


@dataclass(frozen=True)
class Range(Record):
    """A figure as its three corners (low <= mid <= high)."""

    low: float
    mid: float
    high: float

    @classmethod
    def of(cls, d: Mapping[str, float]) -> Range:
        return cls(float(d["low"]), float(d["mid"]), float(d["high"]))

    def scaled(self, k: float) -> Range:
        return Range(self.low * k, self.mid * k, self.high * k)

    def plus(self, other: Range) -> Range:
        return Range(self.low + other.low, self.mid + other.mid, self.high + other.high)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass(frozen=True)
class ByteRange(Record):
    """DRAM bytes as [fused lower bound, eager upper bound]."""

    low: float
    high: float


@dataclass(frozen=True)
class Bytes(Record):
    """DRAM traffic of the analysis, with its split by data category (weights, activations, KV cache, optimizer)."""

    low: float
    high: float
    by_category: Mapping[str, ByteRange]


@dataclass(frozen=True)
class HardwareInfo(Record):
    """The hardware profile the analysis ran on: where its figures come from, and every figure with its source."""

    derived_from: str
    calibrated: bool
    figures: Mapping[str, object]  # wattlens.analyze.profiles.Profile.to_dict()


@dataclass(frozen=True)
class FlopsDetail(Record):
    """FLOPs split: matrix (dense count and causal-skipped useful count) and vector (elementwise FLOP-equivalents)."""

    matrix_dense: float
    matrix_useful: float
    vector: float
    useful_total: float


@dataclass(frozen=True)
class MemoryFit(Record):
    """Resident memory (weights + KV cache at its largest + optimizer state and gradients) against the device."""

    weights_bytes: float
    resident_bytes: float
    tensor_parallel: int
    resident_bytes_per_device: float
    device_memory_bytes: float | None
    fits: bool | None
    note: str
    kv_cache_bytes: float | None = optional()
    optimizer_bytes: float | None = optional()
    gradients_bytes: float | None = optional()


@dataclass(frozen=True)
class CostRow(Record):
    """The figures of one group of ops (a role, a layer or a phase): counts, bytes, bound, time and energy."""

    flops: float
    flops_useful: float
    bytes: ByteRange
    bytes_by_category: Mapping[str, ByteRange]
    intensity: float  # FLOP per DRAM byte, mid bytes
    intensity_range: Range
    bound: str  # compute | memory | overhead: what limits the device's own work (roofline)
    paced_by: str  # host | device: whether issuing the ops (host) or running them (device) takes longer
    time_s: Range  # wall time attributed to the group (its share of every pass)
    energy_j: Range
    energy_parts_j_mid: CornerMap
    ops: float  # ops executed (over decode steps and folded layers)
    link_bytes: float
    host_s_mid: float  # host time issuing the group's ops (mid)
    device_s_mid: float  # device busy time of the group's ops (mid)


@dataclass(frozen=True)
class RoleRow(CostRow):
    """One computational role, placed on the energy roofline (Choi et al.)."""

    role: str = ""
    flop_per_j: float | None = None
    roofline_flop_per_j: float | None = optional()
    roofline_fraction: float | None = optional()


@dataclass(frozen=True)
class LayerRow(CostRow):
    """One layer (module path up to its first numeric index)."""

    layer: str = ""


@dataclass(frozen=True)
class PhaseRow(CostRow):
    """One phase (forward, prefill, decode, train), with its tokens and energy per token."""

    phase: str = ""
    tokens: int = 0
    energy_j_per_token: Range | None = None


@dataclass(frozen=True)
class UnsupportedOp(Record):
    """An op without a FLOP formula: its FLOPs are unknown (null, never 0); its bytes are counted."""

    op: str
    calls: float
    bytes_high: float
    modules: tuple[str, ...]
    note: str
    flops: float | None = None


@dataclass(frozen=True)
class Roofline(Record):
    """The ridge points of the profile in the analysis' dtype."""

    time_balance_flop_per_byte: float
    energy_balance_flop_per_byte: float
    dtype: str


@dataclass(frozen=True)
class CaptureInfo(Record):
    """How the op graph was obtained: traced now or read from the trace cache, and what tracing cost."""

    ops_dispatched: int  # aten ops dispatched while tracing (0 when read from the cache)
    records: int  # op records the analysis holds (folded layers count once)
    capture_s: float  # tracing time in this process (0 when cached)
    model_s: float  # time of the energy model
    traced_decode_contexts: tuple[int, ...]
    decode_exact: bool
    peak_rss_mb: float
    cached: bool = False  # the trace came from the user cache dir
    trace_key: str | None = optional()  # the cache entry (traces/<key>.json)
    passes: int = 0  # forward passes traced to build the graph (shallow stacks for folding included)
    ops_represented: float = 0.0  # ops the records stand for (over decode steps and folded layers)


@dataclass(frozen=True)
class HostTime(Record):
    """Where the wall time goes: device busy, host issuing ops, the framework's own work; the device idles the rest."""

    runtime: str  # eager | cuda-graph | compiled
    host: str  # this-machine | same-cpu | unknown (the host CPU the figures are scaled to)
    wall_s: Range
    device_busy_s: Range  # the device executing kernels
    host_issue_s: Range  # the host issuing the model's ops (Python, dispatcher, launches)
    framework_s: Range  # tokenisation, pre/post-processing, the generation loop (device idle)
    device_idle_fraction: float  # mid: share of the wall time the device waits for the host
    bound: str  # host | device: which side sets the pace (mid)
    figures: Mapping[str, object]  # the host model's figures with sources (wattlens.analyze.host)
    transfers: str  # what of the host model carries over to another host, and what does not


@dataclass(frozen=True)
class BoundaryPart(Record):
    """One component of a boundary's energy: what it is, its energy range and where its power figure comes from."""

    part: str  # accelerators in use | idle accelerators | host CPUs | DRAM | other | facility overhead
    energy_j: Range
    power_w: Range | None
    source: str


@dataclass(frozen=True)
class BoundaryEnergy(Record):
    """Energy at the declared boundary: the device(s), the whole node (idle neighbours included), or the facility."""

    boundary: str  # device | node | facility
    energy_j: Range
    parts: tuple[BoundaryPart, ...]
    node: str | None = optional()  # the node profile (data/node_profiles.csv)
    pue: Range | None = optional()
    net_energy_j: Range | None = optional()  # above the boundary's idle draw over the same time (bench's 'net')
    idle_w: Range | None = optional()  # the boundary's idle power (bench's idle baseline)
    notes: tuple[str, ...] = ()


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
    from_graph: bool = True  # computed from the captured op graph (no re-trace)


@dataclass(frozen=True)
class AnalysisReport(Record):
    """``wattlens analyze --json``: counts, bytes, time and energy as ranges, by role / layer / phase, the host
    and the boundary, the levers, and every assumption."""

    model: str
    description: str
    params: int
    dtype: str
    hardware: str
    hardware_profile: HardwareInfo
    phase: str
    batch: int
    seq: int | None
    prompt: int | None
    new_tokens: int | None
    flops: float
    flops_detail: FlopsDetail
    bytes: Bytes
    link_bytes: float
    tensor_parallel: int
    time_s: Range
    energy_j: Range  # device boundary (the accelerator(s) the job uses, their static power included)
    energy_parts_j_mid: CornerMap
    tokens: int
    memory: MemoryFit
    by_phase: tuple[PhaseRow, ...]
    by_role: tuple[RoleRow, ...]
    unsupported_ops: tuple[UnsupportedOp, ...]
    levers: tuple[Lever, ...]
    roofline: Roofline
    assumptions: tuple[str, ...]
    capture: CaptureInfo
    runtime: str = "eager"
    host: HostTime | None = optional()
    boundary: BoundaryEnergy | None = optional()  # --boundary node|facility (device: energy_j itself)
    tf32: Mapping[str, bool] | None = optional()  # fp32 on TF32 tensor cores: conv / matmul
    energy_j_per_output_token: Range | None = optional()
    by_layer: tuple[LayerRow, ...] | None = optional()


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


__all__ = [
    "AnalysisReport",
    "AnalysisSummary",
    "BoundaryEnergy",
    "BoundaryPart",
    "ByteRange",
    "Bytes",
    "CaptureInfo",
    "CostRow",
    "FlopsDetail",
    "HardwareInfo",
    "HostTime",
    "LayerRow",
    "Lever",
    "LeverPrice",
    "MemoryFit",
    "PhaseRow",
    "Range",
    "RoleCost",
    "RoleRow",
    "Roofline",
    "Span",
    "UnsupportedOp",
]
