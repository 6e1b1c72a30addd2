"""Shared fixtures for the analyze tests (small models only: the whole folder runs in about a minute)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # never read or write the user's calibrated profile from tests
    monkeypatch.setenv("WATTLENS_CACHE_DIR", str(tmp_path / "cache"))
