"""Monitor: named / nested / overlapping windows, idle baseline, attribution, failures, threads."""

from __future__ import annotations

import threading
import time

import pytest

from tests.tracking.fakes import CounterSource
from wattlens.meters.base import ESTIMATED, MEASURED, UNAVAILABLE, MeterError
from wattlens.tracking import IdleBaseline, Measurement, Monitor
from wattlens.tracking import monitor as monitor_mod


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_nested_and_overlapping_windows() -> None:
    src = CounterSource()
    with Monitor([src]) as mon:
        mon.begin("epoch")
        src.value_j = 1.0
        mon.begin("step")
        src.value_j = 3.0
        mon.begin("overlap")
        src.value_j = 6.0
        step = mon.end("step")
        src.value_j = 10.0
        epoch = mon.end("epoch")
        overlap = mon.end("overlap")
    assert (step.energy_j, epoch.energy_j, overlap.energy_j) == (5.0, 10.0, 7.0)
    assert isinstance(step, Measurement) and step.name == "step" and step.source == MEASURED
    assert epoch.duration_s >= step.duration_s > 0
    assert src.closed and src.edges == 6


def test_errors_name_open_windows() -> None:
    with Monitor(["estimator"]) as mon:
        mon.begin("a")
        mon.begin("b")
        with pytest.raises(MeterError, match=r"'never'.*open windows: 'a', 'b'"):
            mon.end("never")
        with pytest.raises(MeterError, match="already open"):
            mon.begin("a")
        mon.cancel("a")
        with pytest.raises(MeterError, match="never begun"):
            mon.end("a")
        with pytest.raises(MeterError, match="never begun"):
            mon.cancel("zzz")
        with pytest.raises(MeterError, match="non-empty string"):
            mon.begin("")
        assert mon.open_windows == ["b"]
    with pytest.raises(MeterError, match="closed"):
        mon.begin("after")
    with pytest.raises(MeterError, match="attribution"):
        Monitor(["estimator"], attribution="cluster")


def test_window_context_manager_sets_result_and_keeps_exception() -> None:
    with Monitor(["estimator"]) as mon:
        with mon.window("ok") as w:
            sum(range(1000))
        assert w.result is not None and w.result.name == "ok" and w.result.source == ESTIMATED
        with pytest.raises(ZeroDivisionError), mon.window("boom") as w2:
            1 / 0  # noqa: B018
        assert w2.result is not None and "raised ZeroDivisionError" in w2.result.notes[-1]
        assert mon.open_windows == []


def test_meter_failure_never_raises_into_user_code() -> None:
    bad_snap, bad_delta, good = CounterSource("s1"), CounterSource("s2", "gpu"), CounterSource("s3", "memory")
    with Monitor([bad_snap, bad_delta, good]) as mon:
        mon.begin("w")
        bad_snap.fail_snapshot = True
        bad_delta.fail_delta = True
        good.value_j = 2.0
        m = mon.end("w")
    by = {c.domain: c for c in m.components}
    assert by["memory"].energy_j == 2.0
    failed = [c for c in m.components if c.source == UNAVAILABLE]
    assert len(failed) == 2 and all(c.energy_j is None and c.note for c in failed)
    assert any("sensor vanished" in c.note for c in failed) and any("driver bug" in c.note for c in failed)
    assert m.energy_j == 2.0  # the total says what could be read; the components say what could not


def test_idle_baseline_gives_net() -> None:
    src = CounterSource()
    with Monitor([src]) as mon:
        with pytest.raises(MeterError, match="idle duration"):
            mon.measure_idle(0)
        with pytest.raises(MeterError, match="idle duration"):
            mon.measure_idle(float("nan"))

        def drain():  # 10 W while idle: the counter advances during the sleep
            time.sleep(0.02)
            src.value_j += 0.5

        t = threading.Thread(target=drain)
        t.start()
        base = mon.measure_idle(0.05)
        t.join()
        assert isinstance(base, IdleBaseline) and mon.idle is base
        assert base.power_w["cpu"] == pytest.approx(0.5 / base.duration_s)
        mon.begin("work")
        src.value_j += 10.0
        time.sleep(0.01)
        m = mon.end("work")
    assert m.idle is base and m.idle_j == pytest.approx(base.total_w * m.duration_s)
    assert m.net_j == pytest.approx(10.0 - m.idle_j)
    assert m.to_dict()["idle"]["source"] == MEASURED


def test_estimator_idle_baseline_machine_mode() -> None:
    with Monitor(["estimator"]) as mon:
        base = mon.measure_idle(0.05)
        m = mon.end("x") if False else None  # noqa: F841
        with mon.window("w") as w:
            pass
    assert base.source == ESTIMATED and base.power_w["cpu"] > 0 and base.low_w["cpu"] <= base.high_w["cpu"]
    assert w.result.net_j is not None


def test_durations_use_a_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    with Monitor(["estimator"]) as mon:
        mon.begin("w")
        real = time.time
        monkeypatch.setattr(monitor_mod.time, "time", lambda: real() - 3600.0)  # wall clock jumps back an hour
        m = mon.end("w")
    assert 0 <= m.duration_s < 5


def test_process_attribution_scales_measured_package_energy(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_src, gpu_src = CounterSource("pkg", "cpu"), CounterSource("gpu0", "gpu")
    reads = iter([(1.0, 100.0), (2.0, 104.0)])  # (this process CPU s, machine busy CPU s): share 25 %
    monkeypatch.setattr(monitor_mod._ProcessShare, "read", lambda self: next(reads))
    with Monitor([cpu_src, gpu_src], attribution="process") as mon:
        mon.begin("w")
        cpu_src.value_j = 40.0
        gpu_src.value_j = 100.0
        m = mon.end("w")
    by = {c.domain: c for c in m.components}
    assert by["cpu"].energy_j == pytest.approx(10.0) and "process-share" in by["cpu"].method
    assert by["gpu"].energy_j == 100.0  # GPUs are counted whole (only the visible ones are opened)
    assert m.attribution == "process" and any("25.0%" in n for n in m.notes)


def _wait_until(cond, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    return cond()


@pytest.fixture
def short_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor_mod, "_SAMPLER", None)  # a fresh shared sampler with a short linger
    monkeypatch.setattr(monitor_mod, "LINGER_S", 0.05)


def test_sampler_runs_only_while_windows_are_open(short_linger) -> None:
    polled = CounterSource(period_s=0.005)
    before = _threads()
    mon = Monitor([polled])
    assert not mon.sampler_running and _threads() == before  # nothing at construction
    mon.begin("a")
    mon.begin("b")
    time.sleep(0.05)
    assert mon.sampler_running and "wattlens-sampler" in _threads()
    mon.end("a")
    assert mon.sampler_running  # still one window open
    mon.end("b")
    n = polled.samples
    assert n > 0
    # released by the watchdog LINGER_S after the last window, then the thread exits after its own linger
    assert _wait_until(lambda: not mon.sampler_running)
    assert _wait_until(lambda: "wattlens-sampler" not in _threads())
    mon.begin("c")
    time.sleep(0.02)
    assert "wattlens-sampler" in _threads()
    mon.close()  # closing with a window open stops and joins everything at once
    assert "wattlens-sampler" not in _threads() and _threads() <= before | {"MainThread"}
    mon.close()  # idempotent


def test_back_to_back_windows_do_not_restart_the_thread(short_linger) -> None:
    polled = CounterSource(period_s=0.005)
    with Monitor([polled]) as mon:
        mon.begin("w0")
        mon.end("w0")
        thread = next(t for t in threading.enumerate() if t.name == "wattlens-sampler")
        for i in range(1, 200):
            mon.begin(f"w{i}")
            mon.end(f"w{i}")
        assert thread.is_alive() and [t for t in threading.enumerate() if t.name == "wattlens-sampler"] == [thread]
    assert not thread.is_alive()


def test_two_monitors_share_one_sampler_thread(short_linger) -> None:
    a_src, b_src = CounterSource("a", period_s=0.005), CounterSource("b", period_s=0.005)
    with Monitor([a_src]) as ma, Monitor([b_src]) as mb:
        ma.begin("x")
        mb.begin("y")
        time.sleep(0.03)
        assert [t.name for t in threading.enumerate()].count("wattlens-sampler") == 1
        assert a_src.samples > 0 and b_src.samples > 0
        mb.close()  # the other monitor's window is still open: the thread keeps serving it
        n = a_src.samples
        time.sleep(0.03)
        assert a_src.samples > n
        ma.end("x")
    assert "wattlens-sampler" not in _threads()


def test_no_thread_for_edge_read_sources() -> None:
    before = threading.active_count()
    with Monitor(["estimator"]) as mon:
        for i in range(50):
            mon.begin(f"w{i}")
        for i in range(50):
            mon.end(f"w{i}")
        assert threading.active_count() == before
    assert threading.active_count() == before


def test_describe_and_statuses() -> None:
    with Monitor() as mon:
        d = mon.describe()
    assert d["attribution"] == "machine"
    available = {s["name"] for s in d["statuses"] if s["available"]}
    assert d["sources"] and set(d["sources"]) <= available  # auto-discovery uses only what works here
    assert {s["name"] for s in d["statuses"]} >= {"rapl", "estimator"}
    assert d["cpu_power_model"]["basis"] in ("unknown-cpu-range", "tdp-table", "cloud-vcpu-table", "user-tdp")


def test_process_share_reads_real_counters() -> None:
    share = monitor_mod._ProcessShare()
    a = share.read()
    t = time.process_time()
    while time.process_time() - t < 0.1:
        pass
    b = share.read()
    share.close()
    assert a is not None and b is not None and b[0] - a[0] >= 0.09
    s = monitor_mod._ProcessShare.share(a, b)
    assert s is not None and 0.0 < s <= 1.0  # Linux: /proc/stat gives the machine's ticks, so the share is known


def test_process_share_unknown_keeps_machine_figure_with_low_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    src = CounterSource("pkg", "cpu")
    monkeypatch.setattr(monitor_mod._ProcessShare, "read", lambda self: (1.0, 50.0))  # no machine tick: unknown
    with Monitor([src], attribution="process") as mon:
        mon.begin("w")
        src.value_j = 8.0
        m = mon.end("w")
    c = m.components[0]
    assert (c.energy_j, c.low_j, c.high_j) == (8.0, 0.0, 8.0) and "unknown" in m.notes[-1]


def test_windows_from_several_threads(short_linger) -> None:
    polled = CounterSource(period_s=0.01)
    errors: list[BaseException] = []
    with Monitor([polled]) as mon:

        def worker(k: int) -> None:
            try:
                for i in range(200):
                    mon.begin(f"t{k}-{i}")
                    mon.end(f"t{k}-{i}")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and mon.open_windows == []
        assert _wait_until(lambda: not mon.sampler_running)
    assert "wattlens-sampler" not in _threads()


def test_a_forgotten_monitor_does_not_keep_the_thread(short_linger) -> None:
    import gc

    polled = CounterSource(period_s=0.005)
    mon = Monitor([polled])
    mon.begin("w")
    mon.end("w")
    mon.begin("w2")  # left open, and the monitor dropped without close()
    del mon
    gc.collect()
    # the open window of a dead monitor is released by its watchdog; the thread then ends by itself
    assert _wait_until(lambda: "wattlens-sampler" not in _threads())
