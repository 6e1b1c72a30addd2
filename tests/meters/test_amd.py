"""AMD SMI source against a stand-in ``amdsmi`` module injected in ``sys.modules``."""

from __future__ import annotations

import sys
import time

import pytest

from tests.meters.fakes.amdsmi import FakeAmdGpu, FakeAmdSmi
from wattlens.meters.amd import AmdSource, discover
from wattlens.meters.base import INTEGRATED, MEASURED, UNAVAILABLE
from wattlens.meters.sampler import SourceUnavailableError


class Clock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def smi(monkeypatch):
    fake = FakeAmdSmi([FakeAmdGpu(), FakeAmdGpu()])
    monkeypatch.setitem(sys.modules, "amdsmi", fake)  # the lazy `import amdsmi` finds the stand-in
    return fake


def _window(src, smi, clock, seconds, watts, *, counter_j=None, sample=False):
    """Advance each GPU at ``watts[i]`` for ``seconds``; the counter adds ``counter_j[i]`` (default: the truth)."""
    for g, w in zip(smi.gpus, watts, strict=True):
        g.power_w = w
    a = src.snapshot()
    steps = round(seconds / 0.1)
    for _ in range(steps):
        clock.t += 0.1
        for k, (g, w) in enumerate(zip(smi.gpus, watts, strict=True)):
            g.add_energy_j((counter_j[k] if counter_j else w * seconds) / steps)
        if sample:
            src.sample()
    return src.delta(a, src.snapshot())


def test_counter_is_ticks_times_resolution_and_gets_validated(smi):
    clock = Clock()
    src = AmdSource(env={}, clock=clock)
    c0, c1 = _window(src, smi, clock, 1.0, [500.0, 250.0])
    assert (c0.source, c0.method) == (MEASURED, "amdsmi:energy-counter")
    assert c0.energy_j == pytest.approx(500.0, rel=0.02) and c1.energy_j == pytest.approx(250.0, rel=0.02)
    ticks_j = smi.gpus[0].resolution_uj * 1e-6
    assert abs(c0.energy_j - 500.0) <= 10 * ticks_j  # exact up to tick rounding in the fake
    assert all(d.validated for d in src.devices)
    assert src.sample_period_s() is None  # counters: no thread


def test_legacy_power_key():
    smi = FakeAmdSmi([FakeAmdGpu()], legacy_key=True)
    clock = Clock()
    src = AmdSource(amdsmi=smi, env={}, clock=clock)
    (c,) = _window(src, smi, clock, 2.0, [100.0])
    assert c.energy_j == pytest.approx(200.0, rel=0.001)


def test_init_is_fast_and_never_sleeps(smi, monkeypatch):
    def no_sleep(_s):
        raise AssertionError("AmdSource must not sleep to validate its counter (Zeus sleeps 0.5 s)")

    monkeypatch.setattr(time, "sleep", no_sleep)
    t = time.perf_counter()
    AmdSource(env={})
    assert time.perf_counter() - t < 0.1


def test_implausible_counter_switches_to_power_integration(smi):
    clock = Clock()
    src = AmdSource(env={}, clock=clock)
    # GPU 0's counter reports 1000x too little (wrong unit): 0.3 J for 300 W over 1 s.
    c0, c1 = _window(src, smi, clock, 1.0, [300.0, 300.0], counter_j=[0.3, 300.0])
    assert c0.source == INTEGRATED and c0.method == "amdsmi:power×duration"
    assert c0.energy_j == pytest.approx(300.0) and c0.low_j < 300.0 < c0.high_j
    assert "implausible" in c0.note
    assert c1.source == MEASURED and c1.energy_j == pytest.approx(300.0, rel=0.01)
    assert src.sample_period_s() == pytest.approx(0.1)  # the sampler now polls GPU 0
    src.snapshot()  # an edge between windows (the Monitor's next begin)
    c0, c1 = _window(src, smi, clock, 2.0, [200.0, 200.0], counter_j=[0.4, 400.0], sample=True)
    assert (c0.source, c0.method) == (INTEGRATED, "amdsmi:power-integration")
    assert c0.energy_j == pytest.approx(400.0, rel=1e-9)
    assert c1.energy_j == pytest.approx(400.0, rel=0.01)


def test_no_counter_means_power_integration_from_the_start(smi):
    smi.gpus[1].has_counter = False
    clock = Clock()
    src = AmdSource(env={}, clock=clock)
    assert src.sample_period_s() == pytest.approx(0.1)
    _, c1 = _window(src, smi, clock, 1.0, [100.0, 150.0], sample=True)
    assert c1.source == INTEGRATED and c1.energy_j == pytest.approx(150.0, rel=1e-9)
    assert "NOT_SUPPORTED" in c1.note


def test_mi250_secondary_gcd_is_not_reported_as_zero():
    smi = FakeAmdSmi([FakeAmdGpu("AMD Instinct MI250X"), FakeAmdGpu("AMD Instinct MI250X")])
    clock = Clock()
    src = AmdSource(amdsmi=smi, env={}, clock=clock)
    primary, secondary = _window(src, smi, clock, 2.0, [480.0, 0.0], counter_j=[960.0, 0.0])
    assert primary.energy_j == pytest.approx(960.0, rel=0.01) and "whole module" in primary.note
    assert secondary.source == UNAVAILABLE and secondary.energy_j is None and "sibling GCD" in secondary.note


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"HIP_VISIBLE_DEVICES": "2,0"}, [2, 0]),
        ({"ROCR_VISIBLE_DEVICES": "1,2,3", "HIP_VISIBLE_DEVICES": "2,0"}, [3, 1]),  # HIP indexes ROCR's list
        ({"CUDA_VISIBLE_DEVICES": "3"}, [3]),  # HIP honours CUDA_VISIBLE_DEVICES when HIP_* is unset
        ({"HIP_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "3"}, [1]),
        ({"ROCR_VISIBLE_DEVICES": "GPU-02ff74a1"}, [2]),  # UUID (prefix) form
        ({"HIP_VISIBLE_DEVICES": "1,9,2"}, [1]),  # parsing stops at the first invalid entry
    ],
)
def test_visible_devices(env, expected):
    smi = FakeAmdSmi([FakeAmdGpu() for _ in range(4)])
    clock = Clock()
    src = AmdSource(amdsmi=smi, env=env, clock=clock)
    assert [d.index for d in src.devices] == expected
    comps = _window(src, smi, clock, 1.0, [100.0, 200.0, 300.0, 400.0])
    assert [c.energy_j for c in comps] == pytest.approx([100.0 * (i + 1) for i in expected], rel=0.01)


def test_error_mid_window_is_an_unavailable_component(smi):
    src = AmdSource(env={})
    a = src.snapshot()
    smi.gpus[0].failing = True
    c0, _ = src.delta(a, src.snapshot())
    assert c0.energy_j is None and "NO_PERM" in c0.note


def test_not_installed_and_no_driver(monkeypatch):
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    st = AmdSource.probe()
    assert not st.available and "not installed" in st.detail
    assert discover() == []
    st = AmdSource.probe(amdsmi=FakeAmdSmi([], driver=False))
    assert not st.available and "cannot start" in st.detail
    with pytest.raises(SourceUnavailableError):
        AmdSource(amdsmi=FakeAmdSmi([FakeAmdGpu()], driver=False))


def test_probe_and_close_balance_init(smi):
    st = AmdSource.probe(env={})
    assert st.available and st.source == MEASURED and smi.initialised == 0
    src = AmdSource(env={})
    src.close()
    src.close()
    assert smi.initialised == 0
