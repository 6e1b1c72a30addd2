"""The Monitor over the real source classes, driven by the faithful fakes (powercap tree, NVML module)."""

from __future__ import annotations

import threading

import pytest

from tests.meters.fakes.nvml import VOLTA, machine
from tests.meters.fakes.powercap import intel_client_tree
from wattlens.meters import discovery
from wattlens.meters.base import MEASURED
from wattlens.meters.nvml import NvmlSource
from wattlens.meters.rapl import RaplSource
from wattlens.tracking import Monitor
from wattlens.tracking import monitor as monitor_mod


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _sources(tmp_path, cvd: str):
    clock = Clock()
    tree = intel_client_tree(tmp_path)
    rapl = RaplSource(root=tree.roots, clock=clock)
    nvml = machine(VOLTA, n=4)
    gpu = NvmlSource(nvml=nvml, env={"CUDA_VISIBLE_DEVICES": cvd}, clock=clock)
    return clock, tree, rapl, nvml, gpu


def test_rapl_and_visible_gpus_only(tmp_path) -> None:
    clock, tree, rapl, nvml, gpu = _sources(tmp_path, "1,3")
    with Monitor([rapl, gpu]) as mon:
        mon.begin("step")
        clock.t += 2.0
        tree.set("intel-rapl:0", 1_000_000 + 30_000_000)  # +30 J package
        tree.set("intel-rapl:0:2", 300_000 + 4_000_000)  # +4 J DRAM
        for g in nvml.gpus:
            g.energy_mj += 500_000  # +500 J on every GPU of the machine
        m = mon.end("step")
    by = {(c.domain, c.device): c for c in m.components}
    gpus = sorted(d for dom, d in by if dom == "gpu")
    assert gpus == ["1", "3"]  # the visible GPUs only, by physical index (CUDA_VISIBLE_DEVICES=1,3)
    assert [by[("gpu", d)].energy_j for d in gpus] == [pytest.approx(500.0)] * 2
    assert by[("cpu", next(d for dom, d in by if dom == "cpu"))].energy_j == pytest.approx(30.0)
    assert sum(c.energy_j for c in m.components if c.domain == "memory") == pytest.approx(4.0)
    assert sum(c.energy_j for c in m.components if c.domain == "gpu") == pytest.approx(1000.0)
    assert m.source == MEASURED and m.energy_j == pytest.approx(1034.0)
    assert threading.active_count() >= 1 and "wattlens-sampler" not in {t.name for t in threading.enumerate()}


def test_process_attribution_over_rapl(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock, tree, rapl, nvml, gpu = _sources(tmp_path, "0")
    reads = iter([(10.0, 100.0), (11.0, 102.0)])  # 1 s of ours out of 2 s used on the machine: 50 %
    monkeypatch.setattr(monitor_mod._ProcessShare, "read", lambda self: next(reads))
    with Monitor([rapl, gpu], attribution="process") as mon:
        mon.begin("w")
        clock.t += 2.0
        tree.set("intel-rapl:0", 1_000_000 + 30_000_000)
        nvml.gpus[0].energy_mj += 100_000
        m = mon.end("w")
    cpu = next(c for c in m.components if c.domain == "cpu")
    assert cpu.energy_j == pytest.approx(15.0) and "process-share" in cpu.method
    assert sum(c.energy_j for c in m.components if c.domain == "gpu") == pytest.approx(100.0)


def test_auto_discovery_prefers_sensors_and_estimates_the_rest(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = intel_client_tree(tmp_path)

    class TreeRapl(RaplSource):
        def __init__(self) -> None:
            super().__init__(root=tree.roots)

        @classmethod
        def probe(cls, **kwargs):
            return RaplSource.probe(root=tree.roots)

    import sys
    import types

    mod = types.ModuleType("fake_tree_rapl")
    mod.TreeRapl = TreeRapl
    monkeypatch.setitem(sys.modules, "fake_tree_rapl", mod)
    monkeypatch.setitem(discovery.HARDWARE_SOURCES, "rapl", ("fake_tree_rapl", "TreeRapl"))
    monkeypatch.setattr(discovery, "_POWERCAP_PATHS", tuple(tree.roots))  # where discovery looks for sysfs
    with Monitor() as mon:
        names = [s.name for s in mon.sources]
        with mon.window("w") as w:
            pass
    assert names == ["rapl"]  # package + DRAM measured: nothing left to estimate
    assert {c.domain for c in w.result.components} >= {"cpu", "memory"} and w.result.source == MEASURED
