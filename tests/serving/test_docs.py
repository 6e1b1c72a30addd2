"""Every example in the serving modules' docstrings runs (the public API's runnable examples)."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("starlette")

MODULES = ("__init__", "counters", "node", "promtext", "exporter", "otel", "middleware", "loadtest", "gpu_processes")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module("wattlens.serving" if name == "__init__" else f"wattlens.serving.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0, name
