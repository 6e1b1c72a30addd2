"""``%load_ext wattlens`` and the ``%%wattlens`` cell magic in a real IPython shell."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "wattlens")
    yield sh
    sh.run_line_magic("unload_ext", "wattlens")
    InteractiveShell.clear_instance()


def test_cell_magic_prints_the_labelled_result(shell, capsys):
    shell.run_cell_magic("wattlens", "--country FR --name fit", "x = sum(i * i for i in range(10**6))")
    out = capsys.readouterr().out
    assert out.startswith("fit: ") and "estimated" in out and "cpu-time-model" in out
    assert "FRA 44.18 g/kWh" in out and "PUE 1 (default)" in out
    result = shell.user_ns["_wattlens"]
    m = result.measurement
    assert shell.user_ns["x"] == sum(i * i for i in range(10**6))  # the cell ran in the user's namespace
    assert m.low_j <= m.energy_j <= m.high_j and m.duration_s > 0


def test_json_and_var(shell, capsys):
    shell.run_cell_magic("wattlens", "--json --var r", "y = 1")
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["source"] == "estimated" and rec["location"]["stated_default"] is True
    assert shell.user_ns["r"].to_dict()["energy_j"] == rec["energy_j"]


def test_a_raising_cell_is_still_measured(shell, capsys):
    shell.run_cell_magic("wattlens", "", "raise ValueError('boom')")
    out = capsys.readouterr()
    assert "the cell raised an exception" in out.out
    assert "ValueError" in out.out + out.err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--bogus 1", "allowed options: --name"),
        ("--country Atlantis", "unknown country 'Atlantis'"),
        ("--pue lots", "allowed is a number in [1.0, 3.0] or 'provider'"),
        ("--attribution node", "allowed are machine, process"),
    ],
)
def test_bad_options_are_errors_naming_what_is_allowed_and_the_cell_does_not_run(shell, line, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        shell.run_cell_magic("wattlens", line, "ran = True")
    assert "ran" not in shell.user_ns
