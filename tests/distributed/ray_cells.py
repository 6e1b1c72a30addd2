"""Cells for the Ray sweep tests and benchmark: a text classifier that spins a stated time per input."""

from __future__ import annotations

import os
import time

SPIN_S = float(os.environ.get("WATTLENS_TEST_SPIN_S", "0.02"))


def classify(batch: list[object]) -> list[str]:
    """Busy-waits SPIN_S per input (a CPU-bound query), answers POSITIVE."""
    end = time.perf_counter() + SPIN_S * len(batch)
    while time.perf_counter() < end:
        pass
    return ["POSITIVE" for _ in batch]
