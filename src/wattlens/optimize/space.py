"""The search space: transforms as small units with a declared applicability and price.

A configuration is a flat dict. Its *variant* part changes the model (what must be rebuilt and whose
quality must be measured): ``model, engine, precision, quant, prune, compile``. Its *runtime* part only
changes how the model is driven (cheap to switch, quality unchanged): ``threads, wait, batch, sort`` and,
on NVIDIA GPUs, ``power_limit``/``gpu_clock``.

Each :class:`Transform` says when it applies (``applicable`` returns ``None`` or the reason it does not)
and what it costs before it is tried (``price``: build cost and quality risk) — the search reports
skipped transforms with that reason instead of silently leaving them out. Nothing heavy imported here.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wattlens.optimize.results import Config, ConfigDict, Knobs, SkippedTransform, TransformInfo, config_int

VARIANT_KEYS = ("model", "engine", "precision", "quant", "prune", "compile")
RUNTIME_KEYS = ("threads", "wait", "batch", "sort", "power_limit", "gpu_clock")
ENCODER_TASKS = ("sentence-similarity", "feature-extraction", "text-classification")
TASKS = (*ENCODER_TASKS, "text-generation")


@dataclass(frozen=True)
class Context:
    """What the machine and the task allow (probed once)."""

    task: str
    mode: str  # online | offline
    device: str = "cpu"  # cpu | cuda
    cpu_flags: frozenset[str] = frozenset()
    n_cpus: int = 1
    default_threads: int = 1
    gpu_count: int = 0
    prunable: bool = True  # the model has the q/k/v + intermediate/output layout the pruner understands
    hardware_knobs: bool = False


@dataclass(frozen=True)
class Transform:
    """One lever. ``knob`` is the configuration key it sets, ``values`` the non-default settings it tries."""

    name: str
    knob: str
    values: tuple[Any, ...]
    price: str  # what it costs before measuring anything (build time, quality risk, side effects)
    applicable: Callable[[Context], str | None] = lambda ctx: None
    lossy: bool = False  # may change outputs -> its quality is measured against the unmodified model

    def describe(self, ctx: Context) -> TransformInfo:
        why = self.applicable(ctx)
        return TransformInfo(self.name, self.knob, tuple(self.values), self.price, self.lossy, why is None, why)


def _cpu_only(ctx: Context) -> str | None:
    return None if ctx.device == "cpu" else "CPU-only kernels"


def _bf16(ctx: Context) -> str | None:
    if ctx.device == "cuda":
        return None
    # Without AVX512-BF16/AMX the CPU emulates bf16 matmuls: slower than fp32, never an energy win.
    if {"avx512_bf16", "amx_bf16"} & ctx.cpu_flags:
        return None
    return "no native bf16 arithmetic on this CPU (avx512_bf16/amx_bf16 absent)"


def _fp16(ctx: Context) -> str | None:
    if ctx.device == "cuda":
        return None
    if {"avx512_fp16", "amx_fp16"} & ctx.cpu_flags:
        return None
    return "no native fp16 arithmetic on this CPU (avx512_fp16/amx_fp16 absent); fp16 is a GPU lever here"


def _ort(ctx: Context) -> str | None:
    if ctx.task not in ENCODER_TASKS:
        return f"ONNX export implemented for encoder tasks {ENCODER_TASKS}, not {ctx.task}"
    return None


def _ort_int8(ctx: Context) -> str | None:
    return _ort(ctx) or _cpu_only(ctx)


def _prune(ctx: Context) -> str | None:
    return None if ctx.prunable else "model lacks the BERT-style attention/FFN layout the structured pruner handles"


def _threads(ctx: Context) -> str | None:
    return None if ctx.n_cpus > 1 else "one CPU: nothing to choose"


def _wait(ctx: Context) -> str | None:
    return None if ctx.n_cpus > 1 else "one CPU: no thread pool to spin"


def _hw(ctx: Context) -> str | None:
    if not ctx.hardware_knobs:
        return "not asked for (--hardware-knobs)"
    return None if ctx.gpu_count > 0 else "no NVIDIA GPU visible through NVML"


def _compile(ctx: Context) -> str | None:
    return None


TRANSFORMS: tuple[Transform, ...] = (
    Transform(
        "bf16",
        "precision",
        ("bf16",),
        "cast weights+activations; ~0 build cost; cosine ~0.9999 typical",
        _bf16,
        lossy=True,
    ),
    Transform(
        "fp16", "precision", ("fp16",), "cast; ~0 build cost; overflow risk in long reductions", _fp16, lossy=True
    ),
    Transform(
        "torch-int8-dynamic",
        "quant",
        ("per-tensor", "per-channel"),
        "torch.ao quantize_dynamic(nn.Linear); <1 s build; per-tensor scales lose accuracy",
        _cpu_only,
        lossy=True,
    ),
    Transform(
        "onnxruntime",
        "engine",
        ("onnxruntime",),
        "torch.onnx.export (~2 s CPU) + ORT session; fp32 outputs identical to ~1e-6",
        _ort,
    ),
    Transform(
        "ort-int8-dynamic",
        "quant",
        ("per-tensor", "per-channel"),
        "onnxruntime.quantization.quantize_dynamic (~2 s CPU); per-tensor scales lose accuracy",
        _ort_int8,
        lossy=True,
    ),
    Transform(
        "structured-prune",
        "prune",
        ("struct-25",),
        "drops the 25 % lowest-norm attention heads and FFN rows (real shape reduction, no fine-tuning): "
        "quality risk high",
        _prune,
        lossy=True,
    ),
    Transform(
        "mask-prune",
        "prune",
        ("mask-50",),
        "torch.nn.utils.prune 50 % L1 masks: zeros multiplied by dense kernels, so no work removed; "
        "kept to show the gate catches it",
        lambda ctx: None,
        lossy=True,
    ),
    Transform(
        "torch-compile",
        "compile",
        (True,),
        "torch.compile(inductor): tens of CPU-seconds of compilation per shape family; opt-in",
        _compile,
    ),
    Transform("threads", "threads", ("1..n_cpus",), "none; more threads trade CPU-seconds for latency", _threads),
    Transform(
        "wait-policy",
        "wait",
        ("passive", "nospin"),
        "OMP_WAIT_POLICY=PASSIVE (torch; needs a fresh process: measured in a worker subprocess) / "
        "ORT allow_spinning=0; less spin, more latency",
        _wait,
    ),
    Transform(
        "batching",
        "batch",
        ("1,2,4,8 online micro-batches", "8..128 offline"),
        "latency grows with batch; padding waste unless length-sorted",
        lambda ctx: None,
    ),
    Transform(
        "length-sort",
        "sort",
        (True,),
        "offline only: reorders requests (restored on output)",
        lambda ctx: None if ctx.mode == "offline" else "online requests are served in arrival order",
    ),
    Transform(
        "gpu-power-limit",
        "power_limit",
        (0.8, 0.6),
        "NVML power cap as a fraction of the default; needs root; restored afterwards",
        _hw,
    ),
    Transform("gpu-locked-clocks", "gpu_clock", ("max*0.7",), "NVML locked SM clocks; needs root; restored", _hw),
)

DEFAULT_TRANSFORMS = (
    "bf16",
    "fp16",
    "torch-int8-dynamic",
    "onnxruntime",
    "ort-int8-dynamic",
    "structured-prune",
    "mask-prune",
    "threads",
    "wait-policy",
    "batching",
    "length-sort",
    "gpu-power-limit",
    "gpu-locked-clocks",
)


def probe_context(
    task: str,
    mode: str,
    *,
    device: str | None = None,
    hardware_knobs: bool = False,
    prunable: bool = True,
    default_threads: int | None = None,
    gpu_count: int | None = None,
) -> Context:
    """Probe CPU flags, CPU count and (if asked) NVIDIA GPUs; no torch import unless ``default_threads`` is None."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if default_threads is None:
        from wattlens.optimize.models import default_threads as _dt

        default_threads = _dt()
    if gpu_count is None:
        gpu_count = 0
        if hardware_knobs or device == "cuda":
            from wattlens.optimize.hardware import nvml_device_count

            gpu_count = nvml_device_count()
    return Context(
        task=task,
        mode=mode,
        device=device or "cpu",
        cpu_flags=frozenset(flags),
        n_cpus=n,
        default_threads=default_threads,
        gpu_count=gpu_count,
        prunable=prunable,
        hardware_knobs=hardware_knobs,
    )


@dataclass
class Space:
    """The configurations to search, plus what was left out and why."""

    variants: list[ConfigDict]
    runtimes: list[ConfigDict]
    skipped: list[SkippedTransform] = field(default_factory=list)
    transforms: list[TransformInfo] = field(default_factory=list)

    def configs(self) -> list[ConfigDict]:
        out = []
        for v, r in itertools.product(self.variants, self.runtimes):
            c = {**v, **r}
            if valid_combination(c):
                out.append(c)
        return out

    def knobs(self) -> Knobs:
        """Per-key value lists (for Optuna's categorical suggestions)."""
        keys: Knobs = {}
        for c in self.configs():
            for k, v in c.items():
                if v not in keys.setdefault(k, []):
                    keys[k].append(v)
        return keys


def valid_combination(c: Config) -> bool:
    """Combinations that make no sense are not configurations (not skips): e.g. ORT spin flag on torch."""
    if c.get("wait") == "passive" and c.get("engine") != "torch":
        return False
    if c.get("wait") == "nospin" and c.get("engine") != "onnxruntime":
        return False
    if c.get("wait") not in (None, "default") and config_int(c, "threads") <= 1:
        return False
    return not (c.get("compile") and c.get("engine") != "torch")


def lossy_knobs(variant: Config) -> list[str]:
    out = []
    if variant.get("precision") not in (None, "fp32"):
        out.append("precision")
    if variant.get("prune") not in (None, "none"):
        out.append("prune")
    return out


def build_space(
    ctx: Context,
    models: list[str],
    *,
    transforms: tuple[str, ...] | None = None,
    batches: list[int] | None = None,
    threads: list[int] | None = None,
) -> Space:
    """The grid for ``ctx``: every applicable transform, each combination made once.

    Variants: for each candidate model, fp32 torch; each precision; ORT fp32 and int8 (per-tensor and
    per-channel); structured/mask pruning on top of fp32 torch and of the per-channel int8 path (compositions
    of lossy transforms are only built if each part passes the gate alone: see ``engine``); optional compile.
    """
    chosen = set(transforms or DEFAULT_TRANSFORMS)
    by_name = {t.name: t for t in TRANSFORMS}
    skipped: list[SkippedTransform] = []
    on: set[str] = set()
    for name in sorted(chosen):
        t = by_name.get(name)
        if t is None:
            skipped.append(SkippedTransform(name, "unknown transform"))
            continue
        why = t.applicable(ctx)
        if why:
            skipped.append(SkippedTransform(name, why, t.price))
        else:
            on.add(name)

    base: ConfigDict = {"engine": "torch", "precision": "fp32", "quant": "none", "prune": "none", "compile": False}
    per_model: list[ConfigDict] = [dict(base)]
    if "bf16" in on:
        per_model.append({**base, "precision": "bf16"})
    if "fp16" in on:
        per_model.append({**base, "precision": "fp16"})
    if "torch-int8-dynamic" in on:
        per_model += [{**base, "precision": "int8", "quant": q} for q in ("per-tensor", "per-channel")]
    if "onnxruntime" in on:
        per_model.append({**base, "engine": "onnxruntime"})
        if "ort-int8-dynamic" in on:
            per_model += [
                {**base, "engine": "onnxruntime", "precision": "int8", "quant": q}
                for q in ("per-tensor", "per-channel")
            ]
    prunes = [p for name, p in (("structured-prune", "struct-25"), ("mask-prune", "mask-50")) if name in on]
    best_lossy = per_model[-1] if per_model[-1]["quant"] == "per-channel" else None
    for p in prunes:
        per_model.append({**base, "prune": p})
        if best_lossy is not None:
            per_model.append({**best_lossy, "prune": p})
    if "torch-compile" in on:
        per_model.append({**base, "compile": True})
        if "bf16" in on:
            per_model.append({**base, "precision": "bf16", "compile": True})
    variants: list[ConfigDict] = [{"model": m, **v} for m in models for v in per_model]

    if threads is None:
        threads = sorted({1, ctx.n_cpus}) if "threads" in on else [ctx.default_threads]
    if batches is None:
        batches = [1, 2, 4, 8] if ctx.mode == "online" else [4, 8, 16, 32]
        if "batching" not in on:
            batches = [1] if ctx.mode == "online" else [32]
    sorts = [False, True] if (ctx.mode == "offline" and "length-sort" in on) else [False]
    # offline (throughput) work keeps both threads busy, so spin-waiting wastes little there (anchors Table D:
    # <= 6 %); the wait-policy variants would add a third of the grid for that, so offline tries them only
    # when asked for explicitly (--transforms ...,wait-policy)
    explicit_wait = transforms is not None and "wait-policy" in transforms
    waits = ["default"] + (
        ["passive", "nospin"] if "wait-policy" in on and (ctx.mode == "online" or explicit_wait) else []
    )
    powers: list[float | None] = [None] + ([0.8, 0.6] if "gpu-power-limit" in on else [])
    clocks: list[float | None] = [None] + ([0.7] if "gpu-locked-clocks" in on else [])
    runtimes: list[ConfigDict] = [
        {"threads": t, "wait": w, "batch": b, "sort": s, "power_limit": p, "gpu_clock": g}
        for t, w, b, s, p, g in itertools.product(threads, waits, batches, sorts, powers, clocks)
    ]
    return Space(variants, runtimes, skipped, [by_name[n].describe(ctx) for n in sorted(chosen) if n in by_name])


def variant_of(config: Config) -> ConfigDict:
    return {k: config[k] for k in VARIANT_KEYS if k in config}


def runtime_of(config: Config) -> ConfigDict:
    return {k: config[k] for k in RUNTIME_KEYS if k in config}


def describe(config: Config) -> str:
    """Short human label, e.g. ``minilm onnxruntime int8/per-channel t1 b1``."""
    parts = [str(config.get("model", "")), str(config.get("engine", ""))]
    prec = str(config.get("precision", "fp32"))
    parts.append(prec + (f"/{config['quant']}" if prec == "int8" else ""))
    if config.get("prune", "none") != "none":
        parts.append(str(config["prune"]))
    if config.get("compile"):
        parts.append("compiled")
    if config.get("path") == "sentence-transformers":
        parts.append("(sentence-transformers encode)")
    if "threads" in config:
        parts.append(f"t{config['threads']}")
    if config.get("wait", "default") != "default":
        parts.append(str(config["wait"]))
    if "batch" in config:
        parts.append(f"b{config['batch']}")
    if config.get("sort"):
        parts.append("sorted")
    if config.get("power_limit"):
        parts.append(f"pl{config['power_limit']}")
    if config.get("gpu_clock"):
        parts.append(f"clk{config['gpu_clock']}")
    return " ".join(p for p in parts if p)
