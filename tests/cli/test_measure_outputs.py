"""Where `wattlens measure` puts its record, checked as a user would, with real processes and real files
(issue 18 findings 5, 6 and 11): clean JSON on stdout, bad --db found before the command runs, concurrent
schema creation on a new SQLite file, atomic CSV under a full disk, a clean error for an empty command."""

from __future__ import annotations

import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PY = sys.executable
WATTLENS = [PY, "-m", "wattlens"]


def _run(args: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATTLENS_RETRY_FILE": str(cwd / "retry.jsonl")}
    return subprocess.run([*WATTLENS, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env, **kw)  # type: ignore[call-overload]


def test_json_stdout_is_clean_when_the_command_prints(tmp_path: Path) -> None:
    """`wattlens measure --json -- echo hi | python3 -m json.tool` works: the command's stdout goes to stderr."""
    pipeline = subprocess.run(
        f"{PY} -m wattlens measure --json -- echo hi | {PY} -m json.tool",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert pipeline.returncode == 0, pipeline.stderr
    rec = json.loads(pipeline.stdout)
    assert rec["command"] == ["echo", "hi"] and rec["exit_code"] == 0
    assert "hi" in pipeline.stderr.split()


def test_json_file_leaves_the_command_stdout_alone(tmp_path: Path) -> None:
    r = _run(["measure", "--json-file", "rec.json", "--", "echo", "hi"], tmp_path)
    assert r.returncode == 0 and r.stdout == "hi\n"
    assert json.loads((tmp_path / "rec.json").read_text())["energy_j"] > 0


def test_bad_db_is_found_before_the_command_runs_and_nothing_is_written(tmp_path: Path) -> None:
    r = _run(["measure", "--db", "mysql://x/y", "--csv", "out.csv", "--", "touch", "ran"], tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "mysql" in r.stderr and "allowed" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out.csv").exists()
    (tmp_path / "garbage.sqlite").write_text("not a database\n")
    r = _run(["measure", "--db", "garbage.sqlite", "--", "touch", "ran"], tmp_path)
    assert r.returncode == 2 and "garbage.sqlite" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", ""], "command name after -- is empty"),
        (["--csv", ".", "--", "true"], "is a directory"),
        (["--json-file", "no/such/folder/r.json", "--", "true"], "does not exist"),
    ],
)
def test_bad_outputs_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    r = _run(["measure", *args], tmp_path)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_concurrent_measures_on_a_new_sqlite_file_lose_no_record(tmp_path: Path) -> None:
    env = {**os.environ, "WATTLENS_RETRY_FILE": str(tmp_path / "retry.jsonl")}
    procs = [
        subprocess.Popen(
            [*WATTLENS, "measure", "--db", "new.sqlite", "--name", f"run{i}", "--", "true"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(5)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [err for _, err in outs]
    with sqlite3.connect(tmp_path / "new.sqlite") as conn:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM measurements"))
    assert names == [f"run{i}" for i in range(5)]
    assert not (tmp_path / "retry.jsonl").exists()


def _limit_file_size(max_bytes: int):
    def apply() -> None:  # a disk that fills: any write past max_bytes fails with EFBIG (SIGXFSZ is ignored)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_a_full_disk_never_leaves_a_truncated_csv_row(tmp_path: Path) -> None:
    assert _run(["measure", "--csv", "runs.csv", "--", "true"], tmp_path).returncode == 0
    before = (tmp_path / "runs.csv").read_bytes()
    # coverage's own data file (make test measures subprocesses) would hit the same file-size limit at exit
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["WATTLENS_RETRY_FILE"] = str(tmp_path / "retry.jsonl")
    for extra in ([], ["--name", "x", "--country", "FR"]):  # plain append; then a wider header (file rewrite)
        r = subprocess.run(
            [*WATTLENS, "measure", "--json", *extra, "--csv", "runs.csv", "--", "true"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env=env,
            preexec_fn=_limit_file_size(len(before) + 10),
        )
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert "could not save the record" in r.stderr
        assert json.loads(r.stdout)["exit_code"] == 0  # the record was still printed
        assert (tmp_path / "runs.csv").read_bytes() == before  # untouched: no half row, no half rewrite
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".runs.csv.tmp")]
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert len(rows) == 1


def test_csv_appends_and_widens_its_header(tmp_path: Path) -> None:
    assert _run(["measure", "--csv", "runs.csv", "--", "true"], tmp_path).returncode == 0
    assert _run(["measure", "--csv", "runs.csv", "--country", "FR", "--", "true"], tmp_path).returncode == 0
    assert _run(["measure", "--csv", "runs.csv", "--", "true"], tmp_path).returncode == 0
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert len(rows) == 3 and rows[1]["location.key"] == "FRA" and rows[0]["location.key"] == "WORLD"


def test_a_record_that_could_not_be_saved_is_kept_and_saved_later(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    assert _run(["measure", "--db", str(db), "--name", "first", "--", "true"], tmp_path).returncode == 0
    # A real fault between opening and saving: the table vanishes under the wrapper (another process drops it).
    dropper = f"import sqlite3, time; time.sleep(0.5); sqlite3.connect({str(db)!r}).execute('DROP TABLE measurements')"
    r = _run(["measure", "--db", str(db), "--name", "second", "--", PY, "-c", dropper], tmp_path)
    assert r.returncode == 0 and "could not save the record" in r.stderr and "kept in" in r.stderr
    kept = [json.loads(line) for line in (tmp_path / "retry.jsonl").read_text().splitlines()]
    assert [k["record"]["name"] for k in kept] == ["second"]
    # The next save to that store (which recreates the table) saves the kept record first.
    assert _run(["measure", "--db", str(db), "--name", "third", "--", "true"], tmp_path).returncode == 0
    with sqlite3.connect(db) as conn:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM measurements"))
    assert names == ["second", "third"]
    assert (tmp_path / "retry.jsonl").read_text() == ""
