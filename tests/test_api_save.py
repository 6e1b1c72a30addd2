"""`wattlens.measure(db=...)` and `@wattlens.measured(db=...)` never raise into user code for a save
(issue 18, finding 3): a bad store fails where it is given; a save that fails when the block ends is a
warning and a kept record — the block's own exception and the function's return value are untouched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import wattlens
from wattlens.store import StoreError, open_store


@pytest.fixture(autouse=True)
def _retry_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "retry.jsonl"
    monkeypatch.setenv("WATTLENS_RETRY_FILE", str(path))
    return path


def _drop_table(db: Path) -> None:
    """A real fault from outside: another process's connection drops the table the store writes to."""
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE measurements")


def _kept(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_bad_db_fails_at_construction_before_the_block_runs(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("this is not a database\n")
    ran = []
    with pytest.raises(StoreError, match=r"garbage\.sqlite"):
        with wattlens.measure("x", db=str(garbage)):
            ran.append(1)
    assert ran == []
    with pytest.raises(StoreError, match="mysql"):
        wattlens.measure("x", db="mysql://u@h/db")
    with pytest.raises(StoreError):

        @wattlens.measured(db=str(garbage))
        def f() -> int:
            return 1


def test_a_failed_save_never_replaces_the_users_exception(tmp_path: Path, _retry_file: Path) -> None:
    db = tmp_path / "runs.sqlite"
    block = wattlens.measure("step", db=str(db))
    _drop_table(db)
    with pytest.warns(RuntimeWarning, match="could not save the record"):
        with pytest.raises(ValueError, match="the user's own"):
            with block:
                raise ValueError("the user's own")
    assert block.result is not None and block.result.measurement.name == "step"
    kept = _kept(_retry_file)
    assert [k["record"]["name"] for k in kept] == ["step"] and "measurements" in kept[0]["error"]


def test_a_failed_save_keeps_the_return_value_and_the_record(tmp_path: Path, _retry_file: Path) -> None:
    db = tmp_path / "runs.sqlite"

    @wattlens.measured("predict", db=str(db))
    def predict(x: int) -> int:
        return x * 2

    assert predict(1) == 2
    _drop_table(db)
    with pytest.warns(RuntimeWarning, match="kept in"):
        assert predict(21) == 42
    assert [k["record"]["name"] for k in _kept(_retry_file)] == ["predict"]
    # The table comes back (a store opened anew creates it); the next save brings the kept record along.
    open_store(str(db)).close()
    assert predict(2) == 4
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 2
    assert _kept(_retry_file) == []


def test_saves_go_to_the_store_named(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    with wattlens.measure("block", db=str(db)):
        pass
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM measurements")] == ["block"]
