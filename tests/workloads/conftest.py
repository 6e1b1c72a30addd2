"""Workload tests train wattlens' small models into a fresh per-session cache (so a broken training recipe
fails here instead of being hidden by a model cached earlier in ~/.cache/wattlens)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _fresh_model_cache(tmp_path_factory):
    before = os.environ.get("WATTLENS_CACHE_DIR")
    os.environ["WATTLENS_CACHE_DIR"] = str(tmp_path_factory.mktemp("wattlens-models"))
    yield
    if before is None:
        os.environ.pop("WATTLENS_CACHE_DIR", None)
    else:
        os.environ["WATTLENS_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def _restore_threads():
    """load_workload(threads=...) sets torch's global pool; put it back so tests do not leak it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
