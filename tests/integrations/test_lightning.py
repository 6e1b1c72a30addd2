"""A real Lightning ``fit`` on CPU with the EnergyCallback: energy through ``self.log`` into a real CSV logger."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from tests.integrations.tiny_fit import Classifier, loaders  # noqa: E402
from wattlens.integrations.lightning import EnergyCallback  # noqa: E402
from wattlens.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow


def _trainer(tmp_path, cb, logger=None):
    from lightning.pytorch.loggers import CSVLogger

    return pl.Trainer(
        accelerator="cpu",
        max_epochs=2,
        callbacks=[cb],
        logger=logger or CSVLogger(str(tmp_path / "logs")),
        log_every_n_steps=5,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def _csv_rows(trainer) -> list[dict]:
    with open(trainer.logger.log_dir + "/metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_fit_logs_energy_through_self_log_and_stores_the_run(tmp_path):
    db = str(tmp_path / "w.sqlite")
    cb = EnergyCallback(db=db)
    trainer = _trainer(tmp_path, cb)
    train, val = loaders()
    trainer.fit(Classifier(), train, val)

    rows = _csv_rows(trainer)
    step_rows = [r for r in rows if r.get("energy/step_j")]
    assert len(step_rows) >= 6  # 40 batches, a log every 5
    for r in step_rows:
        assert 0 < float(r["energy/step_low_j"]) <= float(r["energy/step_j"]) <= float(r["energy/step_high_j"])
    assert [r for r in rows if r.get("energy/eval_j")] and [r for r in rows if r.get("energy/epoch_j")]
    train_j = [float(r["energy/train_j"]) for r in rows if r.get("energy/train_j")]
    assert train_j == sorted(train_j) and len(train_j) >= 8
    metrics = trainer.callback_metrics
    assert (
        float(metrics["energy/train_low_j"])
        <= float(metrics["energy/train_j"])
        <= float(metrics["energy/train_high_j"])
    )
    with open(trainer.logger.log_dir + "/hparams.yaml") as f:
        assert "estimator" in f.read()  # the provenance, as a hyperparameter of the logger

    with open_store(db) as st:
        (cell,) = st.cells(cb.run_id)
    rec = cell["result"]
    assert rec["framework"] == "lightning" and rec["training"]["global_step"] == 40
    assert rec["training"]["per_device_batch_size"] == 8 and len(rec["epochs"]) == 2 and len(rec["evaluations"]) == 2
    # the final figure includes what came after the last log (the CSV holds Lightning's float32 copy)
    assert rec["energy_j"] >= train_j[-1] * (1 - 1e-6)


def test_a_failing_fit_keeps_its_record_as_failed(tmp_path):
    db = str(tmp_path / "w.sqlite")
    cb = EnergyCallback(db=db)
    train, val = loaders()
    with pytest.raises(RuntimeError, match="user code failed"):  # the user's error, not ours
        _trainer(tmp_path, cb).fit(Classifier(fail_at=7), train, val)
    with open_store(db) as st:
        run = st.get_run(cb.run_id)
        (cell,) = st.cells(cb.run_id)
    assert (
        run["status"] == "failed" and cell["result"]["energy_j"] > 0 and cell["result"]["training"]["global_step"] == 7
    )


def test_non_zero_rank_logs_nothing(tmp_path, monkeypatch):
    cb = EnergyCallback(db=str(tmp_path / "w.sqlite"))
    trainer = _trainer(tmp_path, cb)
    for k, v in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(k, v)
    train, val = loaders()
    trainer.fit(Classifier(), train, val)
    assert not any(k.startswith("energy/") for row in _csv_rows(trainer) for k, v in row.items() if v)
    assert cb.run_id is None and cb.record is None


def test_mlflow_true_logs_into_the_mlflow_loggers_own_run(tmp_path, monkeypatch):
    """Lightning's MLFlowLogger makes its run through MlflowClient (no active fluent run): ours must join it."""
    mlflow = pytest.importorskip("mlflow")
    from lightning.pytorch.loggers import MLFlowLogger

    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts in ./mlruns
    for var in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(var, raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_logger = MLFlowLogger(experiment_name="fit", tracking_uri=uri)
    cb = EnergyCallback(db=False, mlflow=True, country="FR")
    train, val = loaders()
    try:
        _trainer(tmp_path, cb, logger=mlflow_logger).fit(Classifier(), train, val)
        assert mlflow.active_run() is None  # no fluent run was started behind the logger's back
    finally:
        mlflow.set_tracking_uri(None)  # MLFlowLogger sets the process-wide URI

    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments)  # the logger's run, and no second one
    assert run.info.run_id == mlflow_logger.run_id
    metrics, tags = run.data.metrics, run.data.tags
    assert 0 < metrics["energy_low_j"] <= metrics["energy_j"] <= metrics["energy_high_j"]  # mlflow=True's names
    assert metrics["co2e_g"] > 0 and metrics["energy/train_j"] > 0  # beside the logger's own energy/* keys
    steps = [h.step for h in client.get_metric_history(run.info.run_id, "step_energy_j")]
    assert len(steps) >= 2 and steps == sorted(steps)  # per step, at Lightning's log events
    assert tags["wattlens.source"] == "estimated" and tags["wattlens.location"].startswith("FRA")
    assert tags["wattlens.scope"] == "this process's node (single-process job)"
