"""wattlens bench --ray on a real two-node Ray cluster into the loopback PostgreSQL, one worker killed mid-run:
every cell present exactly once, the killed cell re-run (or failed with its reason); resubmitting changes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.distributed.conftest import RAY_LOOPBACK_ENV, pg_url
from wattlens.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
HERE = Path(__file__).resolve().parent

SUITE = f"""\
[suite]
name = "ray-sweep-test"
queries = 2
repeats = 3
warmup = 1
min_window_s = 0.4
idle_s = 0.1
phases = false
quality = false

[[task]]
name = "text-classification"
models = ["{HERE / "ray_cells.py"}:classify"]
engine = ["callable"]
batch = [1, 2, 3, 4]
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattlens", *args]


def _env() -> dict[str, str]:
    return {**os.environ, **RAY_LOOPBACK_ENV, "WATTLENS_COUNTRY": "FR", "WATTLENS_TEST_SPIN_S": "0.03"}


def _kill_a_running_cell(url: str, run_id: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> tuple[str, int]:
    """Wait until a worker marks a cell running, SIGKILL that worker; (cell key, pid)."""
    store = open_store(url)
    try:
        t0 = time.time()
        while time.time() - t0 < timeout_s:
            assert proc.poll() is None, f"the sweep ended before a worker could be killed: {proc.stderr.read()[-2000:]}"
            if store.get_run(run_id) is not None:
                for cell in store.cells(run_id):
                    res = cell.get("result") or {}
                    if cell["status"] == "running" and res.get("attempt") == 1 and res.get("pid"):
                        os.kill(int(res["pid"]), signal.SIGKILL)  # a Ray worker of our cluster, named by itself
                        return cell["cell_key"], int(res["pid"])
            time.sleep(0.05)
    finally:
        store.close()
    raise AssertionError("no cell was running in time")


def _cleanup(url: str, run_id: str) -> None:
    import sqlalchemy as sa

    from wattlens.store.db import normalise_url

    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id})
    engine.dispose()


def test_sweep_survives_a_killed_worker_and_resubmitting_duplicates_nothing(ray_cluster: str, tmp_path: Path) -> None:
    url = pg_url()
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE, encoding="utf-8")
    run_id = f"ray-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        _cli("bench", "--suite", str(suite), "--db", url, "--ray", ray_cluster, "--run-id", run_id, "--quiet"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        killed_key, killed_pid = _kill_a_running_cell(url, run_id, proc)
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        store = open_store(url)
        cells = store.cells(run_id)
        keys = [c["cell_key"] for c in cells]
        assert len(keys) == len(set(keys)) == 4, keys  # every cell, exactly once
        by_key = {c["cell_key"]: c for c in cells}
        killed = by_key[killed_key]
        if killed["status"] == "failed":  # both attempts lost: failed with its reason, the run went on
            assert "attempts" in killed["error"] and "Worker" in killed["error"]
        else:
            executor = killed["result"]["info"]["executor"]
            assert executor["attempt"] == 2 and executor["pid"] != killed_pid
            assert any("worker died" in w for w in killed["result"]["warnings"])
        others = [c for k, c in by_key.items() if k != killed_key]
        # two Ray nodes share this host's cores: a cell may be measured yet marked contended (or invalid for its
        # spread) by the validity checks; what this test holds is that it was measured, once, with its result
        measured = {"ok", "contended", "invalid"}
        assert all(c["status"] in measured and c["result"] for c in others), [
            (c["cell_key"], c["status"], c["error"]) for c in others
        ]
        hosts = {c["result"]["info"]["executor"]["node_id"] for c in cells if c["status"] in measured}
        assert len(hosts) == 2  # the cells were spread over both Ray nodes
        assert store.get_run(run_id)["status"] == "done"
        before = {c["cell_key"]: c["updated_unix_s"] for c in cells}
        store.close()

        again = subprocess.run(
            _cli(
                "bench", "--resume", run_id, "--db", url, "--ray", ray_cluster, "--quiet", "--json", "--trust-callables"
            ),
            env=_env(),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        store = open_store(url)
        after = {c["cell_key"]: c["updated_unix_s"] for c in store.cells(run_id)}
        store.close()
        assert after == before  # resubmitting: nothing re-run, nothing duplicated
    finally:
        if proc.poll() is None:
            proc.kill()
        _cleanup(url, run_id)


def test_sqlite_is_refused_for_a_multi_node_cluster(ray_cluster: str, tmp_path: Path) -> None:
    out = subprocess.run(
        _cli(
            "bench",
            "--task",
            "text-classification",
            "--model",
            "x.py:f",
            "--db",
            str(tmp_path / "r.sqlite"),
            "--ray",
            ray_cluster,
        ),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "2-node Ray cluster needs a shared store" in out.stderr and "postgresql://" in out.stderr
    assert "Traceback" not in out.stderr
    store = open_store(str(tmp_path / "r.sqlite"))
    assert store.list_runs() == []  # refused before any run was created
    store.close()
