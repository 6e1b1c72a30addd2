"""A real Lightning ``fit`` on CPU with the EnergyCallback: energy through ``self.log`` into a real CSV logger."""

from __future__ import annotations

import csv

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from wattlens.integrations.lightning import EnergyCallback  # noqa: E402
from wattlens.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow


class _Classifier(pl.LightningModule):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        self.fail_at = fail_at

    def training_step(self, batch, batch_idx):
        if self.fail_at is not None and self.global_step >= self.fail_at:
            raise RuntimeError("user code failed")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loaders():
    """160 points of 32 standard-normal features, random binary labels (seed 0)."""
    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(160, 32, generator=g), torch.randint(0, 2, (160,), generator=g))
    return torch.utils.data.DataLoader(ds, batch_size=8), torch.utils.data.DataLoader(ds, batch_size=32)


def _trainer(tmp_path, cb):
    from lightning.pytorch.loggers import CSVLogger

    return pl.Trainer(
        accelerator="cpu",
        max_epochs=2,
        callbacks=[cb],
        logger=CSVLogger(str(tmp_path / "logs")),
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
    train, val = _loaders()
    trainer.fit(_Classifier(), train, val)

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
    train, val = _loaders()
    with pytest.raises(RuntimeError, match="user code failed"):  # the user's error, not ours
        _trainer(tmp_path, cb).fit(_Classifier(fail_at=7), train, val)
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
    train, val = _loaders()
    trainer.fit(_Classifier(), train, val)
    assert not any(k.startswith("energy/") for row in _csv_rows(trainer) for k, v in row.items() if v)
    assert cb.run_id is None and cb.record is None
