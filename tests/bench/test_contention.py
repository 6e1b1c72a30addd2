"""A cell measured while another process holds a CPU it asked for is flagged ``contended`` (with the figure and
the fix) and kept out of ratings and comparisons; quiet cells are not (issue 18, finding 14). The co-tenant is a
real process burning a core, bounded in time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from wattlens.bench.records import BenchRow, CellResult
from wattlens.cli.main import main
from wattlens.meters import cotenant
from wattlens.store import open_store

HOG = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 90:\n    pass\n"


def _bench(db: Path, capsys: pytest.CaptureFixture[str]) -> BenchRow:
    argv = ["bench", "--task", "image-classification", "--model", "digits-mlp", "--queries", "64"]
    argv += ["--threads", str(cotenant.logical_cpus()), "--repeats", "5", "--db", str(db), "--json", "--quiet"]
    assert main(argv) == 0
    (row,) = json.loads(capsys.readouterr().out)
    return BenchRow.from_dict(row)


def _stored(db: Path, row: BenchRow) -> CellResult:
    store = open_store(str(db))
    (cell,) = store.cells(row.run_id)
    return CellResult.from_dict(cell["result"])


def _window(child_code: str | None) -> tuple[float, float]:
    """(others' CPUs, our CPU-seconds) over about one second, with our own child busy or not."""
    start = cotenant.snapshot()
    assert start is not None, "this Linux machine has /proc/stat"
    code = child_code or "import time; time.sleep(1)"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0
    end = cotenant.snapshot()
    assert end is not None
    others = cotenant.others_cpus(start, end)
    assert others is not None
    return others, end.own_s - start.own_s


def test_snapshots_count_our_own_children_as_ours_not_as_a_co_tenant() -> None:
    others_idle, own_idle = _window(None)
    others_busy, own_busy = _window("import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1: pass")
    assert own_busy - own_idle > 0.8  # the child's second of CPU is in our tree
    # and not also counted as someone else's: ours plus others' never exceed the machine (one window ~1 s)
    assert others_busy + own_busy / 1.0 <= cotenant.logical_cpus() + 0.35
    assert 0.0 <= others_idle <= cotenant.logical_cpus() + 0.1


@pytest.mark.slow
def test_a_cell_beside_a_cpu_hog_is_contended_and_quiet_cells_are_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet_before = cotenant.free_cpus(0.5)
    # a co-tenant is not in our process tree: start it through a parent that exits (it is reparented to init)
    launcher = (
        "import subprocess, sys; d = subprocess.DEVNULL; "
        f"print(subprocess.Popen([sys.executable, '-c', {HOG!r}], stdout=d, stderr=d).pid)"
    )
    hog_pid = int(subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=30).stdout)
    try:
        contended = _bench(tmp_path / "hog.sqlite", capsys)
    finally:
        os.kill(hog_pid, signal.SIGKILL)
    assert contended.status == "contended" and not contended.ok
    stored = _stored(tmp_path / "hog.sqlite", contended)
    assert stored.cotenant is not None and stored.cotenant.contended and stored.cotenant.others_cpus > 0.5
    assert any("contended: other processes kept" in r and "--threads" in r for r in stored.reasons or ())
    assert main(["results", "--db", str(tmp_path / "hog.sqlite"), "--run", contended.run_id]) == 0
    assert "contended" in capsys.readouterr().out

    if quiet_before is None or quiet_before < cotenant.logical_cpus() - 0.25:
        pytest.skip(f"the machine was busy before the test ({quiet_before} CPUs free): no quiet run to compare")
    first, again = _bench(tmp_path / "a.sqlite", capsys), _bench(tmp_path / "b.sqlite", capsys)
    assert first.status == "ok" and again.status == "ok", (first.status, again.status)
    assert first.j_per_query_low is not None and first.j_per_query_high is not None
    assert first.j_per_query_low <= (again.j_per_query or -1) <= first.j_per_query_high
