"""The results-query layer's comparisons and history, on hand-made rows and a real store."""

from __future__ import annotations

import math

import pytest

from wattlens.bench.records import BenchRow, CellConfig
from wattlens.report.compare import compare_rows
from wattlens.report.history import UNTAGGED, history
from wattlens.store import open_store


def _row(model: str, j: float | None, lo: float, hi: float, status: str = "ok", threads: int = 2) -> BenchRow:
    config = CellConfig(batch=1, precision="fp32", threads=threads, engine="pytorch")
    return BenchRow(
        run_id="r", cell_key=f"{model}|{threads}", task="t", model=model, config=config, status=status,
        j_per_query=j, j_per_query_low=lo, j_per_query_high=hi, tier={"key": "cpu-node-net"},
    )  # fmt: skip


def test_ratio_bounds_overlap_and_verdicts() -> None:
    a = [_row("m1", 1.0, 0.9, 1.1), _row("m2", 1.0, 0.9, 1.1), _row("m3", 2.0, 1.8, 2.2), _row("only-a", 1, 1, 1)]
    b = [_row("m1", 0.5, 0.45, 0.55), _row("m2", 1.05, 1.0, 1.2), _row("m3", None, 0, 0, "failed")]
    c = compare_rows(a, b, "A", "B")
    by = {p.model: p for p in c.pairs}
    assert by["m1"].ratio == 0.5 and by["m1"].ratio_low == pytest.approx(0.45 / 1.1)
    assert by["m1"].ratio_high == pytest.approx(0.55 / 0.9) and by["m1"].verdict == "b cheaper"
    assert by["m1"].overlap is False
    assert by["m2"].overlap is True and by["m2"].verdict == "overlap"  # 5 % apart, intervals overlap: not called
    assert by["m3"].verdict == "not comparable" and by["only-a"].verdict == "only a"
    assert c.matched == 2 and c.geomean_ratio == pytest.approx(math.sqrt(0.5 * 1.05))
    assert c.counts == {"b cheaper": 1, "overlap": 1, "not comparable": 1, "only a": 1}
    assert c.for_task("none").pairs == () and c.for_task("t").matched == 2


def test_several_rows_per_key_keep_the_cheapest_ok_one() -> None:
    a = [_row("m", 2.0, 1.9, 2.1, threads=1), _row("m", 1.0, 0.9, 1.1, threads=2), _row("m", 0.1, 0, 0.2, "invalid")]
    c = compare_rows(a, [_row("m", 1.0, 0.9, 1.1)], "A", "B")
    assert len(c.pairs) == 1 and c.pairs[0].a is not None and c.pairs[0].a.threads == 2
    assert any("several rows" in n for n in c.notes)


def test_history_by_tag_with_carbon() -> None:
    store = open_store(":memory:")
    store.save_measurement({"name": "a", "energy_j": 10.0, "low_j": 8.0, "high_j": 12.0, "co2e_g": 0.5, "tags": ["x"]})
    store.save_measurement({"name": "b", "energy_j": 20.0, "co2e_g": 1.0, "tags": ["x", "y"], "exit_code": 3})
    store.save_measurement({"name": "c", "energy_j": None, "source": "unavailable"})
    run = store.create_run("training", {"model": "tiny"})
    store.save_cell(run, "train", "ok", {"energy_j": 100.0, "low_j": 90.0, "high_j": 110.0, "source": "estimated"})
    store.save_cell(run, "train/node-1", "ok", {"note": "no figure"})
    h = history(store)
    assert h.tags == (UNTAGGED, "x", "y") and [m.name for m in h.measurements] == ["a", "b", "c"]
    assert h.total_energy_j == 30.0 and h.total_co2e_g == 1.5  # the unknown one is not counted as 0
    assert h.measurements[2].energy_j is None and h.measurements[1].exit_code == 3
    assert [m.name for m in history(store, "y").measurements] == ["b"]
    (entry,) = h.runs
    assert (entry.kind, entry.energy_j, entry.low_j, entry.high_j) == ("training", 100.0, 90.0, 110.0)
    assert entry.note == "1 of 2 cells carry no energy"
