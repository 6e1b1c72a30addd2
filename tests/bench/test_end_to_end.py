"""A small real run: tiny models, few queries, short windows, the real monitor, SQLite; plus a failing model."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattlens.bench.execute import execute, start_run
from wattlens.bench.records import BenchRow
from wattlens.bench.results import result_rows as typed_rows
from wattlens.bench.suites import load_suite
from wattlens.store import open_store

pytestmark = pytest.mark.slow


def result_rows(store, run_id: str) -> list[dict]:
    """The rows as the ``wattlens results --json`` contract has them (and they read back to the same records)."""
    rows = typed_rows(store, run_id)
    assert all(isinstance(r, BenchRow) and BenchRow.from_dict(r.to_dict()) == r for r in rows)
    return [r.to_dict() for r in rows]


SUITE = """\
[suite]
name = "e2e"
queries = 2
repeats = 5
warmup = 1
min_window_s = 0.02
idle_s = 0.1

[[task]]
name = "text-classification"
models = ["distilbert-sst2@tiny", "no-such-model-for-wattlens"]

[[task]]
name = "text-generation"
models = ["distilgpt2@tiny"]
device = "auto"   # cuda when available, else cpu: the resolved device is recorded
"""

CONTRACT = {
    "run_id",
    "task",
    "model",
    "config",
    "weights",
    "status",
    "queries",
    "j_per_query",
    "j_per_query_low",
    "j_per_query_high",
    "wh_per_1000",
    "source",
    "gross_j",
    "idle_j",
    "net_j",
    "p50_ms",
    "p95_ms",
    "quality",
    "co2e_g_per_1000",
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("e2e")
    (d / "e2e.toml").write_text(SUITE, encoding="utf-8")
    suite = load_suite(str(d / "e2e.toml"))
    db = str(d / "e2e.sqlite")
    store = open_store(db)
    run_id = start_run(store, suite, carbon={"country": "FR"})
    summary = execute(store, run_id, suite)
    store.close()
    assert summary.status == "done" and summary.done == 3
    return db, run_id


def test_every_cell_is_stored_with_contract_fields(finished_run: tuple[str, str]) -> None:
    db, run_id = finished_run
    store = open_store(db)
    rows = result_rows(store, run_id)
    assert len(rows) == 3
    for row in rows:
        assert CONTRACT <= set(row), CONTRACT - set(row)
        assert set(row["config"]) >= {"batch", "precision", "threads", "engine"}
    ok = [r for r in rows if r["status"] != "failed"]
    assert len(ok) == 2
    for r in ok:
        assert r["weights"] == "random" and r["quality"] is None  # random weights: no fake quality
        assert r["source"] == "estimated" and r["energy_basis"] == "net"
        assert r["gross_j"] == pytest.approx(r["idle_j"] + r["net_j"])
        assert r["j_per_query"] is not None and r["j_per_query_low"] <= r["j_per_query"] <= r["j_per_query_high"]
        assert r["wh_per_1000"] == pytest.approx(r["j_per_query"] / 3.6)
        assert r["queries"] >= 5 * r["inputs"] and r["inputs"] == 2  # every repeat covered every input
        assert r["p95_ms"] >= r["p50_ms"] > 0
        assert r["location"]["key"] == "FRA" and r["co2e_g_per_1000"] is not None
        assert r["versions"]["torch"] and r["load_j"] is not None and r["load_s"] > 0
    store.close()


def test_generation_has_its_own_prefill_and_decode_windows(finished_run: tuple[str, str]) -> None:
    db, run_id = finished_run
    store = open_store(db)
    gen = next(r for r in result_rows(store, run_id) if r["task"] == "text-generation")
    assert gen["prefill_j_per_query"] is not None and gen["decode_j_per_query"] is not None
    import torch

    assert gen["config"]["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert gen["config"]["device_requested"] == "auto" and gen["cell_key"].endswith("|device=auto")
    cls = next(r for r in result_rows(store, run_id) if r["task"] == "text-classification" and r["status"] == "ok")
    assert cls["config"]["device"] == "cpu" and "device_requested" not in cls["config"]
    assert cls["tier"]["key"] == "cpu-node-net" and cls["rating"] is None  # 1 ok model: no relative stars
    assert cls["rating_reference"]["note"].startswith("n/a (reference population is gpu-node-gross")
    assert gen["output_tokens_per_query"] == 10 and gen["input_tokens_per_query"] > 0
    assert gen["j_per_output_token"] == pytest.approx(gen["j_per_query"] / 10)
    timeline = store.timeline(run_id, gen["cell_key"])
    phases = {row["phase"] for row in timeline}
    assert {"load", "query", "prefill", "decode", "idle-after"} <= phases
    assert all("start_unix_s" in row and "duration_s" in row and "components" in row for row in timeline)
    store.close()


def test_a_failing_model_is_a_failed_cell_and_the_run_goes_on(finished_run: tuple[str, str]) -> None:
    db, run_id = finished_run
    store = open_store(db)
    cells = {c["cell_key"]: c for c in store.cells(run_id)}
    failed = [c for c in cells.values() if c["status"] == "failed"]
    assert len(failed) == 1 and "no-such-model-for-wattlens" in failed[0]["cell_key"]
    assert "no-such-model-for-wattlens" in failed[0]["error"]
    assert store.get_run(run_id)["status"] == "done"
    # the cell after the failure (text-generation) was measured
    assert any(k.startswith("text-generation|") and c["status"] != "failed" for k, c in cells.items())
    store.close()


def test_resume_of_a_finished_run_does_nothing(finished_run: tuple[str, str], tmp_path: Path) -> None:
    db, run_id = finished_run
    store = open_store(db)
    before = {c["cell_key"]: c["updated_unix_s"] for c in store.cells(run_id)}
    from wattlens.bench.suites import Suite

    suite = Suite.from_dict(store.get_run(run_id)["config"]["suite"])
    summary = execute(store, run_id, suite)
    assert summary.counts == {} and summary.done == 3
    assert {c["cell_key"]: c["updated_unix_s"] for c in store.cells(run_id)} == before
    store.close()
