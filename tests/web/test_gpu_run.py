"""A bench run measured on a CPU and on a GPU (benchmarks/web_store, written through the store's public API): the
leaderboard's device filter, and the AI Energy Score export's GPU branch (``GPU_ENERGY_WH.txt``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from benchmarks.web_store import GPU_SHARE, write_run

from tests.web.conftest import Live, live_server
from wattlens.cli.main import main as cli
from wattlens.report.query import leaderboard, run_timeline
from wattlens.store import open_store
from wattlens.units import J_PER_KWH

TASK = "text-classification"


@dataclass(frozen=True)
class GpuRun:
    db: str
    run_id: str


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory: pytest.TempPathFactory) -> GpuRun:
    """32 cells: the first task's model on the CPU and on the GPU (4 batches x 2 precisions each), with timelines."""
    db = str(tmp_path_factory.mktemp("gpu") / "gpu.sqlite")
    with open_store(db) as store:
        run_id = write_run(store, 32, seed=5, name="gpu", devices=("cpu", "cuda"), timelines=32)
    return GpuRun(db, run_id)


@pytest.fixture(scope="module")
def gpu_live(gpu_run: GpuRun) -> Iterator[Live]:
    yield from live_server(gpu_run.db)


def test_the_device_filter_keeps_that_device_only(gpu_live: Live, gpu_run: GpuRun) -> None:
    base = f"/api/leaderboard?run={gpu_run.run_id}&task={TASK}&limit=1000"
    everything = gpu_live.api(base)
    assert everything["choices"]["device"] == ["cpu", "cuda"] and everything["total"] == 16
    for device in ("cuda", "cpu"):
        d = gpu_live.api(f"{base}&device={device}")
        assert d["applied"] == {"device": device} and d["total"] == 8
        assert {r["config"]["device"] for r in d["rows"]} == {device}
        assert len(d["points"]["j_per_query"]) == len([r for r in d["rows"] if r["j_per_query"] is not None])
        assert set(d["points"]["cell_key"]) <= {r["cell_key"] for r in d["rows"]}
    both = gpu_live.api(f"{base}&device=cuda&precision=bf16")
    assert both["total"] == 4 and {(r["config"]["device"], r["config"]["precision"]) for r in both["rows"]} == {
        ("cuda", "bf16")
    }
    none = gpu_live.api(f"{base}&device=tpu")
    assert none["total"] == 0 and none["message"] == "No row of this task matches the filter."


def _gpu_wh(windows: list) -> float:
    """AI Energy Score's figure from the stored windows: mean over the measured repeats of the GPU component's
    energy, scaled to 1,000 queries, in Wh."""
    per_repeat = [
        sum(c.energy_j for c in w.components if c.domain == "gpu") * 1000 / w.queries / J_PER_KWH * 1000
        for w in windows
        if w.phase == "query" and w.queries
    ]
    assert len(per_repeat) == 5
    return sum(per_repeat) / len(per_repeat)


def _cell_key(folder: Path) -> str:
    return json.loads((folder / "benchmark_config.json").read_text())["wattlens"]["cell_key"]


def test_aiesc_export_writes_gpu_energy_of_gpu_cells(
    gpu_run: GpuRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "aiesc"
    assert cli(["export", "--aiesc", gpu_run.run_id, str(out), "--db", gpu_run.db]) == 0
    assert "no GPU in this run" not in capsys.readouterr().err
    with open_store(gpu_run.db, read_only=True) as store:
        rows = [r for r in leaderboard(store, gpu_run.run_id).rows if r.task == TASK and r.j_per_query is not None]
        windows = {r.cell_key: list(run_timeline(store, gpu_run.run_id, r.cell_key)) for r in rows}
    folders = {_cell_key(p): p for p in (out / TASK).iterdir() if p.is_dir()}
    assert set(folders) == {r.cell_key for r in rows}
    gpu_rows = [r for r in rows if r.config.device == "cuda"]
    assert len(gpu_rows) == 8
    for row in gpu_rows:
        folder = folders[row.cell_key]
        expected = _gpu_wh(windows[row.cell_key])
        written = float((folder / "GPU_ENERGY_WH.txt").read_text())
        assert written == pytest.approx(expected, rel=1e-5)  # written with 6 significant digits
        summary = json.loads((folder / "GPU_ENERGY_SUMMARY.json").read_text())
        assert summary["total"] == pytest.approx(expected) and summary["forward_wh"] == pytest.approx(expected)
        assert summary["total"] == pytest.approx(GPU_SHARE * summary["node_total_wh"])
        assert "note" not in summary  # measured on an H100: nothing to warn about
        forward = json.loads((folder / "benchmark_report.json").read_text())["forward"]
        assert forward["energy"]["gpu"] * 1000 == pytest.approx(expected)
        config = json.loads((folder / "benchmark_config.json").read_text())
        assert config["backend"]["device"] == "cuda" and config["environment"]["gpu_count"] == 1
    for row in (r for r in rows if r.config.device == "cpu"):  # same run, CPU cells: no GPU energy, no file
        assert not (folders[row.cell_key] / "GPU_ENERGY_WH.txt").exists()
    assert "this run measured NVIDIA H100" in (out / "README.md").read_text()
