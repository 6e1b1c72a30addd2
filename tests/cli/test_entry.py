"""The console script's entry (issue 18): a Ctrl-C at any moment is exit 130 and one line, never a traceback, and a
Ctrl-C that was caught and handled never turns the chosen exit code into a death by SIGINT (-2)."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wattlens.errors
from wattlens.cli import entry

CAUGHT_IN_EXEC = """
import sys
try:
    exec("raise KeyboardInterrupt")  # what a dataclass or SQLAlchemy class built mid-Ctrl-C does
except KeyboardInterrupt:
    pass
{forget}
sys.exit(3)
"""


def test_a_caught_interrupt_still_kills_cpython_with_sigint_unless_forgotten(tmp_path: Path) -> None:
    """Why forget_caught_interrupt exists: run as ``python -m`` (as ``python -m wattlens`` is), CPython dies by
    SIGINT although the code caught the interrupt and asked for exit code 3."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    (tmp_path / "plain_exit.py").write_text(CAUGHT_IN_EXEC.format(forget=""), encoding="utf-8")
    fixed = "from wattlens.cli.entry import forget_caught_interrupt; forget_caught_interrupt()"
    (tmp_path / "forgetting_exit.py").write_text(CAUGHT_IN_EXEC.format(forget=fixed), encoding="utf-8")
    plain = subprocess.run([sys.executable, "-m", "plain_exit"], env=env, cwd=tmp_path, timeout=60)
    assert plain.returncode == -2
    forgotten = subprocess.run([sys.executable, "-m", "forgetting_exit"], env=env, cwd=tmp_path, timeout=60)
    assert forgotten.returncode == 3


def test_an_interrupt_while_the_command_loads_is_130_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    import wattlens.cli.main as cli_main

    def interrupted() -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "main", interrupted)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exit_info:
            entry.run()
    finally:
        signal.signal(signal.SIGINT, previous)  # run() leaves an exit-now handler for the interpreter's teardown
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "wattlens: interrupted\n"


def test_an_error_caused_by_a_ctrl_c_is_a_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    """onnxruntime turns a Ctrl-C during its import into ImportError('initialization failed')."""
    import argparse

    from wattlens.cli.main import _run

    def command(_args: argparse.Namespace) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise ImportError("initialization failed") from ki

    args = argparse.Namespace(command="bench", func=command)
    assert _run(args) == 130
    assert capsys.readouterr().err == "wattlens bench: interrupted\n"

    def broken(_args: argparse.Namespace) -> int:
        raise ImportError("a real import error")

    with pytest.raises(ImportError):  # anything else is not swallowed
        _run(argparse.Namespace(command="bench", func=broken))


def test_caused_by_interrupt_doctest() -> None:
    assert doctest.testmod(wattlens.errors).failed == 0
