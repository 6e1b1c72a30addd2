"""One root error: every error base wattlens raises on purpose derives from ``wattlens.WattlensError``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import wattlens
from wattlens.errors import WattlensError

# (module, class, built-in base it kept so that older `except ValueError` code still catches it)
ERROR_BASES = [
    ("wattlens.meters.base", "MeterError", Exception),
    ("wattlens.meters.base", "SourceUnavailableError", Exception),
    ("wattlens.carbon.intensity", "CarbonError", ValueError),
    ("wattlens.store", "StoreError", RuntimeError),
    ("wattlens.workloads.errors", "WorkloadError", ValueError),
    ("wattlens.bench.suites", "SuiteError", ValueError),
    ("wattlens.bench.breakeven", "BreakevenError", ValueError),
    ("wattlens.optimize.transforms", "TransformError", RuntimeError),
    ("wattlens.cli.options", "UsageError", Exception),
]


def test_root_is_exported_from_the_package():
    assert wattlens.WattlensError is WattlensError
    assert "WattlensError" in wattlens.__all__


@pytest.mark.parametrize(("module", "name", "builtin"), ERROR_BASES, ids=[n for _, n, _ in ERROR_BASES])
def test_every_error_base_derives_from_the_root(module: str, name: str, builtin: type[Exception]):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, WattlensError)
    assert issubclass(cls, builtin)


def _error_classes_in_source() -> list[tuple[str, str]]:
    """(module, class) for every class named ``*Error`` defined anywhere in src/wattlens."""
    src = Path(wattlens.__file__).parent
    found = []
    for path in sorted(src.rglob("*.py")):
        module = ".".join(path.relative_to(src.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                found.append((module, node.name))
    return found


def test_the_known_bases_are_found_by_the_scan():
    assert {(m, n) for m, n, _ in ERROR_BASES} <= set(_error_classes_in_source())


@pytest.mark.parametrize(("module", "name"), _error_classes_in_source(), ids=lambda v: v)
def test_every_error_class_in_the_package_derives_from_the_root(module: str, name: str):
    """A new error class added anywhere without deriving from the root fails here."""
    assert issubclass(getattr(importlib.import_module(module), name), WattlensError)


def test_a_user_catches_one_thing():
    with pytest.raises(WattlensError, match="Atlantis"):
        wattlens.resolve_location(country="Atlantis")
