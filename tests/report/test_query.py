"""The results-query layer on a real SQLite store: runs, leaderboards (rated, filtered), best rows, optimize
results — typed records whose JSON is what the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import wattlens.tracking as tracking
import wattlens.workloads as workloads
from tests.cli.test_bench_cli import DeterministicMonitor, FakeWorkload
from tests.report.fixtures import optimize_result
from wattlens.bench.records import BenchRow
from wattlens.cli.main import main
from wattlens.optimize.results import OptimizeResult
from wattlens.report import query as Q
from wattlens.store import open_store


@pytest.fixture
def store_with_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_cotenant_figure: None
):
    """A store with two bench runs (3 models x 2 batches, then 1 model) and one optimize run."""
    monkeypatch.setattr(workloads, "load_workload", FakeWorkload, raising=False)
    monkeypatch.setattr(workloads, "check_model", lambda *_a, **_k: None)  # stand-in names
    monkeypatch.setattr(tracking, "Monitor", DeterministicMonitor)
    db = str(tmp_path / "q.sqlite")
    common = ["--queries", "2", "--repeats", "5", "--min-window-s", "0.01", "--idle-s", "0.02", "--db", db]
    grid = ["--model", "good-trained", "--model", "m2", "--model", "broken-x", "--batch", "1", "--batch", "2"]
    assert main(["bench", "--task", "text-classification", *grid, *common, "--json", "--quiet"]) == 0
    first = json.loads(capsys.readouterr().out)[0]["run_id"]
    assert main(["bench", "--task", "fill-mask", "--model", "m3", *common, "--json", "--quiet"]) == 0
    second = json.loads(capsys.readouterr().out)[0]["run_id"]
    store = open_store(db)
    opt_id = store.create_run("optimize", {"model": "distilbert-base-uncased-sst2"})
    store.save_cell(opt_id, "result", "ok", optimize_result())
    yield store, db, first, second, opt_id
    store.close()


def test_runs_are_listed_newest_first_with_their_cells(store_with_runs) -> None:
    store, _, first, second, opt_id = store_with_runs
    runs = Q.list_runs(store, count_cells=True)
    assert [r.run_id for r in runs] == [opt_id, second, first]
    bench = {r.run_id: r for r in Q.list_runs(store, "bench", count_cells=True)}
    assert bench[first].cells == 6 and bench[second].cells == 1 and bench[first].kind == "bench"
    assert "text-classification" in bench[first].name  # the suite's name for a command-line run
    assert Q.get_run(store, "nope") is None


def test_an_unknown_run_names_the_recent_ones(store_with_runs, tmp_path: Path) -> None:
    store, _, first, _, _ = store_with_runs
    with pytest.raises(Q.UnknownRunError, match=rf"no run 'nope' in my.db; most recent runs: .*{first}"):
        Q.require_run(store, "nope", where="my.db")
    with pytest.raises(Q.UnknownRunError, match="latest bench runs"):
        Q.leaderboard(store, "nope")
    empty = open_store(str(tmp_path / "empty.sqlite"))
    with pytest.raises(Q.UnknownRunError, match="holds no runs yet"):
        Q.require_run(empty, "x")
    assert Q.leaderboard(empty).rows == ()  # no run at all: an empty board, not an error
    empty.close()


def test_the_leaderboard_is_the_results_json(store_with_runs, capsys: pytest.CaptureFixture[str]) -> None:
    store, db, first, _, _ = store_with_runs
    board = Q.leaderboard(store, first)
    assert board.run is not None and board.run.run_id == first
    assert all(isinstance(r, BenchRow) for r in board.rows) and len(board.rows) == 6
    assert main(["results", "--run", first, "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [r.to_dict() for r in board.rows]
    assert board.method.boundaries == ("node: devices read by fake-counter (attribution=machine)",)
    assert board.method.sources == ("measured",) and board.method.energy_bases == ("net",)
    assert board.tasks() == ["text-classification"] and len(board.by_task()["text-classification"]) == 6
    # 4 ok results of one task and tier: relative stars for each, with the band behind them
    ok = [r for r in board.rows if r.ok]
    assert len(ok) == 4 and all(r.rating is not None and r.rating_band is not None for r in ok)
    assert any("relative to this run's 4 text-classification results" in line for line in board.rating_lines)


def test_filters_keep_the_ratings_of_the_whole_run(store_with_runs) -> None:
    store, _, first, _, _ = store_with_runs
    whole = {r.cell_key: r for r in Q.leaderboard(store, first).rows}
    batch2 = Q.leaderboard(store, first, where=Q.RowFilter(batch=2, status="ok")).rows
    assert {r.config.batch for r in batch2} == {2} and {r.status for r in batch2} == {"ok"} and len(batch2) == 2
    assert all(r.rating == whole[r.cell_key].rating for r in batch2)  # rated before filtering
    assert Q.leaderboard(store, first, where=Q.RowFilter(model="m2", device="cpu")).rows[0].model == "m2"
    assert Q.leaderboard(store, first, where=Q.RowFilter(device="cuda:0")).rows == ()
    every = Q.leaderboard(store, all_runs=True)
    assert {r.task for r in every.rows} == {"text-classification", "fill-mask"} and len(every.runs) == 2


def test_best_row_is_the_cheapest_ok_cell_of_a_model(store_with_runs) -> None:
    store, _, first, _, _ = store_with_runs
    best = Q.best_row(store, first, "good-trained")
    candidates = [r for r in Q.leaderboard(store, first).rows if r.model == "good-trained" and r.ok]
    assert best is not None and best.j_per_query == min(r.j_per_query for r in candidates)
    assert Q.best_row(store, first, "broken-x") is None  # failed cells only


def test_optimize_results_read_back_typed(store_with_runs) -> None:
    store, _, first, _, opt_id = store_with_runs
    result = Q.optimize_result(store, opt_id)
    assert isinstance(result, OptimizeResult) and result.saving_factor == 4.0
    assert result.recommended is not None and result.recommended.config["precision"] == "int8"
    assert [role for role, _ in result.points()][:2] == ["baseline", "recommended"]
    assert Q.optimize_result(store, first) is None  # a bench run has no optimize result


def test_a_text_generation_run_is_read_through_the_query_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its front is J/token x token agreement x query p95 over the full-fidelity trials; its hidden costs are
    against the baseline of the same fidelity; ``wattlens report`` reads it through the same layer."""
    from benchmarks.web_store import write_generation_run

    db = str(tmp_path / "gen.sqlite")
    with open_store(db) as store:
        run_id = write_generation_run(store, "m")
        assert Q.optimize_result(store, run_id) is None  # not an encoder result
        result = Q.generation_result(store, run_id)
    assert result is not None and result.recommended is not None
    view = Q.generation_view(result)
    assert [p.label for p in view.pareto] == ["m int8-pc t2 b4", "m bf16 t2 b4", "m fp32 t1 b1"]
    full = {p.label: p for p in view.points if p.fidelity == "full"}
    assert not full["m int8-pc t1 b4"].on_front  # as cheap-ish and as good, but slower than int8-pc t2 b4
    rec = full["m int8-pc t2 b4"]
    assert rec.roles == ("recommended",) and full["m fp32 t1 b1"].roles == ("baseline",)
    assert rec.agreement == 0.97 and rec.hidden_costs is not None
    assert rec.hidden_costs.agreement_delta == pytest.approx(-0.03)
    assert rec.hidden_costs.query_p95_ratio == pytest.approx(300 / 400)
    assert rec.hidden_costs.peak_rss_ratio == pytest.approx(600 / 900)
    probes = [p for p in view.points if p.fidelity == "probe"]
    assert len(probes) == 5 and not any(p.on_front for p in probes)
    draft = next(p for p in probes if "draft=" in p.label)
    assert draft.hidden_costs is not None and draft.hidden_costs.query_p95_ratio == pytest.approx(600 / 420)
    assert main(["report", run_id, "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id}: m (text-generation" in out and "saving factor x2.22 J/token" in out
