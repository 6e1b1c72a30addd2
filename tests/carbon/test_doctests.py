"""The runnable examples in the carbon layer's docstrings stay true."""

import doctest
import importlib

import pytest

# By module name: the attribute wattlens.carbon.footprint is the function, not the submodule.
MODULES = [
    "wattlens.carbon",
    "wattlens.carbon.intensity",
    "wattlens.carbon.footprint",
    "wattlens.carbon.live",
    "wattlens.carbon.component_model",
    "wattlens.carbon.hardware_footprints",
    "wattlens.carbon.lifecycle",
    "wattlens.carbon.lifecycle_record",
    "wattlens.carbon.water",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    module = importlib.import_module(name)
    for env in (
        "WATTLENS_COUNTRY",
        "WATTLENS_REGION",
        "WATTLENS_PUE",
        "WATTLENS_PRICE_PER_KWH",
        "WATTLENS_CURRENCY",
        "WATTLENS_LIFETIME_YEARS",
        "WATTLENS_UTILISATION",
        "WATTLENS_HOST",
        "WATTLENS_WUE",
    ):
        monkeypatch.delenv(env, raising=False)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
