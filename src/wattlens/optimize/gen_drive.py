"""Build generation variants and drive them: ``transformers`` ``generate`` with a streamer that splits every call
into a *prefill* energy window (until the first new token) and a *decode* window (the rest), and records
time-to-first-token and inter-token gaps.

Variants: int8 dynamic quantisation of the linear layers (GPT-2's ``Conv1D`` layers are turned into
``nn.Linear`` first, else ``quantize_dynamic`` would only see the LM head), ``torch.compile`` of the forward
(inductor), speculative decoding (``assistant_model=`` a same-tokenizer draft; its acceptance rate is measured
by counting the draft's forward calls against the tokens each verification step accepted).

torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlens.optimize import procmem
from wattlens.optimize.models import MAX_LENGTH, Base
from wattlens.optimize.results import Config
from wattlens.optimize.transforms import TransformError, torch_dynamic_int8


@dataclass
class GenVariant:
    """A built generation variant: the target module, the draft (speculative decoding) and the build cost."""

    spec: dict[str, Any]
    base: Base
    module: Any
    draft: Any = None
    build_s: float = 0.0
    draft_calls: list[int] = field(default_factory=lambda: [0])


def int8_dynamic(module: Any, scheme: str) -> Any:
    """int8 weights of every linear layer (``int8-pc`` per-channel or ``int8-pt`` per-tensor scales); GPT-2's
    ``Conv1D`` layers become ``nn.Linear`` first, else ``quantize_dynamic`` would only see the LM head."""
    if scheme not in ("int8-pc", "int8-pt"):
        raise TransformError(f"unknown int8 scheme {scheme!r}")
    return torch_dynamic_int8(module, "per-channel" if scheme == "int8-pc" else "per-tensor")


def same_tokenizer(a: Any, b: Any) -> str | None:
    """None when two tokenizers map text to the same ids (what speculative decoding needs), else why not."""
    if type(a).__name__ != type(b).__name__:
        return f"tokenizers differ ({type(a).__name__} vs {type(b).__name__})"
    probe = "The quick brown fox, 1234 tokens: jumps!"
    if a(probe)["input_ids"] != b(probe)["input_ids"] or len(a) != len(b):
        return "tokenizers map the same text to different ids"
    return None


def build(
    base: Base,
    spec: Config,
    draft_base: Base | None = None,
    backend: str = "inductor",
    workdir: str | None = None,
) -> GenVariant:
    """Apply ``spec``'s model-level transforms to a copy of the base (the base stays unmodified). ONNX Runtime
    variants are exported into ``workdir``."""
    import torch

    t0 = time.process_time()
    quant = str(spec.get("quant") or "none")
    if spec.get("engine") == "onnxruntime":
        from wattlens.optimize.gen_onnx import build_ort

        if workdir is None:
            raise TransformError("the ONNX Runtime decoder needs a working directory")
        decoder, _size = build_ort(base.module, workdir, quant, base.device)
        return GenVariant(dict(spec), base, decoder, build_s=time.process_time() - t0)
    module = base.module
    if quant != "none" or spec.get("compile"):
        module = copy.deepcopy(base.module)
    if quant.startswith("int8"):
        module = int8_dynamic(module, quant)
    elif quant == "bf16":
        module = module.to(torch.bfloat16)
    elif quant == "int4-wo":
        from wattlens.workloads.recipes import int4_weight_only

        try:
            module = int4_weight_only(module)
        except RuntimeError as exc:
            raise TransformError(f"int4 weight-only: {exc}") from exc
    elif quant != "none":
        raise TransformError(f"quantisation {quant!r} is not implemented for generation")
    if spec.get("compile"):
        try:
            module.forward = torch.compile(module.forward, backend=backend, dynamic=False)
        except Exception as exc:
            raise TransformError(f"torch.compile failed: {exc}") from exc
    v = GenVariant(dict(spec), base, module)
    if spec.get("draft"):
        if draft_base is None:
            raise TransformError("speculative decoding needs the draft model loaded")
        why = same_tokenizer(base.tokenizer, draft_base.tokenizer)
        if why:
            raise TransformError(f"draft {spec['draft']!r} cannot serve {base.name!r}: {why}")
        v.draft = draft_base.module
        counter = v.draft_calls

        def count(_mod: Any, _args: Any) -> None:
            counter[0] += 1

        v.draft.register_forward_pre_hook(count)
    v.build_s = time.process_time() - t0
    return v


class _Clock:
    """A transformers streamer: the first ``put`` is the prompt, each later one the token(s) of one step."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.t0 = time.perf_counter()
        self.times: list[float] = []
        self.sizes: list[int] = []
        self._prompt_seen = False
        self._on_first = on_first

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        now = time.perf_counter()
        if not self.times and self._on_first is not None:
            self._on_first()
        self.times.append(now)
        self.sizes.append(int(value.shape[-1]) if value.dim() > 1 else 1)

    def end(self) -> None:
        pass


def generate_kwargs(v: GenVariant, cache: str, max_new_tokens: int, decoding: str) -> dict[str, Any]:
    """The ``generate`` settings of a configuration; ``max_new_tokens`` = ``min_new_tokens`` (the policy: every
    configuration generates the same number of tokens, so J/token compares like with like)."""
    tok = v.base.tokenizer
    kw: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": max_new_tokens,
        "pad_token_id": tok.pad_token_id,
        "do_sample": decoding == "sampling",
    }
    if decoding == "sampling":
        kw.update(top_p=0.9, temperature=1.0)
    if cache == "static":
        kw["cache_implementation"] = "static"
    if v.draft is not None:
        kw["assistant_model"] = v.draft
    return kw


def encode(base: Base, texts: Sequence[str]) -> dict[str, Any]:
    enc = base.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    return {k: t.to(base.device) for k, t in enc.items() if k in ("input_ids", "attention_mask")}


def run_batch(
    v: GenVariant,
    texts: Sequence[str],
    *,
    cache: str = "dynamic",
    max_new_tokens: int = 16,
    decoding: str = "greedy",
    on_first: Callable[[], None] | None = None,
) -> tuple[list[list[int]], _Clock]:
    """Generate for one batch; (new token ids per prompt, the clock of its steps)."""
    import torch

    enc = encode(v.base, texts)
    clock = _Clock(on_first)
    with torch.inference_mode():
        out = v.module.generate(**enc, streamer=clock, **generate_kwargs(v, cache, max_new_tokens, decoding))
    return out[:, enc["input_ids"].shape[1] :].cpu().tolist(), clock


def batches(texts: Sequence[str], batch: int, sort: bool) -> list[list[int]]:
    """Index groups of ``batch`` prompts; length-bucketed (sorted by token count) when ``sort``."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if sort else list(range(len(texts)))
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def continuations(
    v: GenVariant, texts: Sequence[str], batch: int, max_new_tokens: int, sort: bool = False
) -> list[list[int]]:
    """Greedy continuations for every prompt, in the prompts' order."""
    out: list[list[int]] = [[] for _ in texts]
    for idx in batches(texts, batch, sort):
        ids, _ = run_batch(v, [texts[i] for i in idx], max_new_tokens=max_new_tokens)
        for i, row in zip(idx, ids, strict=True):
            out[i] = row
    return out


def teacher_forced_logits(module: Any, base: Base, texts: Sequence[str], conts: Sequence[Sequence[int]]) -> list[Any]:
    """Per prompt, the [positions, vocab] next-token logits of ``module`` at every continuation position, reading
    prompt + the given continuation (one forward per prompt)."""
    import torch

    out = []
    with torch.inference_mode():
        for text, cont in zip(texts, conts, strict=True):
            ids = base.tokenizer(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")["input_ids"][0]
            full = torch.cat([ids, torch.tensor(cont[:-1] if cont else [], dtype=ids.dtype)]).unsqueeze(0)
            logits = module(input_ids=full.to(base.device)).logits[0].float().cpu()
            out.append(logits[len(ids) - 1 :].numpy())
    return out


# --------------------------------------------------------------------------------------------------
# measuring one configuration


@dataclass
class GenMeasurement:
    """Raw figures of one configuration over ``queries`` prompts (summarised into a GenTrial by the engine)."""

    queries: int = 0
    tokens: int = 0
    prefill_j: float = 0.0
    decode_j: float = 0.0
    low_j: float = 0.0
    high_j: float = 0.0
    source: str = ""
    method: str = ""
    ttft_ms: list[float] = field(default_factory=list)
    itl_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    duration_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float | None = None
    accepted: int = 0
    proposed: int = 0


def _methods(m: Any) -> str:
    try:
        return ",".join(sorted({c.method for c in m.components if getattr(c, "method", None)}))
    except Exception:  # the method is informative
        return ""


def measure(
    v: GenVariant,
    config: Config,
    texts: Sequence[str],
    monitor: Any,
    *,
    max_new_tokens: int,
    decoding: str = "greedy",
    warmup: int = 1,
) -> GenMeasurement:
    """Generate for every prompt of ``texts`` in ``config``'s batches; each batch call is two energy windows of
    ``monitor``: ``gen-prefill`` (call start -> first new token) and ``gen-decode`` (-> return)."""
    import torch

    threads, batch = int(config.get("threads") or 1), int(config.get("batch") or 1)
    torch.set_num_threads(threads)
    if hasattr(v.module, "set_threads"):  # ONNX Runtime: one session per thread count
        v.module.set_threads(threads)
    cache, sort = str(config.get("cache") or "dynamic"), bool(config.get("sort"))
    groups = batches(texts, batch, sort)
    for idx in groups[:warmup]:  # compile, allocator and cache shapes warm up outside the windows
        # eager engines warm up on two prompts (a full offline batch would double a probe's cost); a compiled
        # forward specialises on shapes, so it warms up on the real batch
        warm = idx if v.spec.get("compile") else idx[:2]
        run_batch(v, [texts[i] for i in warm], cache=cache, max_new_tokens=max_new_tokens, decoding=decoding)
    res = GenMeasurement()
    procmem.reset_peak_rss()
    state: dict[str, Any] = {}

    def first() -> None:
        state["prefill"] = monitor.end("gen-prefill")
        monitor.begin("gen-decode")

    t0, c0 = time.perf_counter(), time.process_time()
    for idx in groups:
        v.draft_calls[0] = 0
        state.clear()
        monitor.begin("gen-prefill")
        s = time.perf_counter()
        try:
            ids, clock = run_batch(
                v,
                [texts[i] for i in idx],
                cache=cache,
                max_new_tokens=max_new_tokens,
                decoding=decoding,
                on_first=first,
            )
        except BaseException:
            for name in ("gen-prefill", "gen-decode"):
                try:
                    monitor.cancel(name)
                except Exception:
                    pass
            raise
        dec = monitor.end("gen-decode")
        e = time.perf_counter()
        pre = state["prefill"]
        res.prefill_j += pre.energy_j
        res.decode_j += dec.energy_j
        res.low_j += pre.low_j + dec.low_j
        res.high_j += pre.high_j + dec.high_j
        res.source, res.method = dec.source, _methods(dec)
        res.queries += len(idx)
        res.tokens += sum(len(r) for r in ids)
        if clock.times:
            res.ttft_ms += [(clock.times[0] - s) * 1e3] * len(idx)
            for a, b, n in zip(clock.times, clock.times[1:], clock.sizes[1:], strict=False):
                res.itl_ms.append((b - a) * 1e3 / max(1, n))
            if v.draft is not None:
                res.accepted += sum(max(0, n - 1) for n in clock.sizes)
        res.query_ms += [(e - s) * 1e3] * len(idx)
        res.proposed += v.draft_calls[0] if v.draft is not None else 0
    res.duration_s = time.perf_counter() - t0
    res.cpu_s = time.process_time() - c0
    res.peak_rss_mb = procmem.rss_peak_mb()
    return res
