"""The install that `make test` and `make demo` do: `.[all,dev]` must name every optional part.

A merge once dropped the `all` extra; pip then only warns ("does not provide the extra") and CI ran
without numpy, torch's companions or the integrations. This test fails instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# extras that need hardware this machine lacks (their libraries fail without a driver) or are the dev tools
NOT_IN_ALL = {"all", "dev", "nvidia", "amd"}


def _extras() -> dict[str, list[str]]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]


def test_all_extra_names_every_installable_extra() -> None:
    extras = _extras()
    assert "all" in extras, "pyproject.toml lost the `all` extra that the Makefile installs"
    (spec,) = extras["all"]
    named = set(re.fullmatch(r"wattlens\[(.+)\]", spec).group(1).split(","))  # type: ignore[union-attr]
    assert named == set(extras) - NOT_IN_ALL


def test_makefile_installs_all_and_dev() -> None:
    makefile = (PYPROJECT.parent / "Makefile").read_text()
    assert '-e ".[all,dev]"' in makefile


def test_make_test_stops_the_trusting_postgres_server_pass_or_fail() -> None:
    """The loopback test server trusts every local user while it runs; `make test` must not leave it running."""
    makefile = (PYPROJECT.parent / "Makefile").read_text()
    for target in ("test:", "test-fast:"):
        recipe = makefile.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "|| status=$$?" in recipe and recipe.rstrip().endswith("scripts/pg.sh stop; exit $$status"), target
