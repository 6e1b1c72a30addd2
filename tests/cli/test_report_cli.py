"""``wattlens report`` end to end on a real SQLite store.

The bench run is made the real way (``wattlens bench`` in-process: suite building, the executor, the
store, ``result_rows``) with the stand-in workloads and meter of test_bench_cli, so it needs no torch
and takes about a second. The optimize run is stored the way the optimize engine stores it: a run of
kind "optimize" whose ``result`` cell holds the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import wattlens.tracking as tracking
import wattlens.workloads as workloads
from tests.cli.test_bench_cli import DeterministicMonitor, FakeWorkload
from tests.report.fixtures import optimize_result
from wattlens.cli.main import main
from wattlens.store import open_store

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch, no_cotenant_figure: None) -> None:
    monkeypatch.setattr(workloads, "load_workload", FakeWorkload, raising=False)
    monkeypatch.setattr(workloads, "check_model", lambda *_a, **_k: None)  # stand-in names
    monkeypatch.setattr(tracking, "Monitor", DeterministicMonitor)


@pytest.fixture
def bench_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None) -> tuple[str, str]:
    """(db path, run id) of a finished two-model bench run: one ok cell, one failed cell."""
    db = str(tmp_path / "report.sqlite")
    rc = main(
        [
            "bench",
            "--task",
            "text-classification",
            "--model",
            "good-trained",
            "--model",
            "broken-model",
            "--queries",
            "2",
            "--repeats",
            "5",
            "--min-window-s",
            "0.01",
            "--idle-s",
            "0.05",
            "--db",
            db,
            "--json",
            "--quiet",
            "--country",
            "FR",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = json.loads(captured.out)
    assert {r["status"] for r in rows} == {"ok", "failed"}
    return db, rows[0]["run_id"]


@pytest.mark.slow
def test_report_bench_run_table_html_and_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bench_run: tuple[str, str]
) -> None:
    pytest.importorskip("matplotlib")
    db, run_id = bench_run
    html, png_dir = tmp_path / "out" / "report.html", tmp_path / "pngs"
    rc = main(["report", run_id, "--db", db, "--html", str(html), "--png", str(png_dir)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = " ".join(captured.out.split())  # rich wraps long lines; the failure reason is a footnote under the table
    assert run_id in out and "good-trained" in out and "broken-model" in out
    assert "failed [1]" in out and "cannot load broken-model" in out  # reason as a footnote
    text = html.read_text(encoding="utf-8")
    assert f"wattlens bench {run_id}" in text and "good-trained" in text and "cannot load broken-model" in text
    assert 'src="data:image/png;base64,' in text
    pngs = sorted(p.name for p in png_dir.iterdir())
    # one task, no quality for a failed cell: energy/task, energy vs quality (good-trained has 0.9), vs latency
    assert pngs == ["energy_per_task.png", "energy_vs_latency.png", "energy_vs_quality.png"]
    assert all((png_dir / p).read_bytes().startswith(PNG_SIGNATURE) for p in pngs)


def test_report_bench_json_matches_results(capsys: pytest.CaptureFixture[str], bench_run: tuple[str, str]) -> None:
    db, run_id = bench_run
    assert main(["report", run_id, "--db", db, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main(["results", "--run", run_id, "--db", db, "--json"]) == 0
    assert rows == json.loads(capsys.readouterr().out)


def test_unknown_run_id_lists_recent_runs(capsys: pytest.CaptureFixture[str], bench_run: tuple[str, str]) -> None:
    db, run_id = bench_run
    assert main(["report", "no-such-run", "--db", db]) == 2
    captured = capsys.readouterr()
    assert "no run 'no-such-run'" in captured.err and run_id in captured.err and "bench" in captured.err
    assert captured.out == ""


def test_unknown_run_id_in_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "nope", "--db", str(tmp_path / "empty.sqlite")]) == 2
    assert "nothing has been stored there yet" in capsys.readouterr().err
    assert not (tmp_path / "empty.sqlite").exists()  # reading never creates a store


def _optimize_run(db: str, result: dict | None) -> str:
    with open_store(db) as store:
        run_id = store.create_run("optimize", {"model": "distilbert-base-uncased-sst2"})
        if result is not None:
            store.save_cell(run_id, "result", "ok", result)
            store.set_run_status(run_id, "done")
    return run_id


def test_report_optimize_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    db = str(tmp_path / "opt.sqlite")
    run_id = _optimize_run(db, optimize_result())
    html, png_dir = tmp_path / "opt.html", tmp_path / "opt-png"
    rc = main(["report", run_id, "--db", db, "--html", str(html), "--png", str(png_dir)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "saving factor: x4.00" in captured.out and "baseline b1 fp32 t2 pytorch" in captured.out
    assert "recommended b8 int8 t2 pytorch" in captured.out
    text = html.read_text(encoding="utf-8")
    assert f"wattlens optimize {run_id}" in text and 'src="data:image/png;base64,' in text
    assert (png_dir / "optimize_tradeoffs.png").read_bytes().startswith(PNG_SIGNATURE)
    assert main(["report", run_id, "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["saving_factor"] == 4.0


def test_report_unfinished_optimize_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "opt.sqlite")
    run_id = _optimize_run(db, None)
    assert main(["report", run_id, "--db", db]) == 2
    assert "has no result yet" in capsys.readouterr().err
