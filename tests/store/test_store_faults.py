"""Store faults as one-line errors and retried locks (issue 18, finding 4): a real second process holds the SQLite
write lock; reading commands never create anything; a file that is not a database is a StoreError."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattlens.cli.main import main
from wattlens.store import StoreError, open_store

HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")  # the write lock, held
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
con.execute("COMMIT")
"""


def _hold_lock(db: Path, seconds: float, tmp_path: Path) -> subprocess.Popen[bytes]:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(ready), str(seconds)])
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    return proc


def test_a_write_waits_for_another_writer_with_back_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLENS_DB_BUSY_TIMEOUT_S", "0.1")
    db = tmp_path / "s.sqlite"
    open_store(db).close()
    holder = _hold_lock(db, 0.8, tmp_path)
    try:
        with open_store(db) as store:  # SQLite's wait (0.1 s) alone would fail; the back-off carries it
            store.save_measurement({"name": "kept", "energy_j": 1.0, "duration_s": 1.0})
            assert [m["name"] for m in store.measurements()] == ["kept"]
    finally:
        holder.wait(timeout=20)


@pytest.mark.slow
def test_a_lock_held_past_the_retries_is_a_clear_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLENS_DB_BUSY_TIMEOUT_S", "0.1")
    db = tmp_path / "s.sqlite"
    open_store(db).close()
    holder = _hold_lock(db, 8.0, tmp_path)
    try:
        with open_store(db) as store, pytest.raises(StoreError, match="held by another writer"):
            store.create_run("bench", {"x": 1})
    finally:
        holder.kill()
        holder.wait(timeout=20)


@pytest.mark.parametrize("command", [["results"], ["results", "--all"], ["report", "r1"], ["results", "--list"]])
def test_reading_commands_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    db = tmp_path / "typo" / "dir" / "x.sqlite"
    assert main([*command, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nothing has been stored there yet" in err
    assert not (tmp_path / "typo").exists()


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "garbage.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    for command in (["results"], ["report", "r1"]):
        assert main([*command, "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "not a database" in err


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    assert main(["report", "X", "--db", "postgresql://u:pw@127.0.0.1:1/db"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot connect" in err and "Traceback" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from wattlens import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"wattlens {__version__}"


def test_quiet_silences_library_warnings_and_bars(capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import warnings

    from wattlens.cli.main import configured_output

    with configured_output(-1, "bench"):
        warnings.warn("a library's warning", UserWarning, stacklevel=1)
        assert os.environ.get("TQDM_DISABLE") == "1"
    assert "a library's warning" not in capsys.readouterr().err
