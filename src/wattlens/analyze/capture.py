"""Capture without allocation: record every aten op of a model run on the meta device.

A ``TorchDispatchMode`` sees each op after autograd (so forward, backward and optimizer steps alike) with
its tensor arguments; on the meta device nothing is allocated and the cost scales with the number of ops,
not with tensor sizes (analysis anchors, section 7). For each op we keep its FLOPs (``formulas``) and the
(storage, bytes) of every tensor read and written; bytes are classified afterwards (``finalize``), when we
know which storages turned out to be weights, KV cache or optimizer state.

``torch.nn.functional.scaled_dot_product_attention`` is intercepted during capture: on meta it would
decompose into its math path (bmm + softmax + T x T intermediates), which is neither what a real
backend runs nor fast; we dispatch the single CPU flash kernel instead (it has a meta kernel and an
autograd formula, so training works), which the formulas count exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from wattlens.analyze import formulas as F
from wattlens.analyze import roles as R
from wattlens.analyze.graph import CATEGORIES, FIELDS, HI, IDX, LO, Record, copy_record, sum_field

_DTYPE_SHORT = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.float64: "fp64",
    torch.int8: "int8",
    torch.uint8: "int8",
    torch.int32: "int32",
    torch.int64: "int64",
    torch.bool: "bool",
}
for _name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
    if hasattr(torch, _name):
        _DTYPE_SHORT[getattr(torch, _name)] = "fp8"

_MATRIX_NAMES = (
    frozenset(
        {
            "mm",
            "addmm",
            "bmm",
            "baddbmm",
            "addbmm",
            "mv",
            "addmv",
            "dot",
            "vdot",
            "_int_mm",
            "_weight_int8pack_mm",
            "_weight_int4pack_mm",
            "_scaled_mm",
            "convolution",
            "_convolution",
            "conv2d",
            "conv1d",
            "conv3d",
            "cudnn_convolution",
            "mkldnn_convolution",
            "_convolution_mode",
            "convolution_overrideable",
            "_slow_conv2d_forward",
            "slow_conv3d_forward",
            "thnn_conv2d",
            "_nnpack_spatial_convolution",
            "conv_transpose2d",
            "cudnn_convolution_transpose",
            "convolution_backward",
        }
    )
    | F.SDPA_FORWARD
    | F.SDPA_BACKWARD
)
_COPY_LIKE = frozenset(
    {
        "clone",
        "_to_copy",
        "contiguous",
        "repeat",
        "repeat_interleave",
        "expand_copy",
        "cat",
        "stack",
        "copy",
        "_unsafe_view_copy",
        "view_copy",
        "alias_copy",
    }
)


@dataclass
class OpInfo:
    name: str
    kind: str  # matrix | vector | data | comm | unsupported
    inplace: bool


@dataclass
class RawTrace:
    entries: list[tuple]
    alias: dict[int, tuple[int, int]]  # repeated tensor storage -> (source storage, source bytes)
    n_ops: int
    data_dependent: int = 0  # scalar reads answered without data (see _Recorder.__torch_dispatch__)


class _Recorder(TorchDispatchMode):
    def __init__(self, stack: list[str]) -> None:
        super().__init__()
        self.entries: list[tuple] = []
        self.keep: list[Any] = []  # storages kept alive so that storage ids are never reused in a trace
        self.alias: dict[int, tuple[int, int]] = {}
        self.suppress = 0
        self.stack = stack
        self.label = ""  # "backward", "optimizer" when no module is on the stack
        self.infos: dict[Any, OpInfo | None] = {}
        self.data_dependent = 0

    def _info(self, func: Any) -> OpInfo | None:
        if func in self.infos:
            return self.infos[func]
        name = func.overloadpacket.__name__
        if func.is_view or name in F.VIEW_LIKE:
            info = None
        else:
            base = name[:-1] if name.endswith("_") else name
            inplace = bool(func._schema.is_mutable) and name.endswith("_")
            if name in _MATRIX_NAMES or base in _MATRIX_NAMES:
                kind = "matrix"
            elif name in F.COLLECTIVE_OPS or base in F.COLLECTIVE_OPS:
                kind = "comm"
            elif base in F.DATA_OPS or name in F.DATA_OPS:
                kind = "data"
            elif F.vector_flops(name, [1], 1) is not None:
                kind = "vector"
            else:
                kind = "unsupported"
            info = OpInfo(base if kind != "unsupported" else name, kind, inplace)
        self.infos[func] = info
        return info

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is _LOCAL_SCALAR and args and args[0].device.type == "meta":
            # data-dependent Python control flow (x.item(), bool(x.all())) on meta: there is no value. We answer
            # True for booleans (e.g. transformers' "no packed sequences" check) and 0 otherwise, and say so.
            self.data_dependent += 1
            return True if args[0].dtype == torch.bool else 0
        out = func(*args, **kwargs)
        if self.suppress:
            return out
        info = self._info(func)
        if info is None:
            return out
        ins: list[torch.Tensor] = []
        _flatten(args, ins)
        if kwargs:
            _flatten(tuple(kwargs.values()), ins)
        outs: list[torch.Tensor] = []
        _flatten(out if isinstance(out, (tuple, list)) else (out,), outs)
        name = info.name
        dense = useful = vec = 0.0
        if info.kind == "matrix":
            got = F.matrix_flops(name, args, kwargs, outs[0] if outs else None)
            if got is not None:
                dense, useful, vec = got
        elif info.kind == "vector":
            out_numel = (
                sum(t.numel() for t in outs) if name.startswith("_foreach") else (outs[0].numel() if outs else 0)
            )
            vec = F.vector_flops(name, [t.numel() for t in ins], out_numel) or 0.0
        dtype = ""
        for t in ins or outs:
            if t.is_floating_point():
                dtype = _DTYPE_SHORT.get(t.dtype, str(t.dtype))
                break
        if not dtype and (ins or outs):
            dtype = _DTYPE_SHORT.get((ins or outs)[0].dtype, "")
        in_refs = tuple(_ref(t) for t in ins)
        out_refs = []
        for t in outs:
            st = t.untyped_storage()
            self.keep.append(st)
            out_refs.append((st._cdata, min(t.numel() * t.element_size(), st.nbytes())))
        cross = False
        if name in ("_to_copy", "copy") and ins and outs:
            cross = ins[-1].device != outs[0].device if name == "copy" else ins[0].device != outs[0].device
        module = self.stack[-1] if self.stack else (self.label or "(top)")
        self.entries.append((info, dense, useful, vec, in_refs, tuple(out_refs), module, dtype, cross))
        return out


class MetaScalars(TorchDispatchMode):
    """For forwards we do not record (cache warm-up): answer data-dependent scalar reads on meta as the
    recorder does, let everything else through."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func is _LOCAL_SCALAR and args and args[0].device.type == "meta":
            return True if args[0].dtype == torch.bool else 0
        return func(*args, **(kwargs or {}))


def _flatten(xs: tuple | list, acc: list[torch.Tensor]) -> None:
    for x in xs:
        if isinstance(x, torch.Tensor):
            acc.append(x)
        elif isinstance(x, (list, tuple)):
            _flatten(x, acc)


def _ref(t: torch.Tensor) -> tuple[int, int]:
    st = t.untyped_storage()
    # min(): an expanded (stride-0) view reads its storage, not numel elements
    return st._cdata, min(t.numel() * t.element_size(), st.nbytes())


def storage_ids(tensors: Iterator[torch.Tensor] | list[torch.Tensor]) -> set[int]:
    return {t.untyped_storage()._cdata for t in tensors if isinstance(t, torch.Tensor)}


# ------------------------------------------------------------------------------------------ capture context
_ACTIVE: list[_Recorder] = []
_LOCAL_SCALAR = torch.ops.aten._local_scalar_dense.default
_ORIG_SDPA = torch.nn.functional.scaled_dot_product_attention


def _sdpa_capture(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> torch.Tensor:
    rec = _ACTIVE[-1] if _ACTIVE else None
    if rec is None or query.device.type != "meta":
        return _ORIG_SDPA(
            query,
            key,
            value,
            attn_mask=attn_mask,
            dropout_p=dropout_p,
            is_causal=is_causal,
            scale=scale,
            enable_gqa=enable_gqa,
        )
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        # the fused kernel broadcasts KV heads; materialise the repeat silently and remember that the
        # repeated tensors alias the real (smaller) K/V storages
        rep = query.shape[-3] // key.shape[-3]
        rec.suppress += 1
        try:
            k2, v2 = key.repeat_interleave(rep, -3), value.repeat_interleave(rep, -3)
        finally:
            rec.suppress -= 1
        rec.keep += [k2.untyped_storage(), v2.untyped_storage()]
        for rep_t, src in ((k2, key), (v2, value)):
            rec.alias[rep_t.untyped_storage()._cdata] = (src.untyped_storage()._cdata, src.numel() * src.element_size())
        key, value = k2, v2
    mask = attn_mask
    if mask is not None and mask.dtype == torch.bool:
        mask = None if is_causal else mask  # the CPU kernel wants a float mask; shape-only on meta
    try:
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query,
            key,
            value,
            dropout_p,
            is_causal,
            attn_mask=mask if mask is None or mask.dtype != torch.bool else None,
            scale=scale,
        )[0]
    except (RuntimeError, TypeError):
        return _ORIG_SDPA(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale)


class Capture:
    """Module-path tracking + the recorder; ``with cap.trace(): model(...)`` fills ``cap.last``."""

    def __init__(self, *roots: torch.nn.Module) -> None:
        self.names: dict[int, str] = {}
        for root in roots:
            for qual, mod in root.named_modules():
                self.names.setdefault(id(mod), qual or type(mod).__name__)
        self.stack: list[str] = []
        self.last: RawTrace | None = None
        self._rec: _Recorder | None = None

    @property
    def result(self) -> RawTrace:
        """The last trace, once a ``with cap.trace():`` block has run."""
        if self.last is None:
            raise RuntimeError("no trace recorded yet: run the model inside `with cap.trace():`")
        return self.last

    def _pre(self, mod: torch.nn.Module, args: Any) -> None:
        self.stack.append(self.names.get(id(mod)) or type(mod).__name__)

    def _post(self, mod: torch.nn.Module, args: Any, out: Any) -> None:
        if self.stack:
            self.stack.pop()

    @contextlib.contextmanager
    def trace(self) -> Iterator[_Recorder]:
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

        rec = _Recorder(self.stack)
        self._rec = rec
        h1 = register_module_forward_pre_hook(self._pre)
        h2 = register_module_forward_hook(self._post, always_call=True)
        torch.nn.functional.scaled_dot_product_attention = _sdpa_capture
        _ACTIVE.append(rec)
        try:
            with rec:
                yield rec
        finally:
            _ACTIVE.pop()
            if not _ACTIVE:
                torch.nn.functional.scaled_dot_product_attention = _ORIG_SDPA
            h1.remove()
            h2.remove()
            self.stack.clear()
            self.last = RawTrace(rec.entries, rec.alias, len(rec.entries), rec.data_dependent)


# ------------------------------------------------------------------------------------------ finalize
@dataclass
class Tags:
    weights: set[int] = field(default_factory=set)
    kv_pre: set[int] = field(default_factory=set)  # KV cache that existed before the step (past context)
    kv_post: set[int] = field(default_factory=set)  # KV cache after the step
    optimizer: set[int] = field(default_factory=set)  # optimizer state and parameter gradients


def finalize(raw: RawTrace, tags: Tags) -> list[Record]:
    """Turn raw entries into records with bytes per category, as [fused lower bound, eager upper bound].

    Eager upper bound: every op reads all its inputs and writes all its outputs (gathers read only the
    gathered rows; ``copy_`` does not read its destination). Fused lower bound: elementwise chains fuse into
    the neighbouring GEMM/attention kernels (no activation traffic of their own); each persistent tensor
    (weights, optimizer state) is touched at most once by such fused elementwise work; a KV append writes
    only the new tokens; GQA repeats of KV are broadcast in-kernel (no traffic); attention reads K/V once.
    """
    tag: dict[int, str] = {}
    for s in tags.optimizer:
        tag[s] = "optimizer"
    for s in tags.kv_pre | tags.kv_post:
        tag[s] = "kv_cache"
    for s in tags.weights:
        tag[s] = "weights"
    base: dict[int, int] = {}  # storage -> bytes of the real tensor it copies (GQA repeats of K/V)
    for dst, (src, src_bytes) in raw.alias.items():
        if src in tag:
            tag[dst] = tag[src]
            base[dst] = src_bytes
    touched: set[tuple[int, str]] = set()
    out: list[Record] = []
    for info, dense, useful, vec, ins, outs, module, dtype, cross in raw.entries:
        name, kind = info.name, info.kind
        in_tags = [tag.get(s) for s, _ in ins]
        has_weight = "weights" in in_tags
        # propagate tags through copies (casts of weights, repeats/concats of KV)
        if kind == "data" and name in _COPY_LIKE:
            src_tag = next((t for t in in_tags if t in ("weights", "kv_cache")), None)
            if src_tag:
                for s, nb in outs:
                    if s not in tag:
                        tag[s] = src_tag
                    if src_tag == "kv_cache" and name != "cat":
                        base[s] = min(
                            nb, sum(base.get(si, n) for (si, n), t in zip(ins, in_tags, strict=True) if t == "kv_cache")
                        )
        lo = [0.0] * len(CATEGORIES)
        hi = [0.0] * len(CATEGORIES)
        gather = name in F.GATHER_OPS
        out_bytes = sum(nb for _, nb in outs)
        # ---- eager upper bound
        for k, ((_s, nb), t) in enumerate(zip(ins, in_tags, strict=True)):
            if name == "copy" and k == 0 and info.inplace:
                continue  # copy_ overwrites its destination
            if gather and k == 0 and nb > out_bytes:
                nb = out_bytes
            hi[_CI[t or "activations"]] += nb
        for s, nb in outs:  # (an in-place op writes back to its input's storage: read + write, as counted)
            hi[_CI[tag.get(s) or "activations"]] += nb
        # ---- fused lower bound
        # a data op writing into the KV cache (DynamicCache cat, StaticCache index_copy_/copy_) appends: the
        # fused bound writes only what is new (its non-cache inputs)
        is_kv_append = kind == "data" and any(tag.get(s) == "kv_cache" for s, _ in outs)
        if kind in ("matrix", "comm") or cross or (gather and has_weight):
            for k, ((s, nb), t) in enumerate(zip(ins, in_tags, strict=True)):
                if gather and k == 0 and nb > out_bytes:
                    nb = out_bytes
                if t == "kv_cache":
                    nb = min(nb, base.get(s, nb))
                lo[_CI[t or "activations"]] += nb
            if not (gather and has_weight):  # a gathered embedding row goes straight into the next kernel
                for s, nb in outs:
                    lo[_CI[tag.get(s) or "activations"]] += nb
        elif is_kv_append:
            for (_s, nb), t in zip(ins, in_tags, strict=True):
                if t != "kv_cache":
                    lo[_CI["kv_cache"]] += nb
        else:
            for (s, nb), t in zip(ins, in_tags, strict=True):
                if t in ("weights", "optimizer") and (s, "r") not in touched:
                    touched.add((s, "r"))
                    lo[_CI[t]] += nb
            for s, nb in outs:
                t = tag.get(s)
                if t in ("weights", "optimizer") and (s, "w") not in touched:
                    touched.add((s, "w"))
                    lo[_CI[t]] += nb
        launch_lo = 1.0 if (kind in ("matrix", "comm") or cross or gather or is_kv_append) else 0.0
        role = R.classify(name, module, has_weight, cross)
        kv_role = is_kv_append or (kind == "data" and any(t == "kv_cache" for t in in_tags))
        if kv_role and role == R.ELEMENTWISE:
            role = R.KV_CACHE
        table = 0.0
        if gather and has_weight and ins and in_tags[0] == "weights":
            table = float(ins[0][1])  # the weight table; its reads above are clamped to it (shape fits undo that)
        v = [dense, useful, vec, *lo, *hi, launch_lo, 1.0, float(out_bytes), 0.0, table]
        unsupported = kind == "unsupported"
        if role == R.ATTENTION and tags.kv_pre and "kv_cache" in in_tags:
            # decode attention is the KV-cache read: its intensity is (heads/kv_heads)/bytes_per_element
            # FLOP/B whatever the batch (analysis anchors, section 5), so the whole kernel takes that role
            role = R.KV_CACHE
        out.append(Record(name, role, module, dtype, kind, unsupported, v))
    return out


_CI = {c: i for i, c in enumerate(CATEGORIES)}


# ------------------------------------------------------------------------------------------ affine decode
def _same_structure(a: list[Record], b: list[Record]) -> bool:
    return len(a) == len(b) and all(x.name == y.name and x.role == y.role for x, y in zip(a, b, strict=True))


def affine_fit(ra: list[Record], ca: int, rb: list[Record], cb: int) -> list[Record]:
    """Per-op affine fit v(c) = v0 + v1·c through two traced steps (structures must match)."""
    outl = []
    for x, y in zip(ra, rb, strict=True):
        v1 = [(q - p) / (cb - ca) for p, q in zip(x.v0, y.v0, strict=True)]
        v0 = [p - s * ca for p, s in zip(x.v0, v1, strict=True)]
        outl.append(Record(x.name, x.role, x.module, x.dtype, x.kind, x.unsupported, v0, v1))
    return outl


def affine_matches(fit: list[Record], rm: list[Record], cm: int, rel: float = 1e-9) -> bool:
    if not _same_structure(fit, rm):
        return False
    for f, m in zip(fit, rm, strict=True):
        for p0, p1, q in zip(f.v0, f.v1, m.v0, strict=True):
            pred = p0 + p1 * cm
            if abs(pred - q) > rel * max(abs(q), abs(pred), 1.0) + 1e-6:
                return False
    return True


def over_steps(fit: list[Record], c_first: int, n: int) -> list[Record]:
    for r in fit:
        r.n, r.c0 = n, c_first
    return fit


def integrate_steps(
    trace_at: Callable[[int], list[Record]], c_first: int, c_last: int, max_traces: int = 24
) -> tuple[list[Record], list[int], bool]:
    """Records summing decode steps at contexts c_first..c_last (inclusive).

    Traces the first and last step and one in the middle; if every op's counts are affine in the context
    (they are for dense and GQA attention: KV bytes and attention FLOPs grow linearly, the rest is
    constant) the sum is exact. Otherwise (e.g. a sliding window caps the context) the range is bisected
    recursively; segments of <= 2 steps are traced in full. Returns (records, traced contexts, exact).
    """
    cache: dict[int, list[Record]] = {}
    exact = True

    def at(c: int) -> list[Record]:
        if c not in cache:
            cache[c] = trace_at(c)
        return cache[c]

    def seg(ca: int, cb: int) -> list[Record]:
        nonlocal exact
        if cb - ca <= 1:
            res = []
            for c in range(ca, cb + 1):
                res += [_copy(r) for r in at(c)]
                for r in res[-len(at(c)) :]:
                    r.c0 = 0  # a directly traced step: its v0 already holds the values at context c
            return res
        cm = (ca + cb) // 2
        ra = at(ca)
        at(cm)  # in increasing context order: the cache only ever grows (no re-prefill)
        rb = at(cb)
        if _same_structure(ra, rb):
            fit = affine_fit(ra, ca, rb, cb)
            if len(cache) >= max_traces or affine_matches(fit, at(cm), cm):
                if len(cache) >= max_traces:
                    exact = False
                return over_steps(fit, ca, cb - ca + 1)
        # split [ca, cm] and [cm+1, cb]
        left = seg(ca, cm)
        right = seg(cm + 1, cb) if cm + 1 < cb else [_copy(r) for r in at(cb)]
        return left + right

    recs = seg(c_first, c_last) if c_last > c_first else [_copy(r) for r in at(c_first)]
    return recs, sorted(cache), exact


_copy = copy_record  # the name levers and parallel used before graph.py


__all__ = [  # the op-record names live in graph.py (torch-free); capture re-exports them for its callers
    "CATEGORIES",
    "FIELDS",
    "HI",
    "IDX",
    "LO",
    "Capture",
    "MetaScalars",
    "Record",
    "Tags",
    "copy_record",
    "finalize",
    "integrate_steps",
    "storage_ids",
    "sum_field",
]
