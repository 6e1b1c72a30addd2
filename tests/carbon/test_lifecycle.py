"""Embodied-carbon amortisation (issue 15): the arithmetic against hand-computed cases, per device, with the
service life and utilisation stated, unknown devices unavailable with the reason (never 0)."""

from __future__ import annotations

import math

import pytest

from wattlens.carbon.hardware_footprints import LifecycleError, find_hardware, match_gpu
from wattlens.carbon.lifecycle import (
    COUNTED,
    IN_HOST,
    SECONDS_PER_YEAR,
    UNAVAILABLE,
    DeviceUse,
    amortised_g,
    embodied_footprint,
    hardware_lifecycle,
    resolve_amortisation,
)

YEAR = 365.25 * 86400.0


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATTLENS_LIFETIME_YEARS", "WATTLENS_UTILISATION", "WATTLENS_HOST", "WATTLENS_EMBODIED"):
        monkeypatch.delenv(name, raising=False)


def test_seconds_per_year_is_the_julian_year() -> None:
    assert SECONDS_PER_YEAR == YEAR == 31_557_600.0


@pytest.mark.parametrize(
    ("kg", "busy_s", "life_y", "util", "share", "expected_g"),
    [
        # 164 kg H100 for one hour over 5 years: 164000 g x 3600 / 157,788,000 s = 3.74173 g
        (164.0, 3600.0, 5.0, 1.0, 1.0, 164_000 * 3600 / 157_788_000),
        # the same hour at 60 % utilisation costs 1/0.6 as much: 6.23622 g
        (164.0, 3600.0, 5.0, 0.6, 1.0, 6.236222),
        # a whole year of a 1 t machine over 4 years, used half the time: 1000 kg / 4 / 0.5 = 500 kg
        (1000.0, YEAR, 4.0, 0.5, 1.0, 500_000.0),
        # a quarter of a 271.38 kg host for 10 s over 6 years: 271380 x 10 x 0.25 / 189,345,600 = 0.0035831 g
        (271.38, 10.0, 6.0, 1.0, 0.25, 0.0035831),
    ],
)
def test_amortisation_against_hand_computed_cases(kg, busy_s, life_y, util, share, expected_g) -> None:
    assert amortised_g(kg, busy_s, life_y, util, share) == pytest.approx(expected_g, rel=1e-5)


def test_gpu_window_uses_the_published_figure_and_the_default_life_range() -> None:
    life = resolve_amortisation(use_env=False)
    fp = embodied_footprint(
        [DeviceUse("gpu", 3600.0, name="NVIDIA H100 80GB HBM3", device="0")], life, host="generic-rack-server-platform"
    )
    gpu = next(d for d in fp.devices if d.kind == "gpu")
    assert gpu.status == COUNTED and gpu.hardware == "nvidia-h100-sxm" and gpu.basis == "manufacturer-pcf"
    row = find_hardware("nvidia-h100-sxm")
    # central at 5 years; low = low_kg over the longest life (6 y); high = high_kg over the shortest (4 y)
    assert gpu.co2e_g == pytest.approx(164_000 * 3600 / (5 * YEAR))
    assert gpu.co2e_low_g == pytest.approx(row.low_kg * 1000 * 3600 / (6 * YEAR))
    assert gpu.co2e_high_g == pytest.approx(row.high_kg * 1000 * 3600 / (4 * YEAR))
    host = next(d for d in fp.devices if d.kind == "host")
    assert fp.co2e_embodied_g == pytest.approx(gpu.co2e_g + host.co2e_g)
    assert fp.complete and "service life 5 y [4, 6] (default)" in fp.basis
    assert fp.to_dict()["amortisation"]["lifetime_source"].startswith("server service lives")


def test_given_life_and_utilisation_are_used_as_is_and_stated() -> None:
    life = resolve_amortisation(5, 0.6, use_env=False)
    assert (life.lifetime_low_years, life.lifetime_high_years) == (5.0, 5.0)
    assert life.describe() == "service life 5 y (argument), utilisation 0.6 (argument)"
    fp = embodied_footprint([DeviceUse("hardware", 3600.0, name="b200")], life, host="generic-rack-server-platform")
    b200 = fp.devices[0]
    assert b200.co2e_g == pytest.approx(284_250 * 3600 / (5 * YEAR * 0.6))
    assert "utilisation 0.6" in b200.method and "284.2 kg" in b200.method


def test_environment_settings_are_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLENS_LIFETIME_YEARS", "4")
    monkeypatch.setenv("WATTLENS_UTILISATION", "0.5")
    life = resolve_amortisation()
    assert (life.lifetime_years, life.utilisation) == (4.0, 0.5)
    assert life.lifetime_origin == life.utilisation_origin == "environment"


@pytest.mark.parametrize(
    ("life", "util"),
    [(0, None), (-1, None), (31, None), (math.nan, None), (True, None), (None, 0), (None, 1.5), (None, "x")],
)
def test_bad_life_or_utilisation_is_refused_with_what_is_allowed(life, util) -> None:
    with pytest.raises(LifecycleError, match=r"allowed|must be a"):
        resolve_amortisation(life, util, use_env=False)


def test_unknown_gpu_is_unavailable_with_the_reason_never_zero() -> None:
    life = resolve_amortisation(use_env=False)
    fp = embodied_footprint([DeviceUse("gpu", 60.0, name="Matrox G200eW", device="0")], life, use_env=False)
    gpu, host = fp.devices
    assert gpu.status == UNAVAILABLE and "Matrox G200eW" in gpu.reason and gpu.co2e_g is None
    assert host.status == UNAVAILABLE and "host machine unknown" in host.reason
    assert fp.co2e_embodied_g is None and not fp.complete  # nothing counted: unknown, not 0
    assert fp.basis.startswith("unavailable")
    assert any("Matrox" in n for n in fp.notes)


def test_partial_total_names_what_is_missing() -> None:
    life = resolve_amortisation(use_env=False)
    uses = [DeviceUse("gpu", 60.0, name="NVIDIA L4", device="0"), DeviceUse("gpu", 60.0, name="Voodoo 2", device="1")]
    fp = embodied_footprint(uses, life, host="generic-rack-server-platform")
    counted = [d for d in fp.devices if d.status == COUNTED]
    assert {d.label for d in counted} == {"gpu:0", "host"}
    assert fp.co2e_embodied_g == pytest.approx(sum(d.co2e_g for d in counted))
    assert not fp.complete and "partial: gpu:1 not counted" in fp.basis
    assert counted[0].basis == "estimated" and "estimated" in " ".join(fp.notes)


def test_cpu_exact_model_is_charged_per_hardware_thread() -> None:
    life = resolve_amortisation(5, 1.0, use_env=False)
    fp = embodied_footprint([DeviceUse("cpu", YEAR, name="AMD EPYC 7763", logical_cpus=8)], life, use_env=False)
    cpu = fp.devices[0]
    # Boavizta CPU model: 1064 mm² x 0.0197 + 9.14 = 30.0008 kg for 128 threads; 8 threads for 1 of 5 years
    per_thread = (1064 * 0.0197 + 9.14) / 128
    assert cpu.embodied_kg == pytest.approx(per_thread * 8)
    assert cpu.co2e_g == pytest.approx(per_thread * 8 * 1000 / 5)
    assert cpu.basis == "estimated" and "AMD EPYC 7763" in cpu.scope


def test_unidentified_cpu_gets_the_span_of_its_family() -> None:
    life = resolve_amortisation(use_env=False)
    cpu = embodied_footprint([DeviceUse("cpu", 10.0, name="Intel Xeon", logical_cpus=2)], life, use_env=False).devices[
        0
    ]
    assert cpu.status == COUNTED and "family span" in cpu.hardware and "unidentified" in cpu.scope
    assert cpu.embodied_low_kg < cpu.embodied_kg < cpu.embodied_high_kg


def test_unknown_cpu_and_unsized_memory_are_unavailable() -> None:
    life = resolve_amortisation(use_env=False)
    fp = embodied_footprint([DeviceUse("cpu", 1.0, name="Zilog Z80"), DeviceUse("memory", 1.0)], life, use_env=False)
    cpu, mem, _host = fp.devices
    assert cpu.status == mem.status == UNAVAILABLE
    assert "Zilog Z80" in cpu.reason and "memory size unknown" in mem.reason


def test_memory_range_comes_from_the_dram_density_spread() -> None:
    life = resolve_amortisation(use_env=False)
    mem = embodied_footprint([DeviceUse("memory", 1.0, memory_gb=64.0)], life, use_env=False).devices[0]
    # 64 GB in 2 modules: 64 / 1.2444 x 2.20 + 2 x 5.22; low uses 2.375 GB/cm², high 0.625 GB/cm²
    assert mem.embodied_kg == pytest.approx(64 / 1.2444 * 2.2 + 10.44)
    assert mem.embodied_low_kg == pytest.approx(64 / 2.375 * 2.2 + 10.44)
    assert mem.embodied_high_kg == pytest.approx(64 / 0.625 * 2.2 + 10.44)


def test_whole_machine_host_covers_its_cpu_and_memory() -> None:
    life = resolve_amortisation(use_env=False)
    uses = [
        DeviceUse("cpu", 100.0, name="Intel Xeon Gold 6338", logical_cpus=64),
        DeviceUse("memory", 100.0, memory_gb=256),
    ]
    fp = embodied_footprint(uses, life, host="dell-poweredge-r740", host_share=0.5)
    cpu, mem, host = fp.devices
    assert cpu.status == mem.status == IN_HOST
    assert host.hardware == "dell-poweredge-r740" and host.share == 0.5
    assert host.co2e_g == pytest.approx(
        find_hardware("dell-poweredge-r740").embodied_kg * 1000 * 100 * 0.5 / (5 * YEAR)
    )
    assert fp.complete and fp.co2e_embodied_g == pytest.approx(host.co2e_g)


def test_apple_cpu_names_its_laptops() -> None:
    life = resolve_amortisation(use_env=False)
    fp = embodied_footprint([DeviceUse("cpu", 10.0, name="Apple M2", logical_cpus=8)], life, use_env=False)
    cpu, host = fp.devices
    assert cpu.status == IN_HOST and host.status == COUNTED
    assert "apple-macbook-air-m2-2022-with-256gb" in host.hardware and "span" in host.scope
    assert any("inferred from the CPU model" in n for n in fp.notes)


def test_host_must_be_a_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    life = resolve_amortisation(use_env=False)
    with pytest.raises(LifecycleError, match="a host must be a whole server"):
        embodied_footprint([DeviceUse("cpu", 1.0, name="AMD EPYC 7763")], life, host="h100")
    monkeypatch.setenv("WATTLENS_HOST", "no-such-machine")
    with pytest.raises(LifecycleError, match="no embodied-carbon figure for hardware 'no-such-machine'"):
        embodied_footprint([DeviceUse("cpu", 1.0, name="AMD EPYC 7763")], life)


@pytest.mark.parametrize(
    ("driver_name", "key"),
    [
        ("NVIDIA H100 80GB HBM3", "nvidia-h100-sxm"),
        ("NVIDIA H100 PCIe", "nvidia-h100-pcie"),
        ("NVIDIA H200", "nvidia-h200"),
        ("NVIDIA B200", "nvidia-b200"),
        ("NVIDIA A100-SXM4-40GB", "nvidia-a100-sxm4-40gb"),
        ("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm4-80gb"),
        ("NVIDIA A100-PCIE-40GB", "nvidia-a100-pcie-40gb"),
        ("NVIDIA A100 80GB PCIe", "nvidia-a100-pcie-80gb"),
        ("NVIDIA A10", "nvidia-a10"),
        ("Tesla T4", "nvidia-t4"),
        ("NVIDIA L4", "nvidia-l4"),
        ("NVIDIA L40S", "nvidia-l40s"),
        ("Tesla V100-SXM2-32GB", "nvidia-v100-sxm2-32gb"),
        ("Tesla P100-PCIE-16GB", "nvidia-p100-16gb"),
        ("NVIDIA GeForce RTX 4090", "nvidia-rtx-4090"),
        ("NVIDIA GeForce RTX 3090", "nvidia-rtx-3090"),
    ],
)
def test_driver_gpu_names_map_to_their_rows(driver_name, key) -> None:
    row = match_gpu(driver_name)
    assert row is not None and row.key == key


def test_hardware_lifecycle_per_device_hour() -> None:
    d = hardware_lifecycle("h100", resolve_amortisation(use_env=False))
    assert d["per_device_hour_g"] == pytest.approx(164_000 * 3600 / (5 * YEAR))
    assert [r["key"] for r in d["related"]] == ["nvidia-hgx-h100"]
