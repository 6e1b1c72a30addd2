"""Whole training runs: energy, time, GPU-hours and CO2e of pre-training a model on a cluster, as ranges.

    wattlens analyze MODEL --phase train --tokens 3.5e11 --gpus 384 --hardware a100 --tp 4 --pp 12 --dp 8 --mfu 0.3-0.5

* **FLOPs** per token from the traced op graph: a (layer-folded) forward pass at the training length, dense matrix
  FLOPs exact per op (attention included); training = forward + backward = 3 x forward (the backward of a matmul
  computes two products of the same size: dX and dW); the low corner uses causal-skipped attention.
* **Time** = model FLOPs / (GPUs x bf16 peak x MFU). MFU (model FLOPs utilisation, end to end) is a range: given
  (``--mfu``) or the stated default 0.30-0.50 (PaLM 46.2 %, Megatron-LM 1T 56.3 % MFU as quoted in docs/HARDWARE.md;
  the llm-analysis rule of thumb <= 0.5 for training). A bottom-up model of the same step -- compute at the
  profile's GEMM fraction, tensor-parallel all-reduces on the node's NVLink, the data-parallel gradient all-reduce
  on the inter-node fabric (partly hidden behind the backward pass), pipeline point-to-point sends and the
  pipeline bubble -- is reported next to it (``modelled_mfu``) with each communication part's bytes, time and
  energy: communication is part of the run, and the two views can be compared.
* **Energy** (device) = FLOPs x energy per FLOP + DRAM bytes x energy per byte + link bytes x energy per byte +
  GPUs x static power x time; **node** adds the nodes' CPUs, DRAM and other power over the run
  (``data/node_profiles.csv``); **facility** x PUE (given); **CO2e** at the carbon intensity of the location given
  (wattlens.carbon; the WORLD average, stated, when none is).
* ``wattlens breakeven --training-estimate`` takes this run's energy (labelled ``estimated``) as the training
  figure.

Torch is imported only when the forward pass has to be traced (it is cached like any trace).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wattlens.analyze.boundary import BoundaryError, default_node, get_node
from wattlens.analyze.graph import sum_field
from wattlens.analyze.profiles import Figure, Profile, get_profile
from wattlens.analyze.records import Range
from wattlens.errors import WattlensError
from wattlens.records import Record, optional
from wattlens.units import J_PER_KWH

DEFAULT_MFU = Figure(
    0.30,
    0.50,
    "fraction",
    "stated default: end-to-end MFU of large training runs 0.30-0.50 (PaLM 540B 46.2 %; Megatron-LM 1T 56.3 % MFU; "
    "llm-analysis rule of thumb <= 0.5 -- docs/HARDWARE.md, whole-training-job utilisation)",
)
DP_OVERLAP = Figure(0.5, 0.95, "fraction", "assumed (U): share of the gradient all-reduce hidden behind backward")
HOST_THREADS_PER_GPU = Figure(1.0, 4.0, "threads", "assumed (U): the training process and its data-loader workers")
GLOBAL_BATCH_TOKENS = 4 * 1024 * 1024  # Llama 2 Table 1: "global batch-size of 4M tokens"; BLOOM 2048 x 2048


class TrainingError(WattlensError, ValueError):
    """An inconsistent training layout (the message says what to pass)."""


@dataclass(frozen=True)
class CommPart(Record):
    """One communication (or waiting) part of a training step, per GPU, over the whole run."""

    part: str  # tensor-parallel all-reduce | data-parallel all-reduce | pipeline sends | pipeline bubble
    bytes_per_gpu: float  # over the run (0 for the bubble)
    time_s: Range  # exposed time over the run (not hidden behind compute)
    energy_j: Range  # all GPUs: link energy + static power over the exposed time
    link: str  # NVLink (in a node) | inter-node fabric | none
    source: str


@dataclass(frozen=True)
class TrainingRun(Record):
    """``wattlens analyze MODEL --phase train --tokens ...``: a whole pre-training run as ranges."""

    model: str
    params: int
    hardware: str
    node: str
    gpus: int
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    tokens: float
    seq: int
    global_batch_tokens: int
    steps: float
    flops_per_token: Range  # training (forward + backward) model FLOPs per token; low = causal-skipped attention
    model_flops: Range
    mfu: Range  # used for the time
    mfu_source: str
    modelled_mfu: Range  # the bottom-up step model's MFU (compute, communication, bubble)
    time_s: Range  # wall time of the run
    gpu_hours: Range
    energy_j: Range  # device boundary: the GPUs
    node_energy_j: Range  # + the nodes' CPUs, DRAM and other power
    energy_kwh: Range  # at the reported boundary (facility when a PUE is given, else node)
    energy_boundary: str  # node | facility
    communication: tuple[CommPart, ...]
    mean_gpu_power_w: Range
    assumptions: tuple[str, ...]
    source: str = "estimated"  # always an estimate (a documented model), never a measurement
    pue: Range | None = optional()
    co2e_kg: Range | None = optional()
    carbon_intensity_g_per_kwh: float | None = optional()
    carbon_location: str | None = optional()


def parse_range(text: str | float | None, name: str, lo: float = 0.0, hi: float = 1.0) -> Range | None:
    """``0.4`` or ``0.3-0.5`` -> a Range within [lo, hi]."""
    if text is None or text == "":
        return None
    parts = str(text).replace("..", "-").split("-") if not isinstance(text, (int, float)) else [text, text]
    try:
        a, b = float(parts[0]), float(parts[-1])
    except ValueError as exc:
        raise TrainingError(f"--{name} must be a number or LOW-HIGH, got {text!r}") from exc
    if not (lo < a <= b <= hi):
        raise TrainingError(f"--{name} must lie in ({lo}, {hi}] with low <= high, got {text!r}")
    return Range(a, math.sqrt(a * b), b)


def layout(gpus: int | None, tp: int, pp: int, dp: int | None) -> tuple[int, int, int, int]:
    """(gpus, tp, pp, dp) made consistent: gpus = tp x pp x dp."""
    if tp < 1 or pp < 1:
        raise TrainingError("--tp and --pp must be >= 1")
    if gpus is None and dp is None:
        raise TrainingError("a training run needs --gpus (or --dp with --tp/--pp)")
    if gpus is None:
        gpus = tp * pp * (dp or 1)
    if dp is None:
        if gpus % (tp * pp):
            raise TrainingError(f"--gpus {gpus} is not a multiple of --tp {tp} x --pp {pp}")
        dp = gpus // (tp * pp)
    if tp * pp * dp != gpus:
        raise TrainingError(f"--gpus {gpus} != --tp {tp} x --pp {pp} x --dp {dp}")
    return gpus, tp, pp, dp


def _r(f: Figure) -> Range:
    return Range(f.low, f.mid, f.high)


def training_run(
    model: Any,
    hardware: str | Profile,
    tokens: float,
    gpus: int | None = None,
    tp: int = 1,
    pp: int = 1,
    dp: int | None = None,
    mfu: Any = None,
    seq: int = 2048,
    global_batch_tokens: int = GLOBAL_BATCH_TOKENS,
    micro_batch: int = 1,
    node: str | None = None,
    pue: Any = None,
    country: str | None = None,
    region: str | None = None,
    intensity: float | None = None,
    dtype: str = "bf16",
    use_cache: bool = True,
) -> TrainingRun:
    if tokens <= 0:
        raise TrainingError("--tokens must be > 0")
    prof = hardware if isinstance(hardware, Profile) else get_profile(hardware)
    gpus, tp, pp, dp = layout(gpus, tp, pp, dp)
    from wattlens.analyze.analysis import Request, analyze_source
    from wattlens.analyze.boundary import parse_pue
    from wattlens.analyze.traces import ModelSource

    src = ModelSource(model, dtype) if isinstance(model, str) else ModelSource(model, None)
    # one forward pass at the training length, layer-folded and cached like any trace (no host model: the run's
    # time comes from the MFU, its per-op cost from the device roofline)
    a = analyze_source(src, prof, Request(phase="forward", batch=micro_batch, seq=seq), fit_batch=False)
    recs = [r for r in a.records if r.kind != "host"]
    toks = micro_batch * seq
    fwd_dense = (sum_field(recs, "flops") + sum_field(recs, "flops_vector")) / toks
    fwd_useful = (sum_field(recs, "flops_useful") + sum_field(recs, "flops_vector")) / toks
    fwd_bytes_lo = sum(r.bytes_lo() for r in recs) / toks
    fwd_bytes_hi = sum(r.bytes_hi() for r in recs) / toks
    per_tok = Range(3 * fwd_useful, 3 * math.sqrt(fwd_useful * fwd_dense), 3 * fwd_dense)
    flops = per_tok.scaled(tokens)
    peak, _ = prof.peak_flops(dtype)
    mfu_r = parse_range(mfu, "mfu") if mfu is not None else None
    mfu_src = "given (--mfu)" if mfu_r else DEFAULT_MFU.source
    mfu_r = mfu_r or _r(DEFAULT_MFU)
    # time: low corner = fewest FLOPs at the highest MFU
    t = Range(
        flops.low / (gpus * peak * mfu_r.high),
        flops.mid / (gpus * peak * mfu_r.mid),
        flops.high / (gpus * peak * mfu_r.low),
    )
    steps = tokens / global_batch_tokens
    nd = get_node(node or default_node(prof))
    comm = _communication(a.model, prof, nd, gpus, tp, pp, dp, tokens, seq, global_batch_tokens, micro_batch, dtype)
    # bottom-up step time: compute at the GEMM fraction + exposed communication + bubble
    comp = Range(
        flops.low / (gpus * peak * prof.gemm_frac.high),
        flops.mid / (gpus * peak * prof.gemm_frac.mid),
        flops.high / (gpus * peak * prof.gemm_frac.low),
    )
    bottom = comp
    for c in comm:
        bottom = bottom.plus(c.time_s)
    bubble = _bubble(pp, global_batch_tokens, seq, micro_batch, dp)
    bottom = bottom.scaled(1.0 / (1.0 - bubble))
    modelled = Range(
        flops.low / (gpus * peak * bottom.high) if bottom.high else 0.0,
        flops.mid / (gpus * peak * bottom.mid) if bottom.mid else 0.0,
        flops.high / (gpus * peak * bottom.low) if bottom.low else 0.0,
    )
    modelled = Range(min(modelled.low, modelled.high), modelled.mid, max(modelled.low, modelled.high))
    # energy
    eps, _ = prof.eps_flop(dtype)
    e_byte = [sum(f.at(c) for f in prof.pj_per_byte.values()) * 1e-12 for c in ("low", "mid", "high")]
    bytes_tok = (
        3 * fwd_bytes_lo * tokens,
        3 * math.sqrt(fwd_bytes_lo * fwd_bytes_hi) * tokens,
        3 * fwd_bytes_hi * tokens,
    )
    static = prof.static_w or Figure(0.0, 0.0, "W", "unmodelled")
    # low: static power + the energy of the FLOPs and bytes themselves; high: every GPU at its power limit (TDP)
    # the whole run -- non-GEMM kernels, communication and clocks held high make the mean power of a training
    # job sit anywhere between the two (a GPU cannot average above its limit)
    link_j = [sum(x.bytes_per_gpu for x in comm) * gpus * k for k in _link_pj(prof)]
    low = flops.low * eps.low * 1e-12 + bytes_tok[0] * e_byte[0] + gpus * static.high * t.low + link_j[0]
    model_high = flops.high * eps.high * 1e-12 + bytes_tok[2] * e_byte[2] + gpus * static.high * t.high + link_j[2]
    high = gpus * prof.tdp_w * t.high if prof.tdp_w else model_high
    low = min(low, high)  # a GPU cannot average above its power limit over the run's time
    dev = Range(low, math.sqrt(low * high), high)
    nodes = math.ceil(gpus / nd.accelerators)
    threads = _r(HOST_THREADS_PER_GPU).scaled(min(gpus, nd.accelerators))
    per_node_w = Range(
        nd.cpu_idle_w.low + nd.cpu_busy_thread_w.low * threads.low + nd.dram_w.low + nd.other_w.low,
        nd.cpu_idle_w.mid + nd.cpu_busy_thread_w.mid * threads.mid + nd.dram_w.mid + nd.other_w.mid,
        nd.cpu_idle_w.high + nd.cpu_busy_thread_w.high * threads.high + nd.dram_w.high + nd.other_w.high,
    )
    node_e = dev.plus(
        Range(per_node_w.low * nodes * t.low, per_node_w.mid * nodes * t.mid, per_node_w.high * nodes * t.high)
    )
    pue_r = parse_pue(pue)
    boundary = "facility" if pue_r else "node"
    e_b = node_e if pue_r is None else Range(node_e.low * pue_r.low, node_e.mid * pue_r.mid, node_e.high * pue_r.high)
    kwh = e_b.scaled(1 / J_PER_KWH)
    from wattlens.carbon import resolve_location

    loc = resolve_location(country=country, region=region, intensity_g_per_kwh=intensity)
    g = loc.g_co2e_per_kwh
    co2 = kwh.scaled(g / 1000.0)
    loc_key = f"{loc.name} ({loc.source}{'; stated default' if loc.stated_default else ''})"
    gpu_h = t.scaled(gpus / 3600.0)
    mean_w = Range(dev.low / (gpus * t.low), dev.mid / (gpus * t.mid), dev.high / (gpus * t.high))
    mean_w = Range(min(mean_w.low, mean_w.high), mean_w.mid, max(mean_w.low, mean_w.high))
    assumptions = (
        f"FLOPs per token from the traced forward pass at length {seq} (micro-batch {micro_batch}) x 3 "
        "(backward = 2 x forward); low corner: causal-skipped attention",
        f"time = model FLOPs / ({gpus} GPUs x {peak / 1e12:.4g} TFLOP/s {dtype} peak x MFU {mfu_r.low:.2f}-"
        f"{mfu_r.high:.2f}); MFU source: {mfu_src}",
        f"global batch {global_batch_tokens} tokens ({steps:.4g} steps); layout tp {tp} x pp {pp} x dp {dp}",
        "GPU energy: low = static power over the run + FLOPs x energy per FLOP + DRAM bytes x energy per byte "
        "(hardware profile, TDP rule X, docs/HARDWARE.md; bytes = 3 x the forward pass's [fused, eager] bounds per "
        "token); high = every GPU at its power limit (TDP) for the whole run; mid = geometric mean",
        f"node {nd.name}: {nodes} nodes; host threads per GPU {HOST_THREADS_PER_GPU.low:g}-"
        f"{HOST_THREADS_PER_GPU.high:g} ({HOST_THREADS_PER_GPU.source})",
        f"carbon intensity {g:g} gCO2e/kWh: {loc_key}",
    )
    return TrainingRun(
        model=a.model.name,
        params=a.model.params,
        hardware=prof.name,
        node=nd.name,
        gpus=gpus,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        data_parallel=dp,
        tokens=tokens,
        seq=seq,
        global_batch_tokens=global_batch_tokens,
        steps=steps,
        flops_per_token=per_tok,
        model_flops=flops,
        mfu=mfu_r,
        mfu_source=mfu_src,
        modelled_mfu=modelled,
        time_s=t,
        gpu_hours=gpu_h,
        energy_j=dev,
        node_energy_j=node_e,
        energy_kwh=kwh,
        energy_boundary=boundary,
        communication=tuple(comm),
        mean_gpu_power_w=mean_w,
        assumptions=assumptions,
        pue=pue_r,
        co2e_kg=co2,
        carbon_intensity_g_per_kwh=g,
        carbon_location=loc_key,
    )


def _bubble(pp: int, gbt: int, seq: int, mb: int, dp: int) -> float:
    """The 1F1B pipeline bubble's share of a step: (pp - 1) / (m + pp - 1), m micro-batches per pipeline."""
    if pp <= 1:
        return 0.0
    m = max(1, gbt // (seq * mb * dp))
    return (pp - 1) / (m + pp - 1)


def _link_pj(prof: Profile) -> tuple[float, float, float]:
    f = prof.pj_per_link_byte
    if f is None:
        return (0.0, 0.0, 0.0)
    return (f.low * 1e-12, f.mid * 1e-12, f.high * 1e-12)


def _communication(
    info: Any,
    prof: Profile,
    nd: Any,
    gpus: int,
    tp: int,
    pp: int,
    dp: int,
    tokens: float,
    seq: int,
    gbt: int,
    mb: int,
    dtype: str,
) -> list[CommPart]:
    """Per-GPU bytes and exposed time of the step's communication over the run (Megatron-style layout)."""
    bpe = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0}.get(dtype, 2.0)
    hidden = info.hidden or 0
    layers = info.layers or 0
    steps = tokens / gbt
    static = prof.static_w.high if prof.static_w else 0.0
    out: list[CommPart] = []
    nvl = prof.link_gbs
    eff = prof.link_eff
    net = nd.network_gbs_per_gpu
    pj = _link_pj(prof)

    def part(
        name: str,
        nbytes: float,
        rate: tuple[float, float, float],
        exposed: tuple[float, float, float],
        link: str,
        src: str,
    ) -> CommPart:
        # rate: bytes/s at (fast, mid, slow); exposed: share of the transfer time not hidden (low, mid, high)
        tt = [nbytes / r * x if r else 0.0 for r, x in zip(rate, exposed, strict=True)]
        time = Range(tt[0], tt[1], tt[2])
        e = Range(*(nbytes * gpus * k for k in pj)).plus(time.scaled(gpus * static))
        return CommPart(name, nbytes, time, e, link, src)

    if tp > 1 and hidden and layers:
        if not (nvl and eff):
            raise BoundaryError(f"{prof.name}: no NVLink figure for tensor parallelism")
        # 4 all-reduces per layer per micro-batch (2 forward, 2 backward) of the [mb, seq, hidden] activations,
        # ring: 2(tp-1)/tp of it sent per GPU; this GPU holds layers/pp layers
        per_tok = 4 * (layers / pp) * hidden * bpe * 2 * (tp - 1) / tp
        nbytes = per_tok * tokens / dp  # tokens this GPU's pipeline replica processes
        r = (nvl.low * 1e9 * eff.high, nvl.low * 1e9 * eff.mid, nvl.low * 1e9 * eff.low)
        out.append(
            part(
                "tensor-parallel all-reduce",
                nbytes,
                r,
                (1.0, 1.0, 1.0),
                "NVLink (in a node)",
                "Megatron-LM: 2 all-reduces per layer forward + 2 backward, not overlapped",
            )
        )
    if dp > 1:
        grads = info.params * bpe / (tp * pp)
        nbytes = grads * 2 * (dp - 1) / dp * steps
        fabric = net or nvl
        if fabric is None:
            raise BoundaryError(f"node {nd.name}: no fabric figure for data parallelism")
        rate = fabric.low * 1e9
        ov = DP_OVERLAP
        out.append(
            part(
                "data-parallel gradient all-reduce",
                nbytes,
                (rate, rate * 0.8, rate * 0.6),
                (1 - ov.high, 1 - ov.mid, 1 - ov.low),
                "inter-node fabric" if net else "NVLink",
                f"ring all-reduce of the bf16 gradients once per step; {ov.source}; fabric: {fabric.source}",
            )
        )
    if pp > 1 and hidden:
        m = max(1, gbt // (seq * mb * dp))  # micro-batches per step per pipeline
        nbytes = 2 * mb * seq * hidden * bpe * m * steps  # activations forward + gradients backward, per boundary
        fabric = net or nvl
        rate = (fabric.low * 1e9) if fabric else 0.0
        out.append(
            part(
                "pipeline sends",
                nbytes,
                (rate, rate * 0.8, rate * 0.6),
                (0.1, 0.3, 1.0),
                "inter-node fabric" if net else "NVLink",
                "point-to-point activations and gradients between stages (mostly overlapped, U)",
            )
        )
        bubble = _bubble(pp, gbt, seq, mb, dp)
        out.append(
            CommPart(
                "pipeline bubble",
                0.0,
                Range(0.0, 0.0, 0.0),
                Range(0.0, 0.0, 0.0),
                "none",
                f"1F1B bubble (pp-1)/(m+pp-1) = {bubble:.3f} of the step with m = {m} micro-batches: "
                "inside the MFU's time; the bottom-up model (modelled_mfu) divides by (1 - bubble)",
            )
        )
    return out


__all__ = ["CommPart", "TrainingError", "TrainingRun", "layout", "parse_range", "training_run"]
