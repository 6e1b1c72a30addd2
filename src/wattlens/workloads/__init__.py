"""Tasks, inputs, models and quality metrics for ``wattlens bench`` (see docs/CONTRACTS.md, workloads).

Import-light: nothing here imports torch, transformers or numpy until a model is loaded or an image
input is generated. Names are resolved lazily from the submodules.

    from wattlens.workloads import get_task, load_workload
    task = get_task("text-generation")
    w = load_workload(task="text-generation", model="distilgpt2@tiny")
    outputs = w.run(task.inputs(4))
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WorkloadError": "errors",
    "Task": "tasks",
    "TASKS": "tasks",
    "get_task": "tasks",
    "Workload": "base",
    "Generated": "base",
    "load_workload": "registry",
    "available_models": "registry",
    "default_models": "registry",
    "ModelSpec": "registry",
    "ENGINES": "registry",
    "PRECISIONS": "_runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'wattlens.workloads' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
