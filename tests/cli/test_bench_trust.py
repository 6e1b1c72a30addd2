"""Resuming a stored run never imports code from outside the current directory tree unless the user says so
(issue 18, finding 10): a shared store could name any file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattlens.bench.suites import suite_from_args
from wattlens.bench.trust import untrusted_callables
from wattlens.cli.main import main

MODEL = """
from pathlib import Path
Path(__file__).with_suffix(".imported").open("a").write("x")  # every import leaves a mark
def predict(texts):
    return ["positive" for _ in texts]
"""


def test_untrusted_specs_are_files_outside_the_root_and_modules(tmp_path: Path) -> None:
    inside = tmp_path / "proj" / "m.py"
    suite = suite_from_args(
        "text-classification", [f"{inside}:f", "/elsewhere/x.py:f", "some.module:f", "distilbert-sst2", "../up.py:f"]
    )
    assert untrusted_callables(suite.cells, root=tmp_path / "proj") == [
        "../up.py:f",
        "/elsewhere/x.py:f",
        "some.module:f",
    ]


@pytest.mark.slow
def test_resume_from_elsewhere_refuses_then_runs_with_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code_dir, other = tmp_path / "code", tmp_path / "other"
    code_dir.mkdir(), other.mkdir()
    model = code_dir / "model.py"
    model.write_text(MODEL)
    marks = model.with_suffix(".imported")
    db = str(tmp_path / "runs.sqlite")
    monkeypatch.chdir(code_dir)
    argv = ["bench", "--task", "text-classification", "--model", f"{model}:predict", "--queries", "2"]
    assert main([*argv, "--repeats", "2", "--db", db, "--json", "--quiet"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["run_id"]
    imported = marks.read_text()

    monkeypatch.chdir(other)
    assert main(["bench", "--resume", run_id, "--retry-failed", "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-callables" in err[0] and str(model) in err[0]
    assert marks.read_text() == imported  # refused before anything was imported

    assert main(["bench", "--resume", run_id, "--db", db, "--quiet", "--trust-callables"]) == 0
    monkeypatch.chdir(code_dir)  # from the directory that holds the file, no flag is needed
    assert main(["bench", "--resume", run_id, "--db", db, "--quiet"]) == 0
