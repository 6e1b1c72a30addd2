"""FLOP formulas per aten op, and the op tables that say what each op is.

Conventions (the same as ``torch.utils.flop_counter``): a multiply-add is 2 FLOP; matrix FLOPs of
GEMMs, convolutions and attention are exact (``2·M·K·N`` etc.). Elementwise, reduction, softmax and
normalisation work is counted too (FlopCounterMode ignores it), as FLOP-equivalents per element with the
weights below -- a convention, documented, not a measurement: one arithmetic op = 1, a transcendental
(exp, tanh, erf, rsqrt, ...) = 4 (a short polynomial), composite activations = sum of their parts.

An op that is neither a view, nor in these tables, is *unsupported*: its bytes are still counted (from
its tensors), its FLOPs are reported as unknown in ``unsupported_ops`` -- never silently 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

# ---------------------------------------------------------------------------------------------
# Ops that move no data of their own (views, metadata, aliasing): not recorded at all.
VIEW_LIKE: frozenset[str] = frozenset(
    {
        "detach",
        "_unsafe_view",
        "alias",
        "lift_fresh",
        "view",
        "reshape",
        "t",
        "transpose",
        "permute",
        "expand",
        "squeeze",
        "unsqueeze",
        "slice",
        "select",
        "as_strided",
        "unbind",
        "split",
        "split_with_sizes",
        "chunk",
        "narrow",
        "view_as_real",
        "view_as_complex",
        "_reshape_alias",
        "unfold",
        "diagonal",
        "movedim",
        "numpy_T",
        "sym_size",
        "sym_stride",
        "sym_numel",
        "sym_storage_offset",
        "is_same_size",
        "_has_compatible_shallow_copy_type",
        "set_",
        "resize_",
        "_local_scalar_dense",
        "is_nonzero",
        "equal",
        "_assert_async",
        "_assert_tensor_metadata",
        "record_stream",
        "_conj",
        "_neg_view",
        "conj",
        "resolve_conj",
        "resolve_neg",
        "positive",
        "_version",
        "_make_dep_token",
        "_functionalize_sync",
        "lift",
        "_unsafe_index_put",
        "_nested_tensor_from_mask",
        # profiler markers (optimizer.step is wrapped in record_function): no data, no work
        "_record_function_enter",
        "_record_function_enter_new",
        "_record_function_exit",
    }
)

# Zero-FLOP data movement / creation ops: formula known (0 FLOP), bytes counted from tensors.
DATA_OPS: frozenset[str] = frozenset(
    {
        "clone",
        "copy",
        "copy_",
        "_to_copy",
        "contiguous",
        "cat",
        "stack",
        "repeat",
        "repeat_interleave",
        "expand_copy",
        "constant_pad_nd",
        "pad",
        "slice_scatter",
        "select_scatter",
        "as_strided_scatter",
        "diagonal_scatter",
        "flip",
        "roll",
        "triu",
        "tril",
        "index",
        "_unsafe_index",
        "index_select",
        "gather",
        "embedding",
        "take",
        "masked_select",
        "nonzero",
        "index_put",
        "index_copy",
        "scatter",
        "fill",
        "zero",
        "zeros",
        "ones",
        "full",
        "empty",
        "empty_strided",
        "empty_like",
        "zeros_like",
        "ones_like",
        "full_like",
        "new_empty",
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty_strided",
        "arange",
        "linspace",
        "scalar_tensor",
        "rand",
        "randn",
        "rand_like",
        "randn_like",
        "randint",
        "randperm",
        "normal",
        "uniform",
        "bernoulli",
        "lift_fresh_copy",
        "_copy_from",
        "_copy_from_and_resize",
        "split_with_sizes_copy",
        "unbind_copy",
        "view_copy",
        "permute_copy",
        "t_copy",
        "transpose_copy",
        "detach_copy",
        "unsqueeze_copy",
        "squeeze_copy",
        "slice_copy",
        "select_copy",
        "_unsafe_view_copy",
        "alias_copy",
        "unfold_copy",
        "upsample_nearest1d",
        "upsample_nearest2d",
        "upsample_nearest3d",
        "_upsample_nearest_exact2d",
        "pixel_shuffle",
        "pixel_unshuffle",
        "im2col",
        "col2im",
        "one_hot",
        "_foreach_copy",
        "_foreach_zero",
        "masked_scatter",
        "channel_shuffle",
        "_pin_memory",
        "to",
        "resize_as_",
        "_index_put_impl",
        "embedding_bag",
        "_embedding_bag",
        "unique_dim",
        "_unique2",
        "bucketize",
        "searchsorted",
        "_efficientzerotensor",
        "tril_indices",
        "triu_indices",
        "eye",
        "_to_dense",
        "narrow_copy",
        "index_fill",
        "_unsafe_masked_index",
        "_unsafe_masked_index_put_accumulate",
        # backward of views: scatter the gradient into a zero tensor of the input's shape
        "slice_backward",
        "select_backward",
        "diagonal_backward",
        "as_strided_backward",
        "unfold_backward",
        "expand_backward",
        "index_select_backward",
    }
)

# Ops that gather rows: the kernel reads the gathered rows (= output size), not the whole source.
GATHER_OPS: frozenset[str] = frozenset(
    {
        "embedding",
        "index_select",
        "gather",
        "index",
        "_unsafe_index",
        "take",
        "embedding_bag",
        "_embedding_bag",
        "_unsafe_masked_index",
    }
)

# FLOP-equivalents per OUTPUT element (see module docstring for the convention).
_T = 4  # a transcendental function
ELEMENTWISE_WEIGHT: dict[str, float] = {
    **dict.fromkeys(
        [
            "add",
            "sub",
            "rsub",
            "mul",
            "div",
            "neg",
            "abs",
            "relu",
            "clamp",
            "clamp_min",
            "clamp_max",
            "where",
            "maximum",
            "minimum",
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "logical_not",
            "logical_and",
            "logical_or",
            "logical_xor",
            "bitwise_not",
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
            "masked_fill",
            "sign",
            "reciprocal",
            "square",
            "hardtanh",
            "leaky_relu",
            "floor",
            "ceil",
            "round",
            "trunc",
            "frac",
            "remainder",
            "fmod",
            "threshold",
            "threshold_backward",
            "relu_backward",
            "hardtanh_backward",
            "leaky_relu_backward",
            "fill_",
            "isinf",
            "isnan",
            "isfinite",
            "_foreach_add",
            "_foreach_sub",
            "_foreach_mul",
            "_foreach_div",
            "_foreach_neg",
            "_foreach_maximum",
            "_foreach_minimum",
            "_foreach_reciprocal",
            "_foreach_sign",
            "_foreach_abs",
            "floor_divide",
            "bitwise_left_shift",
            "bitwise_right_shift",
            "heaviside",
            "copysign",
            "nan_to_num",
            "masked_fill_",
            "lt_",
            "clamp_",
            "xlogy",
            "hardsigmoid",
            "hardsigmoid_backward",
            "relu6",
            "prelu",
            "_prelu_kernel",
            "where_",
            "logit",
            "index_add",
            "scatter_add",
            "scatter_reduce",
            "index_reduce",
            "index_put_accumulate",
            "embedding_dense_backward",
            "_embedding_bag_backward",
        ],
        1.0,
    ),
    **dict.fromkeys(
        [
            "addcmul",
            "addcdiv",
            "lerp",
            "_foreach_addcmul",
            "_foreach_addcdiv",
            "_foreach_lerp",
            "sigmoid_backward",
            "tanh_backward",
            "hypot",
            "atan2",
            "pow_scalar_int",
        ],
        2.0,
    ),
    **dict.fromkeys(
        [
            "exp",
            "log",
            "tanh",
            "sigmoid",
            "erf",
            "erfc",
            "sqrt",
            "rsqrt",
            "sin",
            "cos",
            "tan",
            "log1p",
            "expm1",
            "exp2",
            "log2",
            "log10",
            "softplus",
            "asin",
            "acos",
            "atan",
            "sinh",
            "cosh",
            "asinh",
            "acosh",
            "atanh",
            "erfinv",
            "pow",
            "_foreach_sqrt",
            "_foreach_exp",
            "_foreach_log",
            "_foreach_pow",
            "_foreach_sigmoid",
            "_foreach_tanh",
            "digamma",
            "lgamma",
            "float_power",
            "logaddexp",
            "special_erfcx",
            "softplus_backward",
        ],
        float(_T),
    ),
    "silu": 1 + _T + 1,  # x * sigmoid(x): exp, add, div, mul
    "silu_backward": 2 * _T,
    "gelu": 2 * _T,  # erf/tanh form: a transcendental plus ~4 mul/add
    "gelu_backward": 3 * _T,
    "mish": 3 * _T,
    "hardswish": 4.0,
    "hardswish_backward": 4.0,
    "elu": _T + 2.0,
    "elu_backward": _T + 2.0,
    "glu": _T + 2.0,
    "_foreach_addcmul_": 2.0,
    "native_dropout": 2.0,  # random number + scale
    "native_dropout_backward": 1.0,
    "_fused_adam": 16.0,  # per parameter element: two moment updates, bias corrections, sqrt, div, update
    "_fused_adamw": 17.0,
    "_fused_sgd": 3.0,
}

# FLOP-equivalents per INPUT element (reductions, normalisations).
REDUCTION_WEIGHT: dict[str, float] = {
    **dict.fromkeys(
        [
            "sum",
            "mean",
            "amax",
            "amin",
            "max",
            "min",
            "argmax",
            "argmin",
            "prod",
            "cumsum",
            "cumprod",
            "all",
            "any",
            "count_nonzero",
            "nansum",
            "aminmax",
            "_foreach_norm",
            "logcumsumexp",
            "nll_loss_forward",
            "nll_loss2d_forward",
            "nll_loss_backward",
            "nll_loss2d_backward",
            "max_pool2d_with_indices",
            "max_pool3d_with_indices",
            "_adaptive_avg_pool2d",
            "adaptive_max_pool2d",
            "_adaptive_avg_pool3d",
            "topk",
            "sort",
            "cummax",
            "cummin",
            "max_pool2d_with_indices_backward",
            "_adaptive_avg_pool2d_backward",
            "avg_pool2d_backward",
            "median",
            "kthvalue",
            "mode",
        ],
        1.0,
    ),
    **dict.fromkeys(["var", "std", "var_mean", "std_mean", "norm", "linalg_vector_norm", "frobenius_norm"], 3.0),
    **dict.fromkeys(["_softmax", "_safe_softmax", "softmax", "_log_softmax", "log_softmax", "logsumexp"], 5.0),
    **dict.fromkeys(["_softmax_backward_data", "_log_softmax_backward_data"], 4.0),
    "native_layer_norm": 8.0,  # mean, centre, square, sum, rsqrt (per row), scale, gamma, beta
    "native_layer_norm_backward": 16.0,
    "_fused_rms_norm": 6.0,
    "_fused_rms_norm_backward": 12.0,
    "native_group_norm": 8.0,
    "native_group_norm_backward": 16.0,
    "native_batch_norm": 8.0,  # training mode computes statistics
    "_native_batch_norm_legit": 8.0,
    "_native_batch_norm_legit_no_training": 4.0,  # inference: (x - mean) * inv_std * gamma + beta
    "_native_batch_norm_legit_functional": 8.0,
    "native_batch_norm_backward": 12.0,
    "cudnn_batch_norm": 8.0,
    "upsample_bilinear2d": 8.0,  # 4-tap interpolation (per input element, approximate)
    "_upsample_bilinear2d_aa": 8.0,
    "upsample_bicubic2d": 32.0,
    "grid_sampler_2d": 8.0,
    "im2col_backward": 1.0,
    "binary_cross_entropy": 8.0,
    "mse_loss": 3.0,
    "smooth_l1_loss": 4.0,
}

# Collective and transfer ops (distributed functional collectives, c10d), recognised by name.
COLLECTIVE_OPS: frozenset[str] = frozenset(
    {
        "all_reduce",
        "all_reduce_",
        "all_gather_into_tensor",
        "all_gather_into_tensor_out",
        "reduce_scatter_tensor",
        "all_to_all_single",
        "broadcast",
        "broadcast_",
        "allreduce_",
        "allgather_",
        "reduce_scatter_",
        "alltoall_",
        "all_gather",
        "reduce_scatter",
        "wait_tensor",
        "_allgather_base_",
        "_reduce_scatter_base_",
    }
)

SDPA_FORWARD: frozenset[str] = frozenset(
    {
        "scaled_dot_product_attention",
        "_scaled_dot_product_attention_math",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_fused_attention_overrideable",
        "_scaled_dot_product_attention_math_for_mps",
        "_flash_attention_forward",
        "_efficient_attention_forward",
        "flex_attention",
        "_cudnn_attention_forward",
    }
)
SDPA_BACKWARD: frozenset[str] = frozenset(
    {
        "_scaled_dot_product_flash_attention_backward",
        "_scaled_dot_product_efficient_attention_backward",
        "_scaled_dot_product_cudnn_attention_backward",
        "_scaled_dot_product_flash_attention_for_cpu_backward",
        "_scaled_dot_product_fused_attention_overrideable_backward",
        "_flash_attention_backward",
        "_efficient_attention_backward",
        "flex_attention_backward",
        "_cudnn_attention_backward",
    }
)


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape)


# --------------------------------------------------------------------------------------------- matrix
def mm_flops(a: Any, b: Any) -> float:
    m, k = _shape(a)
    _, n = _shape(b)
    return 2.0 * m * k * n


def bmm_flops(a: Any, b: Any) -> float:
    bsz, m, k = _shape(a)
    n = _shape(b)[-1]
    return 2.0 * bsz * m * k * n


def conv_flops(x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int], transposed: bool) -> float:
    """2 · (output elements) · (Cin/groups · kernel volume); for transposed convs the input plays the output's
    role. Same formula as ``torch.utils.flop_counter.conv_flop_count``."""
    batch = out_shape[0]
    c_out, c_in_per_group = w_shape[0], w_shape[1]
    kernel = _numel(w_shape[2:])
    spatial = _numel(x_shape[2:]) if transposed else _numel(out_shape[2:])
    # weight layout: [Cout, Cin/groups, *k] (conv) or [Cin, Cout/groups, *k] (transposed)
    return 2.0 * batch * spatial * c_out * c_in_per_group * kernel


def sdpa_flops(
    q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int], is_causal: bool
) -> tuple[float, float]:
    """(dense, useful) FLOPs of attention: QK^T and PV, 2 FLOP per MAC.

    q [..., H, Lq, E], k [..., Hk, Lk, E], v [..., Hk, Lk, Ev] (GQA: H is a multiple of Hk; every query head
    attends over all Lk keys). dense = what a kernel without block skipping executes (FlopCounterMode's
    count); useful = with the causal mask (torch's top-left alignment: query i sees keys 0..i) skipped.
    """
    *batch_q, lq, e = q_shape
    lk = k_shape[-2]
    ev = v_shape[-1]
    bh = _numel(batch_q)
    dense = 2.0 * bh * lq * lk * (e + ev)
    if not is_causal:
        return dense, dense
    # pairs (i, j) with j <= i, i < Lq, j < Lk
    full_rows = min(lq, lk)
    pairs = full_rows * (full_rows + 1) / 2 + max(0, lq - lk) * lk
    return dense, 2.0 * bh * pairs * (e + ev)


def sdpa_vector_flops(q_shape: Sequence[int], k_shape: Sequence[int], has_mask: bool) -> float:
    """Softmax (5/element), scaling (1/element) and mask add (1/element) over the score matrix."""
    *batch_q, lq, _ = q_shape
    return float(_numel(batch_q) * lq * k_shape[-2]) * (6.0 + (1.0 if has_mask else 0.0))


def _arg(args: Sequence[Any], kwargs: dict[str, Any], i: int, name: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def matrix_flops(name: str, args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> tuple[float, float, float] | None:
    """(dense FLOPs, useful FLOPs, vector FLOPs) of a matrix-class op, or None when ``name`` is not one."""
    if name in ("mm", "_int_mm", "_weight_int8pack_mm", "_weight_int4pack_mm", "_scaled_mm"):
        if name == "_weight_int8pack_mm":  # x [M, K] @ w[N, K]^T
            f = 2.0 * _numel(_shape(args[0])) * _shape(args[1])[0]
        else:
            f = mm_flops(args[0], args[1])
        return f, f, 0.0
    if name == "addmm":
        f = mm_flops(args[1], args[2])
        return f, f, float(_numel(_shape(out)))  # bias add
    if name in ("bmm",):
        f = bmm_flops(args[0], args[1])
        return f, f, 0.0
    if name == "baddbmm":
        f = bmm_flops(args[1], args[2])
        return f, f, float(_numel(_shape(out)))
    if name == "addbmm":
        bsz, m, k = _shape(args[1])
        f = 2.0 * bsz * m * k * _shape(args[2])[-1]
        return f, f, float(_numel(_shape(out)))
    if name in ("mv", "addmv"):
        mat = args[1] if name == "addmv" else args[0]
        m, k = _shape(mat)
        return 2.0 * m * k, 2.0 * m * k, float(m if name == "addmv" else 0)
    if name in ("dot", "vdot"):
        n = _numel(_shape(args[0]))
        return 2.0 * n, 2.0 * n, 0.0
    if name in (
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
    ):
        x, w = args[0], args[1]
        transposed = (
            bool(_arg(args, kwargs, 6, "transposed", False))
            if name in ("convolution", "_convolution")
            else "transpose" in name
        )
        f = conv_flops(_shape(x), _shape(w), _shape(out), transposed)
        bias = _arg(args, kwargs, 2, "bias")
        return f, f, float(_numel(_shape(out))) if bias is not None else 0.0
    if name == "convolution_backward":
        grad_out, x, w = args[0], args[1], args[2]
        transposed = bool(_arg(args, kwargs, 6, "transposed", False))
        mask = _arg(args, kwargs, 10, "output_mask", [True, True, True])
        f_one = conv_flops(_shape(x), _shape(w), _shape(grad_out), transposed)
        f = f_one * (int(bool(mask[0])) + int(bool(mask[1])))
        return f, f, float(_numel(_shape(grad_out))) if mask[2] else 0.0
    if name in SDPA_FORWARD:
        q, k, v = args[0], args[1], args[2]
        if name in ("_flash_attention_forward", "_efficient_attention_forward"):
            # layout [B, L, H, E]
            qs, ks, vs = _bhle(_shape(q)), _bhle(_shape(k)), _bhle(_shape(v))
        else:
            qs, ks, vs = _shape(q), _shape(k), _shape(v)
        causal = _sdpa_causal(name, args, kwargs)
        mask = _sdpa_mask(name, args, kwargs)
        dense, useful = sdpa_flops(qs, ks, vs, causal)
        return dense, useful, sdpa_vector_flops(qs, ks, mask is not None)
    if name in SDPA_BACKWARD:
        # grads of QK^T (2 GEMMs) and PV (2 GEMMs): 2x forward, FlopCounterMode's convention (no recompute).
        qb, kb, vb = _sdpa_backward_qkv(name, args)
        pos = _SDPA_BWD_CAUSAL_POS.get(name)
        causal = bool(_arg(args, kwargs, pos, "is_causal", False)) if pos is not None else False
        dense, useful = sdpa_flops(qb, kb, vb, causal)
        return 2 * dense, 2 * useful, 2 * sdpa_vector_flops(qb, kb, False)
    return None


# position of ``is_causal`` in each backward schema (torch 2.13 native_functions.yaml)
_SDPA_BWD_CAUSAL_POS: dict[str, int] = {
    "_scaled_dot_product_flash_attention_for_cpu_backward": 7,
    "_scaled_dot_product_flash_attention_backward": 11,
    "_scaled_dot_product_efficient_attention_backward": 11,
    "_scaled_dot_product_cudnn_attention_backward": 14,
}


def _bhle(shape: Sequence[int]) -> tuple[int, ...]:
    b, seq, h, e = shape
    return (b, h, seq, e)


def _sdpa_causal(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
    positions = {
        "scaled_dot_product_attention": 5,
        "_scaled_dot_product_attention_math": 5,
        "_scaled_dot_product_flash_attention": 4,
        "_scaled_dot_product_efficient_attention": 6,
        "_scaled_dot_product_cudnn_attention": 7,
        "_scaled_dot_product_flash_attention_for_cpu": 4,
        "_scaled_dot_product_fused_attention_overrideable": 6,
        "_scaled_dot_product_attention_math_for_mps": 5,
    }
    if name in positions:
        return bool(_arg(args, kwargs, positions[name], "is_causal", False))
    if name in ("_flash_attention_forward", "_efficient_attention_forward"):
        return bool(kwargs.get("is_causal", False) or kwargs.get("custom_mask_type", 0))
    return False


def _sdpa_mask(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    if name in (
        "scaled_dot_product_attention",
        "_scaled_dot_product_attention_math",
        "_scaled_dot_product_attention_math_for_mps",
    ):
        return _arg(args, kwargs, 3, "attn_mask")
    if name in (
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_fused_attention_overrideable",
    ):
        return _arg(args, kwargs, 3, "attn_bias")
    return kwargs.get("attn_mask")


def _sdpa_backward_qkv(name: str, args: Sequence[Any]) -> tuple[tuple[int, ...], ...]:
    # all backward schemas start with grad_out, then query, key, value
    q, k, v = _shape(args[1]), _shape(args[2]), _shape(args[3])
    if name in ("_flash_attention_backward", "_efficient_attention_backward"):
        return _bhle(q), _bhle(k), _bhle(v)
    return q, k, v


def vector_flops(name: str, in_numels: Sequence[int], out_numel: int) -> float | None:
    """FLOP-equivalents of an elementwise / reduction / normalisation op, or None if it has no formula."""
    w = ELEMENTWISE_WEIGHT.get(name)
    if w is None and name.endswith("_"):
        w = ELEMENTWISE_WEIGHT.get(name[:-1])
    if w is not None:
        return w * out_numel
    base = name[:-1] if name.endswith("_") else name
    r = REDUCTION_WEIGHT.get(base)
    if r is not None:
        return r * (max(in_numels) if in_numels else out_numel)
    if base.startswith("_foreach_") and base[len("_foreach_") :] in ELEMENTWISE_WEIGHT:
        return ELEMENTWISE_WEIGHT[base[len("_foreach_") :]] * out_numel
    if base in ("avg_pool2d", "avg_pool3d", "avg_pool1d"):
        return float(max(in_numels) if in_numels else out_numel)
    return None


FormulaFn = Callable[[Sequence[Any], dict[str, Any], Any], float]
