"""Multi-node jobs in the store, with Slurm faked only as environment variables: ``srun``'s tasks are
``wattlens measure --job`` wrappers; ``wattlens results --job`` sums the nodes' integrals and shows the nodes that
did not report as missing. Run against SQLite and the loopback PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.distributed.conftest import pg_url
from wattlens.distributed.jobs import JobError, job_view
from wattlens.store import open_store

WORK = "sum(i * i for i in range(2 * 10**6))"


def _env(procid: int, localid: int, node: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "PMI_", "RANK", "LOCAL_"))}
    env.update(
        SLURM_JOB_ID="4242",
        SLURM_PROCID=str(procid),
        SLURM_LOCALID=str(localid),
        SLURM_NODEID=str(node),
        SLURM_NTASKS="4",
        SLURM_NNODES="2",
        SLURM_CPUS_ON_NODE="1",
        SLURM_MEM_PER_NODE="1024",
        WATTLENS_COUNTRY="FR",
        **extra,
    )
    return env


def _srun_task(db: str, procid: int, localid: int, node: int, job: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "wattlens", "measure", "--job", job, "--db", db, "--json", "--", sys.executable]
    return subprocess.Popen(
        [*cmd, "-c", WORK], env=_env(procid, localid, node), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "jobs.sqlite") if request.param == "sqlite" else pg_url()


@pytest.mark.slow
def test_srun_tasks_write_their_parts_and_results_job_sums_them_with_the_missing_node(db: str) -> None:
    job = f"slurm-{uuid.uuid4().hex[:6]}"
    # node 0 runs tasks 0 and 1; node 1's tasks (2, 3) never report (their node died)
    procs = [_srun_task(db, 0, 0, 0, job), _srun_task(db, 1, 1, 0, job)]
    records = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        records.append(json.loads(out))
    leader, other = records
    assert [c["domain"] for c in leader["components"]] == ["cpu", "memory"]
    assert [c["domain"] for c in other["components"]] == ["cpu"]  # local rank 1: its own CPU time only
    alloc = leader["distributed"]["plan"]["allocation"]
    assert (alloc["cpus"], alloc["cpu_basis"], alloc["memory_gb"]) == (1, "SLURM_CPUS_ON_NODE", 1.0)
    assert any("job allocation on this node: 1 of" in n for n in leader["notes"])
    assert "1.0 GB owned by the job (SLURM_MEM_PER_NODE)" in leader["components"][1]["note"]

    out = subprocess.run(
        [sys.executable, "-m", "wattlens", "results", "--db", db, "--job", job, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["nodes_expected"] == 2 and view["nodes_reported"] == 1 and view["missing_nodes"] == ["1"]
    assert not view["complete"] and view["high_j"] is None  # unknown upper end, never a 0 for node 1
    node0, node1 = view["nodes"]
    assert node1["status"] == "missing" and node1["energy_j"] is None
    assert node0["ranks"] == [0, 1] and node0["node_meter_ranks"] == [0]
    # the total is the sum of the ranks' own integrals (never merged samples)
    assert view["energy_j"] == pytest.approx(leader["energy_j"] + other["energy_j"])
    assert view["low_j"] == pytest.approx(leader["low_j"] + other["low_j"])
    assert sorted(r["rank"] for r in view["ranks"]) == [0, 1]
    text = subprocess.run(
        [sys.executable, "-m", "wattlens", "results", "--db", db, "--job", job],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "node 1      MISSING" in text and "INCOMPLETE" in text


def test_the_callbacks_training_runs_are_read_as_the_same_job(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.sqlite"))
    run = store.create_run("training", {"framework": "hf"}, run_id="training-77")
    for node, energy in ((0, 100.0), (2, 50.0)):
        rec = {
            "energy_j": energy,
            "low_j": energy * 0.9,
            "high_j": energy * 1.1,
            "source": "measured",
            "duration_s": 10.0 + node,
            "framework": "transformers",
            "rank": {"rank": node * 4, "node_rank": node, "nodes": 3},
            "components": [{"domain": "cpu", "energy_j": energy, "source": "measured", "method": "rapl:package-0"}],
        }
        store.save_cell(run, f"train/node-{node}", "ok", rec)
    view = job_view(store, "77")
    assert [n.node for n in view.nodes] == ["0", "1", "2"] and view.missing_nodes == ("1",)
    assert view.energy_j == 150.0 and view.low_j == pytest.approx(135.0) and view.high_j is None
    assert view.duration_s == 12.0 and view.nodes[1].status == "missing"
    with pytest.raises(JobError, match="no record of job 'nope'"):
        job_view(store, "nope")
    store.close()


def test_bad_job_ids_are_usage_errors(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wattlens", "measure", "--job", "a/b", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--job" in out.stderr and "Traceback" not in out.stderr
    from wattlens.store import open_store

    open_store(tmp_path / "x.sqlite").close()  # an existing store without the job (a missing one is its own error)
    out = subprocess.run(
        [sys.executable, "-m", "wattlens", "results", "--db", str(tmp_path / "x.sqlite"), "--job", "none-such"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "no record of job" in out.stderr
