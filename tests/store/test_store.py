"""The results store on SQLite and PostgreSQL: runs, cells (upsert, resume), timelines, measurements."""

from __future__ import annotations

import math
import re

import pytest

from wattlens.store import StoreError, open_store
from wattlens.store.db import SCHEMA_VERSION, normalise_url

RECORD = {
    "name": "epoch",
    "start_unix_s": 1.7e9,
    "duration_s": 2.5,
    "energy_j": 120.0,
    "low_j": 100.0,
    "high_j": 150.0,
    "source": "estimated",
    "attribution": "process",
    "components": [{"domain": "cpu", "energy_j": 120.0, "source": "estimated", "method": "cpu-time-model"}],
    "footprint": {
        "pue": 1.2,
        "facility_energy_j": 144.0,
        "co2e_g": 0.00176,
        "boundary": "facility",
        "location": {"key": "FRA", "stated_default": False},
    },
    "notes": ["ünïcode ok"],
}


# --- runs and cells -------------------------------------------------------------------------------


def test_create_run_id_format_and_get(store):
    run_id = store.create_run("bench", {"suite": "quick", "repeats": 5}, environment={"cpu": "x86", "cores": 2})
    assert re.fullmatch(r"bench-\d{8}-\d{6}-[0-9a-f]{4}", run_id)
    run = store.get_run(run_id)
    assert run["kind"] == "bench" and run["status"] == "running"
    assert run["config"] == {"suite": "quick", "repeats": 5}
    assert run["environment"] == {"cpu": "x86", "cores": 2}
    assert store.get_run("nope") is None


def test_list_runs_and_status(store):
    a = store.create_run("bench", {"n": 1})
    b = store.create_run("optimize", {"n": 2})
    c = store.create_run("bench", {"n": 3}, run_id="my-run")
    assert c == "my-run"
    assert {r["run_id"] for r in store.list_runs()} == {a, b, c}
    assert {r["run_id"] for r in store.list_runs("bench")} == {a, c}
    assert store.list_runs()[0]["run_id"] == c  # newest first
    store.set_run_status(a, "done")
    assert store.get_run(a)["status"] == "done"
    with pytest.raises(StoreError, match="unknown run"):
        store.set_run_status("missing", "done")


def test_create_run_twice_resumes_same_config_refuses_other(store):
    rid = store.create_run("bench", {"suite": "quick", "models": ["a", "b"]}, run_id="r1")
    assert store.create_run("bench", {"models": ["a", "b"], "suite": "quick"}, run_id="r1") == rid
    with pytest.raises(StoreError, match="different config"):
        store.create_run("bench", {"suite": "full"}, run_id="r1")
    with pytest.raises(StoreError, match="different config"):
        store.create_run("optimize", {"suite": "quick", "models": ["a", "b"]}, run_id="r1")
    with pytest.raises(StoreError, match="run kind"):
        store.create_run("Bench Run", {})


def test_save_cell_upsert_and_done_keys(store):
    rid = store.create_run("bench", {})
    store.save_cell(rid, "m1|b1", "running", {"partial": True})
    store.save_cell(rid, "m1|b1", "ok", {"j_per_query": 1.25})  # upsert: same key replaced
    store.save_cell(rid, "m2|b1", "failed", None, error=RuntimeError("out of memory"))
    store.save_cell(rid, "m3|b1", "invalid", {"cv": 0.4}, error="window too short")
    store.save_cell(rid, "m4|b1", "running", {})
    cells = {c["cell_key"]: c for c in store.cells(rid)}
    assert len(cells) == 4
    assert cells["m1|b1"]["status"] == "ok" and cells["m1|b1"]["result"] == {"j_per_query": 1.25}
    assert cells["m1|b1"]["error"] is None
    assert cells["m2|b1"]["error"] == "RuntimeError: out of memory" and cells["m2|b1"]["result"] is None
    assert store.done_keys(rid) == {"m1|b1", "m2|b1", "m3|b1"}
    assert store.done_keys("other") == set()


def test_save_cell_for_unknown_run_is_refused(store):
    with pytest.raises(StoreError, match="unknown run 'ghost'"):
        store.save_cell("ghost", "k", "ok", {})
    with pytest.raises(StoreError, match="status"):
        store.save_cell("ghost", "k", "", {})


def test_json_round_trip_nested_unicode_and_non_finite(store):
    rid = store.create_run("bench", {"tuple": (1, 2), "set": {"b", "a"}, "nan": math.nan})
    result = {
        "nested": {"deep": {"list": [1, 2.5, None, "x", True]}},
        "text": 'Grüße, 東京, "quotes", back\\slash',
        "int": 2**40,
        "neg_inf": -math.inf,
        7: "int key",
    }
    store.save_cell(rid, "k", "ok", result)
    (cell,) = store.cells(rid)
    assert cell["result"] == {
        "nested": {"deep": {"list": [1, 2.5, None, "x", True]}},
        "text": 'Grüße, 東京, "quotes", back\\slash',
        "int": 2**40,
        "neg_inf": None,  # JSON has no infinity: stored as null
        "7": "int key",
    }
    assert store.get_run(rid)["config"] == {"tuple": [1, 2], "set": ["a", "b"], "nan": None}


def test_resume_after_reopen(store_opener):
    first = store_opener()
    rid = first.create_run("bench", {"cells": ["a", "b", "c"]})
    first.save_cell(rid, "a", "ok", {"j": 1})
    first.save_cell(rid, "b", "failed", None, error="boom")
    first.close()
    again = store_opener()  # a new process would do exactly this
    assert again.create_run("bench", {"cells": ["a", "b", "c"]}, run_id=rid) == rid
    assert again.done_keys(rid) == {"a", "b"}
    todo = [k for k in ("a", "b", "c") if k not in again.done_keys(rid)]
    assert todo == ["c"]
    again.save_cell(rid, "c", "ok", {"j": 3})
    assert again.done_keys(rid) == {"a", "b", "c"}
    assert again.schema_version() == SCHEMA_VERSION


def test_two_open_stores_see_each_others_commits(store_opener):
    writer, reader = store_opener(), store_opener()
    rid = writer.create_run("bench", {})
    writer.save_cell(rid, "x", "ok", {"v": 1})
    assert reader.done_keys(rid) == {"x"}  # committed at once, visible to another connection


# --- timelines ------------------------------------------------------------------------------------


def test_timeline_round_trip_order_and_replace(store):
    rid = store.create_run("bench", {})
    rows = [{"t_s": i * 0.1, "power_w": 10.0 + i, "window": i // 3} for i in range(50)]
    assert store.save_timeline(rid, "cell", rows) == 50
    assert store.timeline(rid, "cell") == rows
    assert store.save_timeline(rid, "cell", rows[:3]) == 3  # a re-measured cell replaces its timeline
    assert store.timeline(rid, "cell") == rows[:3]
    assert store.timeline(rid, "other") == []
    with pytest.raises(StoreError, match="unknown run"):
        store.save_timeline("ghost", "cell", rows[:1])


def test_a_cell_and_its_timeline_are_one_commit(store):
    rid = store.create_run("bench", {})
    rows = [{"t_s": 0.0, "power_w": 10.0}, {"t_s": 0.1, "power_w": 11.0}]
    store.save_cell(rid, "cell", "ok", {"j_per_query": 1.0}, timeline=rows)
    assert store.done_keys(rid) == {"cell"} and store.timeline(rid, "cell") == rows
    store.save_cell(rid, "cell", "ok", {"j_per_query": 2.0}, timeline=rows[:1])  # a re-measured cell: both replaced
    assert store.cells(rid)[0]["result"] == {"j_per_query": 2.0} and store.timeline(rid, "cell") == rows[:1]
    with pytest.raises(StoreError, match="timeline row"):  # a bad row: neither the cell nor its timeline is written
        store.save_cell(rid, "other", "ok", {"j_per_query": 3.0}, timeline=[{"t_s": float("nan")}, "not a row"])
    assert store.done_keys(rid) == {"cell"} and store.timeline(rid, "other") == []


# --- measurements ---------------------------------------------------------------------------------


def test_save_measurement_extracts_columns_and_keeps_record(store):
    mid = store.save_measurement(RECORD)
    assert isinstance(mid, int)
    (m,) = store.measurements()
    assert m["id"] == mid and m["name"] == "epoch" and m["duration_s"] == 2.5
    assert (m["energy_j"], m["low_j"], m["high_j"]) == (120.0, 100.0, 150.0)
    assert (m["source"], m["attribution"], m["boundary"]) == ("estimated", "process", "facility")
    assert (m["pue"], m["facility_energy_j"], m["co2e_g"], m["location_key"]) == (1.2, 144.0, 0.00176, "FRA")
    assert m["components"] == RECORD["components"]
    assert m["record"] == RECORD and m["created_unix_s"] > 1.7e9


def test_unknown_energy_stays_null(store):
    store.save_measurement({"name": "no-sensor", "duration_s": 1.0, "energy_j": None, "source": "unavailable"})
    store.save_measurement({"name": "nan", "energy_j": math.nan})
    a, b = store.measurements()
    assert a["energy_j"] is None and a["co2e_g"] is None
    assert b["energy_j"] is None and b["record"]["energy_j"] is None
    with pytest.raises(StoreError, match="energy_j"):
        store.save_measurement({"energy_j": "lots"})


def test_measurements_limit_returns_latest_oldest_first(store):
    for i in range(5):
        store.save_measurement({"name": f"m{i}", "energy_j": float(i)})
    assert [m["name"] for m in store.measurements()] == ["m0", "m1", "m2", "m3", "m4"]
    assert [m["name"] for m in store.measurements(limit=2)] == ["m3", "m4"]


def test_measurement_object_with_to_dict(store):
    class Fake:
        def to_dict(self):
            return {"name": "obj", "energy_j": 3.0}

    store.save_measurement(Fake())
    assert store.measurements()[0]["name"] == "obj"


# --- opening --------------------------------------------------------------------------------------


def test_url_normalisation(tmp_path, monkeypatch):
    assert normalise_url("postgresql://u@h:1/db") == "postgresql+psycopg://u@h:1/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"
    assert normalise_url(":memory:") == "sqlite://"
    assert normalise_url(tmp_path / "a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("WATTLENS_DB", str(tmp_path / "env.sqlite"))
    assert normalise_url(None).endswith("env.sqlite")
    monkeypatch.delenv("WATTLENS_DB")
    assert normalise_url(None).endswith("/wattlens.sqlite")
    with pytest.raises(StoreError, match=r"unsupported database scheme 'mysql'.*\.sqlite.*postgresql://"):
        normalise_url("mysql://root:secret@h/db")
    with pytest.raises(StoreError) as err:
        normalise_url("mysql://root:secret@h/db")
    assert "secret" not in str(err.value)
    with pytest.raises(StoreError, match="unknown store location"):
        normalise_url("results.txt")


def test_open_sqlite_creates_parent_dirs_and_memory(tmp_path):
    with open_store(tmp_path / "deep" / "er" / "r.sqlite") as st:
        assert st.dialect == "sqlite"
        st.create_run("bench", {})
    assert (tmp_path / "deep" / "er" / "r.sqlite").exists()
    with open_store(":memory:") as mem:
        rid = mem.create_run("bench", {})
        mem.save_cell(rid, "k", "ok", {})
        assert mem.done_keys(rid) == {"k"}


def test_open_is_idempotent_and_sqlite_uses_wal(tmp_path):
    path = tmp_path / "r.sqlite"
    open_store(path).close()
    with open_store(path) as st:
        assert st.schema_version() == SCHEMA_VERSION
        with st._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_unreachable_postgres_is_a_clear_error():
    # Port 1 on loopback: nothing listens there; the network guard allows loopback.
    with pytest.raises(StoreError, match=r"cannot connect to postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:1/db"):
        open_store("postgresql://u:pw@127.0.0.1:1/db")


def test_schema_option_is_postgres_only(tmp_path):
    with pytest.raises(StoreError, match="PostgreSQL only"):
        open_store(tmp_path / "x.sqlite", schema="abc")


def test_import_store_does_not_import_sqlalchemy():
    import subprocess
    import sys

    code = "import sys, wattlens.store; print('sqlalchemy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == (
        "False"
    )


def test_argument_validation(store):
    rid = store.create_run("bench", None)  # no config is an empty config
    assert store.get_run(rid)["config"] == {}
    with pytest.raises(StoreError, match="result must be a dict"):
        store.save_cell(rid, "k", "ok", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="timeline row must be a dict"):
        store.save_timeline(rid, "k", [1])  # type: ignore[list-item]
    with pytest.raises(StoreError, match="limit"):
        store.measurements(limit=-1)
    with pytest.raises(StoreError, match="measurement record must be a dict"):
        store.save_measurement(42)
