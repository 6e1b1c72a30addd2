"""Time and energy model: a per-op roofline plus the energy roofline of Choi et al. (IPDPS 2013).

    T_op = max(F / R_attainable, B / W_attainable)    (+ launch overhead, see below)
    E    = sum(B * (eps_dram + eps_on_chip)) + sum(F * eps_flop(dtype)) + P_static * T

Attainable rates = peak x gemm_frac (matrix) or bw_frac (memory), times a size-dependent derating for small
ops (calculon-ai/calculon defaults quoted in docs/HARDWARE.md: matrix 0.95/0.9/0.6/0.1 and vector
0.95/0.5/0.1 by op size, memory 0.90/0.75/0.6/0.3 by transfer size; we express the A100 size thresholds as
time-at-peak so they carry over to other devices, and normalise by the top step so large ops reach
exactly the measured gemm_frac/bw_frac). Launch overhead: GPUs/TPUs/SoCs launch asynchronously, so an op
costs at least its launch time (max); CPU eager dispatch is serial with the work (sum).

Every result is a range, evaluated at three corners:
- low:  fused-bytes lower bound, causal-skipped attention FLOPs, fused kernel count, fast end of every rate,
        low end of every energy figure;
- high: eager-bytes upper bound, dense FLOPs, one kernel per op, slow end of rates, high end of energies;
- mid:  bytes midway between the bounds (or as ``backend`` says), dense FLOPs, middle of each figure, static
        power at the high end of idle (a job holds the device, HARDWARE.md).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wattlens.analyze.capture import CATEGORIES, HI, IDX, LO, Record
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


@dataclass
class OpCost:
    time_s: dict[str, float]
    energy_j: dict[str, float]
    compute_s: float  # mid corner, summed over steps
    memory_s: float
    parts_j: dict[str, float]  # mid corner: dram, on_chip, compute, static


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
        agg: dict[str, dict[str, Any]] = defaultdict(lambda: _empty())
        for r, c in zip(self.records, self.costs, strict=True):
            k = layer_of(r.module) if key == "layer" else getattr(r, key)
            _add(agg[k], r, c, self.options.devices)
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
        "energy_parts_j": {"dram": 0.0, "on_chip": 0.0, "compute": 0.0, "static": 0.0, "link": 0.0},
    }


def _add(a: dict[str, Any], r: Record, c: OpCost, devices: int = 1) -> None:
    """Counts are summed over the devices of a tensor-parallel group (records describe one device)."""
    a["flops"] += (r.total("flops") + r.total("flops_vector")) * devices
    a["flops_useful"] += (r.total("flops_useful") + r.total("flops_vector")) * devices
    a["flops_vector"] += r.total("flops_vector") * devices
    a["link_bytes"] += r.total("link_bytes") * devices
    for cat, i_lo, i_hi in zip(CATEGORIES, LO, HI, strict=True):
        lo, hi = r.total(_F[i_lo]) * devices, r.total(_F[i_hi]) * devices
        a["bytes_low"] += lo
        a["bytes_high"] += hi
        a["bytes_by_category"][cat]["low"] += lo
        a["bytes_by_category"][cat]["high"] += hi
    a["ops"] += r.n
    for k in CORNERS:
        a["time_s"][k] += c.time_s[k]
        a["energy_j"][k] += c.energy_j[k]
    a["compute_s"] += c.compute_s
    a["memory_s"] += c.memory_s
    for k, v in c.parts_j.items():
        a["energy_parts_j"][k] += v


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


_F = list(IDX)  # index -> field name


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


def _sum_max_affine(a1: float, b1: float, a2: float, b2: float, c0: int, n: int) -> float:
    """sum over c = c0..c0+n-1 of max(a1 + b1 c, a2 + b2 c), exactly (split at the crossover)."""

    def s(a: float, b: float, lo: int, hi: int) -> float:  # sum of a + b c for c in [lo, hi]
        if hi < lo:
            return 0.0
        k = hi - lo + 1
        return k * a + b * (lo + hi) * k / 2.0

    lo, hi = c0, c0 + n - 1
    db = b1 - b2
    da = a2 - a1
    if db == 0:
        return s(a1, b1, lo, hi) if a1 >= a2 else s(a2, b2, lo, hi)
    cross = da / db  # first >= second  <=>  db * c >= da
    if db > 0:
        k = max(lo, min(hi + 1, math.ceil(cross)))
        return s(a2, b2, lo, k - 1) + s(a1, b1, k, hi)
    k = max(lo - 1, min(hi, math.floor(cross)))
    return s(a1, b1, lo, k) + s(a2, b2, k + 1, hi)


def _cost(r: Record, p: Profile, opt: Options, serial_launch: bool) -> OpCost:
    time_s: dict[str, float] = {}
    energy: dict[str, float] = {}
    parts: dict[str, float] = {}
    comp_mid = mem_mid = 0.0
    c_mid = r.c0 + (r.n - 1) / 2.0
    mat = r.kind == "matrix"
    for corner in CORNERS:
        ffield = "flops_useful" if corner == "low" else "flops"
        if opt.sparse_gemm and mat:
            ffield = "flops_useful"
        fm0, fm1 = r.v0[IDX[ffield]], r.v1[IDX[ffield]]
        fv0, fv1 = r.v0[IDX["flops_vector"]], r.v1[IDX["flops_vector"]]
        lo0, lo1 = sum(r.v0[i] for i in LO), sum(r.v1[i] for i in LO)
        hi0, hi1 = sum(r.v0[i] for i in HI), sum(r.v1[i] for i in HI)
        w = _byte_weight(corner, opt.backend)
        b0, b1 = lo0 + w * (hi0 - lo0), lo1 + w * (hi1 - lo1)
        peak_m, frac, bw = _rates(p, r.dtype, "matrix" if mat else "vector", corner, opt)
        peak_v = peak_m if not mat else _rates(p, r.dtype, "vector", corner, opt)[0]
        f_mid_step = fm0 + fm1 * c_mid
        fv_mid_step = fv0 + fv1 * c_mid
        b_mid_step = b0 + b1 * c_mid
        if opt.derating:
            curve = p.calibrated.get("matrix_curve") if p.calibrated else None
            if mat and f_mid_step > 0:
                d_m = derate_curve(f_mid_step / peak_m, curve) if curve else derate(f_mid_step / peak_m, _MATRIX_STEPS)
            else:
                d_m = 1.0
            d_v = derate(fv_mid_step / peak_v, _VECTOR_STEPS) if fv_mid_step > 0 else 1.0
            d_b = derate(b_mid_step / bw, _MEMORY_STEPS) if b_mid_step > 0 else 1.0
        else:
            d_m = d_v = d_b = 1.0
        rm = peak_m * frac * d_m
        rv = peak_v * frac * d_v
        rb = bw * d_b
        # compute time (matrix + vector parts run on different units but within one kernel: add them)
        ca = (fm0 / rm if mat else 0.0) + fv0 / rv
        cb = (fm1 / rm if mat else 0.0) + fv1 / rv
        ma, mb = b0 / rb, b1 / rb
        t_roof = _sum_max_affine(ca, cb, ma, mb, r.c0, r.n)
        launch_n = r.v0[IDX["launch_lo" if corner == "low" else "launch_hi"]] * r.n
        if corner == "mid":
            launch_n = r.v0[IDX["launch_lo"]] + _byte_weight("mid", opt.backend) * (
                r.v0[IDX["launch_hi"]] - r.v0[IDX["launch_lo"]]
            )
            launch_n *= r.n
        launch_s = launch_n * (p.launch_us.at(corner) * 1e-6 if p.launch_us else 0.0)
        if serial_launch:
            t = t_roof + launch_s
        else:
            t = max(t_roof, launch_s)
        link_b = r.n * r.v0[IDX["link_bytes"]] + r.v1[IDX["link_bytes"]] * r.ctx_sum()
        e_link = 0.0
        if link_b:
            if not (p.link_gbs and p.link_eff and p.pj_per_link_byte):
                raise ValueError(f"{p.name}: no interconnect figure in the profile: collectives unmodelled")
            t += link_b / (p.link_gbs.low * 1e9 * p.link_eff.at(_flip(corner)))  # not overlapped with compute
            e_link = link_b * p.pj_per_link_byte.at(corner) * 1e-12
        e_flop_m, e_byte = _eps(p, r.dtype, "matrix" if mat else "vector", corner, opt)
        e_flop_v, _ = _eps(p, r.dtype, "vector", corner, opt)
        fm_tot = r.n * fm0 + fm1 * r.ctx_sum() if mat else 0.0
        fv_tot = r.n * fv0 + fv1 * r.ctx_sum()
        b_tot = r.n * b0 + b1 * r.ctx_sum()
        static_w = _static(p, corner)
        e_compute = fm_tot * e_flop_m + fv_tot * e_flop_v
        e_bytes = b_tot * e_byte
        e_static = static_w * t
        time_s[corner] = t
        energy[corner] = (e_compute + e_bytes + e_static + e_link) * opt.devices
        if corner == "mid":
            comp_mid = r.n * ca + cb * r.ctx_sum()
            mem_mid = r.n * ma + mb * r.ctx_sum()
            dram = p.pj_per_byte.get("dram")
            share = (dram.mid / max(sum(f.mid for f in p.pj_per_byte.values()), 1e-30)) if dram else 0.0
            k = opt.devices
            parts = {
                "dram": e_bytes * share * k,
                "on_chip": e_bytes * (1 - share) * k,
                "compute": e_compute * k,
                "static": e_static * k,
                "link": e_link * k,
            }
    return OpCost(time_s, energy, comp_mid, mem_mid, parts)


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


def estimate(records: list[Record], profile: Profile, options: Options | None = None) -> Estimate:
    opt = options or Options()
    serial = profile.kind == "cpu"
    memo: dict[tuple, OpCost] = {}
    costs = []
    for r in records:
        key = (r.kind, r.dtype, r.n, r.c0, tuple(r.v0), tuple(r.v1))
        c = memo.get(key)
        if c is None:
            c = memo[key] = _cost(r, profile, opt, serial)
        costs.append(c)
    notes = []
    if not profile.pj_per_flop or not profile.static_w:
        notes.append(
            f"{profile.name}: no published power figures: energy per FLOP and/or static power are "
            "UNMODELLED (left out, not defaulted), so energy figures are a lower bound (bytes only)"
        )
    return Estimate(profile, records, costs, opt, notes)


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


__all__ = ["CORNERS", "Estimate", "Figure", "Options", "balance_points", "energy_roofline", "estimate"]
