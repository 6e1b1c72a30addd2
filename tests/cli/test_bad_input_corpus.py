"""The bad-input corpus: every command's options x every class of bad value, generated from the parsers themselves
(issue 18, "Keep it fixed").

The cases are not listed by hand: :func:`corpus` walks every sub-command's argparse actions and asks each
option's type what it refuses (``bad_examples`` of the ``wattlens.cli.options`` types: wrong type, out of range,
unknown name, empty, very long, unicode, directories/devices//proc/unwritable paths, URLs with bad schemes,
hosts and passwords) and each choice option for names it does not know. A new option with a checked type joins
the corpus by itself. Every case must give exit 2, exactly one line on stderr naming the option and what is
allowed, no traceback, and leave the working directory and the retry file as they were.

The cases run in-process (``main(argv)``) so that the whole corpus stays fast; a sample runs as real processes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattlens.cli.main import build_parser, main

LONG = "x" * 5000
# What must come with each command for the option under test to be the only thing wrong (positionals, the
# measured command); the bad option is placed before these.
CONTEXT: dict[str, tuple[list[str], list[str]]] = {
    "measure": ([], ["--", "true"]),
    "analyze": (["gpt2"], []),
    "optimize": (["minilm"], []),
    "report": (["some-run"], []),
    "export": (["some-run", "out-dir", "--aiesc"], []),
    "project": (["--j-per-query", "1"], []),
    "breakeven": ([], []),
}
CHOICE_BAD = ("no-such-choice", "", LONG, "\u00e9t\u00e9\u2603")
SKIP_DESTS = {"help", "version", "verbosity", "verbosity_cmd", "quiet", "quiet_all"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _bad_values(action: argparse.Action) -> tuple[str, ...]:
    examples = getattr(action.type, "bad_examples", None)
    if examples:
        return tuple(examples)
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        return CHOICE_BAD
    if action.type in (int, float):  # a plain number type must still refuse text (and say what it wants)
        return ("abc", "", LONG)
    return ()


def corpus() -> list[tuple[str, str, str]]:
    """(command, option, bad value) for every checked option of every command."""
    cases = []
    for name, parser in sorted(_commands().items()):
        for action in parser._actions:
            if not action.option_strings or action.dest in SKIP_DESTS or action.nargs == 0:
                continue
            option = max(action.option_strings, key=len)
            cases += [(name, option, value) for value in _bad_values(action)]
    return cases


CASES = corpus()


def test_the_corpus_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 300, len(CASES)
    commands = {c for c, _o, _v in CASES}
    assert commands >= {"measure", "bench", "results", "breakeven", "report", "analyze", "optimize", "project"}


def _argv(command: str, option: str, value: str) -> list[str]:
    before, after = CONTEXT.get(command, ([], []))
    return [command, *before, f"{option}={value}", *after]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content (folders too): what 'nothing changed' compares."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a store and a retry file in it, and the carbon environment cleared."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "wattlens.sqlite").write_bytes(b"")  # a default store path that exists: it must not be touched
    monkeypatch.chdir(work)
    monkeypatch.setenv("WATTLENS_RETRY_FILE", str(work / "retry.jsonl"))
    for key in list(os.environ):
        if key.startswith("WATTLENS_") and key != "WATTLENS_RETRY_FILE":
            monkeypatch.delenv(key)
    return work


def _check_one_line(err: str, option: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert option in lines[0] or option.lstrip("-") in lines[0], lines[0]
    assert "allowed" in lines[0].lower() or "choose from" in lines[0], lines[0]


@pytest.mark.parametrize(
    ("command", "option", "value"), CASES, ids=[f"{c}{o}[{i}]" for i, (c, o, _v) in enumerate(CASES)]
)
def test_bad_value_is_one_line_exit_2_and_changes_nothing(
    command: str, option: str, value: str, sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(sandbox)
    assert main(_argv(command, option, value)) == 2
    out, err = capsys.readouterr()
    _check_one_line(err, option)
    assert out == ""
    assert _snapshot(sandbox) == before


SAMPLE = CASES[:: max(1, len(CASES) // 20)][:20]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "option", "value"), SAMPLE, ids=[f"{c}{o}" for c, o, _v in SAMPLE])
def test_bad_value_as_a_real_process(command: str, option: str, value: str, sandbox: Path) -> None:
    before = _snapshot(sandbox)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTLENS_")}
    env["WATTLENS_RETRY_FILE"] = str(sandbox / "retry.jsonl")
    proc = subprocess.run(
        [sys.executable, "-m", "wattlens", *_argv(command, option, value)],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    _check_one_line(proc.stderr, option)
    assert proc.stdout == ""
    assert _snapshot(sandbox) == before
