"""CSV/JSON export: flattened dotted columns for CSV, nesting kept in JSON, content checked."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from wattlens.store import StoreError, export_cells, export_measurements, flatten, to_csv, to_json


def test_flatten_dotted_keys_lists_as_json():
    assert flatten({"a": 1, "b": {"c": {"d": "x"}, "e": [1, {"f": 2}]}, "g": {}}) == {
        "a": 1,
        "b.c.d": "x",
        "b.e": '[1, {"f": 2}]',
        "g": None,
    }


def test_to_csv_union_of_columns_and_value_format(tmp_path):
    rows = [
        {"name": "a", "energy_j": 1.5, "loc": {"key": "FRA"}},
        {"name": "b, with comma", "energy_j": None, "ok": True, "bad": math.nan},
    ]
    path = tmp_path / "out" / "rows.csv"
    assert to_csv(rows, path) == 2
    with path.open(newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["name", "energy_j", "loc.key", "ok", "bad"]
    assert got[0] == {"name": "a", "energy_j": "1.5", "loc.key": "FRA", "ok": "", "bad": ""}
    assert got[1] == {"name": "b, with comma", "energy_j": "", "loc.key": "", "ok": "true", "bad": ""}


def test_to_json_keeps_nesting_and_nulls_non_finite():
    buf = io.StringIO()
    assert to_json([{"a": {"b": [1, 2]}, "x": math.inf, "u": "東京"}], buf) == 1
    assert json.loads(buf.getvalue()) == [{"a": {"b": [1, 2]}, "x": None, "u": "東京"}]
    assert "東京" in buf.getvalue()


def test_export_measurements_csv_and_json(store, tmp_path):
    store.save_measurement(
        {
            "name": "w1",
            "energy_j": 10.0,
            "low_j": 8.0,
            "high_j": 12.0,
            "source": "measured",
            "components": [{"domain": "cpu", "energy_j": 10.0}],
            "extra": {"k": 1},
        }
    )
    store.save_measurement({"name": "w2", "energy_j": None, "source": "unavailable"})
    assert export_measurements(store, tmp_path / "m.csv") == 2
    with (tmp_path / "m.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["w1", "w2"]
    assert rows[0]["energy_j"] == "10.0" and rows[1]["energy_j"] == ""
    assert json.loads(rows[0]["components"]) == [{"domain": "cpu", "energy_j": 10.0}]
    assert "record" not in rows[0] and "record.extra.k" not in rows[0]
    assert export_measurements(store, tmp_path / "m.json") == 2
    data = json.loads((tmp_path / "m.json").read_text())
    assert data[0]["record"]["extra"] == {"k": 1} and data[1]["energy_j"] is None
    with pytest.raises(StoreError, match="allowed csv, json"):
        export_measurements(store, tmp_path / "m.xlsx")


def test_export_cells_flattens_results(store, tmp_path):
    rid = store.create_run("bench", {})
    store.save_cell(rid, "k1", "ok", {"j_per_query": 2.0, "config": {"batch": 4}})
    assert export_cells(store, rid, tmp_path / "c.csv") == 1
    with (tmp_path / "c.csv").open(newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["cell_key"] == "k1" and row["result.j_per_query"] == "2.0" and row["result.config.batch"] == "4"
