"""A real ``Trainer.train()`` of a tiny random-weight BERT (20 steps) with the EnergyCallback.

The MLflow reporter (``report_to="mlflow"``, a real SQLite tracking store in a temp dir) must receive the
energy keys — the proof that every ``report_to`` backend gets them — and the store must hold the training run
that ``wattlens breakeven --training-run`` reads.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("torch")

from tests.integrations.tiny_bert import SEQ, Tokens, tiny_bert
from wattlens.cli.main import main
from wattlens.integrations.transformers import EnergyCallback
from wattlens.store import open_store

pytestmark = pytest.mark.slow


def _trainer(tmp_path, callback, report_to="none", steps=20):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=steps,
        per_device_train_batch_size=4,
        logging_steps=5,
        eval_strategy="steps",
        eval_steps=10,
        save_strategy="no",
        report_to=report_to,
        use_cpu=True,
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
    )
    return Trainer(
        model=tiny_bert(),
        args=args,
        train_dataset=Tokens(80, 0),
        eval_dataset=Tokens(16, 1),
        callbacks=[callback],
    )


def test_trainer_logs_energy_to_every_reporter_and_stores_the_training(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts in ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    db = str(tmp_path / "w.sqlite")
    cb = EnergyCallback(db=db, country="FR")
    trainer = _trainer(tmp_path, cb, report_to=["mlflow"])
    names = [type(c).__name__ for c in trainer.callback_handler.callbacks]
    assert names.index("EnergyCallback") < names.index("MLflowCallback")  # placed before the reporters
    trainer.train()

    history = trainer.state.log_history
    train_logs = [h for h in history if "loss" in h]
    assert [h["step"] for h in train_logs] == [5, 10, 15, 20]
    for h in train_logs:
        assert 0 < h["energy/train_low_j"] <= h["energy/train_j"] <= h["energy/train_high_j"]
        assert 0 < h["energy/step_low_j"] <= h["energy/step_j"] <= h["energy/step_high_j"]
        assert h["energy/train_co2e_g"] > 0
    cumulative = [h["energy/train_j"] for h in train_logs]
    assert cumulative == sorted(cumulative)  # the train so far only grows
    evals = [h for h in history if "eval_loss" in h]
    assert len(evals) == 2 and all(h["energy/eval_j"] > 0 for h in evals)
    final = history[-1]
    assert "train_loss" in final and final["energy/epoch_j"] > 0 and final["energy/train_j"] >= cumulative[-1]

    # the MLflow reporter received them, at the Trainer's steps
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "energy/train_j")]
    assert {5, 10, 15, 20} <= set(steps)
    assert client.get_metric_history(run.info.run_id, "energy/eval_j")

    # the store: a training run with the arguments that matter
    with open_store(db) as st:
        (cell,) = st.cells(cb.run_id)
    rec = cell["result"]
    assert rec["training"]["global_step"] == 20 and rec["training"]["effective_batch_size"] == 4
    assert rec["training"]["model_class"] == "BertForSequenceClassification" and rec["training"]["parameters"] > 0
    assert rec["training"]["tokens_seen"] == 20 * 4 * SEQ
    assert rec["location"]["key"] == "FRA" and rec["energy_j"] == pytest.approx(final["energy/train_j"], rel=1e-6)
    assert len(rec["evaluations"]) == 2 and len(rec["epochs"]) == 1


def test_mlflow_true_with_the_mlflow_reporter_logs_into_one_run(tmp_path, monkeypatch):
    """report_to=["mlflow"] opens the active run; mlflow=True's metrics and tags join it (no second run)."""
    mlflow = pytest.importorskip("mlflow")

    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts in ./mlruns
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    _trainer(tmp_path, EnergyCallback(db=False, mlflow=True), report_to=["mlflow"], steps=10).train()
    assert mlflow.active_run() is None  # the reporter ended its run; we started none

    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    metrics = run.data.metrics
    assert 0 < metrics["energy_low_j"] <= metrics["energy_j"] <= metrics["energy_high_j"]  # mlflow=True's names
    assert metrics["energy/train_j"] > 0  # the reporter's copy of the Trainer's log, in the same run
    assert [h.step for h in client.get_metric_history(run.info.run_id, "step_energy_j")] == [5, 10]
    assert run.data.tags["wattlens.source"] == "estimated"


def test_breakeven_reads_the_measured_training(tmp_path, capsys):
    db = str(tmp_path / "w.sqlite")
    cb = EnergyCallback(db=db)
    _trainer(tmp_path, cb, steps=10).train()
    capsys.readouterr()  # the Trainer's own printed logs
    assert main(["breakeven", "--training-run", cb.run_id, "--db", db, "--j-per-query", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    measured = out["training_run"]["training"]
    assert measured["run_id"] == cb.run_id and measured["source"] == "estimated" and measured["steps"] == 10
    assert measured["kwh_low"] <= measured["kwh"] <= measured["kwh_high"]
    assert out["breakeven"]["queries"] == pytest.approx(measured["kwh"] * 3.6e6 / 0.5)
    lo, hi = out["training_run"]["queries_low"], out["training_run"]["queries_high"]
    assert lo <= out["breakeven"]["queries"] <= hi
    assert main(["breakeven", "--training-run", "missing", "--db", db, "--j-per-query", "0.5"]) == 2
    assert cb.run_id in capsys.readouterr().err  # the error lists the training runs there are


@pytest.mark.parametrize(
    ("env", "meters", "logs"),
    [
        ({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}, False, False),
        ({"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"}, True, False),
    ],
)
def test_ranks_other_than_zero_do_not_log(tmp_path, monkeypatch, env, meters, logs):
    """Ranks faked through the launcher's variables (set after the Trainer is built, so accelerate stays single)."""
    db = str(tmp_path / "w.sqlite")
    cb = EnergyCallback(db=db)
    trainer = _trainer(tmp_path, cb, steps=10)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    trainer.train()
    assert not any(k.startswith("energy/") for h in trainer.state.log_history for k in h)
    assert (cb.run_id is not None) is meters and (cb.record is not None) is meters
