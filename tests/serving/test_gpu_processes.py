"""Per-process GPU energy (``wattlens exporter --processes``): each GPU's energy of a tick shared by the processes'
SM utilisation samples, through the NVML stand-in (the lowest boundary: this machine has no GPU)."""

from __future__ import annotations

import os

import pytest

from tests.meters.fakes.nvml import HOPPER, VOLTA, machine
from wattlens.meters.nvml import NvmlSource
from wattlens.serving.counters import EnergyCounters
from wattlens.serving.exporter import Exporter
from wattlens.serving.gpu_processes import GpuProcessShares
from wattlens.tracking import Monitor

ME, PARENT = os.getpid(), os.getppid()  # live pids: a process that ended drops out of the series


def _nvml_up(n: int = 2, arch: int = HOPPER):
    nvml = machine(arch, n=n)
    nvml.nvmlInit()
    return nvml


def test_a_gpus_energy_is_shared_by_sm_utilisation_and_only_new_samples_count() -> None:
    nvml = _nvml_up()
    nvml.gpus[0].process_samples = [(ME, 60, 10), (PARENT, 20, 10), (ME, 60, 20), (PARENT, 20, 20)]
    shares = GpuProcessShares(nvml=nvml)
    shares.attribute({"0": 8.0, "1": 5.0})  # GPU 1: no process ran (NOT_FOUND) -> nothing attributed, no error
    got = {(pid, dev): e for pid, _, dev, e in shares.top()}
    assert got == {(ME, "0"): pytest.approx(6.0), (PARENT, "0"): pytest.approx(2.0)}  # 120 : 40 of 8 J
    assert not shares.unavailable
    nvml.gpus[0].process_samples.append((ME, 50, 30))  # only the sample after the last tick is new
    shares.attribute({"0": 4.0})
    got = {(pid, dev): e for pid, _, dev, e in shares.top()}
    assert got[(ME, "0")] == pytest.approx(10.0) and got[(PARENT, "0")] == pytest.approx(2.0)


def test_a_device_without_process_samples_says_why_and_a_dead_process_drops_out(tmp_path) -> None:
    nvml = _nvml_up()
    nvml.gpus[0].process_samples = None  # NOT_SUPPORTED (older drivers, vGPU)
    nvml.gpus[1].process_samples = [(999_999_999, 50, 5)]
    shares = GpuProcessShares(nvml=nvml)
    shares.attribute({"0": 3.0, "1": 3.0})
    assert "NotSupported" in shares.unavailable["0"]
    assert shares.top() == ()  # pid 999999999 is not alive: its series ends at once


def test_exporter_processes_carry_gpu_series_from_a_metered_gpu() -> None:
    nvml = machine(VOLTA, n=1)
    nvml.gpus[0].process_samples = [(ME, 90, 1)]
    nvml.nvmlInit()
    shares = GpuProcessShares(nvml=nvml)
    counters = EnergyCounters(
        lambda: Monitor(sources=[NvmlSource([0], nvml=nvml, edge_reads="blocking")]),
        processes=True,
        power_interval_s=0.0,
        gpu_processes=shares,
    )
    exp = Exporter(counters)
    exp.scrape()
    nvml.gpus[0].energy_mj += 5_000  # the GPU's counter moves during the next interval
    nvml.gpus[0].process_samples.append((ME, 80, 2))  # and the process was sampled on it again
    lines = exp.scrape().splitlines()

    def series(name: str) -> str:
        return next(ln for ln in lines if ln.startswith(name + "{") and 'domain="gpu"' in ln)

    mine = series("wattlens_process_energy_joules_total")
    assert f'pid="{ME}"' in mine and 'device="0"' in mine and 'attributed="sm-utilisation-share"' in mine
    gpu_series = [ln for ln in lines if ln.startswith("wattlens_energy_joules_total{") and 'domain="gpu"' in ln]
    gpu_total = sum(float(ln.rsplit(" ", 1)[1]) for ln in gpu_series)  # a short window is its own method's series
    # the only process sampled on the GPU in every interval: all of the GPU's energy is its
    assert float(mine.rsplit(" ", 1)[1]) == pytest.approx(gpu_total, rel=1e-9) and gpu_total > 0
    counters.close()
