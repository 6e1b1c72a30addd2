"""The runnable examples in the store layer's docstrings stay true."""

import doctest

import pytest

import wattlens.store
from wattlens.store import db, export


@pytest.mark.parametrize("module", [wattlens.store, db, export], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
