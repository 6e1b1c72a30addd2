"""``analyze()``: capture -> counts -> roles -> roofline/energy -> levers, and the ``--json`` contract."""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattlens.analyze import roles as R
from wattlens.analyze.capture import CATEGORIES, Record, sum_field
from wattlens.analyze.model import CORNERS, Estimate, Options, balance_points, energy_roofline, estimate
from wattlens.analyze.phases import PhaseTrace, trace_forward, trace_generate, trace_train
from wattlens.analyze.presets import Workload, resolve
from wattlens.analyze.profiles import Profile, get_profile

if TYPE_CHECKING:
    from wattlens.analyze.records import Lever

PHASES = ("auto", "forward", "prefill", "decode", "generate", "train")


@dataclass
class Request:
    phase: str = "auto"
    batch: int = 1
    seq: int | None = None  # forward / prefill / train sequence length (also the decode prompt if prompt unset)
    prompt: int | None = None
    new_tokens: int = 128
    backend: str = "mid"
    optimizer: str = "adamw"
    full_trace: bool = False  # decode: trace every step (slow; for verification)
    tensor_parallel: int = 1  # Megatron-style tensor parallelism over this many devices (parallel.py)

    def resolved(self, w: Workload) -> Request:
        r = Request(**self.__dict__)
        if r.phase == "auto":
            r.phase = "generate" if w.generative else "forward"
        if r.phase in ("decode", "generate") and not w.generative:
            raise ValueError(f"{w.name} ({w.kind}) has no decode phase; use --phase forward or train")
        if r.prompt is None:
            r.prompt = r.seq or 512
        if r.seq is None:
            r.seq = r.prompt if r.phase in ("prefill", "generate", "decode") else 512
        return r


@dataclass
class Analysis:
    workload: Workload
    profile: Profile
    request: Request
    traces: list[PhaseTrace]
    estimate: Estimate
    capture_s: float
    model_s: float
    levers: list[Lever] = field(default_factory=list)
    extra_assumptions: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return self.estimate.records

    @property
    def tokens_out(self) -> int:
        return sum(t.tokens for t in self.traces if t.phase == "decode")

    @property
    def tokens(self) -> int:
        return sum(t.tokens for t in self.traces)

    def energy(self, corner: str = "mid") -> float:
        return self.estimate.total("energy_j", corner)

    def time(self, corner: str = "mid") -> float:
        return self.estimate.total("time_s", corner)

    def unsupported(self) -> list[dict[str, Any]]:
        agg: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "bytes_high": 0.0, "modules": set()})
        for r in self.records:
            if r.unsupported:
                a = agg[r.name]
                a["calls"] += r.n
                a["bytes_high"] += r.bytes_hi()
                a["modules"].add(r.module)
        return [
            {
                "op": k,
                "calls": v["calls"],
                "flops": None,
                "bytes_high": v["bytes_high"],
                "modules": sorted(v["modules"])[:5],
                "note": "no FLOP formula: FLOPs unknown (not 0), bytes counted",
            }
            for k, v in sorted(agg.items())
        ]

    def memory(self) -> dict[str, Any]:
        """Resident memory (weights + KV cache at its largest + optimizer state and gradients) vs the device."""
        weights = float(sum(p.numel() * p.element_size() for p in self.workload.model.parameters()))
        state: dict[str, float] = {}
        for t in self.traces:
            for k, v in t.state_bytes.items():
                state[k] = max(state.get(k, 0.0), v)
        total = weights + sum(state.values())
        tp = self.request.tensor_parallel
        per_dev = total / tp  # weights, KV and optimizer state are sharded (norm weights replicated: negligible)
        dev = self.profile.mem_gb * 1e9 if self.profile.mem_gb else None
        return {
            "weights_bytes": weights,
            **{f"{k}_bytes": v for k, v in state.items()},
            "resident_bytes": total,
            "tensor_parallel": tp,
            "resident_bytes_per_device": per_dev,
            "device_memory_bytes": dev,
            "fits": (per_dev <= dev) if dev else None,
            "note": "activations and workspace not included; device memory from mem_gb (empty for CPUs)",
        }

    def by_role(self) -> list[dict[str, Any]]:
        agg = self.estimate.by("role")
        rows = [_role_row(role, agg[role]) for role in R.ROLES if role in agg]
        for r in rows:  # where each role sits on the energy roofline (Choi et al.)
            e = r["energy_j"]["mid"]
            r["flop_per_j"] = r["flops"] / e if e > 0 else None
            if r["intensity"] > 0 and r["flop_per_j"]:
                try:
                    ceil = energy_roofline(self.profile, _dt(self.workload), [r["intensity"]])[0]["flop_per_j"]
                except ValueError:
                    ceil = None
                r["roofline_flop_per_j"] = ceil
                r["roofline_fraction"] = r["flop_per_j"] / ceil if ceil else None
        return rows

    def by_layer(self) -> list[dict[str, Any]]:
        agg = self.estimate.by("layer")
        rows = [_role_row(k, v, key="layer") for k, v in agg.items()]
        return sorted(rows, key=lambda r: -r["energy_j"]["mid"])

    def by_phase(self) -> list[dict[str, Any]]:
        agg = self.estimate.by("phase")
        rows = []
        for t in self.traces:
            if t.phase in agg:
                row = _role_row(t.phase, agg[t.phase], key="phase")
                row["tokens"] = t.tokens
                row["energy_j_per_token"] = {k: v / max(t.tokens, 1) for k, v in row["energy_j"].items()}
                rows.append(row)
        return rows

    def assumptions(self) -> list[str]:
        p = self.profile
        out = [
            "FLOPs: 2 per multiply-add; matrix FLOPs exact per op; elementwise/norm/softmax counted as FLOP-"
            "equivalents per element (1 arithmetic, 4 transcendental; table in wattlens/analyze/formulas.py).",
            "flops = dense-kernel count (FlopCounterMode convention, full T^2 attention); the low estimate uses "
            "causal-skipped attention FLOPs (flops_useful).",
            "bytes: [fused lower bound, eager upper bound] of DRAM traffic per op (capture.finalize docstring); "
            f"mid = {'midpoint of the bounds' if self.request.backend == 'mid' else self.request.backend + ' bound'}.",
            "time: per-op roofline max(F/R, B/W) at attainable rates (peak x gemm_frac or bw_frac, size-derated "
            "as calculon), plus launch/dispatch overhead (serial on CPUs, overlapped on accelerators); ops "
            "run one after another (no overlap between ops, no multi-stream).",
            "energy: E = bytes x (eps_dram + eps_on_chip) + FLOPs x eps_flop(dtype) + P_static x T; elementwise "
            "FLOPs at the fp32 vector rate and energy; static power = idle power while the job holds the device.",
            f"hardware {p.name}: {p.derived_from or 'figures from hardware_profiles.csv'}; every figure has a "
            "[low, high] range and a source (wattlens hardware " + p.name + " --json).",
            "model weights are random and never allocated: tracing runs on the meta device; counts depend on "
            "shapes only.",
            "attention: F.scaled_dot_product_attention is captured as one fused kernel (FlashAttention-style: "
            "reads Q, K, V, writes O); explicit (eager) attention code is counted op by op.",
        ]
        if p.calibrated:
            out.append(
                f"profile calibrated on this machine ({p.calibrated.get('when', '')}); meter source "
                f"{p.calibrated.get('meter_source', '?')}"
                + (
                    " -- an ESTIMATE (CPU-time model), not a hardware counter"
                    if p.calibrated.get("meter_source") == "estimated"
                    else ""
                )
            )
        for t in self.traces:
            out += t.notes
        if self.request.tensor_parallel > 1:
            out.append(
                f"tensor parallel over {self.request.tensor_parallel} devices (Megatron-style, rules in "
                "wattlens/analyze/parallel.py): time is one device's, energy is the group's; all-reduces "
                "are not overlapped with compute"
            )
        if self.workload.extra.get("guessed_input"):
            out.append(f"input guessed from the first layer: {self.workload.extra['guessed_input']}")
        out += self.estimate.assumptions + self.extra_assumptions
        return out

    def to_dict(self, by_layer: bool = False) -> dict[str, Any]:
        recs = self.records
        ndev = self.estimate.options.devices  # counts over the whole tensor-parallel group
        flops = (sum_field(recs, "flops") + sum_field(recs, "flops_vector")) * ndev
        useful = (sum_field(recs, "flops_useful") + sum_field(recs, "flops_vector")) * ndev
        lo = sum(r.bytes_lo() for r in recs) * ndev
        hi = sum(r.bytes_hi() for r in recs) * ndev
        cats = {
            c: {"low": sum_field(recs, f"lo_{c}") * ndev, "high": sum_field(recs, f"hi_{c}") * ndev} for c in CATEGORIES
        }
        parts: defaultdict[str, float] = defaultdict(float)
        for c in self.estimate.costs:
            for k, v in c.parts_j.items():
                parts[k] += v
        w = self.workload
        rq = self.request
        d: dict[str, Any] = {
            "model": w.name,
            "description": w.description,
            "params": w.params,
            "dtype": _dt(w),
            "hardware": self.profile.name,
            "hardware_profile": {
                "derived_from": self.profile.derived_from,
                "calibrated": bool(self.profile.calibrated),
                "figures": self.profile.to_dict(),
            },
            "phase": rq.phase,
            "batch": rq.batch,
            "seq": rq.seq,
            "prompt": rq.prompt,
            "new_tokens": rq.new_tokens if rq.phase in ("decode", "generate") else None,
            "flops": flops,
            "flops_detail": {
                "matrix_dense": sum_field(recs, "flops") * ndev,
                "matrix_useful": sum_field(recs, "flops_useful") * ndev,
                "vector": sum_field(recs, "flops_vector") * ndev,
                "useful_total": useful,
            },
            "bytes": {"low": lo, "high": hi, "by_category": cats},
            "link_bytes": sum_field(recs, "link_bytes") * ndev,
            "tensor_parallel": ndev,
            "time_s": {k: self.time(k) for k in CORNERS},
            "energy_j": {k: self.energy(k) for k in CORNERS},
            "energy_parts_j_mid": dict(parts),
            "tokens": self.tokens,
            "memory": self.memory(),
            "by_phase": self.by_phase(),
            "by_role": self.by_role(),
            "unsupported_ops": self.unsupported(),
            "levers": [lv.to_dict() for lv in self.levers],
            "roofline": {**balance_points(self.profile, _dt(w)), "dtype": _dt(w)},
            "assumptions": self.assumptions(),
            "capture": {
                "ops_dispatched": sum(t.ops_dispatched for t in self.traces),
                "records": len(recs),
                "capture_s": self.capture_s,
                "model_s": self.model_s,
                "traced_decode_contexts": [c for t in self.traces for c in t.traced_contexts],
                "decode_exact": all(t.exact for t in self.traces),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
        }
        if self.tokens_out:
            d["energy_j_per_output_token"] = {k: v / self.tokens_out for k, v in d["energy_j"].items()}
        if by_layer:
            d["by_layer"] = self.by_layer()
        return d


def _dt(w: Workload) -> str:
    return {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(w.dtype), "fp32")


def _role_row(name: str, a: dict[str, Any], key: str = "role") -> dict[str, Any]:
    return {
        key: name,
        "flops": a["flops"],
        "flops_useful": a["flops_useful"],
        "bytes": {"low": a["bytes_low"], "high": a["bytes_high"]},
        "bytes_by_category": a["bytes_by_category"],
        "intensity": a["intensity_flop_per_byte"]["mid"],
        "intensity_range": a["intensity_flop_per_byte"],
        "bound": a["bound"],
        "time_s": a["time_s"],
        "energy_j": a["energy_j"],
        "energy_parts_j_mid": a["energy_parts_j"],
        "ops": a["ops"],
        "link_bytes": a["link_bytes"],
    }


def default_dtype(profile: Profile) -> str:
    if profile.kind == "cpu":
        return "fp32"  # PyTorch CPU inference default
    if "bf16" in profile.peak_tflops:
        return "bf16"
    return "fp16" if "fp16" in profile.peak_tflops else "fp32"


def run_traces(w: Workload, rq: Request) -> list[PhaseTrace]:
    if rq.phase == "train":
        return [trace_train(w, rq.batch, rq.seq or 512, rq.optimizer)]
    if rq.phase in ("forward", "prefill"):
        return [trace_forward(w, rq.batch, rq.seq or 512, phase=rq.phase)[0]]
    return trace_generate(
        w, rq.batch, rq.prompt or 512, rq.new_tokens, include_prefill=rq.phase == "generate", full_trace=rq.full_trace
    )


def analyze_workload(w: Workload, profile: Profile, rq: Request, options: Options | None = None) -> Analysis:
    rq = rq.resolved(w)
    t0 = time.perf_counter()
    traces = run_traces(w, rq)
    t1 = time.perf_counter()
    recs = [r for t in traces for r in t.records]
    opt = options or Options(backend=rq.backend)
    if rq.tensor_parallel > 1:
        from wattlens.analyze.parallel import tensor_parallel

        recs = tensor_parallel(recs, rq.tensor_parallel)
        opt = dataclasses.replace(opt, devices=rq.tensor_parallel)
    est = estimate(recs, profile, opt)
    return Analysis(w, profile, rq, traces, est, t1 - t0, time.perf_counter() - t1)


def analyze(
    model: Any,
    hardware: str | Profile = "this-machine",
    phase: str = "auto",
    batch: int = 1,
    seq: int | None = None,
    prompt: int | None = None,
    new_tokens: int = 128,
    dtype: str | None = None,
    backend: str = "mid",
    levers: bool = True,
    full_trace: bool = False,
    inputs: Any = None,
    tensor_parallel: int = 1,
) -> Analysis:
    """Analyse a model (preset name, config.json path, ``file.py:builder`` or ``nn.Module``) on a hardware
    profile without running it. See ``wattlens analyze --help``."""
    profile = hardware if isinstance(hardware, Profile) else get_profile(hardware)
    import torch

    keep = isinstance(model, (torch.nn.Module, Workload)) and dtype is None  # a given module keeps its dtype
    w = resolve(model, None if keep else (dtype or default_dtype(profile)))
    if inputs is not None:
        from wattlens.analyze.presets import _to_meta

        w.custom_inputs = _to_meta(inputs)
    rq = Request(
        phase=phase,
        batch=batch,
        seq=seq,
        prompt=prompt,
        new_tokens=new_tokens,
        backend=backend,
        full_trace=full_trace,
        tensor_parallel=tensor_parallel,
    )
    a = analyze_workload(w, profile, rq)
    if levers:
        from wattlens.analyze.levers import compute_levers

        a.levers = compute_levers(a)
    return a


def geometric(lo: float, hi: float) -> float:
    return math.sqrt(lo * hi) if lo > 0 and hi > 0 else (lo + hi) / 2
