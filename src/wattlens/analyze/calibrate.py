"""``--calibrate``: fit the profile of this machine from micro-benchmarks run for real under the meter.

Benchmarks (real torch on CPU, ~10-20 s in all): a GEMM sweep across arithmetic intensity (square matmuls
64..1024 and a GEMV), a bandwidth kernel (copy of a tensor far larger than the caches), a launch/dispatch
probe (tiny adds), and an idle window. Fitted: effective FLOP/s (best GEMM), effective B/s (copy), dispatch
µs per op, and -- from the meter's energy readings -- energy per FLOP, per byte and static power by a
non-negative least-squares fit of E_i = eps_flop·F_i + eps_byte·B_i + P_static·T_i (Choi et al.'s fitted
energy roofline). Where the meter is an estimate (CPU-time x per-core power, as on CI VMs) the energy fit
can only reproduce that model: this is said in the profile and in every report using it.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wattlens.analyze.profiles import Figure, Profile, save_calibrated, this_machine
from wattlens.stats import median, percentile


@dataclass
class Bench:
    name: str
    role: str
    flops: float
    bytes: float
    ops: int  # dispatched ops (launch/dispatch overhead)
    seconds: float  # whole metered window
    best_s_per_rep: float = 0.0  # fastest chunk, per repetition (rates are fitted on this)
    reps: int = 1
    energy_j: float | None = None
    low_j: float | None = None
    high_j: float | None = None
    source: str = "unavailable"


@dataclass
class Calibration:
    profile: Profile
    benches: list[Bench]
    fit: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    comparison: list[dict[str, Any]] = field(default_factory=list)
    saved_to: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_dict(),
            "benchmarks": [b.__dict__ for b in self.benches],
            "fit": self.fit,
            "notes": self.notes,
            "predicted_vs_measured": self.comparison,
        }


def _monitor() -> Any | None:
    try:
        from wattlens.tracking import Monitor

        return Monitor()
    except Exception:  # the meter is optional here: calibration of rates still works without it
        return None


def _timed(mon: Any, name: str, fn: Callable[[], object], reps: int, chunks: int = 5) -> tuple[float, float, Any]:
    """(total window seconds, best seconds per repetition, meter measurement). The best chunk is robust to
    other processes sharing the cores (CI machines); energy is read over the whole window."""
    fn()  # warm-up (allocations, thread pool)
    m = None
    if mon is not None:
        try:
            mon.begin(name)
        except Exception:
            mon = None
    per = max(1, reps // chunks)
    best = float("inf")
    threads = _threads()
    t_start = time.perf_counter()
    for _ in range(chunks):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per):
            fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        # on a shared machine wall time includes time descheduled; CPU time / threads does not (and equals
        # wall time when every thread is busy): the smaller of the two is the run's own duration
        busy = min(wall, cpu / threads) if cpu > 0 else wall
        best = min(best, busy / per)
    total = time.perf_counter() - t_start
    if mon is not None:
        try:
            m = mon.end(name)
        except Exception:
            m = None
    return total, best, m


def _threads() -> int:
    try:
        import torch

        return max(1, torch.get_num_threads())
    except ImportError:
        return 1


def _reps_for(fn: Callable[[], object], target_s: float) -> int:
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(3, min(200000, int(target_s / one)))


def run_benchmarks(target_s: float = 1.0, mon: Any | None = None) -> list[Bench]:
    import torch

    benches: list[Bench] = []

    def record(name: str, role: str, fn: Callable[[], object], flops: float, nbytes: float, ops: int) -> None:
        reps = _reps_for(fn, target_s)
        dt, best, m = _timed(mon, name, fn, reps)
        done = max(1, reps // 5) * 5
        b = Bench(name, role, flops * done, nbytes * done, ops * done, dt, best, done)
        if m is not None and getattr(m, "energy_j", None) is not None:
            b.energy_j, b.low_j, b.high_j, b.source = m.energy_j, m.low_j, m.high_j, m.source
        benches.append(b)

    for n in (64, 256, 512, 1024):
        a, bm = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        record(
            f"gemm_{n}",
            "dense_gemm",
            functools.partial(torch.mm, a, bm, out=out),
            2.0 * n**3,
            3 * n * n * 4.0,
            1,
        )
    k = 4096
    mat, vec = torch.randn(k, k), torch.randn(k, 1)
    record("gemv_4096", "dense_gemm", lambda: torch.mm(mat, vec), 2.0 * k * k, (k * k + 2 * k) * 4.0, 1)
    big = 32 * 1024 * 1024 // 4  # 32 MiB of fp32: far beyond a per-core L2/L3 share
    src, dst = torch.randn(big), torch.empty(big)
    record("copy_32MiB", "norm_elementwise", lambda: dst.copy_(src), 0.0, 2.0 * big * 4, 1)
    tiny = torch.ones(1)
    record("dispatch_probe", "overhead", lambda: torch.add(tiny, tiny), 1.0, 12.0, 1)
    # idle window: static power as the meter sees it
    dt, best, m = _timed(mon, "idle", lambda: time.sleep(target_s / 10), 5)
    b = Bench("idle", "static", 0.0, 0.0, 0, dt, best, 5)
    if m is not None and getattr(m, "energy_j", None) is not None:
        b.energy_j, b.low_j, b.high_j, b.source = m.energy_j, m.low_j, m.high_j, m.source
    benches.append(b)
    return benches


def nnls3(rows: list[tuple[float, float, float]], y: list[float]) -> tuple[list[float], float]:
    """Non-negative least squares for 3 unknowns, exact by enumerating active sets (no scipy needed)."""
    best: tuple[list[float], float] | None = None
    for k in range(1, 4):
        for cols in itertools.combinations(range(3), k):
            sol = _lstsq([[r[c] for c in cols] for r in rows], y)
            if sol is None or any(v < 0 for v in sol):
                continue
            x = [0.0, 0.0, 0.0]
            for c, v in zip(cols, sol, strict=True):
                x[c] = v
            res = sum((sum(r[i] * x[i] for i in range(3)) - t) ** 2 for r, t in zip(rows, y, strict=True))
            if best is None or res < best[1]:
                best = (x, res)
    return best if best is not None else ([0.0, 0.0, 0.0], float("inf"))


def _lstsq(a: list[list[float]], y: list[float]) -> list[float] | None:
    # normal equations with column scaling (columns differ by ~10 orders of magnitude)
    n = len(a[0])
    scale = [max(abs(r[j]) for r in a) or 1.0 for j in range(n)]
    a2 = [[r[j] / scale[j] for j in range(n)] for r in a]
    ata = [[sum(r[i] * r[j] for r in a2) for j in range(n)] for i in range(n)]
    aty = [sum(r[i] * t for r, t in zip(a2, y, strict=True)) for i in range(n)]
    x = _solve(ata, aty)
    return None if x is None else [v / s for v, s in zip(x, scale, strict=True)]


def _solve(m: list[list[float]], b: list[float]) -> list[float] | None:
    n = len(b)
    aug = [[*row[:], b[i]] for i, row in enumerate(m)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(aug[r][col]))
        if abs(aug[piv][col]) < 1e-12:
            return None
        aug[col], aug[piv] = aug[piv], aug[col]
        for r in range(n):
            if r != col:
                f = aug[r][col] / aug[col][col]
                aug[r] = [x - f * y for x, y in zip(aug[r], aug[col], strict=True)]
    return [aug[i][n] / aug[i][i] for i in range(n)]


def fit_profile(benches: list[Bench], base: Profile | None = None, threads: int | None = None) -> Calibration:
    """Fit rates and energies from benchmark results (pure function: tested on synthetic data)."""
    p = base or this_machine(threads)
    by = {b.name: b for b in benches}
    notes: list[str] = []
    gemms = [b for b in benches if b.name.startswith("gemm_")]

    def per_rep(b: Bench) -> float:
        return b.best_s_per_rep or b.seconds / max(b.reps, 1)

    best = max(gemms, key=lambda b: b.flops / b.reps / per_rep(b))
    rate = best.flops / best.reps / per_rep(best)
    copy = by.get("copy_32MiB")
    bw = copy.bytes / copy.reps / per_rep(copy) if copy else None
    probe = by.get("dispatch_probe")
    launch_us = per_rep(probe) / (probe.ops / probe.reps) * 1e6 if probe else None
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    src = f"calibrated on this machine {when} (wattlens analyze --calibrate)"
    p.name = "this-machine"
    p.derived_from = f"calibrated: micro-benchmarks {when}; uncalibrated figures from generic-x86-core"
    p.peak_tflops["fp32"] = Figure(rate / 1e12, rate / 1e12, "TFLOP/s", f"{src}: best fp32 GEMM ({best.name})")
    p.gemm_frac = Figure(0.9, 1.0, "fraction", f"{src}: spread around the best measured GEMM")
    if bw:
        p.mem_bw_gbs = Figure(bw / 1e9, bw / 1e9, "GB/s", f"{src}: 32 MiB copy (read + write)")
        p.bw_frac = Figure(0.85, 1.0, "fraction", f"{src}: spread around the measured copy")
    if launch_us:
        p.launch_us = Figure(
            launch_us * 0.8, launch_us * 1.5, "us", f"{src}: tiny torch.add dispatch (x0.8-1.5: module calls cost more)"
        )
    # measured GEMM efficiency vs size replaces calculon's GPU-derived small-op steps on this machine
    # (dispatch overhead is modelled separately, so it is taken out of each GEMM's time first)
    over_s = (launch_us or 0.0) * 1e-6
    curve = []
    for b in gemms:
        f_op, t_op = b.flops / b.ops, per_rep(b) * b.reps / b.ops
        curve.append([f_op / rate, min(1.0, f_op / max(t_op - over_s, 0.1 * t_op) / rate)])
    fit: dict[str, Any] = {"flop_per_s": rate, "bytes_per_s": bw, "launch_us": launch_us, "matrix_curve": curve}
    metered = [b for b in benches if b.energy_j is not None and b.seconds > 0]
    sources = sorted({b.source for b in metered})
    if len(metered) >= 3:
        rows = [(b.flops, b.bytes, b.seconds) for b in metered]
        (e_flop, e_byte, p_static), res = nnls3(rows, [b.energy_j for b in metered if b.energy_j is not None])
        fit.update(
            {
                "j_per_flop": e_flop,
                "j_per_byte": e_byte,
                "static_w": p_static,
                "residual_j2": res,
                "meter_source": sources,
            }
        )
        spread = [((b.high_j or b.energy_j) / b.energy_j if b.energy_j else 1.0) for b in metered]
        rel = max(0.1, max(spread) - 1.0)
        msrc = f"{src}: NNLS fit of meter readings ({', '.join(sources)})"
        if e_flop > 0:
            p.pj_per_flop = {"fp32": Figure(e_flop * 1e12 * (1 - rel), e_flop * 1e12 * (1 + rel), "pJ/FLOP", msrc)}
        else:
            notes.append(
                "energy per FLOP not separable from static power in the meter readings: kept the "
                "generic-x86-core figure"
            )
        if e_byte > 0:
            p.pj_per_byte = {"dram": Figure(e_byte * 1e12 * (1 - rel), e_byte * 1e12 * (1 + rel), "pJ/B", msrc)}
        else:
            notes.append("energy per byte not separable in the meter readings: kept the DDR5 class figure")
        if p_static > 0:
            p.static_w = Figure(p_static * (1 - rel), p_static * (1 + rel), "W", msrc)
        if "estimated" in sources:
            notes.append(
                "the meter on this machine is an ESTIMATE (CPU-time x per-core power model, no hardware "
                "counter): fitted energies reproduce that model, not measured joules"
            )
    else:
        notes.append(
            "no meter readings (wattlens.tracking unavailable or failed): rates calibrated, energy "
            "figures kept from generic-x86-core"
        )
    p.calibrated = {
        "when": when,
        "fit": fit,
        "matrix_curve": curve,
        "meter_source": sources[0] if len(sources) == 1 else ",".join(sources),
        "notes": notes,
    }
    return Calibration(p, benches, fit, notes)


def compare(cal: Calibration) -> list[dict[str, Any]]:
    """Predicted (model with the calibrated profile) vs measured, per benchmark and its role."""
    from wattlens.analyze.capture import FIELDS, IDX, Record
    from wattlens.analyze.model import estimate

    rows = []
    for b in cal.benches:
        if b.role in ("static",) or b.ops == 0:
            continue
        v = [0.0] * len(FIELDS)
        per = 1.0 / b.ops
        kind = "matrix" if b.role == "dense_gemm" else "vector"
        if kind == "matrix":
            v[IDX["flops"]] = v[IDX["flops_useful"]] = b.flops * per
        else:
            v[IDX["flops_vector"]] = b.flops * per
        v[IDX["lo_activations"]] = v[IDX["hi_activations"]] = b.bytes * per
        v[IDX["launch_lo"]] = v[IDX["launch_hi"]] = 1.0
        rec = Record(b.name, b.role, "", "fp32", kind, False, v, n=b.ops)
        est = estimate([rec], cal.profile)
        pt, pe = est.total("time_s", "mid"), est.total("energy_j", "mid")
        meas = b.best_s_per_rep * b.reps if b.best_s_per_rep else b.seconds  # best-chunk time of all reps
        rows.append(
            {
                "benchmark": b.name,
                "role": b.role,
                "measured_s": meas,
                "predicted_s": pt,
                "time_ratio": pt / meas if meas else None,
                "measured_j": b.energy_j,
                "predicted_j": pe,
                "energy_ratio": (pe / b.energy_j) if b.energy_j else None,
            }
        )
    return rows


def calibrate(target_s: float = 1.0, save: bool = True) -> Calibration:
    import torch

    mon = _monitor()
    try:
        benches = run_benchmarks(target_s, mon)
    finally:
        if mon is not None:
            try:
                mon.close()
            except Exception:
                pass
    cal = fit_profile(benches, this_machine(torch.get_num_threads()))
    cal.comparison = compare(cal)
    if save:
        path = save_calibrated(cal.profile)
        cal.saved_to = str(path)
        cal.notes.append(f"saved to {path}")
    return cal


# ------------------------------------------------------------------------------------------ host calibration
_WIDTH = {  # config attribute -> value of the width-shrunk twin (same depth, same code path, negligible compute)
    "hidden_size": 64,
    "n_embd": 64,
    "d_model": 64,
    "dim": 64,
    "intermediate_size": 128,
    "n_inner": 128,
    "hidden_dim": 128,
    "ffn_dim": 128,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
    "num_attention_heads": 4,
    "n_head": 4,
    "n_heads": 4,
    "vocab_size": 256,
    "head_dim": 16,
}


def host_twin_config(config: Any) -> Any:
    """A copy of a transformers config with the widths shrunk and the depth kept: the same Python, modules and
    ops per layer as the real model, at a compute cost of almost nothing (host time per op is what is left)."""
    import copy

    cfg = copy.deepcopy(config)
    for attr, v in _WIDTH.items():
        if isinstance(getattr(cfg, attr, None), int):
            setattr(cfg, attr, v)
    if isinstance(getattr(cfg, "hidden_sizes", None), list):  # CNN stages (ResNet): 8 channels each
        cfg.hidden_sizes = [8 for _ in cfg.hidden_sizes]
    if isinstance(getattr(cfg, "embedding_size", None), int):
        cfg.embedding_size = 8
    kv = getattr(cfg, "num_key_value_heads", None)
    if isinstance(kv, int):
        cfg.num_key_value_heads = 4 if kv >= 4 else (2 if kv > 1 else 1)
    return cfg


def calibrate_host(model: Any, dtype: str = "fp32", seq: int = 24, reps: int = 40) -> dict[str, Any]:
    """Measure eager host time per recorded op on this machine's CPU with a width-shrunk twin of ``model``
    (1 thread, inference mode; p20 and p50 of ``reps`` forward passes); saved under the model's family in the user
    cache dir and used by every later analysis of that family (as the host band's reference)."""
    import copy
    import dataclasses

    import torch

    from wattlens.analyze.capture import Capture, Tags, finalize
    from wattlens.analyze.host import save_calibration
    from wattlens.analyze.presets import make_inputs, resolve

    w = resolve(model, dtype)
    if w.config is None or isinstance(w.config, dict):
        raise ValueError(f"{w.name}: host calibration needs a transformers config (a preset or config.json)")
    cfg = host_twin_config(w.config)
    import transformers

    cls = getattr(transformers, type(w.model).__name__)
    with torch.device("cpu"):
        try:
            real = cls._from_config(copy.deepcopy(cfg), attn_implementation="sdpa")
        except (ValueError, ImportError, TypeError):
            real = cls._from_config(cfg)
    real = real.to(torch.float32).eval()
    twin = dataclasses.replace(w, model=real, config=cfg, dtype=torch.float32)
    meta = dataclasses.replace(twin, model=copy.deepcopy(real).to("meta"))
    inputs = make_inputs(twin, 1, seq, device="cpu")
    meta_inputs = make_inputs(meta, 1, seq)
    cap = Capture(meta.model)
    with torch.no_grad(), cap.trace():
        meta.model(**meta_inputs) if isinstance(meta_inputs, dict) else meta.model(*meta_inputs)
    ops = len(finalize(cap.result, Tags()))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            call = (lambda: real(**inputs)) if isinstance(inputs, dict) else (lambda: real(*inputs))
            for _ in range(5):
                call()
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                call()
                ts.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    p20, p50 = percentile(ts, 20), median(ts)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entry = {
        "op_us": [p20 / ops * 1e6, p50 / ops * 1e6],
        "ops": ops,
        "when": when,
        "what": f"width-shrunk twin of {w.name} ({ops} ops per forward, seq {seq}, 1 thread, p20..p50 of {reps})",
    }
    entry["saved_to"] = str(save_calibration(w.family, entry))
    return entry
