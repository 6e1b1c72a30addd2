"""NVML source against a stand-in ``pynvml`` (real function names, error classes and constants)."""

from __future__ import annotations

import sys
import time
import types

import pytest

from tests.meters.fakes.nvml import AMPERE, HOPPER, PASCAL, VOLTA, FakeGpu, FakeNvml, machine, uuid_for
from wattlens.meters.base import DOMAIN_GPU, INTEGRATED, MEASURED, UNAVAILABLE
from wattlens.meters.nvml import NvmlSource, discover
from wattlens.meters.sampler import Sampler, SourceUnavailableError


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _run_window(src: NvmlSource, nvml: FakeNvml, clock: Clock, seconds: float, power_w: dict[int, float]) -> list:
    """Advance the fake GPUs at constant power for ``seconds``, polling like the sampler would (10 Hz)."""
    for i, p in power_w.items():
        nvml.gpus[i].power_mw = int(p * 1000)
    a = src.snapshot()
    steps = round(seconds / 0.1)
    for _ in range(steps):
        clock.t += 0.1
        for i, p in power_w.items():
            nvml.gpus[i].energy_mj += int(p * 0.1 * 1000)
        src.sample()
    return src.delta(a, src.snapshot())


CVD_CASES = [
    (None, [0, 1, 2, 3]),
    ("0", [0]),
    ("2,0", [2, 0]),
    ("1,1", [1]),
    (uuid_for(3), [3]),
    (uuid_for(1)[:12], [1]),  # CUDA accepts a unique UUID prefix
    ("3,junk,1", [3]),  # CUDA stops at the first invalid entry
    ("1,7,2", [1]),  # out-of-range index stops parsing too
]


@pytest.mark.parametrize("arch", [PASCAL, VOLTA, AMPERE, HOPPER], ids=["pascal", "volta", "ampere", "hopper"])
@pytest.mark.parametrize(("cvd", "expected"), CVD_CASES, ids=[str(c[0]) for c in CVD_CASES])
def test_generations_and_visible_devices(arch, cvd, expected):
    nvml = machine(arch, n=4)
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    if cvd is not None:
        env["CUDA_VISIBLE_DEVICES"] = cvd
    clock = Clock()
    src = NvmlSource(nvml=nvml, env=env, clock=clock)
    assert [d.index for d in src.devices] == expected
    power = {i: 50.0 * (i + 1) for i in range(4)}  # every GPU busy, visible or not
    comps = _run_window(src, nvml, clock, 2.0, power)
    assert [c.device for c in comps] == [str(i) for i in expected]  # only the GPUs this process uses
    for c in comps:
        i = int(c.device)
        assert c.domain == DOMAIN_GPU
        assert c.energy_j == pytest.approx(power[i] * 2.0, rel=0.02)
        assert c.low_j <= c.energy_j <= c.high_j
        if arch == PASCAL:
            assert (c.source, c.method) == (INTEGRATED, "nvml:power-integration")
        else:
            assert (c.source, c.method) == (MEASURED, "nvml:energy-counter")
            assert c.energy_j == pytest.approx(power[i] * 2.0, rel=1e-9)  # exact counter delta
    assert src.sample_period_s() == (0.1 if arch == PASCAL else None)
    src.close()
    assert nvml.init_count == 0


def test_empty_cuda_visible_devices_means_no_gpu():
    nvml = machine(AMPERE)
    st = NvmlSource.probe(nvml=nvml, env={"CUDA_VISIBLE_DEVICES": ""})
    assert not st.available and "empty" in st.detail
    with pytest.raises(SourceUnavailableError):
        NvmlSource(nvml=nvml, env={"CUDA_VISIBLE_DEVICES": ""})
    assert nvml.init_count == 0


def test_explicit_devices_override_the_environment():
    src = NvmlSource([2, uuid_for(0)], nvml=machine(HOPPER), env={"CUDA_VISIBLE_DEVICES": "1"})
    assert [d.index for d in src.devices] == [2, 0]


def test_pascal_trapezoid_integration_of_a_power_ramp():
    nvml = machine(PASCAL, n=1)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    nvml.gpus[0].power_mw = 100_000
    a = src.snapshot()
    for k in range(1, 11):  # 100 W -> 200 W linearly over 1 s: exact trapezoid = 150 J
        clock.t += 0.1
        nvml.gpus[0].power_mw = 100_000 + 10_000 * k
        src.sample()
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(150.0, rel=1e-9)
    assert "no energy counter before Volta" in c.note


def test_pascal_with_the_real_sampler_thread_at_10_hz():
    nvml = machine(PASCAL, n=1, power_mw=80_000)
    src = NvmlSource(nvml=nvml, env={})
    sampler = Sampler()
    sampler.register(src)
    sampler.open_window()
    a = src.snapshot()
    time.sleep(0.55)
    b = src.snapshot()
    sampler.close_window()
    assert not sampler.running
    (c,) = src.delta(a, b)
    assert c.energy_j == pytest.approx(80.0 * (b.t_s - a.t_s), rel=0.02)
    assert sampler.stats()["samples"] >= 3
    assert sampler.stats()["errors"] == 0


def test_zero_delta_in_a_short_window_is_not_reported_as_zero():
    nvml = machine(AMPERE, n=1, power_mw=250_000)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    a = src.snapshot()
    clock.t += 0.02  # 20 ms: the counter has not ticked
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(250.0 * 0.02)
    assert c.energy_j > 0 and c.source == INTEGRATED and c.method == "nvml:power×duration"
    assert c.low_j < c.energy_j < c.high_j
    assert "shorter than two counter updates" in c.note


def test_short_window_with_a_counter_step_is_flagged_and_widened():
    nvml = machine(VOLTA, n=1, power_mw=200_000)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    a = src.snapshot()
    clock.t += 0.05
    nvml.gpus[0].energy_mj += 10_000
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(10.0) and c.source == MEASURED
    assert c.high_j - c.energy_j >= 200.0 * 0.1  # one assumed 100 ms step at 200 W
    assert "shorter than two counter updates" in c.note
    # a long window is not flagged
    a = src.snapshot()
    clock.t += 1.0
    nvml.gpus[0].energy_mj += 200_000
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(200.0) and "shorter" not in c.note


@pytest.mark.parametrize(
    "spec", ["MIG-5c3a0d6e-aaaa-bbbb-cccc-000000000001", f"MIG-{uuid_for(1)}/1/0"], ids=["mig-uuid", "legacy-mig-gpu"]
)
def test_mig_instance_measured_through_its_parent_gpu(spec):
    gpus = [
        FakeGpu(AMPERE, uuid_for(0)),
        FakeGpu(
            AMPERE,
            uuid_for(1),
            mig=True,
            mig_uuids=["MIG-5c3a0d6e-aaaa-bbbb-cccc-000000000001", "MIG-5c3a0d6e-aaaa-bbbb-cccc-2"],
        ),
    ]
    nvml = FakeNvml(gpus)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={"CUDA_VISIBLE_DEVICES": spec}, clock=clock)
    assert [d.index for d in src.devices] == [1]
    comps = _run_window(src, nvml, clock, 1.0, {0: 300.0, 1: 120.0})
    (c,) = comps
    assert c.device == "1" and c.energy_j == pytest.approx(120.0)
    assert "whole GPU" in c.note


def test_two_mig_instances_of_one_gpu_count_it_once():
    mig = ["MIG-5c3a0d6e-aaaa-bbbb-cccc-000000000001", "MIG-5c3a0d6e-aaaa-bbbb-cccc-000000000002"]
    nvml = FakeNvml([FakeGpu(HOPPER, uuid_for(0), mig=True, mig_uuids=mig)])
    src = NvmlSource(nvml=nvml, env={"CUDA_VISIBLE_DEVICES": ",".join(mig)})
    assert len(src.devices) == 1


def test_mig_mode_without_cuda_visible_devices_is_noted():
    nvml = FakeNvml([FakeGpu(AMPERE, uuid_for(0), mig=True)])
    st = NvmlSource.probe(nvml=nvml, env={})
    assert st.available and "MIG mode on" in st.detail


def test_vgpu_with_power_falls_back_to_integration():
    nvml = machine(AMPERE, n=1, vgpu=True)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    (c,) = _run_window(src, nvml, clock, 2.0, {0: 70.0})
    assert c.source == INTEGRATED and c.energy_j == pytest.approx(140.0)
    assert "vGPU" in c.note and "NotSupported" in c.note


def test_vgpu_without_power_is_unavailable_not_a_crash():
    nvml = machine(AMPERE, n=1, vgpu=True, vgpu_power=False)
    st = NvmlSource.probe(nvml=nvml, env={})
    assert not st.available and "NotSupported" in st.detail
    with pytest.raises(SourceUnavailableError, match="power"):
        NvmlSource(nvml=nvml, env={})
    assert discover(nvml=nvml, env={}) == []
    assert nvml.init_count == 0


def test_a_broken_gpu_beside_a_good_one_is_an_unavailable_component():
    gpus = [FakeGpu(HOPPER, uuid_for(0)), FakeGpu(AMPERE, uuid_for(1), vgpu=True, vgpu_power=False)]
    nvml = FakeNvml(gpus)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    good, bad = _run_window(src, nvml, clock, 1.0, {0: 400.0})
    assert good.energy_j == pytest.approx(400.0)
    assert bad.source == UNAVAILABLE and bad.energy_j is None and "NotSupported" in bad.note


def test_gpu_lost_mid_window_gives_unavailable_with_reason():
    nvml = machine(HOPPER, n=2)
    src = NvmlSource(nvml=nvml, env={})
    a = src.snapshot()
    nvml.gpus[1].lost = True
    b = src.snapshot()
    assert "1" in b.errors
    c0, c1 = src.delta(a, b)
    assert c0.energy_j is not None and c0.energy_j > 0  # µs window: power × duration, never a plain 0
    assert c1.energy_j is None and "GpuIsLost" in c1.note


def test_counter_going_backwards_is_unavailable():
    nvml = machine(VOLTA, n=1)
    clock = Clock()
    src = NvmlSource(nvml=nvml, env={}, clock=clock)
    a = src.snapshot()
    clock.t += 1
    nvml.gpus[0].energy_mj = 5
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j is None and "backwards" in c.note


def test_no_driver_and_no_package():
    st = NvmlSource.probe(nvml=FakeNvml([], driver_loaded=False))
    assert not st.available and "NVML cannot start" in st.detail
    with pytest.raises(SourceUnavailableError):
        NvmlSource(nvml=FakeNvml([], driver_loaded=False))


def test_missing_nvidia_ml_py(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    st = NvmlSource.probe()
    assert not st.available and "nvidia-ml-py" in st.detail


def test_real_pynvml_without_a_gpu_does_not_crash():
    st = NvmlSource.probe()  # this VM: nvidia-ml-py installed, no driver
    assert isinstance(st.available, bool) and st.detail


def _fake_torch(initialised: bool) -> types.ModuleType:
    torch = types.ModuleType("torch")
    calls: list[int] = []
    torch.cuda = types.SimpleNamespace(
        is_initialized=lambda: initialised, device_count=lambda: 2, synchronize=lambda i=None: calls.append(i)
    )
    torch.sync_calls = calls
    return torch


def test_before_edge_synchronises_cuda_only_when_torch_is_already_in_use(monkeypatch):
    src = NvmlSource(nvml=machine(HOPPER, n=1), env={})
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    src.before_edge()
    assert "torch" not in sys.modules  # never imported by us
    idle = _fake_torch(initialised=False)
    monkeypatch.setitem(sys.modules, "torch", idle)
    src.before_edge()
    assert idle.sync_calls == []
    busy = _fake_torch(initialised=True)
    monkeypatch.setitem(sys.modules, "torch", busy)
    src.before_edge()
    assert busy.sync_calls == [0, 1]


def test_close_is_idempotent_and_snapshots_after_close_are_unavailable():
    nvml = machine(VOLTA, n=1)
    src = NvmlSource(nvml=nvml, env={})
    src.close()
    src.close()
    assert nvml.init_count == 0
    s = src.snapshot()
    (c,) = src.delta(s, s)
    assert c.energy_j is None


def test_mode_power_integrates_even_where_the_counter_exists() -> None:
    nv = machine(HOPPER, n=1)
    src = NvmlSource(nvml=nv, env={}, mode="power")
    assert [d.mode for d in src.devices] == ["power"]
    assert src.sample_period_s() == pytest.approx(0.1)
    a = src.snapshot()
    nv.gpus[0].energy_mj += 50_000  # the counter moves; the integration must not read it
    (c,) = src.delta(a, src.snapshot())
    assert c.method == "nvml:power-integration" and "mode='power'" in c.note


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        NvmlSource(nvml=machine(HOPPER, n=1), env={}, mode="fast")


def test_counter_window_bounds_hold_one_counter_step() -> None:
    # the counter moves in 100 ms steps (H200, docs/HARDWARE-RUNS.md): a 1 s window at 700 W may be off by 70 J
    from wattlens.meters.gpu_common import counter_window_component

    c = counter_window_component(
        700.0,
        1.0,
        method="nvml:energy-counter",
        device="0",
        note="",
        power_w=lambda: None,
        period_s=0.1,
        approx_method="",
    )
    assert c.low_j == pytest.approx(700 * 0.95 - 70, abs=0.01)
    assert c.high_j == pytest.approx(700 * 1.05 + 70, abs=0.01)
    assert "one counter step" in c.note
