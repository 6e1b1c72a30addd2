"""The meter must not disturb what it measures: < 1 % of a 1-second CPU workload (EIT-style overhead test).

Not a timing-absolute test: the workload is run with and without windows, interleaved, and the median
CPU times compared; CPU time (not wall time) keeps the other tenants of a shared machine out of it.
The workload is split into 100 steps, each in its own window inside an outer window — per-step metering,
as the bench runner does — so the meter's cost is exercised 202 times per run, not twice.
"""

from __future__ import annotations

import statistics
import time

from wattlens.tracking import Monitor

STEPS = 100


def _calibrate(target_s: float) -> int:
    n = 20_000
    while True:
        t = time.process_time()
        _spin(n)
        dt = time.process_time() - t
        if dt > 0.05:
            return max(int(n * target_s / dt), 1)
        n *= 2


def _spin(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


def _run(n_per_step: int, mon: Monitor | None) -> float:
    t = time.process_time()
    if mon is None:
        for _ in range(STEPS):
            _spin(n_per_step)
    else:
        mon.begin("outer")
        for i in range(STEPS):
            mon.begin(f"step{i}")
            _spin(n_per_step)
            mon.end(f"step{i}")
        mon.end("outer")
    return time.process_time() - t


def test_meter_costs_under_one_percent_of_a_one_second_workload() -> None:
    n_per_step = _calibrate(1.0 / STEPS)
    with Monitor() as mon:
        for _attempt in range(2):  # one retry: a noisy neighbour can skew a single series
            bare, metered = [], []
            for _ in range(3):  # interleaved, so drift (frequency, neighbours) hits both sides alike
                bare.append(_run(n_per_step, None))
                metered.append(_run(n_per_step, mon))
            overhead = statistics.median(metered) / statistics.median(bare) - 1.0
            if overhead < 0.01:
                break
    assert statistics.median(bare) > 0.5, "workload calibration failed"
    assert overhead < 0.01, f"meter overhead {overhead:.2%} of a ~1 s workload (runs {bare} vs {metered})"
    # and directly: the 202 edges of one run cost far less than 1 % of it
    t = time.perf_counter()
    with Monitor() as mon:
        for i in range(202):
            mon.begin(f"w{i}")
            mon.end(f"w{i}")
    assert time.perf_counter() - t < 0.01 * statistics.median(bare) + 0.05  # + Monitor() set-up
