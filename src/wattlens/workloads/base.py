"""The ``Workload`` object: one loaded model for one task, queried by the bench runner.

Loading happens in ``load_workload`` (the bench measures it in its own window); ``run``, ``prefill`` and
``decode`` only query. Subclasses implement ``_run`` (and ``_prefill`` / ``_decode`` when generative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import WorkloadError
from .tasks import Task


class Generated(str):
    """A generated text that also carries its generated token ids (so token counts are exact)."""

    token_ids: tuple[int, ...]

    def __new__(cls, text: str, token_ids: Sequence[int] = ()) -> Generated:
        obj = super().__new__(cls, text)
        obj.token_ids = tuple(int(t) for t in token_ids)
        return obj


class Workload:
    """A model ready to query. Attributes follow docs/CONTRACTS.md (workloads section)."""

    def __init__(
        self,
        task: Task,
        model_id: str,
        weights: str,
        engine: str,
        precision: str,
        threads: int | None,
        params: int | None,
        batch: int = 1,
        info: dict[str, Any] | None = None,
        device: str = "cpu",
    ):
        if weights not in ("trained", "random"):
            raise ValueError(f"weights label must be 'trained' or 'random', got {weights!r}")
        self.task_def = task  # the Task (inputs, metric, generation settings)
        self.task = task.name  # the task name, as in records
        self.model_id = model_id
        self.weights = weights
        self.engine = engine
        self.precision = precision
        self.threads = threads
        self.params = params
        self.batch = batch
        self.device = device  # resolved: cpu | cuda:N | mps (or the callable's own, unmanaged)
        self.info: dict[str, Any] = {
            "model_id": model_id,
            "task": task.name,
            "unit": task.unit,
            "weights": weights,
            "engine": engine,
            "precision": precision,
            "threads": threads,
            "params": params,
            "batch": batch,
            "device": device,
            "input_description": task.input_description,
            "metric": task.metric or None,
            "generative": self.generative,
        }
        self.info.update(info or {})

    # -- querying ---------------------------------------------------------------------------------------
    @property
    def generative(self) -> bool:
        """True when ``prefill``/``decode`` split a query into its prompt and token-by-token phases."""
        return self.task_def.generative

    @property
    def unit(self) -> str:
        return self.task_def.unit

    def run(self, batch: Sequence[Any]) -> list[Any]:
        """One query batch end to end (for generative workloads: ``decode(prefill(batch))``)."""
        batch = self._check_batch(batch)
        if self.generative:
            return self._decode(self._prefill(batch))
        return self._run(batch)

    def prefill(self, batch: Sequence[Any]) -> Any:
        """Prompt phase: one forward pass over the inputs building the KV cache + the first new token."""
        self._need_generative("prefill")
        return self._prefill(self._check_batch(batch))

    def decode(self, state: Any) -> list[Any]:
        """Decode phase: the remaining new tokens, one step at a time, reusing the cache; returns outputs."""
        self._need_generative("decode")
        return self._decode(state)

    def quality(self, inputs: Sequence[Any], outputs: Sequence[Any]) -> float | None:
        """The task metric, or None where it would not be meaningful (random weights, no references)."""
        if self.weights == "random":
            return None
        return self.task_def.quality(list(inputs), list(outputs))

    def count_tokens(self, inputs: Sequence[Any], outputs: Sequence[Any]) -> tuple[int, int]:
        """(input_tokens, output_tokens): text tokens fed to the model (no padding) and generated tokens."""
        n_in = sum(self._input_tokens(x) for x in inputs)
        n_out = sum(len(o.token_ids) if isinstance(o, Generated) else 0 for o in outputs) if self.generative else 0
        return n_in, n_out

    def synchronize(self) -> None:
        """Wait for the device's queued work (CUDA/MPS kernels run asynchronously); a no-op on cpu. The bench
        calls it after every query batch so that latencies and window edges include the work itself."""
        if self.device.startswith("cuda") or self.device == "mps":
            from .device import synchronize

            synchronize(self.device)

    def close(self) -> None:
        """Drop references to the model (memory returns to the allocator)."""
        for attr in ("model", "session", "fn", "encoder", "unet", "vae", "text_encoder"):
            if hasattr(self, attr):
                setattr(self, attr, None)

    def __repr__(self) -> str:
        return (
            f"Workload(task={self.task_def.name!r}, model={self.model_id!r}, weights={self.weights!r}, "
            f"engine={self.engine!r}, precision={self.precision!r}, params={self.params})"
        )

    # -- for subclasses -----------------------------------------------------------------------------------
    def _run(self, batch: list[Any]) -> list[Any]:
        raise NotImplementedError

    def _prefill(self, batch: list[Any]) -> Any:
        raise NotImplementedError

    def _decode(self, state: Any) -> list[Any]:
        raise NotImplementedError

    def _input_tokens(self, item: Any) -> int:
        """Default: whitespace words of the text input; images count 0 text tokens."""
        x = self.task_def.model_input(item)
        if isinstance(x, dict):
            return sum(len(str(v).split()) for v in x.values())
        return len(x.split()) if isinstance(x, str) else 0

    def _check_batch(self, batch: Sequence[Any]) -> list[Any]:
        if isinstance(batch, (str, bytes, dict)) or getattr(batch, "ndim", 0) in (2, 3):
            batch = [batch]  # a single query (text, item, or one HxW / HxWxC image) is a batch of one
        batch = list(batch)
        if not batch:
            raise WorkloadError(f"{self.model_id}: empty batch; pass a list of inputs from task.inputs(n)")
        return batch

    def _need_generative(self, what: str) -> None:
        if not self.generative:
            raise WorkloadError(
                f"{what}() applies to generative workloads (text-generation, summarization, "
                f"image-to-text); {self.task_def.name} with {self.model_id} is queried with run()"
            )
