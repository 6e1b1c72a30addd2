"""``analyze()``: op graph (cached or traced) -> roles -> device roofline + host -> energy -> boundary -> levers,
and the ``--json`` contract (:class:`wattlens.analyze.records.AnalysisReport`).

Importing this module does not import torch: an analysis whose trace is in the cache runs without it.
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wattlens.analyze import roles as R
from wattlens.analyze.graph import CATEGORIES, ModelInfo, PhaseTrace, Record, flatten, ops_of, sum_field
from wattlens.analyze.host import HostModel, host_model, load_calibration
from wattlens.analyze.model import (
    CORNERS,
    Estimate,
    Options,
    balance_points,
    energy_roofline,
    estimate,
    framework_record,
)
from wattlens.analyze.profiles import Profile, fallback_note, get_profile
from wattlens.analyze.records import (
    AnalysisReport,
    BoundaryEnergy,
    ByteRange,
    Bytes,
    CaptureInfo,
    FlopsDetail,
    HardwareInfo,
    HostTime,
    LayerRow,
    Lever,
    MemoryFit,
    PhaseRow,
    Range,
    RoleRow,
    Roofline,
    UnsupportedOp,
)
from wattlens.analyze.traces import ModelSource, TraceRequest, TraceSet, get_traces

PHASES = ("auto", "forward", "prefill", "decode", "generate", "train")
TRANSFERS = (
    "host work (Python, modelling code, dispatcher, tokenisation, pre-processing) was measured on this machine's "
    "CPU and carries over to another host scaled by its single-thread speed (the host band); the CUDA launch path "
    "(profile kernel_launch_us), the device-side kernel floor and the overlap of host and device do not -- they are "
    "properties of the accelerator and its driver (class figures; benchmarks/analyze_gpu_probe.py measures them)"
)


@dataclass(frozen=True)
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
    runtime: str = "eager"  # eager | cuda-graph | compiled (wattlens.analyze.host)
    host: str = "auto"  # the host CPU band: auto | this-machine | same-cpu | unknown
    tf32_matmul: bool = False  # fp32 matmuls on TF32 (PyTorch's default is False; convolutions use TF32)
    compute_dtype: str | None = None  # fp8 / int8: W8A8 GEMMs re-typed from the traced graph (retype.py)

    def resolved(self, generative: bool, name: str = "", kind: str = "") -> Request:
        phase = self.phase
        if phase == "auto":
            phase = "generate" if generative else "forward"
        if phase in ("decode", "generate") and not generative:
            raise ValueError(f"{name} ({kind}) has no decode phase; use --phase forward or train")
        prompt = self.prompt if self.prompt is not None else (self.seq or 512)
        seq = self.seq
        if seq is None:
            seq = prompt if phase in ("prefill", "generate", "decode") else 512
        return dataclasses.replace(self, phase=phase, prompt=prompt, seq=seq)

    def trace_request(self, fit_batch: bool = True) -> TraceRequest:
        return TraceRequest(
            self.phase,
            self.batch,
            self.seq or 512,
            self.prompt or 512,
            self.new_tokens,
            self.optimizer,
            self.full_trace,
            fit_batch=fit_batch,
        )


def _dt_name(info: ModelInfo) -> str:
    return info.dtype


@dataclass(frozen=True)
class Analysis:
    model: ModelInfo
    profile: Profile
    request: Request
    traces: tuple[PhaseTrace, ...]
    estimate: Estimate
    host: HostModel | None
    capture_s: float
    model_s: float
    source: ModelSource | None = None
    trace_set: TraceSet | None = None
    levers: tuple[Lever, ...] = ()
    extra_assumptions: tuple[str, ...] = ()
    boundary: BoundaryEnergy | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- convenience
    @property
    def records(self) -> list[Record]:
        return self.estimate.records

    @property
    def workload(self) -> Any:
        """The traced workload (torch; built on demand when the trace came from the cache)."""
        if self.source is None:
            raise ValueError("this analysis has no model source")
        return self.source.workload()

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

    def energy_range(self) -> Range:
        return Range(*(self.energy(c) for c in CORNERS))

    def time_range(self) -> Range:
        return Range(*(self.time(c) for c in CORNERS))

    def static_energy(self) -> Range:
        """The device-boundary energy drawn as static power over the wall time (the idle share)."""
        p = self.profile.static_w
        if not p:
            return Range(0.0, 0.0, 0.0)
        k = self.estimate.options.devices
        return Range(p.low * self.time("low") * k, p.high * self.time("mid") * k, p.high * self.time("high") * k)

    # -- report pieces
    def unsupported(self) -> list[UnsupportedOp]:
        agg: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0.0, "bytes_high": 0.0, "modules": set()})
        for r in self.records:
            if r.unsupported:
                a = agg[r.name]
                a["calls"] += r.n * r.mult
                a["bytes_high"] += r.bytes_hi()
                a["modules"].add(r.module)
        return [
            UnsupportedOp(
                k,
                v["calls"],
                v["bytes_high"],
                tuple(sorted(v["modules"])[:5]),
                "no FLOP formula: FLOPs unknown (not 0), bytes counted",
            )
            for k, v in sorted(agg.items())
        ]

    def memory(self) -> MemoryFit:
        """Resident memory (weights + KV cache at its largest + optimizer state and gradients) vs the device."""
        weights = self.model.weights_bytes
        state: dict[str, float] = {}
        for t in self.traces:
            for k, v in t.state_bytes.items():
                state[k] = max(state.get(k, 0.0), v)
        total = weights + sum(state.values())
        tp = self.request.tensor_parallel
        per_dev = total / tp  # weights, KV and optimizer state are sharded (norm weights replicated: negligible)
        dev = self.profile.mem_gb * 1e9 if self.profile.mem_gb else None
        return MemoryFit(
            weights_bytes=weights,
            resident_bytes=total,
            tensor_parallel=tp,
            resident_bytes_per_device=per_dev,
            device_memory_bytes=dev,
            fits=(per_dev <= dev) if dev else None,
            note="activations and workspace not included; device memory from mem_gb (empty for CPUs)",
            kv_cache_bytes=state.get("kv_cache"),
            optimizer_bytes=state.get("optimizer"),
            gradients_bytes=state.get("gradients"),
        )

    def by_role(self) -> list[RoleRow]:
        agg = self.estimate.by("role")
        rows = []
        for role in R.ROLES:
            if role not in agg:
                continue
            a = agg[role]
            e = a["energy_j"]["mid"]
            fpj = a["flops"] / e if e > 0 else None
            ceil = frac = None
            if a["intensity_flop_per_byte"]["mid"] > 0 and fpj:
                try:
                    ceil = energy_roofline(self.profile, self.model.dtype, [a["intensity_flop_per_byte"]["mid"]])[0][
                        "flop_per_j"
                    ]
                except ValueError:
                    ceil = None
                frac = fpj / ceil if ceil else None
            rows.append(
                RoleRow(**_cost_fields(a), role=role, flop_per_j=fpj, roofline_flop_per_j=ceil, roofline_fraction=frac)
            )
        return rows

    def by_layer(self) -> list[LayerRow]:
        agg = self.estimate.by("layer")
        rows = [LayerRow(**_cost_fields(v), layer=k) for k, v in agg.items()]
        return sorted(rows, key=lambda r: -r.energy_j.mid)

    def by_phase(self) -> list[PhaseRow]:
        agg = self.estimate.by("phase")
        rows = []
        for t in self.traces:
            if t.phase in agg:
                f = _cost_fields(agg[t.phase])
                per = f["energy_j"].scaled(1.0 / max(t.tokens, 1))
                rows.append(PhaseRow(**f, phase=t.phase, tokens=t.tokens, energy_j_per_token=per))
        return rows

    def host_time(self) -> HostTime | None:
        h = self.host
        if h is None:
            return None
        costs = list(zip(self.records, self.estimate.costs, strict=True))
        busy = Range(*(math.fsum(c.device_s.get(k, 0.0) for _, c in costs) for k in CORNERS))
        issue = Range(*(math.fsum(c.host_s.get(k, 0.0) for r, c in costs if r.kind != "host") for k in CORNERS))
        fw = Range(*(math.fsum(c.time_s[k] for r, c in costs if r.kind == "host") for k in CORNERS))
        wall = self.time_range()
        idle = max(0.0, 1.0 - busy.mid / wall.mid) if wall.mid > 0 else 0.0
        bound = "host" if (issue.mid + fw.mid) > busy.mid else "device"
        return HostTime(h.runtime, h.host, wall, busy, issue, fw, idle, bound, h.to_dict(), TRANSFERS)

    def assumptions(self) -> list[str]:
        p = self.profile
        out = [
            "FLOPs: 2 per multiply-add; matrix FLOPs exact per op; elementwise/norm/softmax counted as FLOP-"
            "equivalents per element (1 arithmetic, 4 transcendental; table in wattlens/analyze/formulas.py).",
            "flops = dense-kernel count (FlopCounterMode convention, full T^2 attention); the low estimate uses "
            "causal-skipped attention FLOPs (flops_useful).",
            "bytes: [fused lower bound, eager upper bound] of DRAM traffic per op (capture.finalize docstring); "
            f"mid = {'midpoint of the bounds' if self.request.backend == 'mid' else self.request.backend + ' bound'}.",
            "device time per op: roofline max(F/R, B/W) at attainable rates (peak x gemm_frac or bw_frac, size-"
            "derated as calculon), at least one kernel floor per launched kernel; ops run one after another on one "
            "stream.",
            "energy: E = bytes x (eps_dram + eps_on_chip) + FLOPs x eps_flop(dtype) + P_static x T_wall; elementwise "
            "FLOPs at the fp32 vector rate and energy; static power = idle power while the job holds the device, "
            "over the whole wall time (host-bound gaps included).",
            f"hardware {p.name}: {p.derived_from or 'figures from hardware_profiles.csv'}; every figure has a "
            "[low, high] range and a source (wattlens hardware " + p.name + " --json).",
            "model weights are random and never allocated: tracing runs on the meta device; counts depend on "
            "shapes only.",
            "attention: F.scaled_dot_product_attention is captured as one fused kernel (FlashAttention-style: "
            "reads Q, K, V, writes O); explicit (eager) attention code is counted op by op.",
        ]
        if self.host is not None:
            h = self.host
            out.append(
                f"host ({h.runtime}, host CPU band '{h.host}'): {h.op_us.low:.3g}-{h.op_us.high:.3g} us of host time "
                "per executed op; per pass T = max_k(H_1..k + D_k..n) (the device idles while the host is behind); "
                + ("host and device are the same CPU: their times add; " if h.serial else "")
                + "per query the framework's own work (tokenisation or image pre-processing, argument handling, the "
                "generation loop's ops) adds host time during which the device waits (role host_framework). "
                + TRANSFERS
                + "."
            )
        for dt in dict.fromkeys(d for d in (self.request.compute_dtype, self.model.dtype) if d):
            note = fallback_note(p, dt)
            if note:
                out.append(note)
        if p.kind == "cpu" and self.estimate.options.derating:
            from wattlens.analyze.cpu_gemm import cpu_gemm_efficiency

            out.append(
                cpu_gemm_efficiency().describe()
                + ("; a whole-socket profile: measured on one core (U)" if p.name != "this-machine" else "")
            )
        if p.vendor == "nvidia" and p.kind == "gpu" and self.model.dtype == "fp32":
            out.append(
                "fp32 on NVIDIA: convolutions run on TF32 tensor cores (PyTorch default torch.backends.cudnn."
                "allow_tf32 = True); matmuls "
                + (
                    "on TF32 (--tf32-matmul, i.e. torch.backends.cuda.matmul.allow_tf32 = True)"
                    if self.request.tf32_matmul
                    else "in full FP32 (PyTorch default torch.backends.cuda.matmul.allow_tf32 = False since 1.12)"
                )
            )
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
        if self.model.guessed_input:
            out.append(f"input guessed from the first layer: {self.model.guessed_input}")
        if self.boundary is not None:
            out += [f"boundary {self.boundary.boundary}: {n}" for n in self.boundary.notes]
        out += self.estimate.assumptions + list(self.extra_assumptions)
        return out

    def report(self, by_layer: bool = False) -> AnalysisReport:
        recs = self.records
        ndev = self.estimate.options.devices  # counts over the whole tensor-parallel group
        flops = (sum_field(recs, "flops") + sum_field(recs, "flops_vector")) * ndev
        useful = (sum_field(recs, "flops_useful") + sum_field(recs, "flops_vector")) * ndev
        lo = sum(r.bytes_lo() for r in recs) * ndev
        hi = sum(r.bytes_hi() for r in recs) * ndev
        cats = {c: ByteRange(sum_field(recs, f"lo_{c}") * ndev, sum_field(recs, f"hi_{c}") * ndev) for c in CATEGORIES}
        parts: defaultdict[str, float] = defaultdict(float)
        for c in self.estimate.costs:
            for k, v in c.parts_j.items():
                parts[k] += v
        m = self.model
        rq = self.request
        energy = self.energy_range()
        ts = self.trace_set
        return AnalysisReport(
            model=m.name,
            description=m.description,
            params=m.params,
            dtype=m.dtype,
            hardware=self.profile.name,
            hardware_profile=HardwareInfo(
                self.profile.derived_from, bool(self.profile.calibrated), self.profile.to_dict()
            ),
            phase=rq.phase,
            batch=rq.batch,
            seq=rq.seq,
            prompt=rq.prompt,
            new_tokens=rq.new_tokens if rq.phase in ("decode", "generate") else None,
            flops=flops,
            flops_detail=FlopsDetail(
                sum_field(recs, "flops") * ndev,
                sum_field(recs, "flops_useful") * ndev,
                sum_field(recs, "flops_vector") * ndev,
                useful,
            ),
            bytes=Bytes(lo, hi, cats),
            link_bytes=sum_field(recs, "link_bytes") * ndev,
            tensor_parallel=ndev,
            time_s=self.time_range(),
            energy_j=energy,
            energy_parts_j_mid=dict(parts),
            tokens=self.tokens,
            memory=self.memory(),
            by_phase=tuple(self.by_phase()),
            by_role=tuple(self.by_role()),
            unsupported_ops=tuple(self.unsupported()),
            levers=self.levers,
            roofline=Roofline(**balance_points(self.profile, m.dtype), dtype=m.dtype),
            assumptions=tuple(self.assumptions()),
            capture=CaptureInfo(
                ops_dispatched=ts.dispatched if ts and not ts.cached else 0,
                records=len(recs),
                capture_s=self.capture_s,
                model_s=self.model_s,
                traced_decode_contexts=tuple(c for t in self.traces for c in t.traced_contexts),
                decode_exact=all(t.exact for t in self.traces),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                cached=bool(ts and ts.cached),
                trace_key=ts.key if ts and ts.key else None,
                passes=ts.passes if ts else 0,
                ops_represented=ops_of(r for r in recs if r.kind != "host"),
            ),
            runtime=rq.runtime,
            host=self.host_time(),
            boundary=self.boundary,
            tf32={"conv": self.estimate.options.tf32_conv, "matmul": self.estimate.options.tf32_matmul}
            if (self.profile.vendor == "nvidia" and self.profile.kind == "gpu" and m.dtype == "fp32")
            else None,
            energy_j_per_output_token=energy.scaled(1.0 / self.tokens_out) if self.tokens_out else None,
            by_layer=tuple(self.by_layer()) if by_layer else None,
        )

    def to_dict(self, by_layer: bool = False) -> dict[str, Any]:
        return self.report(by_layer).to_dict()


def _cost_fields(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "flops": a["flops"],
        "flops_useful": a["flops_useful"],
        "bytes": ByteRange(a["bytes_low"], a["bytes_high"]),
        "bytes_by_category": {k: ByteRange(v["low"], v["high"]) for k, v in a["bytes_by_category"].items()},
        "intensity": a["intensity_flop_per_byte"]["mid"],
        "intensity_range": Range.of(a["intensity_flop_per_byte"]),
        "bound": a["bound"],
        "paced_by": a["paced_by"],
        "time_s": Range.of(a["time_s"]),
        "energy_j": Range.of(a["energy_j"]),
        "energy_parts_j_mid": dict(a["energy_parts_j"]),
        "ops": a["ops"],
        "link_bytes": a["link_bytes"],
        "host_s_mid": a["host_s"],
        "device_s_mid": a["device_s"],
    }


def default_dtype(profile: Profile) -> str:
    if profile.kind == "cpu":
        return "fp32"  # PyTorch CPU inference default
    if "bf16" in profile.peak_tflops:
        return "bf16"
    return "fp16" if "fp16" in profile.peak_tflops else "fp32"


_HOSTS: dict[tuple[Any, ...], HostModel] = {}  # host models by profile, family and runtime (one process)


def options_for(model: ModelInfo, profile: Profile, rq: Request, base: Options | None = None) -> Options:
    """The model options of a request: byte backend, devices, the host model, TF32, queries and items."""
    key = (id(profile), profile.name, model.family, model.kind, rq.runtime, rq.host)
    h = _HOSTS.get(key)
    if h is None:
        cal = load_calibration(model.family)  # measured on this machine: the host band scales it to other hosts
        h = _HOSTS[key] = host_model(profile, model.family, model.kind, rq.runtime, rq.host, cal)
    opt = base or Options()
    return dataclasses.replace(
        opt,
        backend=rq.backend if base is None else opt.backend,
        devices=max(1, rq.tensor_parallel),
        host=h,
        tf32_matmul=rq.tf32_matmul,
        queries=0 if rq.phase == "train" else 1,
        items=rq.batch,
    )


def with_framework(records: list[Record], traces: list[PhaseTrace], rq: Request) -> list[Record]:
    """The records plus the framework's pseudo-ops: one per query call, one per decode step."""
    if rq.phase == "train" or not traces:
        return list(records)
    out: list[Record] = []
    first = traces[0].phase
    if first != "decode":
        out.append(framework_record(first, "query"))
    out += records
    for t in traces:
        if t.phase == "decode":
            out.append(framework_record("decode", "step", n=max(1, t.steps)))
    return out


def build(
    ts: TraceSet,
    profile: Profile,
    rq: Request,
    options: Options | None = None,
    source: ModelSource | None = None,
    host_model_on: bool = True,
) -> Analysis:
    """An analysis from a trace set (no torch): tensor parallelism, framework pseudo-ops, the estimate."""
    t0 = time.perf_counter()
    traces = list(ts.traces)
    model = ts.model
    extra: tuple[str, ...] = ()
    if rq.compute_dtype and rq.compute_dtype != model.dtype:
        from wattlens.analyze import retype as RT

        traces = [dataclasses.replace(t, records=RT.retype(t.records, model.dtype, rq.compute_dtype)) for t in traces]
        extra = (RT.note(model.dtype, rq.compute_dtype),)
        scale = {"fp8": 0.5, "int8": 0.5}.get(rq.compute_dtype, RT.BYTES[rq.compute_dtype] / RT.BYTES[model.dtype])
        model = dataclasses.replace(model, dtype=rq.compute_dtype, weights_bytes=model.weights_bytes * scale)
    recs = flatten(traces)
    opt = options_for(model, profile, rq, options) if host_model_on else (options or Options(backend=rq.backend))
    if rq.tensor_parallel > 1:
        from wattlens.analyze.parallel import tensor_parallel

        recs = tensor_parallel(recs, rq.tensor_parallel)
        opt = dataclasses.replace(opt, devices=rq.tensor_parallel)
    if opt.host is not None:
        recs = with_framework(recs, traces, rq)
    est = estimate(recs, profile, opt)
    return Analysis(
        model,
        profile,
        rq,
        tuple(traces),
        est,
        opt.host,
        0.0 if ts.cached else ts.capture_s,
        time.perf_counter() - t0,
        source=source,
        trace_set=ts,
        extra_assumptions=extra,
    )


def analyze_source(
    src: ModelSource,
    profile: Profile,
    rq: Request,
    options: Options | None = None,
    use_cache: bool = True,
    fit_batch: bool = True,
) -> Analysis:
    """Resolve the request against the model, get its traces (cache or capture) and build the analysis
    (``fit_batch=False``: no batch polynomial -- a lever's variant needs none)."""
    ts = _traces_for(src, rq, use_cache, fit_batch)
    return build(ts, profile, ts_request(ts, rq), options, src)


def ts_request(ts: TraceSet, rq: Request) -> Request:
    return rq.resolved(ts.model.generative, ts.model.name, ts.model.kind)


def _traces_for(src: ModelSource, rq: Request, use_cache: bool, fit_batch: bool = True) -> TraceSet:
    # the phase default (and whether decode applies) depends on the model: its facts come from the cache when
    # any trace of it is there, else from the model itself
    info = _peek_model(src, use_cache)
    return get_traces(src, rq.resolved(info.generative, info.name, info.kind).trace_request(fit_batch), use_cache)


def _peek_model(src: ModelSource, use_cache: bool) -> ModelInfo:
    """The model facts without tracing: from any cached trace set of the same model, else by building it."""
    from wattlens.analyze.traces import cached_model_info

    info = cached_model_info(src) if use_cache else None
    if info is not None:
        return info
    from wattlens.analyze.presets import model_info

    return model_info(src.workload())


def analyze_workload(w: Any, profile: Profile, rq: Request, options: Options | None = None) -> Analysis:
    """An analysis of an already built workload (``presets.Workload``): traced now, not cached."""
    return analyze_source(ModelSource(w, None), profile, rq, options, use_cache=False)


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
    runtime: str = "eager",
    host: str = "auto",
    tf32_matmul: bool = False,
    boundary: str = "device",
    node: str | None = None,
    pue: Any = None,
    cache: bool = True,
) -> Analysis:
    """Analyse a model (preset name, config.json path, ``file.py:builder`` or ``nn.Module``) on a hardware
    profile without running it. See ``wattlens analyze --help``.

    >>> a = analyze("gpt2", "a100", phase="prefill", seq=128, levers=False)   # doctest: +SKIP
    >>> a.to_dict()["energy_j"]["mid"] > 0                                      # doctest: +SKIP
    True
    """
    profile = hardware if isinstance(hardware, Profile) else get_profile(hardware)
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; allowed: {', '.join(PHASES)}")
    compute = None
    if dtype in ("fp8", "int8"):
        compute, dtype = dtype, ("bf16" if "bf16" in profile.peak_tflops else "fp16")
    src = _source(model, dtype, profile, inputs)
    rq = Request(
        phase=phase,
        batch=batch,
        seq=seq,
        prompt=prompt,
        new_tokens=new_tokens,
        backend=backend,
        full_trace=full_trace,
        tensor_parallel=tensor_parallel,
        runtime=runtime,
        host=host,
        tf32_matmul=tf32_matmul,
        compute_dtype=compute,
    )
    a = analyze_source(src, profile, rq, use_cache=cache and inputs is None)
    if boundary != "device":
        a = dataclasses.replace(a, boundary=boundary_of(a, boundary, node, pue))
    if levers:
        from wattlens.analyze.levers import compute_levers

        lv, notes = compute_levers(a)
        a = dataclasses.replace(a, levers=tuple(lv), extra_assumptions=a.extra_assumptions + tuple(notes))
    return a


def boundary_of(a: Analysis, boundary: str, node: str | None, pue: Any) -> BoundaryEnergy:
    from wattlens.analyze import boundary as B

    if boundary not in B.BOUNDARIES:
        raise B.BoundaryError(f"unknown boundary {boundary!r}; allowed: {', '.join(B.BOUNDARIES)}")
    pue_range = B.parse_pue(pue)
    if boundary == "facility" and pue_range is None:
        raise B.BoundaryError("--boundary facility needs --pue (a number or LOW-HIGH): wattlens never assumes one")
    n = B.get_node(node or B.default_node(a.profile))
    from wattlens.analyze.host import input_kind

    nb = B.node_energy(
        a.energy_range(),
        a.static_energy(),
        a.time_range(),
        a.estimate.options.devices,
        n,
        a.profile,
        input_kind(a.model.kind),
    )
    if node is None:
        nb = dataclasses.replace(
            nb, notes=(f"node profile {n.name} chosen for {a.profile.name} (--node to change)", *nb.notes)
        )
    if boundary == "facility" and pue_range is not None:
        return B.facility_energy(nb, pue_range)
    return nb


def _source(model: Any, dtype: str | None, profile: Profile, inputs: Any) -> ModelSource:
    if inputs is not None:
        from wattlens.analyze.presets import _to_meta, resolve

        keep_dtype = dtype is None and not isinstance(model, str)
        w = resolve(model, None if keep_dtype else (dtype or default_dtype(profile)))
        w.custom_inputs = _to_meta(inputs)
        return ModelSource(w, None)
    if isinstance(model, str):
        return ModelSource(model, dtype or default_dtype(profile))
    # a module or workload given in Python keeps its own dtype unless one is asked for
    return ModelSource(model, dtype)


def geometric(lo: float, hi: float) -> float:
    return math.sqrt(lo * hi) if lo > 0 and hi > 0 else (lo + hi) / 2


__all__ = ["PHASES", "Analysis", "Request", "analyze", "analyze_workload", "build", "default_dtype", "options_for"]
