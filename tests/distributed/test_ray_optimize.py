"""``wattlens optimize --ray`` on a real two-node Ray cluster on 127.0.0.1 into the loopback PostgreSQL: each rung's
trials run as Ray tasks and are stored by the workers, with where they ran; the search process confirms and
recommends; resuming the finished run measures nothing again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed.conftest import RAY_LOOPBACK_ENV, pg_url
from tests.distributed.test_ray_sweep import _cleanup

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ARGS = ("--queries", "4", "--repeats", "2", "--quality-inputs", "4", "--batches", "1,2", "--threads", "1")
ARGS += ("--transforms", "threads,batching", "--no-deploy-check", "--json", "--quiet")


def _optimize(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **RAY_LOOPBACK_ENV, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["OMP_NUM_THREADS"] = "1"
    argv = [sys.executable, "-m", "wattlens", "optimize", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, cwd=cwd, timeout=420)


def test_optimize_trials_run_as_ray_tasks_and_resume_measures_nothing_again(ray_cluster: str, tmp_path: Path) -> None:
    from tests.optimize.tiny import save_tiny_bert
    from wattlens.store import open_store

    url = pg_url()
    model = save_tiny_bert(tmp_path / "tiny")
    out = _optimize(model, *ARGS, "--ray", ray_cluster, "--db", url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    run_id = result["run_id"]
    try:
        assert result["recommended"] and result["baseline"]
        store = open_store(url)
        trials = {c["cell_key"]: c for c in store.cells(run_id) if c["cell_key"].startswith("trial:")}
        searched = {k: c for k, c in trials.items() if not k.startswith("trial:confirm")}
        assert {k.split(":")[1] for k in searched} == {"probe", "short", "full"}  # every rung of the halving
        where = {c["result"]["extra"].get("process") or "" for c in searched.values()}
        assert all(w.startswith("ray:") for w in where), where  # measured by Ray workers, not the search process
        assert os.getpid() not in {int(w.split(":")[2]) for w in where}
        before = {k: c["updated_unix_s"] for k, c in trials.items()}
        store.close()

        again = _optimize(model, *ARGS, "--ray", ray_cluster, "--db", url, "--resume", run_id, cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        store = open_store(url)
        after = {c["cell_key"]: c["updated_unix_s"] for c in store.cells(run_id) if c["cell_key"].startswith("trial:")}
        store.close()
        assert after == before  # the finished run: its stored result, nothing measured again
    finally:
        _cleanup(url, run_id)


def test_ray_with_an_unsupported_strategy_is_one_line(tmp_path: Path) -> None:
    out = _optimize("minilm", "--ray", "local", "--strategy", "exhaustive", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "--ray" in out.stderr
