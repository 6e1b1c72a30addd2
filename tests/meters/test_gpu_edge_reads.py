"""GPU window edges read in the background (``edge_reads="async"``) against slow, clocked NVML stand-ins.

One NVML counter read cost 3.8 ms (median) on a virtualised H200; the stand-ins here take ``LATENCY_S`` per
energy or power read. Timing assertions are ratios against that latency or against the blocking mode measured
in the same test, so that a loaded machine makes them slower, not wrong.
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import pytest
from benchmarks.gpu_truth import window_costs

from tests.benchmarks.standin import ClockedNvml, StandInRig
from tests.meters.fakes.amdsmi import FakeAmdGpu, FakeAmdSmi
from tests.meters.fakes.nvml import HOPPER, machine
from wattlens.meters.amd import AmdSource
from wattlens.meters.base import INTEGRATED, MEASURED, UNAVAILABLE
from wattlens.meters.edge_reader import EdgeBatch
from wattlens.meters.gpu_common import EdgeReading
from wattlens.meters.nvml import NvmlSource
from wattlens.tracking import Monitor

LATENCY_S = 0.004


@pytest.fixture
def slow_nvml():
    nv = ClockedNvml(latency_s=LATENCY_S)
    nv.nvmlInit()  # held by the test, as the rig holds it: sources init and shut down on top of it
    yield nv
    nv.nvmlShutdown()


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wattlens-edge-")]


def test_async_window_edges_cost_a_fraction_of_one_read() -> None:
    rig = StandInRig(latency_s=LATENCY_S)
    rig.start()
    try:
        blocked = window_costs(rig, "blocking", 8, 0.01)
        fast = window_costs(rig, "async", 8, 0.01)
    finally:
        rig.close()
    # blocking: two reads on the caller's path (and a power read in delta for the short window)
    assert blocked["median_begin_end_us"] >= 2 * LATENCY_S * 1e6 * 0.9
    assert fast["median_begin_end_us"] < 0.1 * LATENCY_S * 1e6, (blocked, fast)
    assert fast["pure_delta"] and not blocked["pure_delta"]


def test_monitor_over_nvml_and_estimator_ends_without_waiting(slow_nvml) -> None:
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async")
    assert src.pure_delta
    mon = Monitor([src, "estimator"])
    try:
        slow_nvml.start_load(5.0)
        ends, results = [], []
        for i in range(5):
            mon.begin(f"s{i}")
            time.sleep(0.02)
            t0 = time.perf_counter()
            results.append(mon.end(f"s{i}"))
            ends.append(time.perf_counter() - t0)
        assert statistics.median(ends) < 0.1 * LATENCY_S  # end() did not wait for NVML
        # the first read of a result waits for its readings
        gpus = [m.component("gpu") for m in results]
    finally:
        mon.close()
    for c in gpus:
        assert c is not None and c.source == MEASURED and c.energy_j > 0
        assert "read off the edge, lag" in c.note
    assert {c.domain for c in results[0].components} >= {"gpu", "cpu"}


def _lag_s(src: NvmlSource, snap) -> float:
    r = src._resolved(snap)
    assert isinstance(r, EdgeReading)
    return r.lag_s


@pytest.mark.parametrize("mode", ["auto", "power"])
def test_async_window_equals_blocking_within_the_lag_bound(slow_nvml, mode) -> None:
    # a 0.3 s window under a 650 W load: edges read 4-10 ms late must still give the energy of the window
    # asked for, within the interval's lag term, and agree with edges read on the caller's path
    kw = {"counter_period_s": 0.001}  # no short-window widening: the lag term is what is tested
    blocking = NvmlSource([0], nvml=slow_nvml, edge_reads="blocking", mode=mode, **kw)
    background = NvmlSource([0], nvml=slow_nvml, edge_reads="async", mode=mode, **kw)
    try:
        slow_nvml.start_load(2.0)
        time.sleep(0.05)
        t0 = time.monotonic()
        a_blk = blocking.snapshot()
        blk_read_s = time.monotonic() - t0  # a blocking edge's reading lags its time stamp by up to this
        a_bg = background.snapshot()
        for _ in range(3):
            time.sleep(0.1)
            blocking.sample()  # what the sampler does for power integration (a no-op for the counter)
            background.sample()
        t0 = time.monotonic()
        b_blk = blocking.snapshot()
        blk_read_s += time.monotonic() - t0
        b_bg = background.snapshot()
        (c_blk,) = blocking.delta(a_blk, b_blk)
        (c_bg,) = background.delta(a_bg, b_bg)
        lag_s = _lag_s(background, a_bg) + _lag_s(background, b_bg)
    finally:
        blocking.close()
        background.close()
    truth = slow_nvml.energy_between_j(a_bg.t_s, b_bg.t_s)
    assert c_bg.source == (MEASURED if mode == "auto" else INTEGRATED)
    assert 0 < lag_s < 0.5
    lag_j = c_bg.energy_j / (b_bg.t_s - a_bg.t_s) * lag_s
    assert c_bg.low_j <= truth <= c_bg.high_j
    if mode == "auto":  # the counter is exact here, so only the edges' lags separate it from the truth
        assert abs(c_bg.energy_j - truth) <= lag_j
        assert abs(c_bg.energy_j - c_blk.energy_j) <= lag_j + 650 * blk_read_s  # blocking reads lag too
    # the interval is the blocking one (relative to the energy) plus the lag term on either side
    width_blk = (c_blk.high_j - c_blk.low_j) / c_blk.energy_j * c_bg.energy_j
    assert (c_bg.high_j - c_bg.low_j) - 2 * lag_j == pytest.approx(width_blk, rel=0.05)
    assert f"read off the edge, lag {_lag_s(background, a_bg) * 1e3:.1f}" in c_bg.note


def test_back_to_back_async_windows_sum_to_the_enclosing_one(slow_nvml) -> None:
    mon = Monitor([NvmlSource([0], nvml=slow_nvml, edge_reads="async")])
    try:
        slow_nvml.start_load(5.0)
        mon.begin("enclosing")
        parts = []
        for i in range(10):
            mon.begin(f"p{i}")
            time.sleep(0.06)
            parts.append(mon.end(f"p{i}"))
        enclosing = mon.end("enclosing")
        total = sum(p.energy_j for p in parts)
        whole = enclosing.energy_j
    finally:
        mon.close()
    # the end of one part and the begin of the next share a reading, so the parts tile the enclosing window;
    # a machine too loaded to coalesce two edges µs apart loses at most one read's worth between them
    assert abs(total - whole) <= 0.01 * whole + 650 * 2 * LATENCY_S


def test_a_burst_of_edges_is_served_by_one_read(slow_nvml) -> None:
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async")
    try:
        snaps = [src.snapshot() for _ in range(20)]
        readings = [src._resolved(s) for s in snaps]
        reader = src._reader
        assert reader is not None and reader.requests == 20
        assert reader.reads <= 3  # one for the burst, maybe one more if the first request woke it at once
        assert all(isinstance(r, EdgeReading) and 0 <= r.lag_s < 0.5 for r in readings)
        (c,) = src.delta(snaps[0], snaps[-1])
        assert c.energy_j is not None and "read off the edge" in c.note
    finally:
        src.close()


def test_short_windows_take_their_power_from_the_reader_not_from_delta(slow_nvml) -> None:
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async")
    try:
        slow_nvml.start_load(3.0)
        a = src.snapshot()
        time.sleep(0.01)
        b = src.snapshot()
        src._resolved(a), src._resolved(b)  # the readings are in: what delta does next is arithmetic
        calls = dict(slow_nvml.calls)
        (c,) = src.delta(a, b)
        assert slow_nvml.calls == calls  # no driver call in delta
        assert "shorter than two counter updates" in c.note and "a power reading" in c.note
        assert c.energy_j is not None and c.energy_j > 0
        # after a second of edges the power figure comes from the counter itself: no more power reads
        t_end = time.monotonic() + 1.3
        while time.monotonic() < t_end:
            src._resolved(src.snapshot())
            time.sleep(0.05)
        powers = slow_nvml.calls.get("nvmlDeviceGetPowerUsage", 0)
        a = src.snapshot()
        time.sleep(0.01)
        (c,) = src.delta(a, src.snapshot())
        assert "the counter's mean power over" in c.note
        assert slow_nvml.calls.get("nvmlDeviceGetPowerUsage", 0) == powers
    finally:
        src.close()


def test_close_serves_pending_edges_stops_the_reader_and_leaves_no_thread(slow_nvml) -> None:
    before = slow_nvml.init_count
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async")
    a = src.snapshot()
    time.sleep(0.01)
    b = src.snapshot()
    assert _reader_threads()
    src.close()
    assert _reader_threads() == [] and not src._reader.running
    assert slow_nvml.init_count == before  # the library was shut down, after the reader stopped
    (c,) = src.delta(a, b)  # edges asked for before close() were read before it returned
    assert c.energy_j is not None and c.energy_j > 0
    (late,) = src.delta(a, src.snapshot())
    assert late.source == UNAVAILABLE and "source closed" in late.note
    src.close()  # idempotent
    reads = slow_nvml.calls.get("nvmlDeviceGetTotalEnergyConsumption", 0)
    time.sleep(0.02)
    assert slow_nvml.calls.get("nvmlDeviceGetTotalEnergyConsumption", 0) == reads  # nothing runs after close


def test_a_reader_that_raises_gives_unavailable_with_the_reason(slow_nvml, monkeypatch) -> None:
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async")
    try:

        def boom(*_a, **_k):
            raise RuntimeError("power-hint bug")

        monkeypatch.setattr(src, "_update_hints", boom)
        a = src.snapshot()
        (c,) = src.delta(a, src.snapshot())
        assert c.source == UNAVAILABLE and c.energy_j is None
        assert "background edge read failed: RuntimeError: power-hint bug" in c.note
        monkeypatch.undo()  # the reader survives a failed read: the next window is measured
        a = src.snapshot()
        time.sleep(0.01)
        (c,) = src.delta(a, src.snapshot())
        assert c.energy_j is not None
    finally:
        src.close()


def test_a_device_error_in_the_reader_is_unavailable_with_the_nvml_reason() -> None:
    nv = machine(HOPPER, n=2)
    src = NvmlSource(nvml=nv, env={}, edge_reads="async")
    try:
        a = src.snapshot()
        src._resolved(a)
        nv.gpus[1].lost = True
        c0, c1 = src.delta(a, src.snapshot())
        assert c0.energy_j is not None
        assert c1.energy_j is None and "GpuIsLost" in c1.note
    finally:
        src.close()


def test_a_reader_stuck_in_the_driver_times_out_and_never_hangs(slow_nvml, caplog) -> None:
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async", edge_timeout_s=0.3)
    gate = threading.Event()
    real = slow_nvml.nvmlDeviceGetTotalEnergyConsumption

    def stuck(handle):
        gate.wait(10)  # a driver call that does not return (bounded, so the test cannot hang either)
        return real(handle)

    slow_nvml.nvmlDeviceGetTotalEnergyConsumption = stuck
    try:
        a = src.snapshot()
        b = src.snapshot()
        t0 = time.monotonic()
        (c,) = src.delta(a, b)
        assert time.monotonic() - t0 < 0.3 + 0.5
        assert c.source == UNAVAILABLE and "not done 0.3 s after the edge" in c.note
        t0 = time.monotonic()
        src.close()  # does not hang either: the reader is left behind, the library left initialised
        assert time.monotonic() - t0 < 0.3 + 0.5
        assert "still inside a driver call" in caplog.text
    finally:
        gate.set()
        del slow_nvml.nvmlDeviceGetTotalEnergyConsumption
        src._reader.close(5.0)
    assert _reader_threads() == []


def test_edge_reads_choice() -> None:
    import json

    with pytest.raises(ValueError, match="edge_reads must be one of"):
        NvmlSource(nvml=machine(HOPPER, n=1), env={}, edge_reads="fast")
    stand_in = NvmlSource(nvml=machine(HOPPER, n=1), env={})  # auto: an in-memory stand-in reads at the edge
    assert stand_in.edge_reads == "blocking" and not stand_in.pure_delta
    assert isinstance(stand_in.snapshot().values, tuple)
    stand_in.close()
    assert NvmlSource._is_vendor_module(json) and not NvmlSource._is_vendor_module(machine(HOPPER, n=1))
    bg = NvmlSource(nvml=machine(HOPPER, n=1), env={}, edge_reads="async")
    assert bg.edge_reads == "async" and bg.pure_delta and isinstance(bg.snapshot().values, EdgeBatch)
    bg.close()


def test_amd_reads_in_the_background_too() -> None:
    smi = FakeAmdSmi([FakeAmdGpu()])
    src = AmdSource(amdsmi=smi, env={}, edge_reads="async")
    try:
        assert src.edge_reads == "async" and not src.pure_delta  # its delta checks the counter with a power read
        a = src.snapshot()
        src._resolved(a)
        time.sleep(0.2)
        smi.gpus[0].add_energy_j(60.0)
        b = src.snapshot()
        (c,) = src.delta(a, b)
        assert c.source == MEASURED and c.energy_j == pytest.approx(60.0, rel=1e-3)
        assert src.devices[0].validated and "read off the edge" in c.note
    finally:
        src.close()
    assert _reader_threads() == []


def test_a_forked_child_reads_through_its_own_reader(slow_nvml) -> None:
    # a DataLoader worker or a multiprocessing child inherits the source but not its thread
    src = NvmlSource([0], nvml=slow_nvml, edge_reads="async", edge_timeout_s=1.0)
    src._resolved(src.snapshot())  # the parent's reader is running
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 when it measured through a reader of its own
        code = 5
        try:
            a = src.snapshot()
            time.sleep(0.01)
            (c,) = src.delta(a, src.snapshot())
            code = 0 if c.energy_j is not None and "read off the edge" in c.note else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    src.close()
    assert os.waitstatus_to_exitcode(status) == 0
