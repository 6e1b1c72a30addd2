"""The Monitor's raw fast path (one estimator source) gives the same figures as the careful snapshot path.

The fast path reads the estimator's two counters at each edge without Snapshot objects, defers the
components to the first read, and a begin edge that follows another edge by < REUSE_GAP_S reads nothing: the
window starts at that edge. These tests pin what must not change: figures equal to the careful path's,
children's CPU time counted when they are reaped in the window, a window started at the previous edge covering
that edge's span in both its duration and its energy (and saying so), and back-to-back windows that tile.
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
    assert not any("previous window edge" in n for n in m.notes)  # a fresh start: read at begin()


def test_a_window_begun_just_after_an_edge_starts_there_in_time_and_energy(monkeypatch) -> None:
    monkeypatch.setattr("wattlens.tracking.monitor.REUSE_GAP_S", 60.0)  # always start at the previous edge
    with Monitor(["estimator"]) as mon:
        mon.begin("before")
        before = mon.end("before")
        subprocess.run([sys.executable, "-c", BUSY], check=True)  # >= 0.2 CPU s, reaped *between* the windows
        mon.begin("after")
        after = mon.end("after")
        model = mon.sources[0].model  # type: ignore[attr-defined]
    # the window starts where "before" ended: the child's run is inside its duration and inside its energy
    assert after.start_unix_s == pytest.approx(before.start_unix_s + before.duration_s, abs=2e-3)
    assert after.duration_s >= 0.2
    cpu = after.component("cpu")
    assert cpu is not None
    cpu_s = (cpu.energy_j - after.duration_s * model.n_threads * model.idle_w.mid) / model.dynamic_w.mid
    assert cpu_s >= 0.19 and cpu.low_j < cpu.energy_j < cpu.high_j
    assert any("began at the previous window edge" in n for n in after.notes)


def test_back_to_back_windows_tile_their_enclosing_window() -> None:
    with Monitor(["estimator"]) as mon:
        mon.begin("all")
        parts = []
        for _ in range(20):
            mon.begin("part")
            _spin(0.005)
            parts.append(mon.end("part"))
        whole = mon.end("all")
    duration = sum(p.duration_s for p in parts)
    energy = sum(p.energy_j for p in parts)
    # each part starts at the previous edge: together they cover the enclosing window but its last instant
    assert duration <= whole.duration_s < duration + 1e-3
    assert energy == pytest.approx(whole.energy_j, rel=0.02)
