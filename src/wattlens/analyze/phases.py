"""Drive the capture through the phases of a workload: forward, prefill, decode (N steps with a real KV
cache), train (forward + backward + optimizer step). Returns finalized records per phase.

Two things keep this fast on large models without losing exactness:

* **layer folding** (:mod:`wattlens.analyze.fold`): a homogeneous stack is traced at 2, 3 and 4 layers and the
  records of all L layers are the verified fold of those (an 80-layer model costs what a 4-layer one does);
* **shape fits** (:mod:`wattlens.analyze.fit`): each phase is traced at a few batch sizes (and contexts) and every
  op's counts are fitted as a polynomial, verified at one more traced point -- the analysis' own shape is read
  off the fit, and so are the batching lever and the co-design sweeps, without tracing again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from wattlens.analyze import fit as FT
from wattlens.analyze.capture import Capture, MetaScalars, Record, Tags, finalize, integrate_steps, storage_ids
from wattlens.analyze.fit import lever_batch
from wattlens.analyze.fold import fold_layers, foldable
from wattlens.analyze.graph import PhaseTrace
from wattlens.analyze.presets import Workload, keyword_inputs, make_inputs, with_depth

SHALLOW = (2, 3, 4)  # depths traced for layer folding (4 is the check)


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


# ------------------------------------------------------------------------------------------ folding plan
@dataclass
class Depths:
    """How a workload is traced: the full model, or shallow copies whose records fold into the full depth."""

    full: Workload
    attr: str | None = None
    layers: int = 0
    shallow: dict[int, Workload] = field(default_factory=dict)
    failed: bool = False  # a fold check failed once: trace the full model from then on
    passes: int = 0  # forward passes traced (for the report)
    dispatched: int = 0  # aten ops dispatched while tracing
    data_dependent: int = 0  # scalar reads answered without data in one pass (the most seen)
    checked: set[str] = field(default_factory=set)  # pass kinds whose fold was checked at 4 layers

    @property
    def folding(self) -> bool:
        return bool(self.shallow) and not self.failed

    def note(self) -> str | None:
        if self.folding:
            return (
                f"layer folding: the {self.layers}-layer stack ({self.attr}) was traced at 2 and 3 layers, the added "
                "layer's ops repeated for layers 2.."
                f"{self.layers - 1} and the rule checked op for op against a 4-layer trace"
            )
        if self.failed:
            return "layer folding did not hold for this stack (layers differ): traced at full depth"
        return None


def plan(w: Workload) -> Depths:
    cfg = w.config if w.config is not None and not isinstance(w.config, dict) else None
    attr = foldable(cfg) if cfg is not None and w.custom_inputs is None else None
    d = Depths(w)
    if attr is None:
        return d
    try:
        d.shallow = {k: with_depth(w, attr, k) for k in SHALLOW}
    except Exception:  # a model class that cannot be rebuilt from its config: trace it whole
        d.shallow = {}
        return d
    d.attr, d.layers = attr, int(getattr(cfg, attr))
    return d


def _folded(d: Depths, trace: Callable[[Workload], list[Record]], kind: str) -> list[Record]:
    """``trace`` applied to the full model, or to the shallow ones and folded (falling back on failure). The
    fold is checked against a 4-layer trace the first time each kind of pass (forward, step) is folded."""
    if d.folding:
        depths = SHALLOW if kind not in d.checked else SHALLOW[:2]
        rs = {k: trace(d.shallow[k]) for k in depths}
        out = fold_layers(rs[2], rs[3], rs.get(4), d.layers)
        if out is not None:
            d.checked.add(kind)
            return out
        d.failed = True
    return trace(d.full)


def _affine_depth(d: Depths, values: dict[int, float]) -> float:
    """A per-layer quantity (KV-cache bytes) at full depth from its values at 2 and 3 layers."""
    return values[2] + (d.layers - 2) * (values[3] - values[2])


# ------------------------------------------------------------------------------------------ forward / prefill
def _forward_once(w: Workload, batch: int, seq: int, phase: str, d: Depths) -> tuple[list[Record], float, Any]:
    cap = Capture(w.model)
    inputs = make_inputs(w, batch, seq)
    weights = _weights(w.model)
    kwargs = {"use_cache": True} if w.generative and isinstance(inputs, dict) else {}
    with torch.no_grad(), cap.trace():
        out = w.model(**inputs, **kwargs) if isinstance(inputs, dict) else w.model(*inputs)
    cache = getattr(out, "past_key_values", None) if w.generative else None
    tags = Tags(weights=weights, kv_post=storage_ids(list(cache_tensors(cache))))
    d.passes += 1
    d.dispatched += cap.result.n_ops
    d.data_dependent = max(d.data_dependent, cap.result.data_dependent)
    kv = nbytes(list(cache_tensors(cache))) if cache is not None else 0.0
    return _tag(phase, finalize(cap.result, tags)), kv, out


def _forward_records(d: Depths, batch: int, seq: int, phase: str) -> tuple[list[Record], float]:
    kv: dict[int, float] = {}

    def one(w: Workload) -> list[Record]:
        recs, kv_bytes, _ = _forward_once(w, batch, seq, phase, d)
        kv[_depth_of(d, w)] = kv_bytes
        return recs

    recs = _folded(d, one, phase)
    kv_total = _affine_depth(d, kv) if d.folding and 2 in kv and 3 in kv else kv.get(0, max(kv.values(), default=0.0))
    return recs, kv_total


def _depth_of(d: Depths, w: Workload) -> int:
    return next((k for k, s in d.shallow.items() if s is w), 0)


def _tokens(w: Workload, batch: int, seq: int) -> int:
    return batch * seq if w.kind in ("causal_lm", "encoder", "seq2seq", "image_text") else batch


def _notes(d: Depths, extra: list[str] | None = None) -> list[str]:
    out = list(extra or [])
    n = d.note()
    if n:
        out.append(n)
    return out


def trace_forward(
    w: Workload, batch: int, seq: int, phase: str = "forward", depths: Depths | None = None, fit_batch: bool = True
) -> tuple[PhaseTrace, Any]:
    """One forward pass (``forward`` or ``prefill``), its counts fitted in the batch when ``fit_batch``."""
    d = depths or plan(w)
    t0 = time.perf_counter()
    recs, kv = _forward_records(d, batch, seq, phase)
    sfit: FT.ShapeFit | None = None
    notes: list[str] = []
    if fit_batch:
        b1, bv = 2 * batch, lever_batch(batch)
        bv = bv if bv != b1 else 3 * batch
        try:
            traced = {(batch, seq): recs, (b1, seq): _forward_records(d, b1, seq, phase)[0]}
            traced[(bv, seq)] = _forward_records(d, bv, seq, phase)[0]
            sfit = FT.fit(traced, FT.BATCH_ONLY, check=[(bv, seq)])
            notes.append(
                f"{phase}: counts fitted affine in the batch through batches {batch} and {b1}, checked op for op at "
                f"batch {bv}"
            )
        except FT.FitError as exc:
            notes.append(f"{phase}: no batch fit ({exc}); other batches are traced again")
    pt = PhaseTrace(
        phase,
        recs,
        d.dispatched,
        time.perf_counter() - t0,
        notes=_notes(d, notes) + _data_dependent(d.data_dependent),
        tokens=_tokens(w, batch, seq),
    )
    pt.fit = sfit
    if w.generative:
        pt.state_bytes["kv_cache"] = kv
    return pt, None


# ------------------------------------------------------------------------------------------ train
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
    for p in model.parameters():
        p.grad = None
    notes = [
        f"train step: forward + backward + {optimizer} (foreach) step; optimizer category holds optimizer "
        "state and parameter gradients; backward ops are attributed to module 'backward'"
    ]
    elapsed = time.perf_counter() - t0
    pt = PhaseTrace(
        "train",
        recs,
        cap.result.n_ops,
        elapsed,
        notes=notes + _data_dependent(cap.result.data_dependent),
        tokens=batch * seq,
    )
    pt.state_bytes = {"optimizer": nbytes(state), "gradients": nbytes(grads)}
    return pt


def _data_dependent(n: int) -> list[str]:
    return (
        [f"{n} data-dependent scalar read(s) on meta answered without data (True for booleans, 0 otherwise)"]
        if n
        else []
    )


# ------------------------------------------------------------------------------------------ decode
class _Decoder:
    """Holds a KV cache at a chosen context length and traces single decode steps."""

    def __init__(self, w: Workload, batch: int, prompt: int, prefill_out: Any, depths: Depths | None = None) -> None:
        self.w, self.batch, self.prompt = w, batch, prompt
        self.cache = prefill_out.past_key_values
        self.enc = getattr(prefill_out, "encoder_last_hidden_state", None)
        self.length = self._ctx_len()
        self.weights = _weights(w.model)
        self.ops = 0
        self.seconds = 0.0
        self.kv_bytes = 0.0
        self.depths = depths

    @classmethod
    def start(cls, w: Workload, batch: int, prompt: int, depths: Depths | None = None) -> _Decoder:
        with torch.no_grad(), MetaScalars():
            out = w.model(**keyword_inputs(w, batch, prompt), use_cache=True)
        return cls(w, batch, prompt, out, depths)

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
        if self.depths is not None:
            self.depths.passes += 1
            self.depths.dispatched += cap.result.n_ops
        self.kv_bytes = max(self.kv_bytes, nbytes(list(cache_tensors(self.cache))))
        recs = finalize(cap.result, Tags(weights=self.weights, kv_pre=kv_pre, kv_post=kv_post))
        del pre_tensors
        return recs


class Steps:
    """Decode steps of a (possibly folded) workload at any batch and context: one decoder per depth and batch."""

    def __init__(self, d: Depths, prompt: int) -> None:
        self.d, self.prompt = d, prompt
        self.decoders: dict[tuple[int, int], _Decoder] = {}
        self.kv_bytes: dict[int, float] = {}  # batch -> KV-cache bytes after the latest step traced at it

    def _decoder(self, w: Workload, depth: int, batch: int) -> _Decoder:
        key = (depth, batch)
        if key not in self.decoders:
            self.decoders[key] = _Decoder.start(w, batch, self.prompt, self.d)
        return self.decoders[key]

    def at(self, batch: int, ctx: int, n_tokens: int = 1) -> list[Record]:
        kv: dict[int, float] = {}

        def one(w: Workload) -> list[Record]:
            depth = _depth_of(self.d, w)
            dec = self._decoder(w, depth, batch)
            recs = dec.trace_at(ctx, n_tokens)
            kv[depth] = dec.kv_bytes
            return recs

        recs = _folded(self.d, one, f"step{n_tokens}")
        total = _affine_depth(self.d, kv) if self.d.folding and 2 in kv else kv.get(0, 0.0)
        self.kv_bytes[batch] = max(self.kv_bytes.get(batch, 0.0), total)
        return recs

    def first_context(self, batch: int) -> int:
        """The context of the first decode step: the cache length after the prompt's prefill."""
        w, depth = (self.d.shallow[2], 2) if self.d.folding else (self.d.full, 0)
        return self._decoder(w, depth, batch).length


def _decode_fit(steps: Steps, batch: int, c_first: int, c_last: int, fit_batch: bool = True) -> FT.ShapeFit:
    """Counts per step fitted bilinear in (batch, context): 4 traced steps, checked at 2 more. Without
    ``fit_batch``: affine in the context at this batch only (2 traced steps, checked at 1)."""
    c_b = max(c_last, c_first + 1)
    c_mid = (c_first + c_b) // 2 if c_b - c_first > 1 else c_b + 1
    if not fit_batch:
        one = {(batch, c): steps.at(batch, c) for c in sorted({c_first, c_mid, c_b})}
        return FT.fit(one, FT.CONTEXT_ONLY, check=[(batch, c_mid)])
    b1, bv = 2 * batch, lever_batch(batch)
    bv = bv if bv != b1 else 3 * batch
    traced: dict[tuple[int, int], list[Record]] = {}
    for b in (batch, b1, bv):  # each decoder's cache only grows: contexts in increasing order
        for c in sorted({c_first, c_mid, c_b}):
            if b == bv and c != c_mid:
                continue
            if b == b1 and c == c_mid:
                continue
            traced[(b, c)] = steps.at(b, c)
    return FT.fit(traced, FT.BATCH_CONTEXT, check=[(batch, c_mid), (bv, c_mid)])


def trace_generate(
    w: Workload,
    batch: int,
    prompt: int,
    new_tokens: int,
    include_prefill: bool,
    full_trace: bool = False,
    depths: Depths | None = None,
    fit_batch: bool = True,
) -> list[PhaseTrace]:
    """Prefill (traced or not) and ``new_tokens`` decode steps at contexts prompt .. prompt+new_tokens-1
    (decoder-only; for encoder-decoders the context is the decoder's own cache length)."""
    if not w.generative:
        raise ValueError(f"{w.name} is not generative ({w.kind}): phases decode/generate do not apply")
    d = depths or plan(w)
    out_traces: list[PhaseTrace] = []
    if include_prefill:
        pre, _ = trace_forward(w, batch, prompt, phase="prefill", depths=d, fit_batch=fit_batch)
        out_traces.append(pre)
    t1 = time.perf_counter()
    ops0 = d.dispatched
    steps = Steps(d, prompt)
    c_first = steps.first_context(batch)
    c_last = c_first + new_tokens - 1
    sfit: FT.ShapeFit | None = None
    if full_trace:
        recs: list[Record] = []
        for c in range(c_first, c_last + 1):
            recs += steps.at(batch, c)
        contexts, exact = list(range(c_first, c_last + 1)), True
        note = f"decode: all {new_tokens} steps traced op by op"
    else:
        try:
            sfit = _decode_fit(steps, batch, c_first, c_last, fit_batch)
            recs = sfit.steps(batch, c_first, new_tokens)
            contexts, exact = sorted({c for _, c in sfit.points + sfit.checked}), True
            note = (
                f"decode: {new_tokens} steps at contexts {c_first}..{c_last}; counts per step fitted bilinear in "
                f"(batch, context) through {len(sfit.points)} traced steps and checked op for op at "
                f"{', '.join(f'batch {b} context {c}' for b, c in sfit.checked)}; summed exactly over the steps"
            )
        except FT.FitError as exc:
            recs, contexts, exact = integrate_steps(lambda c: steps.at(batch, c), c_first, c_last)
            note = (
                f"decode: {new_tokens} steps at contexts {c_first}..{c_last} ({exc}); traced {len(contexts)} steps "
                f"({', '.join(map(str, contexts))}) and summed per-op counts that are affine in the context "
                f"length{' exactly (verified at the middle step)' if exact else ' (approximate: trace cap hit)'}"
            )
    pt = PhaseTrace(
        "decode",
        _tag("decode", recs),
        d.dispatched - ops0,
        time.perf_counter() - t1,
        _notes(d, [note]),
        contexts,
        exact,
        tokens=batch * new_tokens,
        state_bytes={"kv_cache": steps.kv_bytes.get(batch, 0.0)},
        steps=new_tokens,
    )
    pt.fit = sfit if fit_batch else None  # a fit at one batch cannot answer another
    return [*out_traces, pt]


def trace_verify_step(
    w: Workload, batch: int, prompt: int, ctx: int, n_tokens: int, depths: Depths | None = None
) -> list[Record]:
    """One decode step of ``n_tokens`` tokens at context ``ctx`` (speculative decoding's verify step)."""
    steps = Steps(depths or plan(w), prompt)
    return _tag("decode", steps.at(batch, ctx, n_tokens))


__all__ = ["Depths", "PhaseTrace", "lever_batch", "plan", "trace_forward", "trace_generate", "trace_train"]


# ------------------------------------------------------------------------------------------ sweeps: one trace per phase
def grid_points(batches: list[int], seqs: list[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]]:
    """Fit points (2 batches x 3 lengths) and one check point for a batch x length polynomial over a sweep."""
    lo, hi = min(seqs), max(seqs)
    s_pts = sorted({lo, hi, (lo + hi) // 2})
    k = 1
    while len(s_pts) < 3:
        s_pts = sorted(set(s_pts) | {hi + k})
        k += 1
    s_chk = next(s for s in ((lo + s_pts[1]) // 2, (s_pts[1] + hi) // 2, hi + 7, hi + 11) if s not in s_pts)
    b0 = 1
    pts = [(b, s) for b in (b0, 2 * b0) for s in s_pts]
    return pts, [(3 * b0, s_chk)], s_pts


def _seq_matters(w: Workload) -> bool:
    return w.kind in ("causal_lm", "encoder", "seq2seq", "image_text")


def trace_grid(
    w: Workload, phase: str, seqs: list[int], new_tokens: int, optimizer: str = "adamw", depths: Depths | None = None
) -> list[PhaseTrace]:
    """Phase traces whose shape fits cover every batch and every length in ``seqs`` (prompt lengths for decode):
    the one trace per model and phase a co-design sweep evaluates all its points from."""
    d = depths or plan(w)
    out: list[PhaseTrace] = []
    t0 = time.perf_counter()
    if phase in ("forward", "prefill", "train", "generate"):
        fwd_phase = "prefill" if phase == "generate" else phase
        if _seq_matters(w):
            pts, check, _ = grid_points([1], seqs)
            basis = FT.BATCH_SEQ2
        else:
            pts, check, basis = [(1, seqs[0]), (2, seqs[0])], [(3, seqs[0])], FT.BATCH_ONLY
        traced: dict[tuple[int, int], list[Record]] = {}
        kv: dict[tuple[int, int], float] = {}
        for b, s in pts + check:
            if fwd_phase == "train":
                tr = trace_train(w, b, s, optimizer)
                traced[(b, s)], state = tr.records, tr.state_bytes
            else:
                traced[(b, s)], kv[(b, s)] = _forward_records(d, b, s, fwd_phase)
                state = {}
        sfit = FT.fit(traced, basis, check=check)
        b0, s0 = pts[0]
        pt = PhaseTrace(
            fwd_phase,
            traced[(b0, s0)],
            d.dispatched,
            time.perf_counter() - t0,
            notes=_notes(
                d,
                [
                    f"{fwd_phase}: counts fitted as a polynomial in (batch, length) through "
                    f"{', '.join(f'({b}, {s})' for b, s in pts)}, checked op for op at "
                    f"{', '.join(f'({b}, {s})' for b, s in check)}"
                ],
            ),
            tokens=_tokens(w, b0, s0),
            state_bytes=dict(state),
        )
        pt.fit = sfit
        if w.generative and (b0, s0) in kv:
            pt.state_bytes["kv_cache_per_token"] = kv[(b0, s0)] / max(b0 * s0, 1)
        out.append(pt)
    if phase in ("decode", "generate"):
        prompt = min(seqs)
        steps = Steps(d, prompt)
        c_lo = steps.first_context(1)
        c_hi = max(seqs) + (c_lo - prompt) + new_tokens - 1
        c_mid = (c_lo + c_hi) // 2
        traced = {}
        for b, cs in ((1, (c_lo, c_hi)), (2, (c_lo, c_hi)), (3, (c_mid,))):
            for c in cs:
                traced[(b, c)] = steps.at(b, c)
        sfit = FT.fit(traced, FT.BATCH_CONTEXT, check=[(3, c_mid)])
        pt = PhaseTrace(
            "decode",
            sfit.steps(1, c_lo, new_tokens),
            d.dispatched,
            time.perf_counter() - t0,
            _notes(
                d,
                [
                    f"decode: counts per step fitted bilinear in (batch, context) over contexts {c_lo}..{c_hi}, "
                    f"checked op for op at batch 3 context {c_mid}"
                ],
            ),
            sorted({c for _, c in traced}),
            True,
            tokens=new_tokens,
            steps=new_tokens,
        )
        pt.fit = sfit
        kv_b1 = steps.kv_bytes.get(1, 0.0)
        pt.state_bytes = {"kv_cache_per_token": kv_b1 / max(c_hi + 1, 1)}
        out.append(pt)
    return out
