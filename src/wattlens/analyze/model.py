"""Time and energy model: a per-op device roofline, the host that feeds it, and the energy roofline of Choi et al.
(IPDPS 2013).

Device, per op and decode step::

    d_op = max(F / R_attainable, B / W_attainable, kernels x kernel_floor)   (+ link time of collectives)

Host, per op (:mod:`wattlens.analyze.host`): ``h_op`` = the runtime's host time per executed op (eager: Python,
modelling code, dispatcher and the CUDA launch path; compiled: per fused kernel; CUDA graph: none). The host
issues op k when it has done the work of ops 1..k; the device runs them in order; a pass (forward pass, decode
step) ends when the device finishes its last op, so (per pass, exactly, a max-plus recurrence)::

    T_pass = pass_overhead + max_k ( H_1..k + D_k..n )

-- the device idles whenever the host is behind (batch-1 eager), the host waits when the device is (large
batches). On a CPU, host and device are the same core: ``T_pass = sum(h + d)``. Per query the framework's own
work (tokenisation, image pre-processing, argument handling, the generation loop's ops) adds host time during
which the device waits (the ``host_framework`` role).

Energy (device boundary)::

    E = sum(B * (eps_dram + eps_on_chip)) + sum(F * eps_flop(dtype)) + E_link + P_static * T_wall

``T_wall`` includes the host-bound gaps: a device held idle draws its static power. Each op is charged the
static energy of its share of the wall time (its occupancy ``max(h, d)``).

Attainable rates = peak x gemm_frac (matrix) or bw_frac (memory), times a size-dependent derating for small
ops (calculon-ai/calculon defaults quoted in docs/HARDWARE.md). FP32 matrix work on NVIDIA GPUs: convolutions
run on TF32 tensor cores by default (``torch.backends.cudnn.allow_tf32 = True``), matmuls in full FP32
(``torch.backends.cuda.matmul.allow_tf32 = False`` since PyTorch 1.12) -- both stated and switchable.

Every result is a range, evaluated at three corners:
- low:  fused-bytes lower bound, causal-skipped attention FLOPs, fast end of every rate and host figure,
        low end of every energy figure;
- high: eager-bytes upper bound, dense FLOPs, slow end of rates and host figures, high end of energies;
- mid:  bytes midway between the bounds (or as ``backend`` says), dense FLOPs, middle of each figure, static
        power at the high end of idle (a job holds the device, HARDWARE.md).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wattlens.analyze import roles as R
from wattlens.analyze.cpu_gemm import cpu_gemm_efficiency
from wattlens.analyze.graph import CATEGORIES, FIELDS, HI, IDX, LO, Record
from wattlens.analyze.host import HostModel
from wattlens.analyze.profiles import Figure, Profile

CORNERS = ("low", "mid", "high")

# (time-at-peak threshold in seconds, efficiency): calculon a100_80g.json thresholds of 128/16/1 GFLOP at
# 312 TFLOP/s and 100/10/1 MB at 2.039 TB/s, expressed as time at peak.
_MATRIX_STEPS = ((128e9 / 312e12, 0.95), (16e9 / 312e12, 0.9), (1e9 / 312e12, 0.6), (0.0, 0.1))
_VECTOR_STEPS = ((128e9 / 312e12, 0.95), (16e9 / 312e12, 0.5), (0.0, 0.1))
_MEMORY_STEPS = ((100e6 / 2.039e12, 0.90), (10e6 / 2.039e12, 0.75), (1e6 / 2.039e12, 0.6), (0.0, 0.3))


def derate_curve(t_at_peak_s: float, points: list[list[float]]) -> float:
    """Efficiency (relative to the largest op) from a calibrated sweep: log-linear interpolation between
    measured (time-at-peak, efficiency) points, clamped at both ends."""
    pts = sorted((max(t, 1e-12), e) for t, e in points)
    if t_at_peak_s <= pts[0][0]:
        return pts[0][1]
    for (t0, e0), (t1, e1) in itertools.pairwise(pts):
        if t_at_peak_s <= t1:
            w = (math.log(t_at_peak_s) - math.log(t0)) / (math.log(t1) - math.log(t0))
            return e0 + w * (e1 - e0)
    return pts[-1][1]


def derate(t_at_peak_s: float, steps: tuple[tuple[float, float], ...]) -> float:
    for threshold, eff in steps:
        if t_at_peak_s >= threshold:
            return eff / steps[0][1]
    return steps[-1][1] / steps[0][1]


@dataclass
class Options:
    backend: str = "mid"  # bytes at the mid corner: "eager" (upper bound), "fused" (lower bound) or "mid"
    power_scale: float = 1.0  # DVFS / power cap what-if: clock fraction f (see levers)
    sparse_gemm: bool = False
    derating: bool = True
    devices: int = 1  # records describe one device of a tensor-parallel group of this size: energy x devices
    host: HostModel | None = None  # None: device roofline only (no host, no framework time)
    tf32_conv: bool = True  # cuDNN convolutions on TF32 tensor cores for fp32 (PyTorch default)
    tf32_matmul: bool = False  # fp32 matmuls on TF32 (torch.backends.cuda.matmul.allow_tf32; default False)
    queries: int = 1  # query calls the per-query framework work applies to (0: none, e.g. a training step)
    items: int = 1  # input items per query call (the batch)
    sync_per_pass: bool = True  # each forward pass / decode step ends with a host sync (greedy decoding)


@dataclass
class OpCost:
    time_s: dict[str, float]  # wall time attributed to the op (its share of its pass), per corner
    energy_j: dict[str, float]  # dynamic energy + static power x attributed time, per corner
    compute_s: float  # mid corner, summed over steps and copies (device compute time at full rate)
    memory_s: float
    parts_j: dict[str, float]  # mid corner: dram, on_chip, compute, static, link
    device_s: dict[str, float] = field(default_factory=dict)  # device busy time, per corner
    host_s: dict[str, float] = field(default_factory=dict)  # host time spent issuing it, per corner


@dataclass
class Estimate:
    profile: Profile
    records: list[Record]
    costs: list[OpCost]
    options: Options
    assumptions: list[str] = field(default_factory=list)

    def total(self, what: str, corner: str) -> float:
        return math.fsum(getattr(c, what)[corner] for c in self.costs)

    def by(self, key: str) -> dict[str, dict[str, Any]]:
        """Aggregate by ``role``, ``module``, ``layer``, ``phase`` or ``name``."""
        from wattlens.analyze.fold import layer_copies

        agg: dict[str, dict[str, Any]] = defaultdict(lambda: _empty())
        for r, c in zip(self.records, self.costs, strict=True):
            if key == "layer":
                for module, share in layer_copies(r):
                    _add(agg[layer_of(module)], r, c, self.options.devices, share)
            else:
                _add(agg[getattr(r, key)], r, c, self.options.devices)
        for a in agg.values():
            _finish(a, self.profile)
        return dict(agg)


def layer_of(module: str) -> str:
    """Coarse layer key: the module path up to and including the first numeric index (``model.layers.3``)."""
    parts = module.split(".")
    for i, p in enumerate(parts):
        if p.isdigit():
            return ".".join(parts[: i + 1])
    return ".".join(parts[:2]) if parts else module


def _empty() -> dict[str, Any]:
    return {
        "flops": 0.0,
        "flops_useful": 0.0,
        "flops_vector": 0.0,
        "bytes_low": 0.0,
        "bytes_high": 0.0,
        "link_bytes": 0.0,
        "bytes_by_category": {c: {"low": 0.0, "high": 0.0} for c in CATEGORIES},
        "ops": 0,
        "time_s": dict.fromkeys(CORNERS, 0.0),
        "energy_j": dict.fromkeys(CORNERS, 0.0),
        "compute_s": 0.0,
        "memory_s": 0.0,
        "host_s": 0.0,
        "device_s": 0.0,
        "energy_parts_j": {"dram": 0.0, "on_chip": 0.0, "compute": 0.0, "static": 0.0, "link": 0.0},
    }


def _add(a: dict[str, Any], r: Record, c: OpCost, devices: int = 1, share: float = 1.0) -> None:
    """Counts are summed over the devices of a tensor-parallel group (records describe one device)."""
    k = devices * share
    a["flops"] += (r.total("flops") + r.total("flops_vector")) * k
    a["flops_useful"] += (r.total("flops_useful") + r.total("flops_vector")) * k
    a["flops_vector"] += r.total("flops_vector") * k
    a["link_bytes"] += r.total("link_bytes") * k
    for cat, i_lo, i_hi in zip(CATEGORIES, LO, HI, strict=True):
        lo, hi = r.total(_F[i_lo]) * k, r.total(_F[i_hi]) * k
        a["bytes_low"] += lo
        a["bytes_high"] += hi
        a["bytes_by_category"][cat]["low"] += lo
        a["bytes_by_category"][cat]["high"] += hi
    a["ops"] += r.n * r.mult * share
    for corner in CORNERS:
        a["time_s"][corner] += c.time_s[corner] * share
        a["energy_j"][corner] += c.energy_j[corner] * share
    a["compute_s"] += c.compute_s * share
    a["memory_s"] += c.memory_s * share
    a["host_s"] += c.host_s.get("mid", 0.0) * share
    a["device_s"] += c.device_s.get("mid", 0.0) * share
    for key, v in c.parts_j.items():
        a["energy_parts_j"][key] += v * share


def _finish(a: dict[str, Any], p: Profile) -> None:
    b_mid = max((a["bytes_low"] + a["bytes_high"]) / 2, 1.0)  # the default (backend "mid") byte estimate
    a["intensity_flop_per_byte"] = {
        "low": a["flops"] / max(a["bytes_high"], 1.0),
        "high": a["flops"] / max(a["bytes_low"], 1.0),
        "mid": a["flops"] / b_mid,
    }
    a["bound"] = "compute" if a["compute_s"] > a["memory_s"] else "memory"
    if a["compute_s"] == 0 and a["memory_s"] == 0:
        a["bound"] = "overhead"
    a["paced_by"] = "host" if a["host_s"] > a["device_s"] else "device"


_F = list(FIELDS)  # index -> field name


def matrix_dtype(p: Profile, r: Record, opt: Options) -> str:
    """The arithmetic a matrix op runs in: fp32 convolutions (and, when enabled, matmuls) on TF32 tensor cores
    where the device has them and PyTorch uses them by default."""
    dt = r.dtype or p.main_dtype
    if dt == "fp32" and "tf32" in p.peak_tflops and p.vendor == "nvidia":
        if (r.role == R.CONV and opt.tf32_conv) or (r.role != R.CONV and opt.tf32_matmul):
            return "tf32"
    return dt


def _rates(p: Profile, dtype: str, kind: str, corner: str, opt: Options) -> tuple[float, float, float]:
    """(peak FLOP/s for this op class, fraction achieved on large ops, peak B/s)."""
    gemm = p.gemm_frac.at(_flip(corner))
    bw_frac = p.bw_frac.at(_flip(corner))
    if kind == "matrix":
        peak, _ = p.peak_flops(dtype or p.main_dtype)
        if opt.sparse_gemm:
            peak *= 2  # 2:4 structured sparsity doubles math throughput (NVIDIA A100 whitepaper)
    else:
        peak, _ = p.peak_flops("fp32")  # elementwise work runs on the vector units (CUDA cores / SIMD)
    peak *= opt.power_scale
    bw = (p.mem_bw_gbs.low if p.mem_bw_gbs else 1.0) * 1e9
    return peak, gemm, bw * bw_frac


def _flip(corner: str) -> str:
    # the LOW time/energy estimate uses the FAST (high) end of achievable fractions
    return {"low": "high", "mid": "mid", "high": "low"}[corner]


def _eps(p: Profile, dtype: str, kind: str, corner: str, opt: Options) -> tuple[float, float]:
    """(J per matrix-or-vector FLOP, J per byte) at a corner."""
    try:
        fig, _ = p.eps_flop((dtype or p.main_dtype) if kind == "matrix" else "fp32")
    except ValueError:  # no published power figures (e.g. TPU v5e): the term is unmodelled, reported as such
        fig = Figure(0.0, 0.0, "pJ/FLOP", "unmodelled")
    # DVFS: dynamic energy per op ~ V^2; voltage falls with the clock only down to a floor:
    # V(f)/V(1) = 0.6 + 0.4 f (an assumption, U: typical GPU V/f curves span ~0.65-1.1 V)
    e_flop = fig.at(corner) * 1e-12 * (0.6 + 0.4 * opt.power_scale) ** 2
    e_byte = sum(f.at(corner) for f in p.pj_per_byte.values()) * 1e-12
    return e_flop, e_byte


def _sum_max_lines(lines: list[tuple[float, float]], c0: int, n: int) -> float:
    """sum over c = c0..c0+n-1 of max over (a + b c) of ``lines``, exactly (split at the crossings)."""
    lo, hi = c0, c0 + n - 1
    cuts = {lo, hi + 1}
    for (a1, b1), (a2, b2) in itertools.combinations(lines, 2):
        if b1 != b2:
            x = (a2 - a1) / (b1 - b2)
            for c in (math.floor(x), math.ceil(x)):
                if lo < c <= hi:
                    cuts.add(c)
    pts = sorted(cuts)
    total = 0.0
    for s, e in itertools.pairwise(pts):  # segment [s, e-1]
        mid = (s + e - 1) / 2.0
        a, b = max(lines, key=lambda ln: ln[0] + ln[1] * mid)
        k = e - s
        total += k * a + b * (s + e - 1) * k / 2.0
    return total


@dataclass
class _Dev:
    """One op's device model at a corner: per-step time lines (a + b c) and its totals."""

    lines: list[tuple[float, float]]  # compute, memory, kernel floor: the step time is their max
    link: tuple[float, float]  # link time per step (not overlapped)
    kernels: float  # kernels launched per step
    total_s: float  # summed over steps (one copy)
    compute_s: float
    memory_s: float
    e_dyn: float  # dynamic energy of all steps (one copy, one device)
    parts: dict[str, float]

    def __post_init__(self) -> None:
        # most ops do not depend on the decode context: their step time is one number
        self.flat = all(b == 0.0 for _, b in self.lines) and self.link[1] == 0.0
        self.t0 = max(a for a, _ in self.lines) + self.link[0]

    def step(self, c: float) -> float:
        if self.flat:
            return self.t0
        ls = self.lines
        t = ls[0][0] + ls[0][1] * c
        for a, b in ls[1:]:
            u = a + b * c
            if u > t:
                t = u
        return t + self.link[0] + self.link[1] * c


class _Consts:
    """The profile's and the options' figures at one corner, computed once per estimate (not once per op)."""

    def __init__(self, p: Profile, opt: Options, corner: str) -> None:
        self.p, self.opt, self.corner = p, opt, corner
        backend = "fused" if (opt.host is not None and opt.host.fused_kernels) else opt.backend
        self.w = _byte_weight(corner, backend)
        self.curve = p.calibrated.get("matrix_curve") if p.calibrated else None
        # batch-1 GEMMs on a CPU core: skinny-GEMM and GEMV efficiencies measured here (cpu_gemm.py)
        self.cpu_gemm = cpu_gemm_efficiency() if p.kind == "cpu" else None
        self.cpu_gemv = self.cpu_gemm.memory_at(corner) if self.cpu_gemm is not None else 1.0
        self.floor = opt.host.kernel_floor_us.at(corner) * 1e-6 if opt.host else 0.0
        self.host_op = opt.host.op_us.at(corner) * 1e-6 if opt.host else 0.0
        self.fused = bool(opt.host and opt.host.fused_kernels)
        self.legacy = p.launch_us.at(corner) * 1e-6 if (opt.host is None and p.launch_us) else 0.0
        self.e_byte = sum(f.at(corner) for f in p.pj_per_byte.values()) * 1e-12
        dram = p.pj_per_byte.get("dram")
        self.dram_share = (dram.at(corner) * 1e-12 / max(self.e_byte, 1e-30)) if dram else 0.0
        self.static = _static(p, corner)
        self.link: tuple[float, float] | None = None
        if p.link_gbs and p.link_eff and p.pj_per_link_byte:
            self.link = (p.link_gbs.low * 1e9 * p.link_eff.at(_flip(corner)), p.pj_per_link_byte.at(corner) * 1e-12)
        self._rates: dict[tuple[str, str], tuple[float, float, float]] = {}
        self._eps: dict[tuple[str, str], float] = {}

    def rates(self, dtype: str, kind: str) -> tuple[float, float, float]:
        key = (dtype, kind)
        got = self._rates.get(key)
        if got is None:
            got = self._rates[key] = _rates(self.p, dtype, kind, self.corner, self.opt)
        return got

    def eps_flop(self, dtype: str, kind: str) -> float:
        key = (dtype, kind)
        got = self._eps.get(key)
        if got is None:
            got = self._eps[key] = _eps(self.p, dtype, kind, self.corner, self.opt)[0]
        return got


def _device(r: Record, k: _Consts) -> _Dev:
    p, opt = k.p, k.opt
    v0, v1 = r.v0, r.v1
    c_mid = r.c0 + (r.n - 1) / 2.0
    ctx = r.ctx_sum()
    mat = r.kind == "matrix"
    dt = matrix_dtype(p, r, opt) if mat else r.dtype
    fi = _I_USEFUL if (k.corner == "low" or (opt.sparse_gemm and mat)) else _I_FLOPS
    fm0, fm1 = v0[fi], v1[fi]
    fv0, fv1 = v0[_I_VEC], v1[_I_VEC]
    lo0 = v0[LO[0]] + v0[LO[1]] + v0[LO[2]] + v0[LO[3]]
    hi0 = v0[HI[0]] + v0[HI[1]] + v0[HI[2]] + v0[HI[3]]
    lo1 = v1[LO[0]] + v1[LO[1]] + v1[LO[2]] + v1[LO[3]]
    hi1 = v1[HI[0]] + v1[HI[1]] + v1[HI[2]] + v1[HI[3]]
    w = k.w
    b0, b1 = lo0 + w * (hi0 - lo0), lo1 + w * (hi1 - lo1)
    peak_m, frac, bw = k.rates(dt, "matrix" if mat else "vector")
    peak_v = peak_m if not mat else k.rates(dt, "vector")[0]
    if opt.derating:
        f_step, fv_step, b_step = fm0 + fm1 * c_mid, fv0 + fv1 * c_mid, b0 + b1 * c_mid
        if mat and f_step > 0:
            d_m = derate_curve(f_step / peak_m, k.curve) if k.curve else derate(f_step / peak_m, _MATRIX_STEPS)
        else:
            d_m = 1.0
        d_v = derate(fv_step / peak_v, _VECTOR_STEPS) if fv_step > 0 else 1.0
        d_b = derate(b_step / bw, _MEMORY_STEPS) if b_step > 0 else 1.0
        if mat and k.cpu_gemm is not None and f_step > 0 and b_step > 0:
            d_m *= k.cpu_gemm.compute_at(f_step / b_step, k.corner)
            d_b *= k.cpu_gemv
    else:
        d_m = d_v = d_b = 1.0
    rm, rv, rb = peak_m * frac * d_m, peak_v * frac * d_v, bw * d_b
    ca = (fm0 / rm if mat else 0.0) + fv0 / rv
    cb = (fm1 / rm if mat else 0.0) + fv1 / rv
    ma, mb = b0 / rb, b1 / rb
    kernels = (v0[_I_LAUNCH_LO] if k.fused else v0[_I_LAUNCH_HI]) if opt.host is not None else 0.0
    floor = kernels * k.floor
    lines = [(ca, cb), (ma, mb)]
    if floor > 0:
        lines.append((floor, 0.0))
    elif k.legacy and p.kind != "cpu":  # the device-only model: launch overhead as a per-kernel floor
        lines.append((_legacy_launch(r, opt, k.corner) * k.legacy, 0.0))
    link_a = link_b = e_link = 0.0
    link_tot = r.n * v0[_I_LINK] + v1[_I_LINK] * ctx
    if link_tot:
        if k.link is None:
            raise ValueError(f"{p.name}: no interconnect figure in the profile: collectives unmodelled")
        rate, pj = k.link
        link_a, link_b = v0[_I_LINK] / rate, v1[_I_LINK] / rate
        e_link = link_tot * pj
    if r.n == 1:
        total = max(a + b * r.c0 for a, b in lines) + link_a + link_b * r.c0
    else:
        total = _sum_max_lines(lines, r.c0, r.n) + r.n * link_a + link_b * ctx
    if k.legacy and p.kind == "cpu":  # device-only model on a CPU: serial dispatch
        total += r.n * _legacy_launch(r, opt, k.corner) * k.legacy
    e_flop_m = k.eps_flop(dt, "matrix" if mat else "vector")
    e_flop_v = k.eps_flop(dt, "vector")
    fm_tot = r.n * fm0 + fm1 * ctx if mat else 0.0
    fv_tot = r.n * fv0 + fv1 * ctx
    b_tot = r.n * b0 + b1 * ctx
    e_compute = fm_tot * e_flop_m + fv_tot * e_flop_v
    e_bytes = b_tot * k.e_byte
    parts = {
        "dram": e_bytes * k.dram_share,
        "on_chip": e_bytes * (1 - k.dram_share),
        "compute": e_compute,
        "link": e_link,
    }
    return _Dev(
        lines,
        (link_a, link_b),
        kernels,
        total,
        r.n * ca + cb * ctx,
        r.n * ma + mb * ctx,
        e_compute + e_bytes + e_link,
        parts,
    )


_I_FLOPS, _I_USEFUL, _I_VEC = IDX["flops"], IDX["flops_useful"], IDX["flops_vector"]
_I_LAUNCH_LO, _I_LAUNCH_HI, _I_LINK = IDX["launch_lo"], IDX["launch_hi"], IDX["link_bytes"]


def _kernels(r: Record, opt: Options, corner: str) -> float:
    """Kernels an op launches per step: one per op in eager mode and in a CUDA graph; the fused bound's count
    under torch.compile (elementwise chains fused into their neighbours)."""
    if opt.host is None:
        return 0.0
    if opt.host.fused_kernels:
        return r.v0[IDX["launch_lo"]]
    return r.v0[IDX["launch_hi"]]


def _legacy_launch(r: Record, opt: Options, corner: str) -> float:
    lo, hi = r.v0[IDX["launch_lo"]], r.v0[IDX["launch_hi"]]
    if corner == "low":
        return lo
    if corner == "high":
        return hi
    return lo + _byte_weight("mid", opt.backend) * (hi - lo)


def _host_per_step(r: Record, k: _Consts) -> float:
    """Host seconds to issue one step of this op (one copy)."""
    if k.fused:
        return k.host_op * r.v0[_I_LAUNCH_LO]
    return k.host_op if r.kind != "host" else 0.0


def _byte_weight(corner: str, backend: str) -> float:
    if corner == "low":
        return 0.0
    if corner == "high":
        return 1.0
    return {"eager": 1.0, "fused": 0.0}.get(backend, 0.5)


def _static(p: Profile, corner: str) -> float:
    if not p.static_w:
        return 0.0
    # a job holds the device: the high end of idle is the expected static power (HARDWARE.md)
    return {"low": p.static_w.low, "mid": p.static_w.high, "high": p.static_w.high}[corner]


# ------------------------------------------------------------------------------------------ passes
def _groups(records: list[Record]) -> list[tuple[int, int]]:
    """[start, end) of consecutive records forming one pass structure (same phase, steps and first context)."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(records) + 1):
        if i == len(records) or _group_key(records[i]) != _group_key(records[start]):
            out.append((start, i))
            start = i
    return out


def _group_key(r: Record) -> tuple[str, int, int, bool]:
    return (r.phase, r.n, r.c0, r.kind == "host")


def _pass_time(hs: list[float], ds: list[float], mults: list[int]) -> float:
    """max_k (H_1..k + D_k..n) over a sequence where runs of records with the same mult > 1 repeat as a block."""
    d_total = math.fsum(d * m for d, m in zip(ds, mults, strict=True))
    g = 0.0
    best = 0.0
    i, n = 0, len(hs)
    while i < n:
        m = mults[i]
        if m <= 1:
            best = max(best, g + hs[i])
            g += hs[i] - ds[i]
            i += 1
            continue
        j = i
        while j < n and mults[j] == m:
            j += 1
        gb, mb = 0.0, -math.inf
        for k in range(i, j):
            mb = max(mb, gb + hs[k])
            gb += hs[k] - ds[k]
        best = max(best, g + mb + max(0.0, (m - 1) * gb))
        g += m * gb
        i = j
    return d_total + best


def _group_time(
    recs: list[Record], devs: list[_Dev], hosts: list[float], opt: Options, serial: bool, corner: str
) -> float:
    n, c0 = recs[0].n, recs[0].c0
    mults = [r.mult for r in recs]
    pass_s = opt.host.pass_us.at(corner) * 1e-6 if opt.host is not None else 0.0
    if serial:
        return math.fsum((h * r.n + d.total_s) * r.mult for r, d, h in zip(recs, devs, hosts, strict=True)) + n * pass_s

    def at(c: float) -> float:
        return pass_s + _pass_time(hosts, [d.t0 if d.flat else d.step(c) for d in devs], mults)

    if n == 1:
        return pass_s + _pass_time(hosts, [d.total_s for d in devs], mults)
    if not opt.sync_per_pass:  # one long pipeline: the host runs ahead across steps
        return pass_s * n + _pass_time([h * n for h in hosts], [d.total_s for d in devs], mults)
    if n <= 3:
        return math.fsum(at(c) for c in range(c0, c0 + n))
    c_last = c0 + n - 1
    return n * (at(c0) + 4 * at((c0 + c_last) / 2.0) + at(c_last)) / 6.0  # Simpson: exact for linear T(c)


def _attribute(recs: list[Record], ds: list[_Dev], hs: list[float], wall: float, serial: bool) -> list[float]:
    """Each op's share of a group's wall time: its own device time, plus -- for the time the device waits --
    a share in proportion to how far its host work exceeds its device work (the ops that make the device wait)."""
    dev = [d.total_s * r.mult for r, d in zip(recs, ds, strict=True)]
    host = [h * r.n * r.mult for r, h in zip(recs, hs, strict=True)]
    if serial:
        own = [d + h for d, h in zip(dev, host, strict=True)]
        tot = math.fsum(own) or 1.0
        return [o / tot * wall for o in own]
    gap = max(0.0, wall - math.fsum(dev))
    excess = [max(0.0, h - d) for d, h in zip(dev, host, strict=True)]
    tot = math.fsum(excess)
    if tot <= 0:
        d_tot = math.fsum(dev) or 1.0
        return [d + gap * d / d_tot for d in dev]
    return [d + gap * e / tot for d, e in zip(dev, excess, strict=True)]


def framework_record(phase: str, kind: str, n: int = 1) -> Record:
    """A pseudo-op standing for the framework's own host work (per query, or per decode step)."""
    return Record(kind, R.HOST, "(framework)", "", "host", False, [0.0] * len(FIELDS), n=n, phase=phase)


def _framework_s(r: Record, opt: Options, corner: str) -> float:
    h = opt.host
    if h is None:
        return 0.0
    op = h.eager_op_us.at(corner)  # the framework's own ops run eagerly whatever runs the model
    if r.name == "query":
        return (h.call_us.at(corner) + h.call_ops.at(corner) * op + opt.items * h.item_us.at(corner)) * 1e-6 * r.n
    return h.step_ops.at(corner) * op * 1e-6 * r.n  # decode loop ops, per step


def _devices(records: list[Record], consts: dict[str, _Consts]) -> list[dict[str, _Dev]]:
    """Each op's device model per corner (identical ops -- the same counts at the same shape -- computed once)."""
    memo: dict[tuple[Any, ...], dict[str, _Dev]] = {}
    devs: list[dict[str, _Dev]] = []
    for r in records:
        if r.kind == "host":
            devs.append({})
            continue
        key = (r.kind, r.dtype, r.role == R.CONV, r.n, r.c0, tuple(r.v0), tuple(r.v1))
        d = memo.get(key)
        if d is None:
            d = memo[key] = {c: _device(r, consts[c]) for c in CORNERS}
        devs.append(d)
    return devs


def estimate(records: list[Record], profile: Profile, options: Options | None = None) -> Estimate:
    opt = options or Options()
    serial = opt.host.serial if opt.host is not None else profile.kind == "cpu"
    consts = {c: _Consts(profile, opt, c) for c in CORNERS}
    static = {c: consts[c].static for c in CORNERS}
    devs = _devices(records, consts)
    costs: list[OpCost | None] = [None] * len(records)
    k = opt.devices
    for start, end in _groups(records):
        recs = records[start:end]
        if recs[0].kind == "host":
            for i in range(start, end):
                r = records[i]
                t = {c: _framework_s(r, opt, c) for c in CORNERS}
                costs[i] = OpCost(
                    t,
                    {c: static[c] * t[c] * k for c in CORNERS},
                    0.0,
                    0.0,
                    {"dram": 0.0, "on_chip": 0.0, "compute": 0.0, "static": static["mid"] * t["mid"] * k, "link": 0.0},
                    dict.fromkeys(CORNERS, 0.0),
                    dict(t),
                )
            continue
        per_corner: dict[str, tuple[float, list[float]]] = {}
        for c in CORNERS:
            ds = [devs[i][c] for i in range(start, end)]
            hs = [_host_per_step(records[i], consts[c]) for i in range(start, end)]
            wall = _group_time(recs, ds, hs, opt, serial, c)
            per_corner[c] = (wall, _attribute(recs, ds, hs, wall, serial))
        for j, i in enumerate(range(start, end)):
            r = records[i]
            t = {c: per_corner[c][1][j] for c in CORNERS}
            dm = devs[i]["mid"]
            e = {c: (devs[i][c].e_dyn * r.mult + static[c] * t[c]) * k for c in CORNERS}
            parts = {key: v * r.mult * k for key, v in dm.parts.items()}
            parts["static"] = static["mid"] * t["mid"] * k
            costs[i] = OpCost(
                t,
                e,
                dm.compute_s * r.mult,
                dm.memory_s * r.mult,
                parts,
                {c: devs[i][c].total_s * r.mult for c in CORNERS},
                {c: _host_per_step(r, consts[c]) * r.n * r.mult for c in CORNERS},
            )
    notes = []
    if not profile.pj_per_flop or not profile.static_w:
        notes.append(
            f"{profile.name}: no published power figures: energy per FLOP and/or static power are "
            "UNMODELLED (left out, not defaulted), so energy figures are a lower bound (bytes only)"
        )
    return Estimate(profile, records, [c for c in costs if c is not None], opt, notes)


@dataclass(frozen=True)
class Totals:
    """What a sweep point needs of an estimate, per corner: wall time, energy, device busy and host issue time."""

    time_s: dict[str, float]
    energy_j: dict[str, float]
    static_j: dict[str, float]
    device_s: dict[str, float]
    host_s: dict[str, float]


def estimate_totals(records: list[Record], profile: Profile, options: Options | None = None) -> Totals:
    """The totals of :func:`estimate` (same device model, same passes, same framework time) without the per-op
    attribution: what a co-design sweep evaluates at every point."""
    opt = options or Options()
    serial = opt.host.serial if opt.host is not None else profile.kind == "cpu"
    k = opt.devices
    consts = {c: _Consts(profile, opt, c) for c in CORNERS}
    groups = _groups(records)
    devs = _devices(records, consts)
    time_s, energy, static_j, dev_s, host_s = {}, {}, {}, {}, {}
    for c in CORNERS:
        kc = consts[c]
        wall = e_dyn = busy = issue = 0.0
        for start, end in groups:
            recs = records[start:end]
            if recs[0].kind == "host":
                wall += sum(_framework_s(r, opt, c) for r in recs)
                continue
            ds = [devs[i][c] for i in range(start, end)]
            hs = [_host_per_step(r, kc) for r in recs]
            wall += _group_time(recs, ds, hs, opt, serial, c)
            for r, dv, h in zip(recs, ds, hs, strict=True):
                e_dyn += dv.e_dyn * r.mult
                busy += dv.total_s * r.mult
                issue += h * r.n * r.mult
        time_s[c] = wall
        static_j[c] = kc.static * wall * k
        energy[c] = e_dyn * k + static_j[c]
        dev_s[c], host_s[c] = busy, issue
    return Totals(time_s, energy, static_j, dev_s, host_s)


def energy_roofline(p: Profile, dtype: str, intensities: list[float]) -> list[dict[str, float]]:
    """Attainable FLOP/s and FLOP/J vs arithmetic intensity (mid figures, large ops): the time roofline
    min(peak, I*BW) and Choi's energy roofline 1 / (eps_flop + eps_byte/I + P_static * time per FLOP)."""
    peak, _ = p.peak_flops(dtype)
    rate = peak * p.gemm_frac.mid
    bw = (p.mem_bw_gbs.low if p.mem_bw_gbs else 1.0) * 1e9 * p.bw_frac.mid
    e_flop, e_byte = _eps(p, dtype, "matrix", "mid", Options())
    static = _static(p, "mid")
    out = []
    for i in intensities:
        flops_per_s = min(rate, i * bw)
        j_per_flop = e_flop + e_byte / i + static / flops_per_s
        out.append({"intensity": i, "flop_per_s": flops_per_s, "flop_per_j": 1.0 / j_per_flop})
    return out


def balance_points(p: Profile, dtype: str) -> dict[str, float]:
    """Time balance B_tau = attainable FLOP/s / attainable B/s; energy balance B_eps = eps_byte / eps_flop."""
    peak, _ = p.peak_flops(dtype)
    bw = (p.mem_bw_gbs.low if p.mem_bw_gbs else 1.0) * 1e9
    e_flop, e_byte = _eps(p, dtype, "matrix", "mid", Options())
    return {
        "time_balance_flop_per_byte": peak * p.gemm_frac.mid / (bw * p.bw_frac.mid),
        "energy_balance_flop_per_byte": e_byte / e_flop if e_flop else float("inf"),
    }


__all__ = [
    "CORNERS",
    "Estimate",
    "Figure",
    "Options",
    "Totals",
    "balance_points",
    "energy_roofline",
    "estimate",
    "estimate_totals",
]
