"""Option values are checked before any work, by one shared module (issue 18, findings 1 and 7).

A bad carbon option or an out-of-range number is exit 2 and one line on stderr naming the option and what is
allowed, before a model is loaded or a store opened; a run stored with a bad value (by an older wattlens) never
stops the store from being read.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import wattlens.workloads as workloads
from tests.cli.test_bench_cli import SUITE, fake_models  # noqa: F401  (a fixture, used by name)
from wattlens.cli.main import main


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading any model fails the test: validation must come first."""

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(workloads, "load_workload", refuse, raising=False)


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], option: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert option in err and "allowed" in err.lower(), err
    assert "Traceback" not in err
    return err


BENCH = ["bench", "--task", "image-classification", "--model", "digits-mlp", "--queries", "5"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--country", "XX"], "--country"),
        (["--region", "foo"], "--region"),
        (["--intensity", "-1"], "--intensity"),
        (["--pue", "abc"], "--pue"),
        (["--pue", "0.5"], "--pue"),
        (["--price-per-kwh", "-1"], "--price-per-kwh"),
        (["--price-per-kwh", "nan"], "--price-per-kwh"),
        (["--currency", "EURO-DOLLARS"], "--currency"),
        (["--queries", "0"], "--queries"),
        (["--batch", "-4"], "--batch"),
        (["--repeats", "0"], "--repeats"),
    ],
)
def test_bench_refuses_bad_options_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_models: None, extra: list[str], option: str
) -> None:
    db = tmp_path / "b.sqlite"
    _usage_error([*BENCH, "--db", str(db), *extra], capsys, option)
    assert not db.exists()


def test_bad_environment_value_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATTLENS_PUE", "abc")
    db = tmp_path / "b.sqlite"
    assert main([*BENCH, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "WATTLENS_PUE" in err and "PUE" in err, err
    assert not db.exists()


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["analyze", "gpt2", "--batch", "0"], "--batch"),
        (["analyze", "gpt2", "--batch", "-4"], "--batch"),
        (["analyze", "gpt2", "--seq", "-5"], "--seq"),
        (["analyze", "gpt2", "--seq", "0"], "--seq"),
        (["analyze", "gpt2", "--prompt", "-1"], "--prompt"),
        (["analyze", "gpt2", "--tp", "0"], "--tp"),
        (["analyze", "gpt2", "--new-tokens", "-1"], "--new-tokens"),
        (["optimize", "minilm", "--queries", "0"], "--queries"),
        (["optimize", "minilm", "--min-quality", "2"], "--min-quality"),
        (["breakeven", "--training-kwh", "nan", "--kwh-per-query", "1e-4"], "--training-kwh"),
        (["breakeven", "--country", "XX", "--training-kwh", "1", "--kwh-per-query", "1e-4"], "--country"),
        (["results", "--db", "mysql://u@h/db"], "--db"),
    ],
)
def test_range_checks_in_every_command(
    capsys: pytest.CaptureFixture[str], no_models: None, argv: list[str], option: str
) -> None:
    _usage_error(argv, capsys, option)


def _poison(db: str, carbon: dict[str, object]) -> None:
    """Write a bad carbon setting into every stored run, as an older wattlens that did not check it would have."""
    con = sqlite3.connect(db)
    try:
        for run_id, config in con.execute("SELECT run_id, config FROM runs").fetchall():
            cfg = json.loads(config)
            cfg["carbon"] = {**cfg.get("carbon", {}), **carbon}
            con.execute("UPDATE runs SET config = ? WHERE run_id = ?", (json.dumps(cfg), run_id))
        con.commit()
    finally:
        con.close()


@pytest.mark.parametrize("carbon", [{"pue": "abc"}, {"price_per_kwh": -1}, {"country": "XX"}, {"region": "foo"}])
def test_a_stored_bad_value_never_breaks_reading_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_models: None,  # noqa: F811
    carbon: dict[str, object],
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = str(tmp_path / "p.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--json", "--quiet"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["run_id"]
    _poison(db, carbon)
    for argv in (["results"], ["results", "--all"], ["results", "--json"], ["report", run_id]):
        assert main([*argv, "--db", db]) == 0, argv
        out, err = capsys.readouterr()
        assert "Traceback" not in err and out
    assert main(["results", "--json", "--db", db]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["co2e_g_per_1000"] is None for r in rows)  # unknown, never a made-up world figure


def test_unknown_models_are_refused_before_any_store_or_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_models: None
) -> None:
    db = tmp_path / "m.sqlite"
    assert main(["bench", "--task", "image-classification", "--model", "no-such-model", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no-such-model" in err and "digits-mlp" in err
    assert main(["optimize", "nope-model", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope-model" in err and "allowed" in err
    assert not db.exists()  # no run left 'interrupted', no store created


def test_list_models_of_a_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list-models", "--task", "image-classification"]) == 0
    out = capsys.readouterr().out
    assert "digits-mlp" in out and "trained" in out and "resnet-50@tiny" in out
    assert main(["bench", "--list-models", "--task", "nope"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_breakeven_names_an_unknown_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_models: None,  # noqa: F811
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE, encoding="utf-8")
    db = str(tmp_path / "b.sqlite")
    assert main(["bench", "--suite", str(suite), "--db", db, "--json", "--quiet"]) == 0
    capsys.readouterr()
    argv = ["breakeven", "--run", "nope", "--model", "good-trained", "--training-kwh", "1", "--db", db]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no run 'nope'" in err and "most recent runs" in err
