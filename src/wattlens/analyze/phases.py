"""Drive the capture through the phases of a workload: forward, prefill, decode (N steps with a real KV
cache), train (forward + backward + optimizer step). Returns finalized records per phase."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from wattlens.analyze.capture import Capture, MetaScalars, Record, Tags, finalize, integrate_steps, storage_ids
from wattlens.analyze.presets import Workload, keyword_inputs, make_inputs


@dataclass
class PhaseTrace:
    phase: str
    records: list[Record]
    ops_dispatched: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    traced_contexts: list[int] = field(default_factory=list)
    exact: bool = True
    tokens: int = 0  # tokens processed (prefill/forward/train) or generated (decode)
    state_bytes: dict[str, float] = field(default_factory=dict)  # resident state at the end: kv_cache, optimizer


def _weights(model: torch.nn.Module) -> set[int]:
    return storage_ids(list(model.parameters()) + list(model.buffers()))


def cache_tensors(obj: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """Every tensor held by a transformers Cache object (DynamicCache, EncoderDecoderCache, legacy tuples)."""
    if depth > 6 or obj is None:
        return
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from cache_tensors(x, depth + 1)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from cache_tensors(x, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (torch.nn.Module, type)):
        for x in vars(obj).values():
            yield from cache_tensors(x, depth + 1)


def nbytes(tensors: list[torch.Tensor]) -> float:
    seen: dict[int, int] = {}
    for t in tensors:
        st = t.untyped_storage()
        seen[st._cdata] = max(seen.get(st._cdata, 0), st.nbytes())
    return float(sum(seen.values()))


def _tag(phase: str, records: list[Record]) -> list[Record]:
    for r in records:
        r.phase = phase
    return records


def trace_forward(w: Workload, batch: int, seq: int, phase: str = "forward") -> tuple[PhaseTrace, Any]:
    cap = Capture(w.model)
    inputs = make_inputs(w, batch, seq)
    weights = _weights(w.model)
    t0 = time.perf_counter()
    kwargs = {"use_cache": True} if w.generative and isinstance(inputs, dict) else {}
    with torch.no_grad(), cap.trace():
        out = w.model(**inputs, **kwargs) if isinstance(inputs, dict) else w.model(*inputs)
    cache = getattr(out, "past_key_values", None) if w.generative else None
    tags = Tags(weights=weights, kv_post=storage_ids(list(cache_tensors(cache))))
    recs = _tag(phase, finalize(cap.result, tags))
    tokens = batch * seq if w.kind in ("causal_lm", "encoder", "seq2seq", "image_text") else batch
    pt = PhaseTrace(phase, recs, cap.result.n_ops, time.perf_counter() - t0, notes=_dd(cap), tokens=tokens)
    if cache is not None:
        pt.state_bytes["kv_cache"] = nbytes(list(cache_tensors(cache)))
    return pt, out


def trace_train(w: Workload, batch: int, seq: int, optimizer: str = "adamw") -> PhaseTrace:
    model = w.model
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    inputs = make_inputs(w, batch, seq)
    opt = (
        torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
        if optimizer == "adamw"
        else torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, foreach=True)
    )
    cap = Capture(model)
    weights = _weights(model)
    t0 = time.perf_counter()
    with cap.trace() as rec:
        if isinstance(inputs, dict) and w.kind == "causal_lm":
            out = model(**inputs, labels=inputs["input_ids"], use_cache=False)
        else:
            out = model(**inputs) if isinstance(inputs, dict) else model(*inputs)
        loss = getattr(out, "loss", None)
        if loss is None:
            first = (
                out
                if isinstance(out, torch.Tensor)
                else (
                    out[0]
                    if isinstance(out, (tuple, list))
                    else next(v for v in out.values() if isinstance(v, torch.Tensor))
                )
            )
            loss = first.float().mean()
        rec.label = "backward"
        loss.backward()
        rec.label = "optimizer"
        opt.step()
        opt.zero_grad(set_to_none=False)
    state = [t for st in opt.state.values() for t in st.values() if isinstance(t, torch.Tensor)]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    tags = Tags(weights=weights, optimizer=storage_ids(state + grads) - weights)
    recs = _tag("train", finalize(cap.result, tags))
    model.eval()
    notes = [
        f"train step: forward + backward + {optimizer} (foreach) step; optimizer category holds optimizer "
        "state and parameter gradients; backward ops are attributed to module 'backward'"
    ]
    elapsed = time.perf_counter() - t0
    pt = PhaseTrace("train", recs, cap.result.n_ops, elapsed, notes=notes + _dd(cap), tokens=batch * seq)
    pt.state_bytes = {"optimizer": nbytes(state), "gradients": nbytes(grads)}
    return pt


def _dd(cap: Capture) -> list[str]:
    n = cap.last.data_dependent if cap.last else 0
    return (
        [f"{n} data-dependent scalar read(s) on meta answered without data (True for booleans, 0 otherwise)"]
        if n
        else []
    )


class _Decoder:
    """Holds a KV cache at a chosen context length and traces single decode steps."""

    def __init__(self, w: Workload, batch: int, prompt: int, prefill_out: Any) -> None:
        self.w, self.batch, self.prompt = w, batch, prompt
        self.cache = prefill_out.past_key_values
        self.enc = getattr(prefill_out, "encoder_last_hidden_state", None)
        self.length = self._ctx_len()
        self.weights = _weights(w.model)
        self.ops = 0
        self.seconds = 0.0

    def _ctx_len(self) -> int:
        try:
            return int(self.cache.get_seq_length())
        except AttributeError:
            return self.prompt

    def _step_inputs(self, n_tokens: int) -> dict[str, Any]:
        ids = torch.zeros(self.batch, n_tokens, dtype=torch.long, device="meta")
        if self.w.kind in ("seq2seq", "speech_seq2seq"):
            from transformers.modeling_outputs import BaseModelOutput

            return {
                "decoder_input_ids": ids,
                "encoder_outputs": BaseModelOutput(last_hidden_state=self.enc),
                "past_key_values": self.cache,
                "use_cache": True,
            }
        return {"input_ids": ids, "past_key_values": self.cache, "use_cache": True}

    def _grow(self, extra: int) -> None:
        """Bring the cache to ``length + extra`` tokens without tracing (on meta: no allocation)."""
        if extra <= 0:
            return
        layers = getattr(getattr(self.cache, "self_attention_cache", self.cache), "layers", None)
        if layers and all(
            type(layer).__name__ == "DynamicLayer"
            and getattr(layer, "keys", None) is not None
            and layer.keys.dim() == 4
            for layer in layers
        ):
            for layer in layers:  # fast path: append meta rows directly
                k, v = layer.keys, layer.values
                layer.keys = torch.cat([k, k.new_empty(*k.shape[:2], extra, k.shape[3])], dim=-2)
                layer.values = torch.cat([v, v.new_empty(*v.shape[:2], extra, v.shape[3])], dim=-2)
        else:  # general path: run the extra tokens as one chunk (sliding windows, static caches, ...)
            with torch.no_grad(), MetaScalars():
                out = self.w.model(**self._step_inputs(extra))
            self.cache = out.past_key_values
        self.length += extra

    def _restart(self, ctx: int) -> None:
        with torch.no_grad(), MetaScalars():
            out = self.w.model(**keyword_inputs(self.w, self.batch, self.prompt), use_cache=True)
        self.cache = out.past_key_values
        self.length = self._ctx_len()
        self._grow(ctx - self.length)

    def trace_at(self, ctx: int, n_tokens: int = 1) -> list[Record]:
        if ctx < self.length:
            self._restart(ctx)
        self._grow(ctx - self.length)
        pre_tensors = list(cache_tensors(self.cache))  # kept alive: a freed storage id could be reused mid-step
        kv_pre = storage_ids(pre_tensors)
        cap = Capture(self.w.model)
        t0 = time.perf_counter()
        with torch.no_grad(), cap.trace():
            out = self.w.model(**self._step_inputs(n_tokens))
        self.seconds += time.perf_counter() - t0
        self.cache = out.past_key_values
        self.length += n_tokens
        kv_post = storage_ids(list(cache_tensors(self.cache)))
        self.ops += cap.result.n_ops
        self.kv_bytes = max(getattr(self, "kv_bytes", 0.0), nbytes(list(cache_tensors(self.cache))))
        recs = finalize(cap.result, Tags(weights=self.weights, kv_pre=kv_pre, kv_post=kv_post))
        del pre_tensors
        return recs


def trace_generate(
    w: Workload, batch: int, prompt: int, new_tokens: int, include_prefill: bool, full_trace: bool = False
) -> list[PhaseTrace]:
    """Prefill (traced or not) and ``new_tokens`` decode steps at contexts prompt .. prompt+new_tokens-1
    (decoder-only; for encoder-decoders the context is the decoder's own cache length)."""
    if not w.generative:
        raise ValueError(f"{w.name} is not generative ({w.kind}): phases decode/generate do not apply")
    out_traces: list[PhaseTrace] = []
    t0 = time.perf_counter()
    if include_prefill:
        pre, out = trace_forward(w, batch, prompt, phase="prefill")
        out_traces.append(pre)
    else:
        with torch.no_grad(), MetaScalars():
            out = w.model(**keyword_inputs(w, batch, prompt), use_cache=True)
    dec = _Decoder(w, batch, prompt, out)
    c_first = dec.length
    c_last = c_first + new_tokens - 1
    t1 = time.perf_counter()
    if full_trace:
        recs: list[Record] = []
        for c in range(c_first, c_last + 1):
            recs += dec.trace_at(c)
        contexts, exact = list(range(c_first, c_last + 1)), True
        note = f"decode: all {new_tokens} steps traced op by op"
    else:
        recs, contexts, exact = integrate_steps(dec.trace_at, c_first, c_last)
        note = (
            f"decode: {new_tokens} steps at contexts {c_first}..{c_last}; traced {len(contexts)} steps "
            f"({', '.join(map(str, contexts))}) and summed per-op counts that are affine in the context "
            f"length{' exactly (verified at the middle step)' if exact else ' (approximate: trace cap hit)'}"
        )
    del t0
    # the KV cache at the end of generation (the last traced step is the last step)
    kv_end = getattr(dec, "kv_bytes", 0.0)
    out_traces.append(
        PhaseTrace(
            "decode",
            _tag("decode", recs),
            dec.ops,
            time.perf_counter() - t1,
            [note],
            contexts,
            exact,
            tokens=batch * new_tokens,
            state_bytes={"kv_cache": kv_end},
        )
    )
    return out_traces
