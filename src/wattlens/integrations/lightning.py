"""Energy of a PyTorch Lightning fit, through ``self.log`` (``pip install 'wattlens[lightning]'``).

>>> import lightning.pytorch as pl                                   # doctest: +SKIP
>>> from wattlens.integrations.lightning import EnergyCallback       # doctest: +SKIP
>>> trainer = pl.Trainer(accelerator="cpu", max_epochs=2, callbacks=[EnergyCallback(country="DE")])  # doctest: +SKIP
>>> trainer.fit(model, train_loader, val_loader)                     # doctest: +SKIP
>>> trainer.callback_metrics["energy/train_j"]                       # doctest: +SKIP

The same windows and names as the Hugging Face callback (:mod:`wattlens.integrations.transformers`):
``energy/train_*`` (the fit so far), ``energy/step_*`` (mean of the metered training batches since the last
log), ``energy/epoch_*`` and ``energy/eval_*`` (validation, sanity check excluded), each with ``_j``,
``_low_j``, ``_high_j``, ``_power_w`` and ``_co2e_g``. They go through ``pl_module.log`` (on the batches
where Lightning writes logs, ``log_every_n_steps``, and at epoch ends), so every configured logger
(TensorBoard, CSV, MLflow, W&B...) receives them; the final train figures are written to the loggers at
``on_train_end``, where ``self.log`` is not allowed. The provenance (source, method, location, PUE) goes to
each logger's hyperparameters as ``wattlens/meter``. With ``mlflow=True`` and an ``MLFlowLogger`` among the
trainer's loggers, the canonical MLflow metrics and the provenance tags go into that logger's own run.

A "step" here is one training batch (with gradient accumulation, a fraction of an optimizer step). Under
DDP (``strategy="ddp"``, torchrun, Slurm) only local rank 0 of each node meters and only global rank 0
logs. Works with ``lightning.pytorch`` and ``pytorch_lightning`` trainers, on CPU and GPU.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from wattlens._logging import get_logger
from wattlens.integrations.errors import missing_extra
from wattlens.integrations.training import MeteredCallback, MlflowRun, meter_for, model_facts

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name; the callback API is the same
    try:
        from pytorch_lightning import Callback  # type: ignore[assignment]
    except ImportError as _exc:  # pragma: no cover - depends on the environment
        raise missing_extra("lightning", "lightning", _exc) from _exc

logger = get_logger(__name__)
_LOG_OPTIONS = {"logger": True, "prog_bar": False, "rank_zero_only": True, "batch_size": 1}


class EnergyCallback(MeteredCallback, Callback):  # type: ignore[misc]
    """Meters a Lightning fit: train, epochs, validation and training batches; see the module docstring.

    Keyword arguments are those of :class:`wattlens.integrations.training.TrainingMeter` (``country``,
    ``region``, ``intensity_g_per_kwh``, ``pue``, ``price_per_kwh``, ``currency``, ``sources``, ``attribution``,
    ``cpu_tdp_w``, ``step_every``, ``db``, ``prefix``, ``mlflow``, ``rank``).
    """

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.meter = meter_for("lightning", settings)

    # ---- the fit ---------------------------------------------------------------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if (getattr(trainer, "world_size", 1) or 1) > 1:
            _quiet_sync_dist_advice(self.meter.prefix)
        run = _mlflow_logger_run(trainer) if self.meter.mlflow else None
        self.meter.start(_fit_facts(trainer, pl_module), mlflow_run=run)
        if self.meter.logging:
            self._to_loggers(trainer, hyperparams={"wattlens/meter": self.meter.describe()})

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.meter.epoch_begin(trainer.current_epoch)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.meter.step_begin(trainer.global_step)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.meter.step_end(trainer.global_step)
        if _lightning_writes_logs_now(trainer):
            self._log(pl_module, self.meter.log_metrics(trainer.global_step), on_step=True)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.meter.epoch_end()
        self._log(pl_module, self.meter.log_metrics(trainer.global_step), on_step=False)

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self.meter.eval_begin()

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking and self.meter.eval_open:
            self.meter.eval_end()
            self._log(pl_module, self.meter.log_metrics(trainer.global_step), on_step=False)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        metrics = self.meter.train_end()  # self.log is not allowed here: the loggers get them directly
        self._to_loggers(trainer, metrics=metrics)
        self.meter.finish(_end_facts(trainer))

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.meter.finish(_end_facts(trainer), status="interrupted" if _is_interrupt(exception) else "failed")

    # ---- output ----------------------------------------------------------------------------------------
    def _log(self, pl_module: Any, metrics: dict[str, float], on_step: bool) -> None:
        if not metrics:
            return
        try:
            pl_module.log_dict(metrics, on_step=on_step, on_epoch=not on_step, **_LOG_OPTIONS)
        except Exception as exc:  # logging must not break the fit; the store record keeps the figures
            logger.warning("could not log energy through Lightning: %s: %s", type(exc).__name__, exc)

    def _to_loggers(
        self, trainer: Any, metrics: dict[str, float] | None = None, hyperparams: dict[str, str] | None = None
    ) -> None:
        for lg in getattr(trainer, "loggers", None) or []:
            try:
                if hyperparams:
                    lg.log_hyperparams(hyperparams)
                if metrics:
                    lg.log_metrics(metrics, step=trainer.global_step)
            except Exception as exc:  # one failing logger must not stop the others, nor the fit
                logger.warning("logger %s refused the energy figures: %s", type(lg).__name__, exc)


def _quiet_sync_dist_advice(prefix: str) -> None:
    """Under DDP Lightning advises ``sync_dist=True`` for every epoch-level metric; ours are the node's figure,
    logged by global rank 0 alone, so syncing them would be wrong (and would wait on ranks that never log them).
    Silence that advice for our metric names only."""
    names = re.escape(prefix) + r"(train|step|epoch|eval)_\w+"
    warnings.filterwarnings(
        "ignore", message=rf"It is recommended to use `self\.log\('{names}', \.\.\., sync_dist=True\)`"
    )


def _mlflow_logger_run(trainer: Any) -> MlflowRun | None:
    """The run of the trainer's ``MLFlowLogger`` (``mlflow=True`` then logs there, not in a second run).

    Lightning's logger creates its run through ``MlflowClient``, which MLflow's fluent API (the active run)
    does not see. Asked on global rank 0 only: elsewhere the logger is a no-op. ``None`` without such a logger.
    """
    if not getattr(trainer, "is_global_zero", True):
        return None
    for lg in getattr(trainer, "loggers", None) or []:
        if not any(cls.__name__ == "MLFlowLogger" for cls in type(lg).__mro__):
            continue
        try:
            run_id = lg.run_id  # creates the logger's run if it does not exist yet, as its first log would
            uri = getattr(lg.experiment, "tracking_uri", None)
        except Exception as exc:  # the logger's own failure shows in its own logging; ours must not stop the fit
            logger.warning("could not read the MLFlowLogger's run (%s: %s)", type(exc).__name__, exc)
            return None
        if run_id:
            return MlflowRun(str(run_id), str(uri) if uri else None)
    return None


def _lightning_writes_logs_now(trainer: Any) -> bool:
    """Whether Lightning will write step metrics to the loggers after this batch (``log_every_n_steps``)."""
    try:
        return bool(trainer._logger_connector.should_update_logs)
    except Exception:  # a Lightning without that property: the same rule from public attributes
        every = max(1, int(getattr(trainer, "log_every_n_steps", 50) or 50))
        return (trainer.global_step + 1) % every == 0


def _is_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt) or type(exc).__name__ in ("KeyboardInterrupt", "SIGTERMException")


def _fit_facts(trainer: Any, pl_module: Any) -> dict[str, Any]:
    """The arguments that decide the fit's energy: model, steps, batch, precision, devices."""
    facts = model_facts(pl_module)
    max_steps = getattr(trainer, "max_steps", -1)
    loader = getattr(trainer, "train_dataloader", None)
    batch = getattr(loader, "batch_size", None)
    accumulation = getattr(trainer, "accumulate_grad_batches", 1) or 1
    world = getattr(trainer, "world_size", 1) or 1
    facts.update(
        max_steps=max_steps if max_steps and max_steps > 0 else None,
        epochs=getattr(trainer, "max_epochs", None),
        per_device_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        world_size=world,
        effective_batch_size=None if batch is None else batch * accumulation * world,
        precision=str(getattr(trainer, "precision", "")) or None,
        device=str(getattr(pl_module, "device", "")) or None,
        nodes=getattr(trainer, "num_nodes", None),
    )
    return facts


def _end_facts(trainer: Any) -> dict[str, Any]:
    return {
        "global_step": getattr(trainer, "global_step", None),
        "epochs_completed": getattr(trainer, "current_epoch", None),
    }


__all__ = ["EnergyCallback"]
