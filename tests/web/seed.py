"""A results store with one of everything the page shows, written through the real store.

* a real bench run (the tiny text classifier measured on this machine, and a model that does not exist: a failed
  cell), with its raw timelines;
* two synthetic bench runs on two "machines" (benchmarks/web_store: typed records, stated distributions), one of
  them with a model whose name is markup (``EVIL``): the page must show it as text;
* a text-generation optimize run (benchmarks/web_store: every trial, variant quality and the result stored as the
  engine stores them), and after it an encoder optimize result (the report tests' fixture, stored as the optimize
  run's ``result`` cell: the latest optimize run);
* a real analysis (``wattlens analyze distilgpt2 --db``), and two real ``wattlens measure --db --tag`` records;
* a load-test run (a kind without its own page: the History page summarises it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.web_store import ENVIRONMENT, write_generation_run, write_run

from tests.report.fixtures import optimize_result
from wattlens.cli.main import main as cli
from wattlens.optimize.results import OptimizeResult
from wattlens.optimize.runstore import RunCells
from wattlens.store import open_store

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
MACHINE_B = {**ENVIRONMENT, "cpu": "AMD EPYC 7R13 Processor", "logical_cpus": 8}
SUITE = """\
[suite]
name = "web-tests"
queries = 2
repeats = 5
warmup = 1
min_window_s = 0.02
idle_s = 0.1

[[task]]
name = "text-classification"
models = ["distilbert-sst2@tiny", "no-such-model-for-wattlens"]
"""


@dataclass(frozen=True)
class Seeded:
    db: str
    real_run: str
    synth_a: str
    synth_b: str
    optimize_run: str
    loadtest_run: str
    generation_run: str


def seed(folder: Path) -> Seeded:
    from wattlens.bench.execute import execute, start_run
    from wattlens.bench.suites import load_suite

    db = str(folder / "results.sqlite")
    (folder / "suite.toml").write_text(SUITE, encoding="utf-8")
    with open_store(db) as store:
        synth_a = write_run(store, 120, seed=1, name="synthetic-a", extra_models=[EVIL], timelines=5)
        synth_b = write_run(store, 120, seed=2, name="synthetic-b", environment=MACHINE_B, timelines=5)
        suite = load_suite(str(folder / "suite.toml"))
        real_run = start_run(store, suite, carbon={"country": "FR"})
        summary = execute(store, real_run, suite)
        assert summary.status == "done", summary
        generation = write_generation_run(store)
        cells = RunCells(store, store.create_run("optimize", {"model": "distilbert-base-uncased-sst2"}))
        cells.save_result(OptimizeResult.from_dict(_with_hidden_costs(optimize_result())))
        cells.set_status("done")
        loadtest = store.create_run("loadtest", {"url": "http://127.0.0.1:8000/v1", "model": "tiny"})
        store.save_cell(
            loadtest,
            "steady-state",
            "ok",
            {"gross_j": 120.0, "gross_low_j": 90.0, "gross_high_j": 150.0, "window_s": 30.0, "source": "estimated"},
        )
        store.set_run_status(loadtest, "done")
    analyze = ["analyze", "distilgpt2", "--hardware", "a100", "--phase", "decode", "--batch", "4", "--prompt", "64"]
    assert cli([*analyze, "--new-tokens", "8", "--db", db]) == 0
    for tag in ("nightly", "team=search"):
        command = [sys.executable, "-c", "sum(i * i for i in range(300000))"]
        assert cli(["measure", "--country", "FR", "--db", db, "--tag", tag, "--", *command]) == 0
    return Seeded(db, real_run, synth_a, synth_b, cells.run_id, loadtest, generation)


def copy_store(source: str, target: str) -> None:
    """Every run, cell, timeline and measurement of one store into another (e.g. SQLite -> PostgreSQL)."""
    with open_store(source, read_only=True) as src, open_store(target) as dst:
        for run in reversed(src.list_runs()):
            dst.create_run(run["kind"], run["config"] or {}, run_id=run["run_id"], environment=run["environment"])
            for cell in src.cells(run["run_id"]):
                dst.save_cell(run["run_id"], cell["cell_key"], cell["status"], cell["result"], cell["error"])
            for key in src.timeline_keys(run["run_id"]):
                dst.save_timeline(run["run_id"], key, src.timeline(run["run_id"], key))
            dst.set_run_status(run["run_id"], run["status"])
        for m in src.measurements():
            dst.save_measurement(m["record"])


def _with_hidden_costs(result: dict) -> dict:
    """The report fixture's optimize result with each Pareto point's hidden costs against its baseline."""
    base = result["baseline"]
    for point in result["pareto"]:
        point["hidden_costs"] = {
            "quality_delta": point["quality"] - base["quality"],
            "p50_ratio": point["p50_ms"] / base["p50_ms"],
            "p95_ratio": point["p95_ms"] / base["p95_ms"],
            "throughput_ratio": point["throughput_qps"] / base["throughput_qps"],
            "peak_rss_ratio": point["peak_rss_mb"] / base["peak_rss_mb"],
            "model_size_ratio": point["model_size_mb"] / base["model_size_mb"],
        }
    return result
