"""Energy of a Hugging Face ``Trainer`` run, in the Trainer's own log stream (``pip install 'wattlens[hf]'``).

>>> from transformers import Trainer                                            # doctest: +SKIP
>>> from wattlens.integrations.transformers import EnergyCallback              # doctest: +SKIP
>>> trainer = Trainer(model=model, args=args, train_dataset=ds,                # doctest: +SKIP
...                   callbacks=[EnergyCallback(country="FR")])
>>> trainer.train()                                                            # doctest: +SKIP
>>> [k for k in trainer.state.log_history[-1] if k.startswith("energy/")]     # doctest: +SKIP
['energy/train_j', 'energy/train_low_j', 'energy/train_high_j', 'energy/train_power_w', 'energy/train_co2e_g', ...]

What is logged, at every Trainer log event (``logging_steps``), on global rank 0 only:

* ``energy/train_*`` — the train so far: ``_j``, ``_low_j``, ``_high_j`` (the interval), ``_power_w``,
  ``_co2e_g`` (+ ``_co2e_low_g`` / ``_co2e_high_g``);
* ``energy/step_*`` — the mean of the metered steps since the last log (steps metered: every one, or one in N
  with N chosen so the callback costs <= 0.5 % of a step; ``step_every=`` to fix it, 0 for none);
* ``energy/epoch_*`` / ``energy/eval_*`` — the epoch or evaluation that ended since the last log.

The callback places itself before the ``report_to`` integrations (TensorBoard, W&B, MLflow...) so that they
receive these keys with the Trainer's own metrics, and they are also in ``trainer.state.log_history``. The
source of the figures (measured / integrated / estimated), the method, location and PUE are in the Python log
at train start, in the store record, and as MLflow tags with ``mlflow=True``.

At the end, a run of kind ``training`` is written to the wattlens store (``db=``; default ``$WATTLENS_DB`` or
``./wattlens.sqlite``; ``db=False`` for none) with the model, steps, batch, tokens seen and the full energy
record; ``callback.run_id`` names it, for ``wattlens breakeven --training-run RUN_ID``.

Under torchrun/Slurm/MPI only local rank 0 of each node meters (its node) and only global rank 0 logs
(:mod:`wattlens.tracking.ranks`).
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from wattlens._logging import get_logger
from wattlens.integrations.errors import missing_extra
from wattlens.integrations.training import MeteredCallback, meter_for, model_facts

try:
    from transformers import TrainerCallback
    from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise missing_extra("transformers", "hf", _exc) from _exc

logger = get_logger(__name__)


class EnergyCallback(MeteredCallback, TrainerCallback):  # type: ignore[misc]
    """Meters a ``Trainer`` run: train, epochs, evaluations and steps; see the module docstring.

    Keyword arguments are those of :class:`wattlens.integrations.training.TrainingMeter`: ``country``,
    ``region``, ``intensity_g_per_kwh``, ``pue``, ``price_per_kwh``, ``currency``, ``sources``,
    ``attribution``, ``cpu_tdp_w``, ``step_every`` ("auto", N or 0), ``db``, ``prefix``, ``mlflow``, ``rank``.
    """

    def __init__(self, **settings: Any) -> None:
        self.meter = meter_for("transformers", settings)
        self._placed = False
        self._epoch = 0

    # ---- placement: before the report_to integrations -------------------------------------------------
    def _place_before_reporters(self) -> None:
        """Move this callback right after DefaultFlowCallback, so that report_to integrations see our keys.

        The Trainer appends user callbacks after its reporters; there is no public way to reorder, so we
        find the CallbackHandler that is calling us (two frames up) and move ourselves in its list. The move
        goes to an earlier index, so the handler's running ``for`` loop neither skips nor repeats a callback.
        """
        if self._placed:
            return
        self._placed = True
        handler = _calling_handler(self)
        if handler is None:
            logger.warning(
                "could not place EnergyCallback before the report_to integrations; energy metrics "
                "reach trainer.state.log_history, but reporters registered before it may not receive them"
            )
            return
        callbacks = handler.callbacks
        callbacks.remove(self)
        position = next((i + 1 for i, cb in enumerate(callbacks) if isinstance(cb, DefaultFlowCallback)), 0)
        callbacks.insert(position, self)

    # ---- Trainer events -------------------------------------------------------------------------------
    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._place_before_reporters()

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._place_before_reporters()
        self._epoch = int(state.epoch or 0)
        self.meter.start(_training_facts(args, state, model))

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.epoch_begin(self._epoch)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.epoch_end()
        self._epoch += 1
        if control.should_evaluate:  # set by DefaultFlowCallback, which runs before us
            self.meter.eval_begin()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.step_begin(state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.step_end(state.global_step)
        if control.should_evaluate:
            self.meter.eval_begin()

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.meter.eval_open and self.meter.metering:  # an evaluation we did not see coming
            self.meter.eval_begin(partial=True)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.eval_end()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs is None:
            return
        if any(k.endswith("_runtime") and not k.startswith("train_") for k in logs):  # evaluation metrics
            self.meter.eval_end()
        # The Trainer's final summary (train_loss + total_flos; with include_num_input_tokens_seen every log
        # carries train_runtime, so that key alone does not mark the end): the train window is complete.
        if "train_loss" in logs and "total_flos" in logs:
            metrics = self.meter.train_end()
        else:
            metrics = self.meter.log_metrics(state.global_step)
        if not metrics:
            return
        history = state.log_history
        # Trainer.log appended {**logs, "step": ...} just before calling us: add the same keys there
        if history and all(history[-1].get(k) == v for k, v in logs.items()):
            history[-1].update(metrics)
        logs.update(metrics)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.meter.finish(_end_facts(args, state))


def _calling_handler(callback: Any) -> Any:
    """The transformers CallbackHandler whose ``call_event`` is running us, found up the call stack."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(8):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, CallbackHandler) and any(cb is callback for cb in owner.callbacks):
            return owner
        frame = frame.f_back
    return None


def _training_facts(args: Any, state: Any, model: Any) -> dict[str, Any]:
    """The arguments that decide a training's energy: model, steps, batch, precision, devices."""
    facts = model_facts(model) if model is not None else {}
    per_device = getattr(args, "per_device_train_batch_size", None)
    accumulation = getattr(args, "gradient_accumulation_steps", 1) or 1
    world = getattr(args, "world_size", 1) or 1
    precision = "bf16" if getattr(args, "bf16", False) else "fp16" if getattr(args, "fp16", False) else "fp32"
    facts.update(
        max_steps=getattr(state, "max_steps", None),
        epochs=getattr(args, "num_train_epochs", None),
        per_device_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        world_size=world,
        effective_batch_size=None if per_device is None else per_device * accumulation * world,
        precision=precision,
        device=str(getattr(args, "device", "")) or None,
        output_dir=getattr(args, "output_dir", None),
    )
    return facts


def _end_facts(args: Any, state: Any) -> dict[str, Any]:
    tokens = getattr(state, "num_input_tokens_seen", 0) or 0
    facts: dict[str, Any] = {
        "global_step": getattr(state, "global_step", None),
        "epochs_completed": getattr(state, "epoch", None),
        "total_flos": getattr(state, "total_flos", None),
        "tokens_seen": tokens or None,
    }
    if not tokens:
        facts["tokens_note"] = "tokens not counted: set TrainingArguments(include_num_input_tokens_seen=True)"
    return facts


__all__ = ["EnergyCallback"]
