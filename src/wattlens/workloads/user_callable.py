"""A user's Python function as a workload: ``path/to/file.py:function``, ``package.module:function`` or a
callable object. The function gets a list of model inputs (``task.model_input`` of each item: a str, an
image array, or ``{"question", "context"}``) and returns one output per input, in the task's output
format (see README of the workloads layer: labels, tag lists, answers, embeddings, texts, images).

Generation phases cannot be split inside someone else's function, so ``w.generative`` is False for a
callable and the whole query runs in ``run``; token counts are whitespace words (stated in ``w.info``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import Workload
from .errors import WorkloadError
from .tasks import Task


def resolve_callable(spec: str | Callable[..., Any]) -> tuple[Callable[..., Any], str]:
    if callable(spec) and not isinstance(spec, str):
        return spec, f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', repr(spec))}"
    mod_part, _, fn_part = str(spec).rpartition(":")
    if not mod_part or not fn_part:
        raise WorkloadError(f"callable spec must be 'file.py:function' or 'package.module:function', got {spec!r}")
    if mod_part.endswith(".py"):
        path = Path(mod_part).expanduser()
        if not path.exists():
            raise WorkloadError(f"callable file not found: {str(path)!r} (from {spec!r})")
        name = f"wattlens_user_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise WorkloadError(f"cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            raise WorkloadError(f"importing {str(path)!r} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(mod_part)
        except ImportError as exc:
            raise WorkloadError(f"cannot import module {mod_part!r} for callable {spec!r}: {exc}") from exc
    obj: Any = module
    for part in fn_part.split("."):
        if not hasattr(obj, part):
            raise WorkloadError(f"{mod_part!r} has no attribute {fn_part!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise WorkloadError(f"{spec!r} is not callable")
    return obj, str(spec)


class CallableWorkload(Workload):
    def __init__(self, task: Task, fn: Callable[..., Any], name: str, threads: int | None, batch: int):
        self.fn = fn
        super().__init__(
            task,
            name,
            "trained",
            "callable",
            "fp32",
            threads,
            None,
            batch,
            {
                "source": "user callable",
                "size": "user",
                "generative_phases": "not separable inside a callable",
                "tokens": "whitespace words",
                "weights_note": "user-supplied model, assumed trained (quality computed)",
                "precision_note": "whatever the callable uses",
            },
        )

    @property
    def generative(self) -> bool:
        return False

    def _run(self, batch: list[Any]) -> list[Any]:
        out = self.fn(self.task_def.model_inputs(batch))
        try:
            out = list(out)
        except TypeError as exc:
            raise WorkloadError(
                f"callable {self.model_id} must return a list (one output per input), got {type(out).__name__}"
            ) from exc
        if len(out) != len(batch):
            raise WorkloadError(f"callable {self.model_id} returned {len(out)} outputs for {len(batch)} inputs")
        return out

    def count_tokens(self, inputs: Any, outputs: Any) -> tuple[int, int]:
        n_in = sum(self._input_tokens(x) for x in inputs)
        n_out = sum(len(o.split()) for o in outputs if isinstance(o, str)) if self.task_def.generative else 0
        return n_in, n_out


def load_callable(task: Task, spec: Any, threads: int | None, batch: int) -> Workload:
    fn, name = resolve_callable(spec)
    if threads is not None and "torch" in sys.modules:
        # a callable manages its own threads; if it uses torch, torch's intra-op pool follows the request
        sys.modules["torch"].set_num_threads(int(threads))
    return CallableWorkload(task, fn, name, threads, batch)
