"""A bench run whose store is held by another writer past the busy timeout and the retries (issue 18, finding
4): the run stops with one line and the resume hint, the finished cell is kept in the retry file, and
``--resume`` saves it (not measured again) and completes the run with every cell exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wattlens.workloads as workloads
from tests.cli.test_bench_cli import SUITE, DeterministicMonitor, fake_models  # noqa: F401  (a fixture)
from tests.store.test_store_faults import HOLDER
from wattlens.bench.execute import execute, start_run
from wattlens.bench.suites import load_suite
from wattlens.cli.main import main
from wattlens.store import StoreError, open_store


@pytest.mark.slow
def test_a_cell_refused_by_a_locked_store_is_kept_and_saved_by_resume(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_models: None,  # noqa: F811
) -> None:
    monkeypatch.setenv("WATTLENS_DB_BUSY_TIMEOUT_S", "0.1")
    monkeypatch.setenv("WATTLENS_RETRY_FILE", str(tmp_path / "retry.jsonl"))
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(SUITE, encoding="utf-8")
    suite = load_suite(str(suite_file))
    db = tmp_path / "b.sqlite"
    store = open_store(db)
    run_id = start_run(store, suite, monitor=DeterministicMonitor())
    holders: list[subprocess.Popen[bytes]] = []
    ready = tmp_path / "ready"

    def lock_after_first(_out: object) -> None:  # a real second process takes the write lock and keeps it
        if not holders:
            holders.append(subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(ready), "30"]))
            deadline = time.monotonic() + 20
            while not ready.exists():
                assert time.monotonic() < deadline
                time.sleep(0.02)

    try:
        with pytest.raises(StoreError, match="kept in"):
            execute(store, run_id, suite, monitor=DeterministicMonitor(), on_cell=lock_after_first)
    finally:
        for h in holders:
            h.kill()
            h.wait(timeout=20)
        store.close()
    kept = [json.loads(line)["record"] for line in (tmp_path / "retry.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in kept] == ["bench-cell"] and kept[0]["run_id"] == run_id
    kept_key = kept[0]["cell_key"]

    measured: list[str] = []
    real_load = workloads.load_workload

    def counting(*args: object, **kwargs: object) -> object:
        measured.append(str(kwargs.get("model", args[1] if len(args) > 1 else "")))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(workloads, "load_workload", counting)
    assert main(["bench", "--resume", run_id, "--db", str(db), "--json", "--quiet"]) in (0, 1)
    capsys.readouterr()
    with open_store(db, read_only=True) as reader:
        cells = reader.cells(run_id)
    keys = [c["cell_key"] for c in cells]
    assert sorted(keys) == sorted(c.key for c in suite.cells) and len(keys) == len(set(keys))  # each once
    assert kept_key in keys and not (tmp_path / "retry.jsonl").read_text().strip()
    assert len(measured) == len(suite.cells) - 2  # the first (committed) and the kept cell are not measured again
