"""Computational roles (analysis anchors, section 5) and the classifier from aten op to role."""

from __future__ import annotations

from wattlens.analyze import formulas as F

GEMM = "dense_gemm"
ATTENTION = "attention"
KV_CACHE = "kv_cache_read"
CONV = "convolution"
EMBEDDING = "embedding_lookup"
ELEMENTWISE = "norm_elementwise"
TRANSFER = "host_device_transfer"
COLLECTIVE = "collective"
HOST = "host_framework"

ROLES: tuple[str, ...] = (GEMM, ATTENTION, KV_CACHE, CONV, EMBEDDING, ELEMENTWISE, TRANSFER, COLLECTIVE, HOST)

DESCRIPTION: dict[str, str] = {
    GEMM: "dense GEMM / linear layers (mm, addmm, bmm with a weight operand)",
    ATTENTION: "attention scores and softmax (SDPA kernels, or QK^T / PV matmuls and softmax inside attention)",
    KV_CACHE: "KV-cache traffic of decode: reading past keys/values, appending new ones, GQA repeats",
    CONV: "convolutions (forward and backward)",
    EMBEDDING: "embedding lookups (gathered rows) and their backward",
    ELEMENTWISE: "normalisation, activations, residual adds, casts, copies and other elementwise work",
    TRANSFER: "host<->device copies (PCIe / C2C)",
    COLLECTIVE: "collective communication (all-reduce, all-gather, reduce-scatter)",
    HOST: "the framework's own host work per query and per decode step (tokenisation, image pre-processing, "
    "argument handling, the generation loop) while the device waits",
}

# ops whose inputs are two activations and that live inside attention modules are attention work
_ATTN_MATRIX = frozenset({"bmm", "baddbmm", "mm"})
_ATTN_VECTOR = frozenset(
    {"_softmax", "_safe_softmax", "softmax", "_softmax_backward_data", "masked_fill", "masked_fill_", "native_dropout"}
)
_CONV_PREFIX = (
    "conv",
    "_conv",
    "cudnn_conv",
    "mkldnn_conv",
    "_slow_conv",
    "slow_conv",
    "thnn_conv",
    "_nnpack_spatial_conv",
)


def is_attention_module(path: str) -> bool:
    low = path.rsplit(".", 1)[-1].lower() if path else ""
    return "attn" in low or "attention" in low


def classify(name: str, module: str, has_weight: bool, cross_device: bool) -> str:
    """Role of one aten op. ``has_weight``: one of its inputs is a parameter (or a cast/copy of one)."""
    if cross_device:
        return TRANSFER
    if name in F.COLLECTIVE_OPS or name.startswith("_c10d") or name.startswith("all_"):
        return COLLECTIVE
    if name in F.SDPA_FORWARD or name in F.SDPA_BACKWARD:
        return ATTENTION
    if name.startswith(_CONV_PREFIX) or name == "convolution_backward":
        return CONV
    if name in (
        "embedding",
        "embedding_dense_backward",
        "embedding_bag",
        "_embedding_bag",
        "_embedding_bag_backward",
    ) or (name in ("index_select", "index") and has_weight):
        return EMBEDDING
    in_attn = is_attention_module(module)
    if name in _ATTN_MATRIX and in_attn and not has_weight:
        return ATTENTION
    if name in (
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
    ):
        return GEMM
    if in_attn and name in _ATTN_VECTOR:
        return ATTENTION
    return ELEMENTWISE
