"""The meter must not disturb what it measures: < 1 % of a 1-second CPU workload (EIT-style overhead test).

Not a timing-absolute test; two checks:

* direct (the < 1 % claim): the CPU time of the windows alone (the same number of begin/end pairs as the
  metered workload, best of 5) must be < 1 % of the ~1 s workload. Robust to noise, and it catches any
  hot-path regression.
* end to end (hidden costs: a polling thread, cache pollution): a ~1 s CPU workload cut into 10 steps is run
  bare and with a window per step (inside an outer window, as a training loop or the bench runner would
  meter it); bare and metered steps alternate so that drift hits both alike; process CPU time keeps other
  tenants' load out. On these shared 2-core VMs step-to-step noise alone is +/-3-4 % (seen in CI: passes of
  -4.4 %, +2.0 %, +2.8 % with an idle meter), so this check bounds the median at 5 %: far above the noise
  of a correct meter, far below what a spinning sampler or a per-window file scan would cost.
"""

from __future__ import annotations

import statistics
import time

import pytest

from wattlens.tracking import Monitor

STEPS = 10
PASSES = 3
END_TO_END_BOUND = 0.05  # see the module docstring: the 1 % claim is checked directly


def _spin(n: int) -> int:
    x = 0
    for i in range(n):
        x += i * i
    return x


def _calibrate(target_s: float) -> int:
    n = 5_000
    while True:
        t = time.process_time()
        _spin(n)
        dt = time.process_time() - t
        if dt > 0.05:
            return max(int(n * target_s / dt), 1)
        n *= 2


def _one_pass(mon: Monitor, n: int) -> tuple[float, float]:
    """(bare workload CPU s, relative overhead) with bare and metered steps alternating."""
    pt = time.process_time
    bare_s = metered_s = 0.0
    mon.begin("outer")
    for i in range(STEPS):
        for metered in (False, True) if i % 2 else (True, False):
            t = pt()
            if metered:
                mon.begin("step")
                _spin(n)
                mon.end("step")
                metered_s += pt() - t
            else:
                _spin(n)
                bare_s += pt() - t
    mon.end("outer")
    return bare_s, metered_s / bare_s - 1.0


@pytest.mark.slow
def test_meter_costs_under_one_percent_of_a_one_second_workload() -> None:
    n = _calibrate(1.0 / STEPS)
    seen = []
    with Monitor() as mon:
        for _attempt in range(2):
            runs = [_one_pass(mon, n) for _ in range(PASSES)]
            seen.append([(round(b, 3), round(o, 4)) for b, o in runs])
            workload_s = statistics.median(b for b, _ in runs)
            overhead = statistics.median(o for _, o in runs)
            if overhead < END_TO_END_BOUND:
                break
        # direct cost of the same windows (STEPS + outer), best of 5 to leave the neighbours out
        direct_s = []
        for _ in range(5):
            t = time.process_time()
            mon.begin("outer")
            for _ in range(STEPS):
                mon.begin("step")
                mon.end("step")
            mon.end("outer")
            direct_s.append(time.process_time() - t)
    assert workload_s > 0.4, f"workload calibration failed: {seen}"
    assert min(direct_s) < 0.01 * workload_s, f"windows alone cost {min(direct_s):.6f} s of CPU (>= 1 %)"
    assert overhead < END_TO_END_BOUND, f"median end-to-end overhead >= 5 %; passes (bare s, overhead): {seen}"
