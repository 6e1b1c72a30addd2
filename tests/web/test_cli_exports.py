"""``wattlens serve`` as a user starts it (a subprocess: port in use, exposure warning, missing store, Ctrl-C), and
``wattlens export --aiesc / --mlenergy`` on the seeded store's real run."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.web.conftest import fetch
from tests.web.seed import Seeded
from wattlens.cli.main import main as cli
from wattlens.report.query import leaderboard, run_timeline
from wattlens.store import open_store
from wattlens.units import J_PER_KWH

pytestmark = pytest.mark.slow


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wattlens", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return line
        if proc.poll() is not None:
            break
    raise AssertionError(f"no line from wattlens serve (rc={proc.poll()}): {proc.stderr.read() if proc.stderr else ''}")


def test_serve_runs_until_ctrl_c_and_says_where(seeded: Seeded) -> None:
    port = _free_port()
    proc = _serve("--db", seeded.db, "--port", str(port))
    try:
        line = _wait_for_line(proc)
        assert f"http://127.0.0.1:{port}/" in line and "read-only" in line
        assert fetch(f"http://127.0.0.1:{port}/api/runs").status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err


def test_port_in_use_is_one_sentence(seeded: Seeded) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _serve("--db", seeded.db, "--port", str(port))
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port" in err and "Traceback" not in err


def test_all_interfaces_only_when_asked_and_with_a_warning(seeded: Seeded) -> None:
    proc = _serve("--db", seeded.db, "--host", "0.0.0.0", "--port", "0")
    try:
        line = _wait_for_line(proc)
        assert "http://0.0.0.0:" in line
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert "warning: serving on every network interface" in err and "no authentication" in err


def test_missing_or_foreign_store_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["serve", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no results database at" in capsys.readouterr().err
    foreign = tmp_path / "foreign.sqlite"
    import sqlite3

    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    assert cli(["serve", "--db", str(foreign)]) == 2
    assert "is not a wattlens results database" in capsys.readouterr().err
    assert cli(["serve", "--db", str(foreign), "--port", "70000"]) == 2


def test_export_aiesc_layout_and_figures(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "aiesc"
    assert cli(["export", "--aiesc", seeded.real_run, str(out), "--db", seeded.db]) == 0
    captured = capsys.readouterr()
    assert "no GPU in this run" in captured.err and "failed, nothing to export" in captured.err
    folders = [p for p in (out / "text-classification").iterdir() if p.is_dir()]
    assert len(folders) == 1  # the ok cell; the failed one has nothing to export
    cell = folders[0]
    names = {p.name for p in cell.iterdir()}
    assert names == {
        "benchmark_config.json",
        "benchmark_report.json",
        "GPU_ENERGY_SUMMARY.json",
        "wattlens_provenance.json",
    }
    assert not (cell / "GPU_ENERGY_WH.txt").exists()  # a CPU run has no GPU energy: no file, and the summary says why
    report = json.loads((cell / "benchmark_report.json").read_text())
    assert set(report) == {"load_model", "forward"}
    forward = report["forward"]
    assert forward["energy"]["unit"] == "kWh" and forward["energy"]["gpu"] is None and len(forward["measures"]) == 5
    with open_store(seeded.db, read_only=True) as store:
        row = next(r for r in leaderboard(store, seeded.real_run).rows if r.ok)
        windows = [w for w in run_timeline(store, seeded.real_run, row.cell_key) if w.phase == "query"]
    per_1000 = [w.energy_j / w.queries * 1000 / J_PER_KWH for w in windows]  # gross, scaled to 1,000 queries
    assert [m["total"] for m in forward["measures"]] == pytest.approx(per_1000)
    assert forward["energy"]["total"] == pytest.approx(sum(per_1000) / 5)
    summary = json.loads((cell / "GPU_ENERGY_SUMMARY.json").read_text())
    assert summary["units"] == "Wh" and summary["total"] is None and "no GPU energy" in summary["note"]
    assert summary["node_total_wh"] == pytest.approx(forward["energy"]["total"] * 1000)
    config = json.loads((cell / "benchmark_config.json").read_text())
    assert config["scenario"]["num_samples"] == 1000 and config["backend"]["task"] == "text_classification"
    assert config["wattlens"]["measured_queries"] == row.queries
    with zipfile.ZipFile(cell.with_suffix(".zip")) as zf:
        assert sorted(Path(n).name for n in zf.namelist()) == sorted(names)
    assert "AI Energy Score" in (out / "README.md").read_text()


def test_export_mlenergy(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["export", "--mlenergy", seeded.synth_a, str(tmp_path), "--db", seeded.db]) == 0
    doc = json.loads((tmp_path / "mlenergy.json").read_text())
    runs = doc["runs"]
    assert len(runs) == 120 and doc["run_id"] == seeded.synth_a
    llm = next(r for r in runs if r["domain"] == "llm")
    assert llm["max_num_seqs"] >= 1 and llm["avg_power_watts"] == pytest.approx(
        llm["steady_state_energy_joules"] / llm["steady_state_duration_seconds"]
    )
    other = next(r for r in runs if r["domain"] == "other")
    assert other["energy_per_request_joules"] > 0 and other["energy_source"] == "estimated"
    assert {r["is_stable"] for r in runs} == {True, False}  # invalid cells are exported, marked unstable with reasons
    assert all(r["unstable_reason"] for r in runs if not r["is_stable"])
    assert "not GPU energy" in capsys.readouterr().err


def test_export_of_an_unknown_run(seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["export", "--aiesc", "nope", str(tmp_path), "--db", seeded.db]) == 2
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and seeded.real_run in err
    assert cli(["export", "--mlenergy", seeded.optimize_run, str(tmp_path), "--db", seeded.db]) == 2
    assert "exports bench runs" in capsys.readouterr().err
