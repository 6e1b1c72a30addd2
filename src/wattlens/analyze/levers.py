"""Levers per role (the hierarchical decomposition, made executable).

Each what-if is computed by re-analysing: either the model is rebuilt and re-traced (batching, GQA,
FlashAttention, speculative decoding), or the captured op graph is rewritten op by op (weights/KV re-typed,
GEMMs sparsified, kernels fused) and the roofline/energy model re-run on it, or the hardware profile is
modified (power cap / DVFS) and the model re-run. No lever applies a fixed percentage to the total.
Savings are ranked; each states its price (quality, latency, memory). Published figures quoted in prices
come from the analysis anchors, section 5.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from wattlens.analyze import roles as R
from wattlens.analyze.analysis import Analysis, Request, analyze_workload
from wattlens.analyze.capture import IDX, Record, _copy
from wattlens.analyze.model import Estimate, estimate
from wattlens.analyze.presets import Workload
from wattlens.analyze.records import Lever, LeverPrice

_BPE = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


def _rewrite(records: list[Record], fn: Callable[[Record], None]) -> list[Record]:
    out = []
    for r in records:
        c = _copy(r)
        fn(c)
        out.append(c)
    return out


def _scale(r: Record, fields: list[str], k: float) -> None:
    for f in fields:
        r.v0[IDX[f]] *= k
        r.v1[IDX[f]] *= k


def _lever(
    a: Analysis,
    name: str,
    role: str,
    est: Estimate,
    price: dict[str, str],
    method: str,
    energy_after: dict[str, float] | None = None,
    time_after: dict[str, float] | None = None,
    *,
    published: str | None = None,
    clock_fraction: float | None = None,
) -> Lever:
    e_after = energy_after or {k: est.total("energy_j", k) for k in ("low", "mid", "high")}
    t_after = time_after or {k: est.total("time_s", k) for k in ("low", "mid", "high")}
    base = a.energy("mid")
    t_base = a.time("mid")
    dt = (t_after["mid"] - t_base) / t_base if t_base else 0.0
    latency = f"{dt:+.0%} modelled time" + (f"; {price['latency']}" if price.get("latency") else "")
    return Lever(
        lever=name,
        role=role,
        energy_j_after=e_after["mid"],
        energy_j_after_range=e_after,
        saving_fraction=(base - e_after["mid"]) / base if base else 0.0,
        time_s_after=t_after["mid"],
        price=LeverPrice(price.get("quality", ""), latency, price.get("memory", "")),
        method=method,
        published=published,
        clock_fraction=clock_fraction,
    )


def _re(a: Analysis, records: list[Record], **opt: Any) -> Estimate:
    o = dataclasses.replace(a.estimate.options, **opt)
    return estimate(records, a.profile, o)


def weight_quant(a: Analysis, bits: int) -> Lever | None:
    bpe = _BPE.get(_dtype(a), 2.0)
    new = bits / 8.0 * (1 + (2.0 / 128 / (bits / 8.0) if bits == 4 else 0.0))  # int4: + fp16 scale per group of 128
    if new >= bpe:
        return None
    k = new / bpe

    def fn(r: Record) -> None:
        if r.role in (R.GEMM, R.EMBEDDING, R.CONV):
            _scale(r, ["lo_weights", "hi_weights"], k)

    est = _re(a, _rewrite(a.records, fn))
    gb = a.workload.params * bpe / 1e9
    return _lever(
        a,
        f"weight-only int{bits} quantisation",
        R.GEMM,
        est,
        {
            "quality": (
                "low risk at int8 (LLM.int8/SmoothQuant-class)"
                if bits == 8
                else "moderate risk at int4 (AWQ/GPTQ: small perplexity loss; check task quality)"
            ),
            "memory": f"weights {gb:.2f} GB -> {gb * k:.2f} GB",
            "latency": "dequantisation in the GEMM prologue not modelled (fused kernels hide it)",
        },
        f"re-analysed: weight tensors of GEMM/conv/embedding ops re-typed to {bits}-bit ({k:.3f}x bytes), "
        "roofline and energy re-run per op",
        published="AWQ/TinyChat: >3x decode speed-up over FP16 (weight-only int4); energy roughly follows bytes",
    )


def w8a8(a: Analysis) -> Lever | None:
    if "int8" not in a.profile.peak_tflops or _dtype(a) in ("int8", "fp8"):
        return None
    bpe = _BPE.get(_dtype(a), 2.0)

    def fn(r: Record) -> None:
        if r.role in (R.GEMM, R.CONV) and r.kind == "matrix":
            _scale(r, ["lo_weights", "hi_weights", "lo_activations", "hi_activations"], 1.0 / bpe)
            r.dtype = "int8"

    est = _re(a, _rewrite(a.records, fn))
    return _lever(
        a,
        "int8 GEMMs (W8A8, SmoothQuant-style)",
        R.GEMM,
        est,
        {
            "quality": "low-moderate risk: activation outliers need smoothing (SmoothQuant: up to 1.56x speed, 2x "
            "memory, published)",
            "memory": f"GEMM weights and activations /{bpe:.0f}",
        },
        "re-analysed: GEMM ops re-typed to int8 (int8 peak and energy per op of the profile, 1-byte operands)",
        published="SmoothQuant W8A8: up to 1.56x speed-up, 2x memory reduction; INT8 mult 0.07 pJ vs BF16 0.21 pJ "
        "(Jouppi et al. 2021)",
    )


def kv_quant(a: Analysis, bits: int) -> Lever | None:
    kv = sum(r.total("hi_kv_cache") for r in a.records)
    if kv <= 0:
        return None
    k = bits / 8.0 / _BPE.get(_dtype(a), 2.0)

    def fn(r: Record) -> None:
        _scale(r, ["lo_kv_cache", "hi_kv_cache"], k)

    est = _re(a, _rewrite(a.records, fn))
    return _lever(
        a,
        f"KV-cache int{bits} quantisation",
        R.KV_CACHE,
        est,
        {
            "quality": "low risk at 8 bit; 2-4 bit needs per-channel keys (KIVI 2-bit: 2.6x less memory, published)",
            "memory": f"KV cache x{k:.2f}",
        },
        f"re-analysed: every KV-cache read/write re-typed to {bits}-bit, roofline and energy re-run",
        published="KIVI 2-bit: 2.6x less peak memory, up to 4x larger batch, 2.35-3.47x throughput",
    )


def fusion(a: Analysis) -> Lever | None:
    if a.estimate.options.backend == "fused":
        return None
    est = _re(a, a.records, backend="fused")
    return _lever(
        a,
        "operator fusion (torch.compile / CUDA graphs)",
        R.ELEMENTWISE,
        est,
        {
            "quality": "none (same arithmetic)",
            "memory": "less activation memory",
            "latency": "compile time at start-up; recompiles on new shapes",
        },
        "re-analysed with the fused byte model: elementwise chains folded into GEMM/attention kernels, one "
        "launch per GEMM/attention kernel",
        published="7B prefill: eager 198 GB vs fused lower bound ~26 GB of DRAM traffic (analysis anchors, s.7)",
    )


def sparsity(a: Analysis) -> Lever | None:
    bpe = _BPE.get(_dtype(a), 2.0)
    kw = (0.5 * bpe + 0.5 * 2 / 8) / bpe  # half the values + a 2-bit index per kept value

    def fn(r: Record) -> None:
        if r.role in (R.GEMM, R.CONV) and r.kind == "matrix":
            _scale(r, ["flops", "flops_useful"], 0.5)
            _scale(r, ["lo_weights", "hi_weights"], kw)

    est = _re(a, _rewrite(a.records, fn))
    hw = a.profile.vendor == "nvidia" and a.profile.kind == "gpu" and not a.profile.name.startswith(("v100", "t4"))
    return _lever(
        a,
        "2:4 structured sparsity (pruning)",
        R.GEMM,
        est,
        {
            "quality": "moderate-high risk: needs pruning + fine-tuning (up to 2x math throughput, NVIDIA A100)",
            "memory": f"GEMM weights x{kw:.2f}",
            "latency": "" if hw else f"{a.profile.name} has no sparse tensor cores: speed-up needs a sparse kernel",
        },
        "re-analysed: GEMM FLOPs halved and weight bytes of a 2:4 format per op, roofline/energy re-run",
        published="2:4 sparsity: up to 2x math throughput (NVIDIA A100); Deep Compression pruning 3-7x energy "
        "efficiency",
    )


def power_cap(a: Analysis) -> Lever | None:
    best = None
    for f in (0.6, 0.7, 0.8, 0.9):
        est = _re(a, a.records, power_scale=f)
        e = est.total("energy_j", "mid")
        if best is None or e < best[1]:
            best = (f, e, est)
    if best is None or best[1] >= a.energy("mid"):
        return None
    f, _, est = best
    return _lever(
        a,
        f"power cap / DVFS (clock x{f:.1f})",
        "(all roles)",
        est,
        {
            "quality": "none",
            "memory": "none",
            "latency": "thermal headroom rises; undervolting beyond vendor limits risks aging (anchors s.6)",
        },
        f"re-analysed with a modified profile: compute peaks x{f}, energy per FLOP x(0.6+0.4 f)^2 (voltage "
        "floor), bandwidth and static power unchanged; best of clock fractions 0.6-0.9",
        clock_fraction=f,
        published="power capping: 15% less training energy (McDonald et al. 2022); 23% less for LLaMA-65B "
        "inference at 175 W, +6-7% latency (Samsi et al. 2023); up to 43.8% (throttLL'eM)",
    )


def _dtype(a: Analysis) -> str:
    from wattlens.analyze.analysis import _dt

    return _dt(a.workload)


def _reanalyse(a: Analysis, w: Workload, **req: Any) -> Analysis:
    rq = Request(**{**a.request.__dict__, **req})
    return analyze_workload(w, a.profile, rq, a.estimate.options)


def batching(a: Analysis) -> Lever | None:
    rq = a.request
    if rq.phase == "train":
        return None
    new_b = rq.batch * 4 if rq.batch < 64 else rq.batch * 2
    b = _reanalyse(a, a.workload, batch=new_b)
    k = rq.batch / new_b  # same work: per-request energy x original requests
    e = {c: b.energy(c) * k for c in ("low", "mid", "high")}
    t = {c: b.time(c) * k for c in ("low", "mid", "high")}
    return _lever(
        a,
        f"batching (batch {rq.batch} -> {new_b})",
        R.GEMM,
        b.estimate,
        {
            "quality": "none",
            "memory": f"activations/KV x{new_b / rq.batch:.0f}",
            "latency": f"per-request latency rises to {b.time('mid'):.3g} s per batch (modelled)",
        },
        f"re-traced at batch {new_b}; energy per request x {rq.batch} requests",
        energy_after=e,
        time_after=t,
        published="weight energy per token falls ~1/B in memory-bound decode; KV traffic per token does not",
    )


def _rebuild(w: Workload, cfg: Any) -> Workload:
    from wattlens.analyze.presets import _hf_model

    model = _hf_model(cfg, type(w.model).__name__).to(w.dtype).eval()
    return dataclasses.replace(w, model=model, config=cfg, params=sum(p.numel() for p in model.parameters()))


def gqa(a: Analysis) -> Lever | None:
    cfg = a.workload.config
    heads, kv = getattr(cfg, "num_attention_heads", None), getattr(cfg, "num_key_value_heads", None)
    if not heads or kv is None or kv <= 1 or a.request.phase not in ("decode", "generate"):
        return None
    new_kv = max(1, heads // 8) if kv == heads else 1
    cfg2 = copy.deepcopy(cfg)
    cfg2.num_key_value_heads = new_kv
    b = _reanalyse(a, _rebuild(a.workload, cfg2))
    return _lever(
        a,
        f"GQA/MQA ({kv} -> {new_kv} KV heads)",
        R.KV_CACHE,
        b.estimate,
        {
            "quality": "architectural: needs up-training (uptraining ~5% of pre-training compute, GQA paper) or a "
            "model trained with GQA",
            "memory": f"KV cache x{new_kv / kv:.3f}",
        },
        f"re-traced a copy of the model with num_key_value_heads={new_kv}",
        published="GQA/MQA: 4-8x fewer KV bytes (architectural)",
    )


def flash(a: Analysis) -> Lever | None:
    explicit = [r for r in a.records if r.role == R.ATTENTION and r.name in ("bmm", "_softmax", "_safe_softmax")]
    if explicit and a.workload.config is not None and hasattr(a.workload.config, "_attn_implementation"):
        cfg2 = copy.deepcopy(a.workload.config)
        cfg2._attn_implementation = "sdpa"
        b = _reanalyse(a, _rebuild(a.workload, cfg2))
        est, method = b.estimate, "re-traced with the fused SDPA (FlashAttention-style) attention"
    else:

        def fn(r: Record) -> None:
            if r.role == R.ATTENTION and r.kind == "matrix":
                r.v0[IDX["flops"]] = r.v0[IDX["flops_useful"]]
                r.v1[IDX["flops"]] = r.v1[IDX["flops_useful"]]

        recs = _rewrite(a.records, fn)
        if all(abs(x.total("flops") - y.total("flops")) < 1 for x, y in zip(recs, a.records, strict=True)):
            return None
        est, method = (
            _re(a, recs),
            "re-analysed: causal block skipping in the fused attention kernel "
            "(dense attention FLOPs replaced by causal ones)",
        )
    return _lever(
        a,
        "FlashAttention-style tiling / causal block skipping",
        R.ATTENTION,
        est,
        {"quality": "none (exact attention)", "memory": "no T x T score matrix"},
        method,
        published="FlashAttention (GPT-2 medium, A100): HBM traffic 40.3 -> 4.4 GB, 41.7 -> 7.3 ms",
    )


def speculative(a: Analysis, k: int = 4, alpha: float = 0.7) -> Lever | None:
    """Draft model = the same architecture with 1/8 of the layers; k drafted tokens per target verify step
    of k+1 tokens; acceptance alpha (assumed). Expected tokens per verify = (1 - alpha^(k+1)) / (1 - alpha)."""
    if a.request.phase not in ("decode", "generate") or a.workload.config is None:
        return None
    cfg = a.workload.config
    attr = next((n for n in ("num_hidden_layers", "n_layer", "num_layers", "decoder_layers") if hasattr(cfg, n)), None)
    if attr is None or getattr(cfg, attr) < 8:
        return None
    from wattlens.analyze.phases import _Decoder

    w = a.workload
    rq = a.request
    dec_recs = [r for r in a.records if r.phase == "decode"]
    n_tok = rq.new_tokens
    e_dec = estimate(dec_recs, a.profile, a.estimate.options)
    # target verify step: k+1 tokens at the middle context
    import torch

    from wattlens.analyze.capture import MetaScalars
    from wattlens.analyze.presets import keyword_inputs

    with torch.no_grad(), MetaScalars():
        out = w.model(**keyword_inputs(w, rq.batch, rq.prompt or 512), use_cache=True)
    d = _Decoder(w, rq.batch, rq.prompt or 512, out)
    mid = d.length + n_tok // 2
    verify = d.trace_at(mid, n_tokens=k + 1)
    e_ver = estimate(verify, a.profile, a.estimate.options)
    cfg2 = copy.deepcopy(cfg)
    setattr(cfg2, attr, max(1, getattr(cfg, attr) // 8))
    draft = _reanalyse(a, _rebuild(w, cfg2), phase="decode")
    per_tok = (1 - alpha ** (k + 1)) / (1 - alpha)
    steps = n_tok / per_tok
    e_after, t_after = {}, {}
    for c in ("low", "mid", "high"):
        draft_step = draft.energy(c) / n_tok
        e_after[c] = a.energy(c) - e_dec.total("energy_j", c) + steps * (e_ver.total("energy_j", c) + k * draft_step)
        t_after[c] = (
            a.time(c) - e_dec.total("time_s", c) + steps * (e_ver.total("time_s", c) + k * draft.time(c) / n_tok)
        )
    return _lever(
        a,
        f"speculative decoding (draft = {getattr(cfg2, attr)}-layer model, k={k}, acceptance {alpha} assumed)",
        R.GEMM,
        e_ver,
        {
            "quality": "none (lossless verification)",
            "memory": f"+ draft model ({draft.workload.params / 1e9:.2f} B params) and its KV cache",
            "latency": "energy savings are inconsistent in practice and depend on acceptance (Dutta et al., "
            "arXiv 2602.09113)",
        },
        f"re-traced: a target verify step of {k + 1} tokens at context {mid} and a draft model's decode; "
        f"{per_tok:.2f} tokens accepted per verify at acceptance {alpha}",
        energy_after=e_after,
        time_after=t_after,
        published="2-3x latency gains; energy savings inconsistent (Dutta et al., arXiv 2602.09113, EACL 2026)",
    )


LEVERS: list[Callable[[Analysis], Lever | None]] = [
    lambda a: weight_quant(a, 8),
    lambda a: weight_quant(a, 4),
    w8a8,
    lambda a: kv_quant(a, 8),
    lambda a: kv_quant(a, 4),
    batching,
    fusion,
    flash,
    gqa,
    speculative,
    sparsity,
    power_cap,
]


def compute_levers(a: Analysis) -> list[Lever]:
    out = []
    for fn in LEVERS:
        try:
            lv = fn(a)
        except (ValueError, RuntimeError, TypeError, AttributeError, KeyError, NotImplementedError) as exc:
            a.extra_assumptions.append(f"lever {getattr(fn, '__name__', 'lever')} not computed: {exc}")
            continue
        if lv is not None and lv.saving_fraction > 1e-3:  # a lever that saves nothing here is not listed
            out.append(lv)
    return sorted(out, key=lambda lv: -lv.saving_fraction)
