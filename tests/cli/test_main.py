"""The CLI configures output once for every command: -q / -v before or after the command name."""

from __future__ import annotations

import logging
import os

import pytest

from wattlens.cli import main as cli


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "probe", "tests.cli._probe_command")


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line]


def test_default_shows_wattlens_warnings_only(probe, capsys) -> None:
    assert cli.main(["probe"]) == 0
    out, err = capsys.readouterr()
    assert out == "quiet=False\n"
    assert _lines(err) == ["wattlens: warning: wattlens-warning", "wattlens: error: wattlens-error"]


@pytest.mark.parametrize("argv", [["-q", "probe"], ["probe", "-q"], ["--quiet", "probe"], ["probe", "--quiet"]])
def test_quiet_before_or_after_the_command(probe, capsys, argv: list[str]) -> None:
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert out == "quiet=True\n"  # the command's own progress switch is turned on too
    assert _lines(err) == ["wattlens: error: wattlens-error"]


def test_verbose_adds_info(probe, capsys) -> None:
    cli.main(["-v", "probe"])
    err = capsys.readouterr().err
    assert "wattlens: info: wattlens-info" in err
    assert "debug" not in err and "thirdparty" not in err


@pytest.mark.parametrize("argv", [["-vv", "probe"], ["-v", "probe", "-v"], ["probe", "-vv"]])
def test_very_verbose_adds_debug_and_third_party_warnings(probe, capsys, argv: list[str]) -> None:
    cli.main(argv)
    err = capsys.readouterr().err
    assert "wattlens.probe: debug: wattlens-debug" in err  # debug lines name their module
    assert "thirdparty: warning: thirdparty-warning" in err


def test_logging_and_environment_are_given_back(probe, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a user's own setting wins and is left as it was
    package, root = logging.getLogger("wattlens"), logging.getLogger()
    before = (package.level, package.propagate, list(package.handlers), root.level, list(root.handlers))
    seen: dict[str, str | None] = {}

    def spy(args) -> int:
        seen.update({k: os.environ.get(k) for k in ("TRANSFORMERS_VERBOSITY", "HF_HUB_OFFLINE")})
        return 3

    from tests.cli import _probe_command

    monkeypatch.setattr(_probe_command, "_run", spy)
    assert cli.main(["probe"]) == 3
    assert seen == {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "0"}
    assert "TRANSFORMERS_VERBOSITY" not in os.environ and os.environ["HF_HUB_OFFLINE"] == "0"
    assert (package.level, package.propagate, list(package.handlers), root.level, list(root.handlers)) == before


def test_real_commands_accept_the_options() -> None:
    parser = cli.build_parser()
    assert cli.verbosity_of(parser.parse_args(["-q", "sources"])) == -1
    assert cli.verbosity_of(parser.parse_args(["sources", "-vv"])) == 2
    assert cli.verbosity_of(parser.parse_args(["-v", "bench", "--quiet"])) == -1  # bench's own --quiet
    assert cli.verbosity_of(parser.parse_args(["measure", "-v", "--", "true", "-q"])) == 1  # -q belongs to `true`


def test_the_measured_program_gets_the_users_environment(capfd, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wattlens measure -- CMD` must not run CMD offline or with other libraries silenced."""
    import json
    import sys

    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(key, raising=False)
    keys = "('HF_HUB_OFFLINE', 'TRANSFORMERS_VERBOSITY')"
    code = f"import os, json; print(json.dumps({{k: os.environ.get(k) for k in {keys}}}))"
    assert cli.main(["measure", "--json", "--", sys.executable, "-c", code]) == 0
    captured = capfd.readouterr()  # with --json the program's stdout goes to stderr: stdout is the record alone
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    child = next(d for d in lines if "HF_HUB_OFFLINE" in d)
    assert "energy_j" in json.loads(captured.out)
    assert child == {"HF_HUB_OFFLINE": None, "TRANSFORMERS_VERBOSITY": None}
