"""The exporter runs for days: 10^5 scrapes through the real scrape path (tick + render) in one process, RSS growth
under 5 MB, counters never going back."""

from __future__ import annotations

import gc
import time

import psutil
import pytest

from wattlens.serving.counters import EnergyCounters
from wattlens.serving.exporter import Exporter

SCRAPES = 100_000
MAX_GROWTH_MB = 5.0
TIME_LIMIT_S = 120.0


@pytest.mark.slow
def test_1e5_scrapes_keep_memory_bounded():
    exp = Exporter(EnergyCounters(processes=False))
    me = psutil.Process()
    for _ in range(2000):  # warm: caches, first-interval power, interned label strings
        exp.scrape()
    gc.collect()
    rss0 = me.memory_info().rss
    last_total = 0.0
    started = time.monotonic()
    for i in range(SCRAPES):
        body = exp.scrape()
        if i % 10_000 == 0:
            total = sum(t.energy_j for t in exp.counters.snapshot().energy.values())
            assert total >= last_total  # only grows
            last_total = total
            assert time.monotonic() - started < TIME_LIMIT_S, f"{i} scrapes took over {TIME_LIMIT_S} s"
    gc.collect()
    growth_mb = (me.memory_info().rss - rss0) / 2**20
    elapsed = time.monotonic() - started
    exp.close()
    assert "wattlens_energy_joules_total" in body
    print(
        f"{SCRAPES} scrapes in {elapsed:.1f} s ({elapsed / SCRAPES * 1e6:.0f} µs each), RSS growth {growth_mb:.2f} MB"
    )
    assert growth_mb < MAX_GROWTH_MB
