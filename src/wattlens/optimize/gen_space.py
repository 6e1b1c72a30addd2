"""The generation search space: each transform with where it applies and what it costs, the grid, and the
hardware profile the savings belong to.

A generation configuration is a flat dict. Variant part (changes the model; its quality is measured):
``model, quant, compile, draft``. Runtime part (how the model is driven; outputs unchanged): ``threads, batch,
sort, cache``. Fixed for a run and recorded: ``decoding`` (greedy | sampling) and ``max_new_tokens``.

Nothing heavy is imported at module level (torch only inside :func:`hardware_profile`).
"""

from __future__ import annotations

import itertools
import os

from wattlens.optimize.gen_results import HardwareProfile
from wattlens.optimize.results import Config, ConfigDict, SkippedTransform, TransformInfo
from wattlens.optimize.space import Context, Transform, _bf16

GEN_VARIANT_KEYS = ("model", "engine", "quant", "compile", "draft")
GEN_RUNTIME_KEYS = ("threads", "batch", "sort", "cache")
BASE_VARIANT: ConfigDict = {"engine": "torch", "quant": "none", "compile": False, "draft": None}


def _cpu(ctx: Context) -> str | None:
    return None if ctx.device == "cpu" else "torch dynamic int8 kernels (fbgemm/onednn) are CPU-only"


def _threads(ctx: Context) -> str | None:
    return None if ctx.n_cpus > 1 else "one CPU: nothing to choose"


def _interop(ctx: Context) -> str | None:
    # why not searched: torch.set_num_interop_threads works once per process, before any inter-op work, and eager
    # decoding runs one op at a time (no independent ops for an inter-op pool to overlap)
    return (
        "set once per process before any parallel work (torch.set_num_interop_threads); eager decode has no "
        "independent ops to overlap, so it is recorded (1 in the artefact), not searched"
    )


def _offline(ctx: Context) -> str | None:
    return None if ctx.mode == "offline" else "online requests are served in arrival order"


def _online(ctx: Context) -> str | None:
    return None if ctx.mode == "online" else "offline uses full batches (length-bucketed) instead"


def _draft(ctx: Context) -> str | None:
    return None if ctx.task == "text-generation" else "generation only"


def _int4(ctx: Context) -> str | None:
    if ctx.device != "cpu":
        return "the int4 weight-only kernel used here is ATen's CPU one"
    from wattlens.workloads.recipes import int4_kernel_available

    return None if int4_kernel_available() else "this torch build has no aten._weight_int4pack_mm_for_cpu"


def _ort_decoder(ctx: Context) -> str | None:
    return None if ctx.device == "cpu" else "the decoder export is driven on CPU sessions here"


def _gpu_knobs(ctx: Context) -> str | None:
    if not ctx.hardware_knobs:
        return "not asked for (--hardware-knobs)"
    return None if ctx.gpu_count > 0 else "no NVIDIA GPU visible through NVML"


GEN_TRANSFORMS: tuple[Transform, ...] = (
    Transform(
        "torch-int8-dynamic",
        "quant",
        ("int8-pc", "int8-pt"),
        "GPT-2 Conv1D -> nn.Linear, then torch.ao quantize_dynamic (int8 weights, per-channel/per-tensor scales, "
        "activations per call); <2 s build; tokens may change: quality measured",
        _cpu,
        lossy=True,
    ),
    Transform(
        "bf16",
        "quant",
        ("bf16",),
        "cast weights+activations to bfloat16; ~0 build cost; needs native bf16 (AVX512-BF16/AMX) to gain on CPU",
        _bf16,
        lossy=True,
    ),
    Transform(
        "int4-weight-only",
        "quant",
        ("int4-wo",),
        "GPT-2 Conv1D -> nn.Linear, then group-wise (32) asymmetric int4 weights, fp32 activations, ATen's CPU "
        "kernel (_weight_int4pack_mm_for_cpu); 8x smaller linear weights; quality risk high: measured",
        _int4,
        lossy=True,
    ),
    Transform("threads", "threads", ("1..n_cpus",), "none; more threads trade CPU-seconds for latency", _threads),
    Transform("interop-threads", "interop", (1,), "none", _interop),
    Transform(
        "static-kv-cache",
        "cache",
        ("static",),
        "generate(cache_implementation='static'): KV cache pre-allocated to prompt+max_new_tokens; memory "
        "reserved up front; outputs identical",
    ),
    Transform(
        "micro-batching",
        "batch",
        (2, 4, 8),
        "online: requests grouped into micro-batches; TTFT grows with the batch (and with the wait to fill it, "
        "not modelled: a closed loop keeps the queue full)",
        _online,
    ),
    Transform(
        "batching",
        "batch",
        (8, 16, 32),
        "offline: full batches; memory grows with batch x length",
        _offline,
    ),
    Transform(
        "length-bucketing",
        "sort",
        (True,),
        "offline: prompts sorted by length before batching (less left-padding); order restored",
        _offline,
    ),
    Transform(
        "torch-compile",
        "compile",
        (True,),
        "torch.compile(model.forward, backend=inductor): tens of CPU-seconds of compilation per shape family "
        "(gcc); opt-in (--transforms ...,torch-compile)",
    ),
    Transform(
        "speculative-decoding",
        "draft",
        ("--draft MODEL",),
        "generate(assistant_model=draft): a same-tokenizer draft proposes, the target verifies; greedy output "
        "equals the target's; acceptance rate measured; batch 1 only; draft memory added",
        _draft,
    ),
    Transform(
        "onnxruntime-decoder",
        "engine",
        ("onnxruntime", "onnxruntime int8-pc"),
        "torch.onnx.export (TorchScript) of a KV-cache decoder step (~2 s CPU; optimum not used: optimum-onnx pins "
        "transformers<4.58) + ORT session, fp32 and ORT dynamic int8; full-sequence logits at prefill (KL needs them)",
        _ort_decoder,
    ),
    Transform(
        "gpu-power-limit", "power_limit", (0.8, 0.6), "NVML power cap; needs root; restored afterwards", _gpu_knobs
    ),
)

DEFAULT_GEN_TRANSFORMS = (
    "torch-int8-dynamic",
    "bf16",
    "int4-weight-only",
    "threads",
    "interop-threads",
    "static-kv-cache",
    "micro-batching",
    "batching",
    "length-bucketing",
    "speculative-decoding",
    "onnxruntime-decoder",
    "gpu-power-limit",
)


def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def hardware_profile() -> HardwareProfile:
    """ISA flags, the kernels torch dispatches to here, and the GPU's compute capability when one is visible."""
    import torch

    flags = cpu_flags()
    try:
        cap = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # older builds
        cap = "unknown"
    gpu = None
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(0)
        gpu = f"{major}.{minor}"
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return HardwareProfile(
        cpu_model=_cpu_model(),
        avx2="avx2" in flags,
        avx512="avx512f" in flags,
        avx512_vnni="avx512_vnni" in flags,
        avx_vnni="avx_vnni" in flags,
        amx=bool({"amx_int8", "amx_tile", "amx_bf16"} & flags),
        torch_cpu_capability=cap,
        quantized_engine=str(torch.backends.quantized.engine),
        int4_cpu_kernel=hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu"),
        n_cpus=n,
        gpu_compute_capability=gpu,
    )


def int8_expectation(hw: HardwareProfile) -> str:
    """What int8 matmuls can gain on this CPU (why an int8 win is smaller or larger than elsewhere)."""
    if hw.amx:
        return "AMX int8 tiles: int8 matmuls up to ~8x fp32 throughput"
    if hw.avx512_vnni or hw.avx_vnni:
        return "VNNI (vpdpbusd): int8 dot products ~4x fp32 per instruction"
    if hw.avx2:
        return "AVX2 without VNNI: int8 dot products need 3 instructions (vpmaddubsw+vpmaddwd+vpaddd): ~1.5-2x fp32"
    return "no AVX2: int8 kernels fall back to slow paths"


def variant_part(c: Config) -> ConfigDict:
    """The variant part of a generation configuration (what changes the model, so what its quality belongs to),
    with the unmodified model's values where ``c`` says nothing."""
    return {k: c.get(k, BASE_VARIANT.get(k)) for k in GEN_VARIANT_KEYS}


def describe(c: Config) -> str:
    """Short label, e.g. ``gpt2 int8-pc draft=distilgpt2 t1 b4 static sorted``."""
    parts = [str(c.get("model", ""))]
    if c.get("engine") == "onnxruntime":
        parts.append("onnxruntime")
    parts.append(str(c.get("quant", "none")) if c.get("quant", "none") != "none" else "fp32")
    if c.get("compile"):
        parts.append("compiled")
    if c.get("draft"):
        parts.append(f"draft={c['draft']}")
    if "threads" in c:
        parts.append(f"t{c['threads']}")
    if "batch" in c:
        parts.append(f"b{c['batch']}")
    if c.get("cache") == "static":
        parts.append("static-kv")
    if c.get("sort"):
        parts.append("bucketed")
    return " ".join(parts)


def build_gen_space(
    ctx: Context,
    model: str,
    *,
    draft: str | None = None,
    transforms: tuple[str, ...] | None = None,
    batches: list[int] | None = None,
    threads: list[int] | None = None,
) -> tuple[list[ConfigDict], list[ConfigDict], list[SkippedTransform], list[TransformInfo]]:
    """(variants, runtimes, skipped, transform descriptions) for ``ctx``; every applicable transform once."""
    chosen = set(transforms or DEFAULT_GEN_TRANSFORMS)
    by_name = {t.name: t for t in GEN_TRANSFORMS}
    skipped: list[SkippedTransform] = []
    on: set[str] = set()
    for name in sorted(chosen):
        t = by_name.get(name)
        if t is None:
            skipped.append(SkippedTransform(name, f"unknown transform; known: {', '.join(sorted(by_name))}"))
            continue
        why = t.applicable(ctx)
        if name == "speculative-decoding" and not draft and why is None:
            why = "no draft model given (--draft MODEL, same tokenizer, e.g. distilgpt2 for gpt2)"
        if why:
            skipped.append(SkippedTransform(name, why, t.price))
        else:
            on.add(name)
    variants: list[ConfigDict] = [{"model": model, **BASE_VARIANT}]
    if "torch-int8-dynamic" in on:
        variants += [{"model": model, **BASE_VARIANT, "quant": q} for q in ("int8-pc", "int8-pt")]
    if "bf16" in on:
        variants.append({"model": model, **BASE_VARIANT, "quant": "bf16"})
    if "int4-weight-only" in on:
        variants.append({"model": model, **BASE_VARIANT, "quant": "int4-wo"})
    if "speculative-decoding" in on:
        variants.append({"model": model, **BASE_VARIANT, "draft": draft})
    if "torch-compile" in on:
        variants.append({"model": model, **BASE_VARIANT, "compile": True})
    if "onnxruntime-decoder" in on:
        variants.append({"model": model, **BASE_VARIANT, "engine": "onnxruntime"})
        if "torch-int8-dynamic" in on:
            variants.append({"model": model, **BASE_VARIANT, "engine": "onnxruntime", "quant": "int8-pc"})
    if threads is None:
        threads = sorted({1, ctx.n_cpus}) if "threads" in on else [ctx.default_threads]
    if batches is None:
        if ctx.mode == "online":
            batches = [1, 2, 4, 8] if "micro-batching" in on else [1]
        else:
            batches = [8, 16, 32] if "batching" in on else [8]
    sorts = [False, True] if "length-bucketing" in on else [False]
    caches = ["dynamic", "static"] if "static-kv-cache" in on else ["dynamic"]
    runtimes: list[ConfigDict] = [
        {"threads": t, "batch": b, "sort": s, "cache": k}
        for t, b, s, k in itertools.product(threads, batches, sorts, caches)
    ]
    infos = [by_name[n].describe(ctx) for n in sorted(chosen) if n in by_name]
    return variants, runtimes, skipped, infos


def valid(c: Config) -> bool:
    """Combinations that are not configurations: speculative decoding runs at batch 1 (transformers' assisted
    generation supports no batches); a compiled forward is tried with the static cache only (fixed shapes)."""
    if c.get("draft") and int(c.get("batch") or 1) != 1:
        return False
    if c.get("engine") == "onnxruntime" and c.get("cache") == "static":
        return False  # the ORT decoder carries its own KV tensors: the cache knob is torch's
    return not (c.get("compile") and c.get("cache") != "static")
