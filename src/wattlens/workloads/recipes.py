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


def apply_recipe(module: Any, recipe: dict[str, Any]) -> Any:
    """The recorded model-level transforms applied to ``module`` (unknown keys are left to the caller)."""
    quant = str(recipe.get("quant") or "none")
    if quant in ("int8-pc", "int8-pt"):
        return int8_dynamic(module, per_channel=quant == "int8-pc")
    if quant == "bf16":
        import torch

        return module.to(torch.bfloat16)
    return module
