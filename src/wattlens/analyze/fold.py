"""Layer folding: the op records of an L-layer stack from traces of 2, 3 and 4 layers.

A transformer's decoder (or encoder) layers run the same ops on the same shapes, so the records of an L-layer
model are ``prefix + block × (L - 2) + suffix`` where ``prefix + suffix`` is the 2-layer trace and ``block`` is
what the 3-layer trace adds. We locate the block by the new layer's module path (``model.layers.2``), check
that removing it from the 3-layer trace gives the 2-layer trace op for op (names, roles, dtypes and every
count), and verify the rule on a 4-layer trace: only then is the L-layer trace replaced by the folded one.
The block is kept once with ``mult = L - 2`` (copies at layer indices 2 .. L-1), so an 80-layer model costs
the analysis what a 4-layer one does. Heterogeneous stacks (a layer 0 that differs, as T5's relative bias,
stays in the prefix; periodic patterns such as alternating sliding-window layers fail the check) are traced
in full. Torch-free: this works on :class:`~wattlens.analyze.graph.Record` lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from wattlens.analyze.graph import Record, copy_record

_INDEX = re.compile(r"(?<=\.)(\d+)(?=\.|$)")
REL_TOL = 1e-9


def _close(a: list[float], b: list[float]) -> bool:
    return all(abs(x - y) <= REL_TOL * max(abs(x), abs(y), 1.0) for x, y in zip(a, b, strict=True))


def same_op(a: Record, b: Record) -> bool:
    """Same op with the same counts (the module path is not compared: layer indices differ)."""
    return (
        a.signature() == b.signature()
        and a.n == b.n
        and a.c0 == b.c0
        and a.mult == b.mult
        and _close(a.v0, b.v0)
        and _close(a.v1, b.v1)
    )


def layer_index(module: str) -> int | None:
    """The first numeric path component (``model.layers.7.mlp`` -> 7), or None."""
    m = _INDEX.search(module)
    return int(m.group(1)) if m else None


def with_layer(module: str, k: int) -> str:
    """The module path with its first numeric component replaced by ``k``."""
    return _INDEX.sub(str(k), module, count=1)


def _same_seq(a: Sequence[Record], b: Sequence[Record]) -> bool:
    return len(a) == len(b) and all(same_op(x, y) for x, y in zip(a, b, strict=True))


def _block_by_module(shallow: list[Record], deeper: list[Record], new_index: int) -> tuple[int, int] | None:
    """[start, end) of the new layer's contiguous run in ``deeper``, when removing it leaves ``shallow``."""
    idx = [i for i, r in enumerate(deeper) if layer_index(r.module) == new_index]
    if not idx or idx[-1] - idx[0] + 1 != len(idx) or len(deeper) - len(idx) != len(shallow):
        return None
    start, end = idx[0], idx[-1] + 1
    return (start, end) if _same_seq(shallow, deeper[:start] + deeper[end:]) else None


def _block_by_counts(shallow: list[Record], deeper: list[Record]) -> tuple[int, int] | None:
    """The insertion found by common prefix and suffix (module paths ignored)."""
    n, m = len(shallow), len(deeper)
    if m <= n:
        return None
    p = 0
    while p < n and same_op(shallow[p], deeper[p]):
        p += 1
    s = 0
    while s < n - p and same_op(shallow[n - 1 - s], deeper[m - 1 - s]):
        s += 1
    return (p, m - s) if p + s == n else None


def find_block(shallow: list[Record], deeper: list[Record], new_index: int) -> tuple[int, int] | None:
    return _block_by_module(shallow, deeper, new_index) or _block_by_counts(shallow, deeper)


def folded(deeper: list[Record], block: tuple[int, int], copies: int) -> list[Record]:
    """``deeper`` (a trace of k+1 layers) with its block repeated ``copies`` times in total (mult)."""
    start, end = block
    out = [copy_record(r) for r in deeper[:start]]
    for r in deeper[start:end]:
        c = copy_record(r)
        c.mult = r.mult * copies
        out.append(c)
    out += [copy_record(r) for r in deeper[end:]]
    return out


def expanded(records: list[Record], block: tuple[int, int], copies: int) -> list[Record]:
    """The same trace with the block written out ``copies`` times (the check against a traced deeper stack)."""
    start, end = block
    out = [copy_record(r) for r in records[:start]]
    for _ in range(copies):
        out += [copy_record(r) for r in records[start:end]]
    out += [copy_record(r) for r in records[end:]]
    return out


def fold_layers(
    r2: list[Record], r3: list[Record], r4: list[Record] | None, layers: int, first_new: int = 2
) -> list[Record] | None:
    """Records of a ``layers``-deep stack from traces of 2, 3 (and 4, the check) layers; None when the stack
    is not a repeated block (the caller then traces the full model)."""
    block = find_block(r2, r3, first_new)
    if block is None:
        return None
    if r4 is not None and not _same_seq(expanded(r3, block, 2), r4):
        return None
    return folded(r3, block, layers - first_new)


def layer_copies(r: Record) -> list[tuple[str, float]]:
    """(module path, share) of every layer a folded record stands for (one entry for a plain record)."""
    if r.mult <= 1:
        return [(r.module, 1.0)]
    k = layer_index(r.module)
    if k is None:
        return [(r.module, 1.0)]
    return [(with_layer(r.module, k + j), 1.0 / r.mult) for j in range(r.mult)]


def depth_attr(config: Any) -> str | None:
    """The config attribute holding the depth of a single (decoder-only or encoder-only) stack."""
    if config is None or getattr(config, "is_encoder_decoder", False):
        return None
    for attr in ("num_hidden_layers", "n_layer", "num_layers"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and not isinstance(v, bool):
            return attr
    return None


# config attributes that make layers differ from one another (folding would be wrong; trace in full)
_HETEROGENEOUS = (
    "sliding_window_pattern",
    "interleave_moe_layer_step",
    "first_k_dense_replace",
    "moe_layer_freq",
    "decoder_sparse_step",
    "mlp_only_layers",
    "no_rope_layers",
    "attention_layers",
    "block_types",
)


def foldable(config: Any, min_layers: int = 6) -> str | None:
    """The depth attribute when the stack can be folded (deep enough, homogeneous by its config), else None."""
    attr = depth_attr(config)
    if attr is None or getattr(config, attr) < min_layers:
        return None
    types = getattr(config, "layer_types", None)
    if types and len(set(types)) > 1:
        return None
    for a in _HETEROGENEOUS:
        v = getattr(config, a, None)
        if v not in (None, 0, 1, [], ()):
            return None
    if getattr(config, "use_sliding_window", False) and getattr(config, "max_window_layers", None):
        return None
    return attr


__all__ = ["depth_attr", "fold_layers", "foldable", "layer_copies", "layer_index", "same_op", "with_layer"]
