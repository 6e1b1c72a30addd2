"""The docstring examples of the meter's modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "wattlens.meters.cpu",
    "wattlens.meters.estimator",
    "wattlens.meters.discovery",
    "wattlens.tracking",
    "wattlens.tracking.monitor",
    "wattlens.tracking.hardware",
    "wattlens.tracking.lifecycle_fields",
    "wattlens.cli.measure",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
