"""``wattlens bench / results / breakeven`` in-process, with stand-in workloads (fast, no torch)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import wattlens.tracking as tracking
import wattlens.workloads as workloads
from tests.bench.fakes import FakeMonitor, Ledger
from wattlens.cli.main import main

LEDGER = Ledger()  # joules "spent" by the stand-in models, read by the stand-in meter: known answers


class DeterministicMonitor(FakeMonitor):
    """The tracking.Monitor interface over the ledger: 0.5 J per query + 5 W idle, labelled measured."""

    def __init__(self, *args: Any, attribution: str = "machine", **kwargs: Any) -> None:
        super().__init__(LEDGER, idle_w=5.0, rel_err=0.05)

    def describe(self) -> dict[str, Any]:
        return {"attribution": "machine", "sources": ["fake-counter"]}


class FakeWorkload:
    """Implements the Workload contract with a 2 ms query; generative when the task is text-generation."""

    syncs = 0  # synchronize() calls, over all instances (a fake CUDA device counts them)

    def __init__(
        self,
        task: str,
        model: str,
        batch: int = 1,
        precision: str = "fp32",
        threads: Any = None,
        engine: str = "pytorch",
        device: str = "cpu",
        **options: Any,
    ) -> None:
        if model.startswith("broken"):
            raise RuntimeError(f"cannot load {model}")
        from wattlens.workloads.device import resolve_device

        self.device = resolve_device(device)  # auto -> cpu here (or what a test patches it to)
        self.task, self.model_id, self.engine, self.precision, self.threads = task, model, engine, precision, threads
        self.weights = "trained" if model == "good-trained" else "random"
        self.params = 1000
        self.generative = task == "text-generation"
        self.info = {"metric": "accuracy" if not self.generative else None}

    def _work(self, batch: list) -> list:
        t_end = time.perf_counter() + 0.002 * len(batch)
        while time.perf_counter() < t_end:
            pass
        LEDGER.joules += 0.5 * len(batch)
        return [f"out-{x}" for x in batch]

    def run(self, batch: list) -> list:
        if self.model_id == "interrupt-me":
            raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, mapped to it) does mid-cell
        return self._work(batch)

    def prefill(self, batch: list) -> list:
        return self._work(batch)

    def decode(self, state: list) -> list:
        return self._work(state)

    def quality(self, inputs: list, outputs: list) -> float | None:
        return 0.9 if self.weights == "trained" else None

    def count_tokens(self, inputs: list, outputs: list) -> tuple[int, int]:
        return 12 * len(inputs), (10 * len(outputs) if self.generative else 0)

    def synchronize(self) -> None:
        FakeWorkload.syncs += 1

    def close(self) -> None:
        pass


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch, no_cotenant_figure: None) -> None:
    import wattlens.bench.execute as execute

    monkeypatch.setattr(execute, "_LIB_DEFAULT_THREADS", {})  # an earlier test's remembered torch default
    monkeypatch.setattr(workloads, "load_workload", FakeWorkload, raising=False)
    monkeypatch.setattr(workloads, "check_model", lambda *_a, **_k: None)  # stand-in names
    monkeypatch.setattr(tracking, "Monitor", DeterministicMonitor)


SUITE = """\
[suite]
name = "cli-test"
queries = 3
repeats = 5
warmup = 1
min_window_s = 0.02
idle_s = 0.05

[[task]]
name = "text-classification"
models = ["good-trained", "broken-model"]

[[task]]
name = "text-generation"
models = ["gen-model"]
"""


def _bench(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, list[dict]]:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = str(tmp_path / "cli.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--json", "--quiet", "--country", "FR", *extra]) == 0
    rows = json.loads(capsys.readouterr().out)
    return db, rows


@pytest.mark.slow
def test_bench_json_rows_follow_the_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    _db, rows = _bench(tmp_path, capsys)
    assert len(rows) == 3
    by_model = {r["model"]: r for r in rows}
    assert by_model["broken-model"]["status"] == "failed" and "cannot load" in by_model["broken-model"]["error"]
    good = by_model["good-trained"]
    assert good["status"] == "ok" and good["quality"] == 0.9 and good["weights"] == "trained"
    assert good["j_per_query"] == pytest.approx(0.5) and good["source"] == "measured"
    assert good["net_j"] == pytest.approx(good["gross_j"] - good["idle_j"])
    assert good["boundary"] == "node: devices read by fake-counter (attribution=machine)"
    assert good["config"] == {"batch": 1, "precision": "fp32", "threads": 0, "engine": "pytorch", "device": "cpu"}
    for key in (
        "run_id",
        "task",
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
        "co2e_g_per_1000",
    ):
        assert key in good
    assert good["p50_ms"] >= 2.0
    gen = by_model["gen-model"]
    assert gen["quality"] is None and gen["decode_j_per_query"] is not None


@pytest.mark.slow
def test_results_json_list_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None) -> None:
    db, rows = _bench(tmp_path, capsys)
    run_id = rows[0]["run_id"]
    assert main(["results", "--db", db, "--run", run_id, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [r["cell_key"] for r in again] == [r["cell_key"] for r in rows]
    assert main(["results", "--db", db, "--list"]) == 0
    assert run_id in capsys.readouterr().out
    html = tmp_path / "r.html"
    assert main(["results", "--db", db, "--html", str(html), "--full"]) == 0
    out = capsys.readouterr().out
    assert "text-classification" in out and "Ratings" in out  # leaderboard + band edges printed
    assert html.exists() and "good-trained" in html.read_text(encoding="utf-8")
    assert main(["results", "--db", db, "--run", "no-such-run"]) == 2


def test_bench_suite_error_is_reported_with_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace("repeats = 5", 'repeats = 5\nbatch = ["one"]'), encoding="utf-8")
    assert main(["bench", "--suite", str(bad), "--db", str(tmp_path / "x.sqlite")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: bad value for 'batch'" in err and "allowed: a list of integers >= 1" in err


@pytest.mark.slow
def test_task_and_model_grid_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    db = str(tmp_path / "grid.sqlite")
    assert (
        main(
            [
                "bench",
                "--task",
                "text-generation",
                "--model",
                "gpt2",
                "--model",
                "distilgpt2",
                "--queries",
                "2",
                "--batch",
                "1",
                "--batch",
                "2",
                "--min-window-s",
                "0.01",
                "--idle-s",
                "0.05",
                "--db",
                db,
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["model"], r["config"]["batch"]) for r in rows) == [
        ("distilgpt2", 1),
        ("distilgpt2", 2),
        ("gpt2", 1),
        ("gpt2", 2),
    ]


def test_breakeven_reproduces_the_paper(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["breakeven", "--training-kwh", "51686", "--finetune-kwh", "7571", "--kwh-per-query", "1e-4", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["breakeven"]["queries"] == pytest.approx(592.57e6)
    # reference model, figures from the shipped data file
    assert main(["breakeven", "--model", "bloomz-7b1"]) == 0
    text = capsys.readouterr().out
    assert "592.6 million" in text and "PHP paper" in text


@pytest.mark.slow
def test_breakeven_from_a_run_with_projection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    db, rows = _bench(tmp_path, capsys)
    run_id = rows[0]["run_id"]
    good = next(r for r in rows if r["model"] == "good-trained")
    rc = main(
        [
            "breakeven",
            "--training-kwh",
            "1000",
            "--run",
            run_id,
            "--model",
            "good-trained",
            "--db",
            db,
            "--queries-per-day",
            "1e6",
            "--country",
            "FR",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)
    assert out["breakeven"]["queries"] == pytest.approx(1000 * 3.6e6 / good["j_per_query"])
    assert out["breakeven"]["queries"] == pytest.approx(1000 * 3.6e6 / 0.5)
    assert out["yearly"]["queries_per_year"] == pytest.approx(365e6)
    assert out["days_to_breakeven"] == pytest.approx(out["breakeven"]["queries"] / 1e6)
    assert main(["breakeven", "--training-kwh", "10"]) == 2  # no per-query energy anywhere


@pytest.mark.slow
def test_ctrl_c_keeps_finished_cells_and_resume_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "ctrl_c.toml"
    suite.write_text(
        SUITE.replace('models = ["gen-model"]', 'models = ["interrupt-me", "gen-model"]'), encoding="utf-8"
    )
    db = str(tmp_path / "c.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "wattlens bench --resume bench-" in err
    from wattlens.store import open_store

    store = open_store(db)
    run = store.list_runs("bench")[0]
    assert run["status"] == "interrupted"
    assert len(store.done_keys(run["run_id"])) == 2  # the two text-classification cells before the interrupt
    store.close()
    monkeypatch.setattr(FakeWorkload, "run", FakeWorkload._work)  # the user fixed the problem
    assert main(["bench", "--resume", run["run_id"], "--db", db, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["model"] for r in rows) == ["broken-model", "gen-model", "good-trained", "interrupt-me"]
    # --retry-failed re-runs only the failed cell
    assert main(["bench", "--resume", run["run_id"], "--db", db, "--retry-failed", "--json", "--quiet"]) == 0
    again = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert again["broken-model"]["status"] == "failed" and len(again) == 4


@pytest.mark.slow
@pytest.mark.postgres
def test_bench_into_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None) -> None:
    import os

    url = os.environ.get("WATTLENS_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("WATTLENS_TEST_PG_URL is not set on CI (scripts/pg.sh start)")
        pytest.skip("WATTLENS_TEST_PG_URL not set (run scripts/pg.sh start, or make test)")
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    assert main(["bench", "--suite", str(suite), "--db", url, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    run_id = rows[0]["run_id"]
    assert main(["results", "--db", url, "--run", run_id, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert sorted(r["cell_key"] for r in again) == sorted(r["cell_key"] for r in rows) and len(again) == 3


def test_progress_degrades_to_plain_lines_without_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    from wattlens.bench.suites import suite_from_args
    from wattlens.cli.bench import _progress

    cell = suite_from_args("text-generation", ["m"]).cells[0]
    p = _progress(quiet=False)  # pytest's captured stderr is not a TTY
    assert type(p).__name__ == "PlainProgress"
    p.start("run-1", 2, 0)
    p.cell_start(0, cell)
    p.cell_done(0, cell, "ok", "1.0 J/query")
    p.cell_start(1, cell)
    p.finish("done")
    err = capsys.readouterr().err
    assert "[bench] run run-1: 2 cells" in err and "1/2 text-generation m" in err and "ETA" in err


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.slow
def test_device_auto_is_resolved_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    if _cuda():
        pytest.skip("CUDA is available: auto resolves to cuda here")
    _db, rows = _bench(tmp_path, capsys, "--device", "auto")
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and all(r["config"]["device"] == "cpu" and r["config"]["device_requested"] == "auto" for r in ok)
    assert all("|device=auto" in r["cell_key"] for r in rows)
    assert all(r["tier"]["device"] == "cpu" for r in ok)


def test_unavailable_or_unknown_device_stops_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = str(tmp_path / "dev.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--device", "gpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad value for 'device'" in err and "cuda:N" in err
    if not _cuda():
        assert main(["bench", "--suite", str(suite), "--db", db, "--device", "cuda", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "torch.cuda.is_available() is False on this machine" in err
        assert not Path(db).exists()  # no run was started: refused before the store was opened


class GpuMonitor(DeterministicMonitor):
    def describe(self) -> dict[str, Any]:
        return {"attribution": "machine", "sources": ["nvml", "rapl"]}


RATED = """\
[suite]
name = "rated"
queries = 2
repeats = 5
warmup = 1
min_window_s = 0.01
idle_s = 0.05
phases = false

[[task]]
name = "text-classification"
models = ["m1", "m2", "m3", "m4"]
"""


@pytest.mark.slow
def test_a_cuda_run_synchronises_records_its_device_and_is_rated_in_its_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake CUDA device (no GPU here): the resolved device is recorded, the workload is synchronised after
    every batch, and with a GPU meter the result is in PHP's tier: rated against it on its gross figure."""
    import wattlens.workloads.device as D

    monkeypatch.setattr(D, "resolve_device", lambda d: "cuda:0")
    monkeypatch.setattr(tracking, "Monitor", GpuMonitor)
    suite = tmp_path / "rated.toml"
    suite.write_text(RATED, encoding="utf-8")
    before = FakeWorkload.syncs
    assert (
        main(
            [
                "bench",
                "--suite",
                str(suite),
                "--db",
                str(tmp_path / "gpu.sqlite"),
                "--device",
                "cuda",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert FakeWorkload.syncs - before >= sum(r["queries"] for r in rows)  # at least once per (batch-1) query
    for r in rows:
        assert r["config"]["device"] == "cuda:0" and r["config"]["device_requested"] == "cuda"
        assert r["tier"]["key"] == "gpu-node-net"
        band = r["rating_band"]
        assert band["kind"] == "reference" and band["basis"] == "gross" and "PHP" in band["population"]
        assert r["rating"] == 5  # ~0.14 Wh/1000 gross: below PHP's cheapest text-classification model
        assert r["rating_relative"]["population"].startswith("relative to this run's 4 text-classification models")


@pytest.mark.slow
def test_cpu_run_is_not_rated_against_the_gpu_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    suite = tmp_path / "rated.toml"
    suite.write_text(RATED, encoding="utf-8")
    db = str(tmp_path / "cpu.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for r in rows:
        ref = r["rating_reference"]
        assert ref["stars"] is None
        assert ref["note"] == (
            "n/a (reference population is gpu-node-gross (PHP 2023, 8xA100, CodeCarbon); this run "
            "is cpu-node-net (measured; meters: fake-counter))"
        )
        assert r["rating_band"]["kind"] == "relative" and r["rating"] in (1, 2, 3, 4, 5)
        assert r["rating_band"]["population"].startswith("relative to this run's 4 text-classification models")
        assert r["wh_per_1000"] is not None  # raw Wh beside the stars
    assert main(["results", "--db", db]) == 0
    assert "Ratings: stars for text-classification (bands and population: --full)." in capsys.readouterr().out
    assert main(["results", "--db", db, "--full"]) == 0
    out = capsys.readouterr().out
    assert "relative to this run's 4 text-classification models" in out
    assert "reference rating n/a (reference population is gpu-node-gross" in out


@pytest.mark.slow
def test_first_screen_is_one_compact_table_and_one_line_on_ratings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = str(tmp_path / "cli.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--quiet", "--country", "FR"]) == 0
    first = capsys.readouterr().out
    assert first.count("leaderboard — 3 cells (2 ok, 1 failed)") == 1  # one table for every task
    assert "Ratings (" not in first and "n/a (" not in first  # no per-task rating lines
    stars = [line for line in first.splitlines() if "stars" in line.lower()]
    assert len(stars) == 1 and "No stars for 2 of 2 tasks" in stars[0] and "--model A --model B --model C" in stars[0]
    assert "[1] cannot load broken-model" in first  # the short reason, without the exception's class name
    hint = first.strip().splitlines()[-1]
    assert hint.startswith("Details") and f"--db {db} --full" in hint and "--run bench-" in hint

    assert main(["results", "--db", db, "--full"]) == 0
    full = capsys.readouterr().out
    assert "text-classification — 2 cells (1 failed)" in full and "Ratings (" in full
    assert main(["results", "--db", db]) == 0
    assert "leaderboard — 3 cells" in capsys.readouterr().out
