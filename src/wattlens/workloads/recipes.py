"""Model recipes recorded by ``wattlens optimize`` in an artefact directory, re-applied where the model is loaded
(``wattlens bench --model ARTEFACT_DIR``, ``wattlens.optimize.gen_artefact.load``).

An artefact directory is a ``save_pretrained`` model plus ``wattlens-optimize.json``; its ``recipe`` says which
deterministic transforms turn the saved fp32 weights into the recommended model (e.g. ``{"quant": "int8-pc"}``).
torch is imported inside the functions.
"""

from __future__ import annotations

import json
import os
from typing import Any

ARTEFACT_FILE = "wattlens-optimize.json"


def artefact_json(path: str) -> dict[str, Any] | None:
    """The artefact description of a model directory, or None when it is not an optimize artefact."""
    f = os.path.join(str(path), ARTEFACT_FILE)
    if not os.path.isfile(f):
        return None
    try:
        with open(f) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def conv1d_to_linear(module: Any) -> Any:
    """Replace every transformers ``Conv1D`` (GPT-2's x @ W + b, W [in, out]) with the equivalent ``nn.Linear``
    (W transposed), so that ``nn.Linear``-based transforms reach them. Outputs identical to ~1e-6."""
    import torch

    for name, child in list(module.named_children()):
        if type(child).__name__ == "Conv1D" and hasattr(child, "nf"):
            w = child.weight.data
            lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=child.bias is not None, dtype=w.dtype)
            lin.weight.data.copy_(w.t())
            if child.bias is not None:
                lin.bias.data.copy_(child.bias.data)
            setattr(module, name, lin)
        else:
            conv1d_to_linear(child)
    return module


def int8_dynamic(module: Any, per_channel: bool = True) -> Any:
    """``torch.ao.quantization.quantize_dynamic`` of every linear layer (Conv1D converted first)."""
    import warnings

    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():  # the torch.ao deprecation notice is not the user's problem here
        warnings.simplefilter("ignore")
        return quantize_dynamic(conv1d_to_linear(module.float()), {torch.nn.Linear: qconfig}, dtype=torch.qint8)


INT4_GROUP_SIZE = 32  # weights per scale/zero pair: 32 keeps int4's error small on models as small as GPT-2


def int4_kernel_available() -> bool:
    """Whether this torch build has the CPU int4 weight-only kernel (``aten._weight_int4pack_mm_for_cpu``)."""
    import torch

    return hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu") and hasattr(
        torch.ops.aten, "_convert_weight_to_int4pack_for_cpu"
    )


def _int4_linear(linear: Any, group_size: int) -> Any:
    """An ``nn.Module`` computing ``linear`` with its weight in group-wise asymmetric int4 (16 levels per group of
    ``group_size`` input weights, a float scale and zero per group), activations in fp32, through ATen's CPU
    kernel. Dequantised weight = (q - 8) x scale + zero, the kernel's convention."""
    import torch

    w = linear.weight.detach().float()
    out_features, k = w.shape
    n = -(-out_features // 16) * 16  # the kernel packs output rows in 16s: zero rows pad, the output is sliced back
    if n != out_features:
        w = torch.cat([w, w.new_zeros(n - out_features, k)])
    groups = w.reshape(-1, group_size)
    low, high = groups.amin(dim=1, keepdim=True), groups.amax(dim=1, keepdim=True)
    scales = (high - low).clamp(min=1e-6) / 15
    zeros = low + scales * 8
    q = ((groups - low) / scales).round().clamp(0, 15).to(torch.int32).reshape(n, k)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
    scales_zeros = torch.cat([scales.reshape(n, -1, 1), zeros.reshape(n, -1, 1)], 2).transpose(0, 1).contiguous()

    class Int4WeightOnlyLinear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.in_features, self.out_features, self.group_size = k, out_features, group_size
            self.register_buffer("packed_weight", packed)
            self.register_buffer("scales_and_zeros", scales_zeros)
            bias = linear.bias.detach().float().clone() if linear.bias is not None else None
            self.register_buffer("bias", bias)

        def forward(self, x: Any) -> Any:
            flat = x.reshape(-1, self.in_features).float().contiguous()
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                flat, self.packed_weight, self.group_size, self.scales_and_zeros
            )
            y = y[:, : self.out_features]
            if self.bias is not None:
                y = y + self.bias
            return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    return Int4WeightOnlyLinear()


def int4_weight_only(module: Any, group_size: int = INT4_GROUP_SIZE) -> Any:
    """Every ``nn.Linear`` whose input width is a multiple of ``group_size`` gets int4 weights (Conv1D converted
    first); the others (and embeddings) stay fp32. Raises RuntimeError when this torch has no CPU int4 kernel."""
    import torch

    if not int4_kernel_available():
        raise RuntimeError("this torch build has no CPU int4 weight-only kernel (aten._weight_int4pack_mm_for_cpu)")
    module = conv1d_to_linear(module.float())

    def swap(parent: Any) -> None:
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child.in_features % group_size == 0:
                setattr(parent, name, _int4_linear(child, group_size))
            else:
                swap(child)

    swap(module)
    return module


def apply_recipe(module: Any, recipe: dict[str, Any]) -> Any:
    """The recorded model-level transforms applied to ``module`` (unknown keys are left to the caller)."""
    quant = str(recipe.get("quant") or "none")
    if quant in ("int8-pc", "int8-pt"):
        return int8_dynamic(module, per_channel=quant == "int8-pc")
    if quant == "int4-wo":
        return int4_weight_only(module)
    if quant == "bf16":
        import torch

        return module.to(torch.bfloat16)
    return module
