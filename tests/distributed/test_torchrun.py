"""A real ``torchrun --nproc_per_node=2`` (gloo, CPU) training loop, measured two ways in one launch:

* from outside by ``wattlens measure`` (one process metering the node once, its children's CPU time included);
* from inside by ``wattlens.distributed.measure`` in each rank (one elected node meter, per-rank breakdown,
  reduced over the process group, written to the store and summed by ``wattlens results --job``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed.launch import job_env, torchrun
from wattlens.meters.estimator import EstimatorSource

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattlens", *args]


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One torchrun launch of ddp_train.py under `wattlens measure`; its records and its tree's CPU seconds."""
    pytest.importorskip("torch.distributed")
    tmp = tmp_path_factory.mktemp("torchrun")
    db = tmp / "job.sqlite"
    env = job_env(WATTLENS_COUNTRY="FR")
    job = torchrun(HERE / "ddp_train.py", str(tmp / "ranks.json"), "--steps", "60", "--db", str(db), "--job", "tr-1")
    cmd = _cli("measure", "--json-file", str(tmp / "wrapper.json"), "--", *job)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=tmp)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert out.returncode == 0, out.stderr[-4000:]
    tree_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wrapper": json.loads((tmp / "wrapper.json").read_text()),
        "ranks": json.loads((tmp / "ranks.json").read_text()),
        "tree_cpu_s": tree_cpu_s,
        "db": str(db),
    }


def _model_energy(duration_s: float, cpu_s: float) -> float:
    """The estimator's CPU energy for one process tree on this machine: static once + dynamic x CPU time."""
    est = EstimatorSource("machine", ("cpu",))
    return est.delta_values((0.0, 0.0), (cpu_s, 0.0), duration_s)[0].energy_j


def test_wattlens_measure_counts_the_node_once_not_per_rank(launch: dict[str, object]) -> None:
    rec = launch["wrapper"]
    assert [c["domain"] for c in rec["components"]] == ["cpu", "memory"]  # one node meter, no per-rank copies
    assert "distributed" not in rec  # the wrapper is outside the job: a single process metering the node
    cpu = rec["components"][0]["energy_j"]
    static = _model_energy(rec["duration_s"], 0.0)  # the node's idle power over the window, once
    per_cpu_s = _model_energy(0.0, 1.0)
    implied_cpu_s = (cpu - static) / per_cpu_s
    # The dynamic part is the tree's own CPU time (both ranks + torchrun, reaped): never a second copy of the node.
    assert 0.5 < implied_cpu_s <= launch["tree_cpu_s"] * 1.02 + 0.05, (implied_cpu_s, launch["tree_cpu_s"])
    assert cpu - static < static + per_cpu_s * launch["tree_cpu_s"]  # N x the node would break this


def test_distributed_measure_elects_one_node_meter_and_the_ranks_sum_to_the_total(launch: dict[str, object]) -> None:
    res = launch["ranks"]
    assert res["world_size"] == 2 and res["complete"] and "all_gather_object over 2 ranks (gloo)" in res["reduction"]
    ranks = {r["rank"]: r for r in res["ranks"]}
    assert sorted(ranks) == [0, 1]
    assert [r for r in ranks if ranks[r]["meters_node"]] == [0]  # exactly one, elected by host name
    assert "lowest global rank on host" in ranks[0]["election"]
    assert [c["domain"] for c in ranks[0]["components"]] == ["cpu", "memory"]
    assert [c["domain"] for c in ranks[1]["components"]] == ["cpu"]  # its own dynamic CPU power only
    assert "Dynamic power x this process tree's CPU time only" in ranks[1]["components"][0]["note"]
    for key in ("energy_j", "low_j", "high_j"):  # the per-rank breakdown sums to the total
        assert sum(r[key] for r in res["ranks"]) == pytest.approx(res[key], rel=1e-9)
    (node,) = res["nodes"]
    assert node["node_meter_ranks"] == [0] and node["ranks"] == [0, 1]
    by_domain = {c["domain"]: c for c in node["components"]}
    assert set(by_domain) == {"cpu", "memory"}  # node-level domains counted once
    assert by_domain["memory"]["metered_by"] == [0] and by_domain["cpu"]["metered_by"] == [0, 1]
    assert res["duration_s"] == max(r["duration_s"] for r in res["ranks"])
    # the node's static power appears once: the node's CPU figure is static(T) + dynamic(both ranks' CPU time)
    static = _model_energy(ranks[0]["duration_s"], 0.0)
    dynamic = by_domain["cpu"]["energy_j"] - static
    assert 0 < dynamic / _model_energy(0.0, 1.0) <= launch["tree_cpu_s"]


def test_results_job_sums_the_stored_node_part(launch: dict[str, object]) -> None:
    out = subprocess.run(
        _cli("results", "--db", launch["db"], "--job", "tr-1", "--json"), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["complete"] and view["nodes_reported"] == 1 and view["missing_nodes"] == []
    assert view["energy_j"] == pytest.approx(launch["ranks"]["energy_j"])
    assert view["nodes"][0]["ranks"] == [0, 1] and view["nodes"][0]["node_meter_ranks"] == [0]
