"""Fixtures for the optimize tests: a tiny BERT (random weights, MiniLM's tokenizer) saved as a local model.

torch is imported only by the fixtures of the tests that run models (``one_torch_thread``, ``tiny_dir``): the
pure search, space and accounting tests run without torch (``test_pure_tests_need_no_torch`` proves it)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def one_torch_thread():
    """Tests run on 2 shared cores: a 2-thread OpenMP pool spin-waits for descheduled partners and burns CPU
    for nothing. One thread keeps the suite cheap; the baseline's 'default threads' is then 1."""
    import torch

    from wattlens.optimize.models import default_threads

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    default_threads()  # recorded as 1 for this session
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(one_torch_thread: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, 4-head, hidden-32 BERT with a sentence-transformers Normalize module, as a local directory."""
    from tests.optimize.tiny import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_base(tiny_dir: str):
    from wattlens.optimize.models import load_base

    return load_base(tiny_dir, "sentence-similarity")


@pytest.fixture(scope="session")
def texts() -> list[str]:
    from wattlens.workloads import data

    return [r["text"] for r in data.paraphrase_groups(24, seed=3)]
