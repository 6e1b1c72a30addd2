"""The exporter's counters: only grow, wrap-safe (a real RAPL wrap in a faithful powercap tree), kept across the
meter's restarts, a failing sensor as up=0 with its reason, and /metrics text that prometheus_client parses."""

from __future__ import annotations

import time

import pytest

from tests.meters.fakes.powercap import FakePowercap
from wattlens.meters.base import DOMAIN_CPU, ComponentEnergy, EnergySource, Snapshot, SourceStatus
from wattlens.meters.rapl import RaplSource
from wattlens.serving.counters import EnergyCounters, ProcessShares
from wattlens.serving.exporter import Exporter, families
from wattlens.serving.promtext import render
from wattlens.tracking import Monitor

prom_parser = pytest.importorskip("prometheus_client.parser")


def _parse(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for fam in prom_parser.text_string_to_metric_families(text):
        out[fam.name] = [(s.name, s.labels, s.value) for s in fam.samples]
    return out


def test_rapl_wrap_adds_up_and_counters_only_grow(tmp_path):
    fake = FakePowercap(tmp_path)
    top = 262_143_328_850
    fake.add("intel-rapl:0", "package-0", top - 1_000_000)
    counters = EnergyCounters(lambda: Monitor(sources=[RaplSource(fake.roots)]))
    fake.set("intel-rapl:0", 4_000_000)  # wrapped: 1 J to the top of the range, then 4 J
    counters.tick()
    fake.set("intel-rapl:0", 6_500_000)
    counters.tick()
    (total,) = [t for k, t in counters.snapshot().energy.items() if k.domain == DOMAIN_CPU]
    assert total.energy_j == pytest.approx(7.5, rel=1e-9)
    counters.close()


class FlakySource(EnergySource):
    """A sensor that stops answering: its windows are unavailable with the driver's reason (as NVML's would be)."""

    name = "flaky"
    domains = (DOMAIN_CPU,)

    def __init__(self) -> None:
        self.joules = 0.0
        self.broken = False

    @classmethod
    def probe(cls, **kwargs):
        return SourceStatus("flaky", True, "test sensor", (DOMAIN_CPU,), "measured")

    def snapshot(self) -> Snapshot:
        if self.broken:
            return Snapshot(0.0, None, {"cpu": "sensor read failed: EIO"})
        return Snapshot(0.0, self.joules)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        if start.values is None or end.values is None:
            reason = "; ".join({**start.errors, **end.errors}.values())
            return [ComponentEnergy.unavailable(DOMAIN_CPU, "flaky", reason)]
        e = end.values - start.values
        return [ComponentEnergy(DOMAIN_CPU, e, "measured", "flaky", e, e)]


def test_failing_sensor_is_up_zero_with_reason_and_no_reset():
    src = FlakySource()
    counters = EnergyCounters(lambda: Monitor(sources=[src]))
    src.joules = 10.0
    counters.tick()
    src.broken = True
    counters.tick()
    parsed = _parse(render(families(counters.snapshot())))
    up = parsed["wattlens_up"]
    assert up == [("wattlens_up", {"domain": "cpu", "device": "all", "reason": "sensor read failed: EIO"}, 0.0)]
    assert parsed["wattlens_energy_joules"][0][2] == pytest.approx(10.0)  # kept, not reset, not grown
    src.broken = False
    src.joules = 12.0
    counters.tick()  # the window that began while broken is unavailable too
    src.joules = 13.5
    counters.tick()
    parsed = _parse(render(families(counters.snapshot())))
    assert parsed["wattlens_up"][0][2] == 1.0 and parsed["wattlens_up"][0][1]["reason"] == ""
    assert parsed["wattlens_energy_joules"][0][2] == pytest.approx(11.5)
    counters.close()


class BreakingMonitor(Monitor):
    """A meter whose ``end`` raises once: the counters must rebuild it and carry on."""

    fail_next = False

    def end(self, name):  # type: ignore[override]
        if BreakingMonitor.fail_next:
            BreakingMonitor.fail_next = False
            raise RuntimeError("driver reset")
        return super().end(name)


def test_meter_restart_keeps_counters_monotonic():
    src = FlakySource()
    made = []

    def factory():
        made.append(BreakingMonitor(sources=[src]))
        return made[-1]

    counters = EnergyCounters(factory)
    src.joules = 5.0
    counters.tick()
    BreakingMonitor.fail_next = True
    counters.tick()  # end() raises: the meter is rebuilt
    src.joules = 7.0
    counters.tick()
    view = counters.snapshot()
    assert len(made) == 2 and view.restarts == 1
    assert next(iter(view.energy.values())).energy_j == pytest.approx(7.0)
    counters.close()


def test_interval_bounds_and_idle_active_split_add_up():
    counters = EnergyCounters(lambda: Monitor(sources=["estimator"]), power_interval_s=0.0)
    for _ in range(5):
        sum(i * i for i in range(20000))
        counters.tick()
    for key, t in counters.snapshot().energy.items():
        assert t.low_j <= t.energy_j <= t.high_j, key
        assert t.idle_j + t.active_j == pytest.approx(t.energy_j)
        assert t.idle_j > 0  # the lowest power seen so far (Kepler's idle) charged from the second interval on
    counters.close()


def test_exposition_parses_and_names_follow_conventions():
    exp = Exporter(EnergyCounters(lambda: Monitor(sources=["estimator"]), processes=True, power_interval_s=0.0))
    exp.scrape()
    spin_until = time.process_time() + 0.05  # /proc counts CPU time in 10 ms ticks: give every series some
    while time.process_time() < spin_until:
        sum(i * i for i in range(5000))
    parsed = _parse(exp.scrape())
    assert {
        "wattlens_energy_joules",
        "wattlens_power_watts",
        "wattlens_up",
        "wattlens_meter_info",
        "wattlens_energy_mode_joules",
        "wattlens_energy_low_joules",
        "wattlens_energy_high_joules",
        "wattlens_process_energy_joules",
    } <= set(parsed)
    energy = parsed["wattlens_energy_joules"]
    assert all(name == "wattlens_energy_joules_total" for name, _, _ in energy)
    assert {lab["domain"] for _, lab, _ in energy} == {"cpu", "memory"}
    assert set(energy[0][1]) == {"domain", "device", "source", "method"}
    modes = {lab["mode"] for _, lab, _ in parsed["wattlens_energy_mode_joules"]}
    assert modes == {"idle", "active"}
    info = parsed["wattlens_meter_info"][0][1]
    assert info["meter"] == "wattlens" and info["boundary"] == "device" and info["sources"] == "estimator"
    procs = parsed["wattlens_process_energy_joules"]
    assert all(lab["attributed"] == "cpu-time-share" for _, lab, _ in procs)
    exp.close()


def test_process_shares_follow_cpu_time(tmp_path):
    proc = tmp_path / "proc"

    def write(pid: int, comm: str, ticks: int) -> None:
        d = proc / str(pid)
        d.mkdir(parents=True, exist_ok=True)
        rest = " ".join(["0"] * 11)  # fields 3..13 of /proc/PID/stat; utime and stime are the 14th and 15th
        (d / "stat").write_text(f"{pid} ({comm}) S {rest} {ticks} 0 0 0\n")

    write(10, "model server", 100)
    write(11, "sidecar", 100)
    shares = ProcessShares(str(proc))
    shares.attribute(0.0)
    write(10, "model server", 400)  # 300 ticks
    write(11, "sidecar", 200)  # 100 ticks
    shares.attribute(8.0)
    top = {p.comm: p.energy_j for p in shares.top()}
    assert top == {"model server": pytest.approx(6.0), "sidecar": pytest.approx(2.0)}
    (proc / "11" / "stat").unlink()
    (proc / "11").rmdir()
    shares.attribute(1.0)  # the sidecar ended: its series ends (memory stays bounded by live processes)
    assert [p.comm for p in shares.top()] == ["model server"]
