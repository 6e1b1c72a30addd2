"""Both EnergyCallbacks in a real 2-process DDP training (torchrun, gloo, CPU, 127.0.0.1): one meter, one logger.

Each rank of ``ddp_callbacks.py`` reports how many energy keys reached its own logs; torchrun keeps each rank's
stdout and stderr apart (``--redirects 3``). Only global rank 0 may log energy, only local rank 0 may meter and
store, so the store holds exactly one training record for the node, never one per rank.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.distributed.launch import job_env, torchrun
from wattlens.store import open_store

pytest.importorskip("torch.distributed")
pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _rank_output(logs: Path, rank: int, stream: str) -> str:
    """What torchrun kept of one rank's stdout or stderr (<log-dir>/<run>/attempt_0/<rank>/<stream>.log)."""
    files = [p for p in logs.rglob(f"{stream}.log") if p.parent.name == str(rank)]
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def _launch(tmp_path: Path, framework: str) -> tuple[dict[int, dict], Path, str]:
    """One torchrun job of 2 ranks; the ranks' reports, torchrun's log folder and the store path."""
    db = str(tmp_path / "w.sqlite")
    logs = tmp_path / "torchrun-logs"
    cmd = torchrun(
        HERE / "ddp_callbacks.py", framework, str(tmp_path), db, options=("--log-dir", str(logs), "--redirects", "3")
    )
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    out = subprocess.run(cmd, env=job_env(PYTHONPATH=path), cwd=tmp_path, capture_output=True, text=True, timeout=150)
    detail = out.stderr[-2000:] + "".join(_rank_output(logs, r, "stderr")[-3000:] for r in (0, 1))
    assert out.returncode == 0, detail
    reports = {r: json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)}
    return reports, logs, db


def _the_one_record(db: str, run_id: str) -> dict:
    """The store holds one training run with one cell (the node's, metered once): its record."""
    with open_store(db) as st:
        runs = st.list_runs("training")
        cells = st.cells(run_id)
    assert [r["run_id"] for r in runs] == [run_id]
    assert [c["cell_key"] for c in cells] == ["train"]
    rec = cells[0]["result"]
    assert 0 < rec["low_j"] <= rec["energy_j"] <= rec["high_j"] and rec["co2e_g"] > 0 and rec["duration_s"] > 0
    assert rec["rank"]["rank"] == 0 and rec["rank"]["world_size"] == 2 and rec["rank"]["meters_node"]
    assert rec["training"]["world_size"] == 2 and rec["location"]["key"] == "FRA"
    return rec


def _only_rank_zero_logs(reports: dict[int, dict]) -> None:
    zero, one = reports[0], reports[1]
    assert zero["world_size"] == one["world_size"] == 2
    assert zero["energy_keys"] > 0 and zero["run_id"] and zero["record"]
    assert one["logs"] > 0 and one["energy_keys"] == 0  # rank 1 logs the framework's own metrics, not ours
    assert one["run_id"] is None and not one["record"]  # and neither meters nor stores


def test_trainer_under_ddp_logs_and_stores_once(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    reports, logs, db = _launch(tmp_path, "hf")
    _only_rank_zero_logs(reports)
    rec = _the_one_record(db, reports[0]["run_id"])
    assert rec["framework"] == "transformers" and rec["training"]["global_step"] == 8
    assert rec["training"]["effective_batch_size"] == 8  # 4 per device x 2 ranks
    assert rec["energy_j"] == pytest.approx(reports[0]["final_train_j"], rel=1e-6)  # what was logged is what is stored
    assert "'energy/train_j'" in _rank_output(logs, 0, "stdout")  # the Trainer's printed logs
    assert "energy/" not in _rank_output(logs, 1, "stdout")


def test_lightning_ddp_logs_and_stores_once(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    reports, logs, db = _launch(tmp_path, "lightning")
    _only_rank_zero_logs(reports)
    rec = _the_one_record(db, reports[0]["run_id"])
    assert rec["framework"] == "lightning" and rec["training"]["global_step"] == 10  # 160 points / 8 / 2 ranks
    assert len(rec["epochs"]) == 1 and len(rec["evaluations"]) == 1
    advice = [ln for ln in _rank_output(logs, 0, "stderr").splitlines() if "sync_dist=True" in ln]
    assert advice and not [ln for ln in advice if "energy/" in ln]  # for the user's val_loss, never for our figures
