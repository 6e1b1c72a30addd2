"""Opening a store read-only (what `wattlens serve` and `wattlens export` do): nothing is created, migrated or
written, and a store that cannot be read says why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wattlens.store import StoreError, open_store


def test_read_only_reads_and_refuses_writes(tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    with open_store(db) as st:
        run = st.create_run("bench", {"suite": "x"})
        st.save_cell(run, "a", "ok", {"j": 1})
        st.save_timeline(run, "a", [{"phase": "query"}])
    with open_store(db, read_only=True) as ro:
        assert ro.read_only and ro.found_version == 2
        assert [r["run_id"] for r in ro.list_runs()] == [run] and ro.cell_counts() == {run: 1}
        assert ro.timeline_keys(run) == ["a"] and ro.cells_fingerprint(run)[0] == 1
        fingerprint = ro.fingerprint()
        with pytest.raises(Exception, match=r"readonly|read-only|read only"):
            ro.create_run("bench", {})
        assert ro.fingerprint() == fingerprint
        assert "file:" not in ro.url and ro.url.endswith("r.sqlite")


def test_what_cannot_be_read_is_said(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no results database at"):
        open_store(str(tmp_path / "missing.sqlite"), read_only=True)
    assert not (tmp_path / "missing.sqlite").exists()  # nothing created
    sqlite3.connect(tmp_path / "empty.sqlite").close()
    with pytest.raises(StoreError, match="is empty"):
        open_store(str(tmp_path / "empty.sqlite"), read_only=True)
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        conn.execute("CREATE TABLE runs (x)")
    with pytest.raises(StoreError, match=r"not a wattlens results database .*cells"):
        open_store(str(tmp_path / "other.sqlite"), read_only=True)
    with pytest.raises(StoreError, match="':memory:'"):
        open_store(":memory:", read_only=True)
    newer = str(tmp_path / "newer.sqlite")
    open_store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 0)")
    with pytest.raises(StoreError, match="newer wattlens"):
        open_store(newer, read_only=True)
