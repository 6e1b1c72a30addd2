"""The Monitor's raw fast path (one estimator source) gives the same figures as the careful snapshot path.

The fast path reads the estimator's two counters at each edge without Snapshot objects, defers the
components to the first read, and at a begin edge that follows another edge by < REUSE_GAP_S reuses the
reaped-children CPU time read there. These tests pin what must not change: figures equal to the careful
path's, children's CPU time counted when they are reaped in the window, and an honest interval when a
reused start cannot tell whether a child was reaped just before the window.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from wattlens.meters.estimator import EstimatorSource
from wattlens.tracking import Monitor
from wattlens.tracking.monitor import REUSE_GAP_S

BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass"


def _spin(seconds: float) -> None:
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def test_fast_path_and_careful_path_agree() -> None:
    model = EstimatorSource().model
    fast = Monitor([EstimatorSource(model=model, memory_gb=8.0)])
    careful = Monitor([EstimatorSource(model=model, memory_gb=8.0)])
    careful.__dict__.pop("begin"), careful.__dict__.pop("end")  # the general methods: snapshot() edges
    assert "begin" in fast.__dict__
    for mon in (fast, careful):
        mon.begin("w")
        _spin(0.05)
    m_fast, m_careful = fast.end("w"), careful.end("w")
    for m in (m_fast, m_careful):
        cpu = m.component("cpu")
        assert cpu is not None and cpu.low_j < cpu.energy_j < cpu.high_j and m.source == "estimated"
    # same model, same CPU work within scheduling noise: the same joules per CPU second
    rate = [m.component("cpu").energy_j / m.duration_s for m in (m_fast, m_careful)]  # type: ignore[union-attr]
    assert rate[0] == pytest.approx(rate[1], rel=0.25)
    fast.close(), careful.close()


def test_a_child_reaped_inside_the_window_is_counted() -> None:
    with Monitor(["estimator"]) as mon:
        mon.begin("before")
        mon.end("before")
        time.sleep(2 * REUSE_GAP_S)  # the next begin reads afresh
        mon.begin("child")
        subprocess.run([sys.executable, "-c", BUSY], check=True)  # >= 0.2 s of CPU, reaped in the window
        m = mon.end("child")
        model = mon.sources[0].model  # type: ignore[attr-defined]
    cpu = m.component("cpu")
    assert cpu is not None
    cpu_s = (cpu.energy_j - m.duration_s * model.n_threads * model.idle_w.mid) / model.dynamic_w.mid
    assert cpu_s >= 0.19  # the child's 0.2 CPU seconds are in it (central value: idle + dynamic x CPU s)
    assert "reaped children" not in cpu.note  # a fresh start: exact, no widening


def test_a_reused_start_that_saw_a_reap_widens_the_interval_instead_of_guessing(monkeypatch) -> None:
    monkeypatch.setattr("wattlens.tracking.monitor.REUSE_GAP_S", 60.0)  # always reuse: the ambiguous case on demand
    with Monitor(["estimator"]) as mon:
        mon.begin("before")
        mon.end("before")
        subprocess.run([sys.executable, "-c", BUSY], check=True)  # reaped *between* the windows
        mon.begin("after")
        m = mon.end("after")
    cpu = m.component("cpu")
    assert cpu is not None and "reaped children" in cpu.note and "low end leaves it out" in cpu.note
    # the low end excludes the child's ~0.2 CPU s, the central value and the high end include it
    assert cpu.low_j < 0.5 * cpu.energy_j <= cpu.high_j
