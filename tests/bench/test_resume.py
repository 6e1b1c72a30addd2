"""Nothing lost: kill -9 the CLI after the first cell is committed, resume, every cell exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattlens.store import open_store

pytestmark = pytest.mark.slow

SUITE = """\
[suite]
name = "resume-test"
queries = 2
repeats = 5
warmup = 1
min_window_s = 0.3
idle_s = 0.1
phases = false

[[task]]
name = "text-classification"
models = ["distilbert-sst2@tiny"]
batch = [1, 2, 3]
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattlens", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WATTLENS_COUNTRY": "FR"}


def _committed_cells(db: Path) -> list[tuple[str, str]]:
    """(run_id, cell_key) rows, read through a read-only SQLite connection.

    Read-only on purpose: opening the store would create its schema and could race the CLI doing the same.
    """
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.OperationalError:
        return []
    try:
        return list(con.execute("SELECT run_id, cell_key FROM cells"))
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        con.close()


def _wait_first_cell(db: Path, proc: subprocess.Popen, timeout_s: float = 120.0) -> str:
    """Poll the store until one cell is committed; returns the run id."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        if db.exists():
            rows = _committed_cells(db)
            if rows:
                return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("no cell committed in time")


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = tmp_path / "resume.sqlite"
    proc = subprocess.Popen(
        _cli("bench", "--suite", str(suite), "--db", str(db), "--quiet"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        run_id = _wait_first_cell(db, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = open_store(str(db))
    first = {c["cell_key"]: c for c in store.cells(run_id)}
    assert 1 <= len(first) < 3, f"kill -9 came too late to test resume: {sorted(first)}"
    assert store.get_run(run_id)["status"] == "running"  # killed: nobody could mark it
    store.close()

    done = subprocess.run(
        _cli("bench", "--resume", run_id, "--db", str(db), "--json", "--quiet"),
        env=_env(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    store = open_store(str(db))
    cells = store.cells(run_id)
    keys = [c["cell_key"] for c in cells]
    assert len(keys) == len(set(keys)) == 3  # all present, exactly once
    assert {k.split("|")[2] for k in keys} == {"batch=1", "batch=2", "batch=3"}
    after = {c["cell_key"]: c for c in cells}
    for key, c in first.items():  # the cells committed before the kill are untouched
        assert after[key]["updated_unix_s"] == c["updated_unix_s"]
        assert after[key]["result"] == c["result"]
    assert store.get_run(run_id)["status"] == "done"
    store.close()
