"""Model-level transforms, each a small function ``module -> module`` (or ``module -> .onnx file``).

Every transform states its tolerance (how close its outputs stay to the input module's) in its docstring;
``tests/optimize/test_transforms.py`` checks each on a tiny BERT. Quality on the real model is *measured*
by the gate (``wattlens.optimize.quality``), never assumed from these tolerances.

torch, onnx and onnxruntime are imported inside the functions (``import wattlens`` stays light).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from wattlens.errors import WattlensError


class TransformError(WattlensError, RuntimeError):
    """A transform could not be applied to this model (unsupported op, export error, missing layout)."""


# --------------------------------------------------------------------------------------------------
# precision


def cast(module: Any, precision: str) -> Any:
    """fp32 / bf16 / fp16 cast of every floating parameter and buffer.

    Tolerance: bf16 ~ 8 mantissa bits -> embedding cosine >= 0.999 on small encoders; fp16 likewise on GPU.
    """
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise TransformError(f"unknown precision {precision!r}")
    return module.to(dtype)


def torch_dynamic_int8(module: Any, scheme: str = "per-channel") -> Any:
    """``torch.ao.quantization.quantize_dynamic`` of every linear layer (int8 weights, activations per batch),
    through the one implementation the bench loader re-applies (:func:`wattlens.workloads.recipes.int8_dynamic`).

    ``scheme``: ``per-tensor`` (one scale per weight matrix) or ``per-channel`` (one per output row).
    Tolerance: per-channel typically cosine >= 0.97, per-tensor >= 0.9 on sentence encoders (anchors §4).
    """
    from wattlens.workloads.recipes import int8_dynamic

    if scheme not in ("per-tensor", "per-channel"):
        raise TransformError(f"unknown int8 scheme {scheme!r}")
    try:
        return int8_dynamic(module, per_channel=scheme == "per-channel")
    except ImportError as exc:  # torch builds without the eager quantization API
        raise TransformError(f"torch dynamic quantization unavailable: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# pruning


def mask_prune(module: Any, amount: float = 0.5) -> Any:
    """``torch.nn.utils.prune.l1_unstructured`` on every Linear, the mask hook kept (no work removed).

    Deliberately *not* refused by a rule: the quality gate has to catch it (cosine ~0.71 at 50 % on MiniLM).
    """
    import torch
    import torch.nn.utils.prune as prune

    for mod in module.modules():
        if isinstance(mod, torch.nn.Linear):
            prune.l1_unstructured(mod, name="weight", amount=amount)
    return module


def _slice_linear(lin: Any, keep: Any, dim: int) -> Any:
    """A new Linear keeping rows (dim=0, output features) or columns (dim=1, input features) ``keep``."""
    import torch

    w = lin.weight.data.index_select(dim, keep).clone()
    b = None
    if lin.bias is not None:
        b = lin.bias.data.index_select(0, keep).clone() if dim == 0 else lin.bias.data.clone()
    new = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=w.dtype, device=w.device)
    new.weight.data.copy_(w)
    if b is not None:
        new.bias.data.copy_(b)
    return new


def structured_prune(module: Any, fraction: float = 0.25) -> Any:
    """Remove the ``fraction`` lowest-norm attention heads and FFN intermediate units of every layer.

    Real shape reduction (smaller Linear layers), so the work really goes away — unlike masks. Importance is
    the L2 norm of each head's q/k/v rows and output columns (each FFN unit's in-row x out-column norms):
    data-free and without fine-tuning, so quality loss is expected and *measured*. Layout handled: BERT-style
    ``attention.self.{query,key,value}`` + ``attention.output.dense`` and ``intermediate.dense`` +
    ``output.dense`` (BERT, MiniLM, RoBERTa, DistilBERT-like names differ and raise ``TransformError``).
    """
    import torch

    layers = [
        m for m in module.modules() if hasattr(m, "attention") and hasattr(m, "intermediate") and hasattr(m, "output")
    ]
    if not layers:
        raise TransformError("no BERT-style layers (attention + intermediate + output) found")
    for layer in layers:
        att_self = getattr(layer.attention, "self", None)
        att_out = getattr(layer.attention, "output", None)
        if att_self is None or att_out is None or not hasattr(att_self, "attention_head_size"):
            raise TransformError("attention block lacks self/output with attention_head_size")
        hd = att_self.attention_head_size
        n_heads = att_self.query.out_features // hd
        n_keep = max(1, round(n_heads * (1 - fraction)))
        if n_keep < n_heads:
            norms = []
            for h in range(n_heads):
                sl = slice(h * hd, (h + 1) * hd)
                norms.append(
                    sum(float(lin.weight.data[sl].norm()) for lin in (att_self.query, att_self.key, att_self.value))
                    + float(att_out.dense.weight.data[:, sl].norm())
                )
            heads = sorted(sorted(range(n_heads), key=lambda h: -norms[h])[:n_keep])
            idx = torch.tensor([h * hd + j for h in heads for j in range(hd)], dtype=torch.long)
            att_self.query = _slice_linear(att_self.query, idx, 0)
            att_self.key = _slice_linear(att_self.key, idx, 0)
            att_self.value = _slice_linear(att_self.value, idx, 0)
            att_out.dense = _slice_linear(att_out.dense, idx, 1)
            # forward reshapes with -1 heads, so only the bookkeeping attributes need updating
            att_self.num_attention_heads = n_keep
            att_self.all_head_size = n_keep * hd
        inter, out = layer.intermediate.dense, layer.output.dense
        n_ff = inter.out_features
        k_ff = max(1, round(n_ff * (1 - fraction)))
        if k_ff < n_ff:
            score = inter.weight.data.norm(dim=1) * out.weight.data.norm(dim=0)
            keep = torch.sort(torch.topk(score, k_ff).indices).values
            layer.intermediate.dense = _slice_linear(inter, keep, 0)
            layer.output.dense = _slice_linear(out, keep, 1)
    return module


def parse_prune(spec: str) -> tuple[str, float]:
    """``struct-25`` -> ("struct", 0.25); ``mask-50`` -> ("mask", 0.5)."""
    kind, _, pct = spec.partition("-")
    try:
        return kind, int(pct) / 100.0
    except ValueError as exc:
        raise TransformError(f"bad prune spec {spec!r} (expected struct-NN or mask-NN)") from exc


def apply_prune(module: Any, spec: str) -> Any:
    if spec in (None, "none"):
        return module
    kind, amount = parse_prune(spec)
    if kind == "struct":
        return structured_prune(module, amount)
    if kind == "mask":
        return mask_prune(module, amount)
    raise TransformError(f"unknown prune kind {kind!r}")


# --------------------------------------------------------------------------------------------------
# torch.compile


def compile_module(module: Any, backend: str = "inductor") -> Any:
    """``torch.compile(dynamic=True)``; compilation happens on the first calls (the measurement's warm-up
    absorbs it; its CPU cost is recorded by the search as build cost). Tolerance: ~1e-5 relative."""
    import torch

    try:
        return torch.compile(module, dynamic=True, backend=backend)
    except Exception as exc:  # unsupported platform / backend
        raise TransformError(f"torch.compile failed: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# ONNX Runtime


class _ExportWrapper:
    """Positional-input wrapper so ``torch.onnx.export`` sees plain tensors and returns one tensor."""

    def __new__(cls, module: Any, input_names: list[str], output: str) -> Any:
        import torch

        class W(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.m = module

            def forward(self, *args: Any) -> Any:
                out = self.m(**dict(zip(input_names, args, strict=True)))
                return getattr(out, output)

        return W().eval()


def export_onnx(
    module: Any, sample: Mapping[str, object], path: str, output: str = "last_hidden_state", opset: int = 17
) -> str:
    """Export with dynamic batch and sequence axes through the one exporter
    (:func:`wattlens.workloads.onnx_engine.export_onnx`).

    ``sample``: tokenizer output (torch tensors) naming the graph inputs. Tolerance of fp32 ORT vs torch:
    max abs difference ~1e-5 (cosine 1.00000 on MiniLM, anchors §4.1).
    """
    from pathlib import Path

    from wattlens.workloads.onnx_engine import export_onnx as export

    names = list(sample)
    wrapper = _ExportWrapper(module, names, output)
    axes = {**{n: {0: "batch", 1: "seq"} for n in names}, "out": {0: "batch"}}
    try:
        export(wrapper, tuple(sample[n] for n in names), Path(path), names, "out", axes, opset)
    except Exception as exc:  # unsupported op, tracing failure
        raise TransformError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    return path


def ort_dynamic_int8(src: str, dst: str, scheme: str = "per-channel") -> str:
    """``onnxruntime.quantization.quantize_dynamic`` (QInt8 weights; activations quantised per call).

    Tolerance: per-channel cosine ~0.993, per-tensor ~0.96 on MiniLM (anchors §4.2 Table A).
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise TransformError(f"onnxruntime.quantization unavailable: {exc}") from exc
    if scheme not in ("per-tensor", "per-channel"):
        raise TransformError(f"unknown int8 scheme {scheme!r}")
    try:
        with _root_logger_left_alone():
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=scheme == "per-channel")
    except Exception as exc:
        raise TransformError(f"ORT quantization failed: {type(exc).__name__}: {exc}") from exc
    return dst


@contextmanager
def _root_logger_left_alone() -> Iterator[None]:
    """Keep ORT's quantizer from configuring the root logger behind the application's back.

    ``quantize_dynamic`` gives its "consider pre-processing" advice with the module-level
    ``logging.warning()``, which calls ``logging.basicConfig()`` — a stderr handler on the root logger for
    the rest of the process — when the root logger has none. A ``NullHandler`` for the call prevents that;
    an application that configured the root logger itself still receives the record.
    """
    root = logging.getLogger()
    guard = None if root.handlers else logging.NullHandler()
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def ort_session(path: str, threads: int, spin: bool = True, device: str = "cpu") -> Any:
    """An ORT session with ``threads`` intra-op threads, sequential execution, spinning on/off, through the one
    session factory (:func:`wattlens.workloads.onnx_engine.onnx_session`)."""
    from wattlens.workloads import WorkloadError
    from wattlens.workloads.onnx_engine import onnx_session

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    try:
        return onnx_session(path, threads, providers, spin=spin)
    except WorkloadError as exc:
        raise TransformError(f"ORT session failed: {exc}") from exc


def file_size_mb(path: str) -> float:
    total = os.path.getsize(path)
    data = path + ".data"  # external-data sidecar of large exports
    if os.path.exists(data):
        total += os.path.getsize(data)
    return total / 1e6


def module_size_mb(module: Any) -> float:
    """Bytes of parameters and buffers (packed int8 weights of quantised Linear layers included)."""
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        total += t.numel() * t.element_size()
    for m in module.modules():  # quantised dynamic Linear keeps packed weights outside parameters()
        wfn = getattr(m, "weight", None)
        if callable(wfn) and type(m).__name__ == "Linear" and "quantized" in type(m).__module__:
            try:
                w = wfn()
                total += w.numel() * w.element_size() + (m.bias().numel() * 4 if m.bias() is not None else 0)
            except Exception:  # size is informative only
                pass
    return total / 1e6
