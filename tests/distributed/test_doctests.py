"""The docstring examples of the distributed layer run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "wattlens.distributed",
    "wattlens.distributed.topology",
    "wattlens.distributed.reduce",
    "wattlens.distributed.measure",
    "wattlens.meters.allocation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
