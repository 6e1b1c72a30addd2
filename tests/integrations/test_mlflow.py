"""MLflow against a real tracking store (SQLite in a temp dir), read back with MlflowClient."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys

import pytest

mlflow = pytest.importorskip("mlflow")

import wattlens  # noqa: E402
import wattlens.integrations.mlflow as wl_mlflow  # noqa: E402
from wattlens.integrations.errors import IntegrationError  # noqa: E402
from wattlens.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """A fresh SQLite tracking store; MLflow's fluent state reset around the test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts in ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    mlflow.set_tracking_uri(uri)
    wl_mlflow._warned.clear()
    yield mlflow.MlflowClient(uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _busy() -> None:
    sum(i * i for i in range(300_000))


def test_log_a_measurement_into_the_active_run(tracking):
    with mlflow.start_run() as run:
        with wattlens.measure("infer", country="FR", pue=1.2) as m:
            _busy()
        assert wl_mlflow.log(m.result) is True
    got = tracking.get_run(run.info.run_id)
    metrics, tags = got.data.metrics, got.data.tags
    rec = m.result.to_dict()
    assert metrics["energy_j"] == pytest.approx(rec["energy_j"])
    assert metrics["energy_low_j"] <= metrics["energy_j"] <= metrics["energy_high_j"]
    assert metrics["co2e_g"] == pytest.approx(rec["co2e_g"]) and metrics["power_w"] > 0
    assert tags["wattlens.source"] == "estimated" and tags["wattlens.method"] == "cpu-time-model"
    assert tags["wattlens.boundary"] == "facility" and tags["wattlens.pue"] == "1.2 (argument)"
    assert tags["wattlens.location"].startswith("FRA (France")
    artifacts = [a.path for a in tracking.list_artifacts(run.info.run_id, "wattlens")]
    assert len(artifacts) == 1 and artifacts[0].startswith("wattlens/infer-")


def test_per_step_metrics_and_a_prefix(tracking):
    mon = wattlens.Monitor(sources=["estimator"])
    with mlflow.start_run() as run:
        for step in range(3):
            mon.begin("step")
            _busy()
            assert wl_mlflow.log(mon.end("step"), step=step, prefix="step.")
    mon.close()
    history = tracking.get_metric_history(run.info.run_id, "step.energy_j")
    assert [h.step for h in history] == [0, 1, 2] and all(h.value > 0 for h in history)
    assert "co2e_g" not in tracking.get_run(run.info.run_id).data.metrics  # no footprint given: not logged as 0
    assert not tracking.list_artifacts(run.info.run_id)  # per-step logs carry no artifact by default


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("uri", ["http://127.0.0.1:{port}", "bogus-scheme://nowhere"])
def test_unreachable_or_misconfigured_mlflow_warns_once_and_keeps_the_record(tmp_path, monkeypatch, caplog, uri):
    uri = uri.format(port=_closed_port())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    wl_mlflow._warned.clear()
    db = str(tmp_path / "kept.sqlite")
    with wattlens.measure("x") as m:
        _busy()
    try:
        with caplog.at_level(logging.WARNING, logger="wattlens.integrations.mlflow"):
            assert wl_mlflow.log(m.result, db=db) is False
            assert wl_mlflow.log(m.result, db=db) is False
    finally:
        mlflow.set_tracking_uri(None)
    warnings = [
        r.getMessage() for r in caplog.records if r.name.startswith("wattlens") and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1 and "your run goes on" in warnings[0] and "kept.sqlite" in warnings[0]
    with open_store(db) as st:
        assert [r["name"] for r in st.measurements()] == ["x", "x"]


def test_bad_arguments_name_what_is_allowed(tracking):
    with pytest.raises(IntegrationError, match=r"allowed are wattlens\.measure"):
        wl_mlflow.log(42)
    with pytest.raises(IntegrationError, match="whole number"):
        wl_mlflow.log({"energy_j": 1.0}, step=-1)


def test_measure_cli_logs_into_the_run_the_command_joins(tmp_path, tracking, monkeypatch):
    """`wattlens measure --mlflow`: the command's own mlflow.start_run() and our energy land in one run."""
    child = "import mlflow\nwith mlflow.start_run():\n    mlflow.log_param('lr', 0.1)\n"
    out = subprocess.run(
        [sys.executable, "-m", "wattlens", "measure", "--mlflow", "--json", "--", sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.strip().splitlines()[-1])
    (run,) = tracking.search_runs(["0"])
    assert run.data.params == {"lr": "0.1"}  # the command's own logging
    assert run.data.metrics["energy_j"] == pytest.approx(record["energy_j"])
    assert run.data.tags["wattlens.exit_code"] == "0" and run.info.status == "FINISHED"


def test_measure_cli_with_mlflow_down_still_exits_with_the_command_code(tmp_path):
    env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{_closed_port()}", "WATTLENS_DB": str(tmp_path / "w.sqlite")}
    import os

    out = subprocess.run(
        [sys.executable, "-m", "wattlens", "measure", "--mlflow", "--", sys.executable, "-c", "raise SystemExit(3)"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env},
        check=False,
    )
    assert out.returncode == 3
    assert out.stderr.count("could not open a run in MLflow") == 1 and "w.sqlite" in out.stderr
    with open_store(env["WATTLENS_DB"]) as st:
        assert len(st.measurements()) == 1


def test_training_meter_logs_canonical_metrics_per_step_with_mlflow_true(tracking):
    """The callbacks' ``mlflow=True``: canonical names at every log event, provenance tags once."""
    from wattlens.integrations.training import TrainingMeter

    meter = TrainingMeter(framework="test", sources=["estimator"], db=False, step_every=1, mlflow=True, country="DE")
    with mlflow.start_run() as run:
        meter.start({"model": "demo"})
        for step in range(1, 7):
            meter.step_begin(step)
            _busy()
            meter.step_end(step)
            if step % 3 == 0:
                meter.log_metrics(step)
        meter.finish({})
    history = tracking.get_metric_history(run.info.run_id, "energy_j")
    assert [h.step for h in history] == [3, 6] and history[0].value < history[1].value  # cumulative train
    assert [h.step for h in tracking.get_metric_history(run.info.run_id, "step_energy_j")] == [3, 6]
    tags = tracking.get_run(run.info.run_id).data.tags
    assert tags["wattlens.source"] == "estimated" and tags["wattlens.location"].startswith("DEU")
