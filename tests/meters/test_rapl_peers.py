"""The RAPL cases that Kepler, CodeCarbon and Zeus test against, rebuilt in tmp_path and run through RaplSource.

Sources (read 2026-12; their code is not copied, only the trees and the expected figures):

* Kepler — sustainable-computing-io/kepler ``internal/device/testdata/sys/class/powercap/`` (the fixture tree)
  with ``rapl_sysfs_power_meter_test.go`` and ``energy_zone_test.go`` (the aggregated-zone wrap cases).
* CodeCarbon — mlco2/codecarbon ``tests/test_rapl_mmio_scanning.py`` (mirrored dies, DRAM, unreadable
  counters, MSR/MMIO duplicates, psys).
* Zeus — ml-energy/zeus ``tests/device/cpu/test_rapl.py`` (the wraparound polling sequence, the 5-wrap
  read, DRAM subzones, missing files).

Where wattlens deliberately differs, the test says so and asserts wattlens's behaviour (and why) instead:
a non-numeric zone id (Kepler's ``intel-rapl:a``) is not a kernel zone and is ignored; ``core`` is never added
to its package (Kepler lists it as a zone of its own for its per-zone metrics); the MSR copy of a package is
read and the MMIO copy is the fallback (Kepler agrees; CodeCarbon prefers MMIO: both are the same counter);
a zone with ``max_energy_range_uj`` 0 is left out with the reason (Kepler sums it without wrap correction);
mirrored counters are recognised per window from the readings (CodeCarbon flags them once at start() and
confirms later) — two zones that read 0 and stay 0 are one component, not two, with the same total.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.meters.fakes.powercap import FakePowercap
from wattlens.meters.base import DOMAIN_CPU, DOMAIN_MEMORY, UNAVAILABLE, SourceUnavailableError
from wattlens.meters.rapl import PERMISSION_FIX, RaplSource, find_zones

KEPLER_COUNTER_UJ = 240_422_366_267  # the value every package file of Kepler's fixture holds
RANGE_UJ = 262_143_328_850  # max_energy_range_uj in all three peers' fixtures (a real Intel value)


def _write_zone(path: Path, name: str, energy_uj: int | str, max_uj: int = RANGE_UJ, enabled: str = "1") -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (path / "enabled").write_text(f"{enabled}\n")
    return path


def _set(path: Path, energy_uj: int) -> None:
    with open(path / "energy_uj", "r+") as f:  # same inode, as sysfs: kept descriptors see the new value
        f.truncate(0)
        f.write(f"{energy_uj}\n")


def _by_method(components):
    return {c.method: c for c in components}


# --- Kepler -----------------------------------------------------------------------------------------------
def _kepler_tree(tmp_path: Path) -> Path:
    """Kepler's testdata/sys/class/powercap, file for file: a flat directory, no symlinks."""
    root = tmp_path / "sys" / "class" / "powercap"
    for control in ("intel-rapl", "intel-rapl-mmio"):
        (root / control).mkdir(parents=True)
        (root / control / "enabled").write_text("1\n")
        (root / control / "uevent").write_text("")
    _write_zone(root / "intel-rapl:0", "package-0", KEPLER_COUNTER_UJ)
    _write_zone(root / "intel-rapl:0:0", "core", 118_821_284_256, enabled="0")
    _write_zone(root / "intel-rapl:a", "package-10", KEPLER_COUNTER_UJ)
    _write_zone(root / "intel-rapl-mmio:0", "package-0", KEPLER_COUNTER_UJ)
    return root


def test_kepler_fixture_tree(tmp_path: Path) -> None:
    root = _kepler_tree(tmp_path)
    zones = find_zones(str(root))
    # Kepler's procfs reader finds 4 zones; wattlens finds the 3 with kernel zone ids ("intel-rapl:a" cannot
    # come from the kernel, which numbers zones): deliberate difference.
    assert sorted(z.zone_id for z in zones) == ["intel-rapl-mmio:0", "intel-rapl:0", "intel-rapl:0:0"]
    src = RaplSource(str(root))
    # Kepler: "all non-standard (mmio) zones filtered" and the standard path preferred -> same here.
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0"]
    skipped = dict(src.skipped)
    assert "counted once" in skipped["intel-rapl-mmio:0 package-0"]
    assert "never added" in skipped["intel-rapl:0:0 core"]  # Kepler lists core separately: deliberate difference
    # Kepler: every zone's energy reads >= 1000 J and MaxEnergy >= 1000 J.
    a = src.snapshot()
    assert a.values[0][0] / 1e6 >= 1000.0 and src.zones[0].max_range_uj / 1e6 >= 1000.0
    _set(root / "intel-rapl:0", KEPLER_COUNTER_UJ + 7_000_000)
    (c,) = src.delta(a, src.snapshot())
    assert (c.domain, c.method, c.energy_j) == (DOMAIN_CPU, "rapl:package-0", pytest.approx(7.0))
    src.close()


def test_kepler_second_package_is_summed_unless_it_mirrors_the_first(tmp_path: Path) -> None:
    """Kepler aggregates same-named packages (package-0 + package-10) into one zone whose energy is their sum.
    With a kernel id (intel-rapl:1), wattlens sums them too — unless their counters agree at both edges of a
    window, which is one counter seen twice (Kepler's fixture holds the very same value in both files)."""
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", KEPLER_COUNTER_UJ)
    fake.add("intel-rapl:1", "package-10", KEPLER_COUNTER_UJ)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", KEPLER_COUNTER_UJ + 1000)
    fake.set("intel-rapl:1", KEPLER_COUNTER_UJ + 1000)
    assert sum(c.energy_j for c in src.delta(a, src.snapshot())) == pytest.approx(0.001)  # counted once
    a = src.snapshot()
    fake.set("intel-rapl:0", KEPLER_COUNTER_UJ + 2000)  # +1000 µJ
    fake.set("intel-rapl:1", KEPLER_COUNTER_UJ + 5_000_000)  # independent now: far apart
    assert sum(c.energy_j for c in src.delta(a, src.snapshot())) == pytest.approx(0.001 + 4.999)  # summed


def _small_range_tree(tmp_path: Path, values: dict[str, int], max_uj: int = 1000) -> FakePowercap:
    """Kepler's aggregated-zone cases use a 1000 µJ range; max power 1 µW keeps reads within one wrap."""
    fake = FakePowercap(tmp_path)
    for i, (zone, value) in enumerate(values.items()):
        fake.add(zone, f"package-{i}", value, max_range_uj=max_uj, max_power_uw=1)
    return fake


def test_kepler_multi_zone_wrap(tmp_path: Path) -> None:
    fake = _small_range_tree(tmp_path, {"intel-rapl:0": 900, "intel-rapl:1": 800})
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 100)  # wrapped: (1000 - 900) + 100 = 200
    fake.set("intel-rapl:1", 850)  # +50
    comps = src.delta(a, src.snapshot())
    assert sum(c.energy_j for c in comps) * 1e6 == pytest.approx(250)  # Kepler: 1700 -> 1950


def test_kepler_multiple_wraps_read_in_between(tmp_path: Path) -> None:
    fake = _small_range_tree(tmp_path, {"intel-rapl:0": 900})
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 100)
    src.sample()  # a read between the wraps (the shared sampler's job): +200
    fake.set("intel-rapl:0", 50)  # wrapped again: +950
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j * 1e6 == pytest.approx(1150)  # Kepler reports 1150 modulo the range (50); the window 1150


def test_kepler_backward_reading_is_a_wrap(tmp_path: Path) -> None:
    fake = _small_range_tree(tmp_path, {"intel-rapl:0": 500})
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 400)
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j * 1e6 == pytest.approx(900)  # (1000 - 500) + 400, as Kepler


def test_kepler_large_value_wrap(tmp_path: Path) -> None:
    max_uj = 1_000_000
    fake = _small_range_tree(tmp_path, {"intel-rapl:0": max_uj - 100}, max_uj=max_uj)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 50)
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j * 1e6 == pytest.approx(150)


def test_kepler_zero_max_energy_zone_is_left_out_with_the_reason(tmp_path: Path) -> None:
    """Kepler sums zones whose MaxEnergy is 0 without wrap handling; wattlens cannot correct their wraps, so it
    leaves them out and says so (deliberate difference: an uncorrectable counter would silently lose energy)."""
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 100, max_range_uj=0)
    fake.add("intel-rapl:1", "package-1", 200, max_range_uj=1000, max_power_uw=1)
    src = RaplSource(fake.roots)
    assert [z.zone_id for z in src.zones] == ["intel-rapl:1"]
    assert "cannot be corrected" in dict(src.skipped)["intel-rapl:0 package-0"]
    only_zero = FakePowercap(tmp_path / "b")
    only_zero.add("intel-rapl:0", "package-0", 100, max_range_uj=0)
    with pytest.raises(SourceUnavailableError, match="cannot be corrected"):
        RaplSource(only_zero.roots)


# --- CodeCarbon ----------------------------------------------------------------------------------------
def _codecarbon_tree(tmp_path: Path, domains: list[tuple[str, int | str]]) -> tuple[str, list[Path]]:
    """CodeCarbon's _make_rapl_tree: <dir>/intel-rapl/intel-rapl:<i>/{name, energy_uj, max_energy_range_uj}."""
    provider = tmp_path / "intel-rapl"
    provider.mkdir()
    paths = []
    for index, (name, energy) in enumerate(domains):
        d = provider / f"intel-rapl:{index}"
        d.mkdir()
        (d / "name").write_text(name)
        (d / "energy_uj").write_text(str(energy))
        (d / "max_energy_range_uj").write_text(str(RANGE_UJ))
        paths.append(d)
    return str(tmp_path), paths


def _window(src: RaplSource, change) -> list:
    a = src.snapshot()
    change()
    return src.delta(a, src.snapshot())


@pytest.mark.parametrize(
    ("energies", "counted"),
    [
        ((1_000_000_000, 1_000_000_000), 1),  # CodeCarbon: 1 mirror candidate, 1 domain measured
        ((1_000_000_000, 2_000_000_000), 2),  # CodeCarbon: no candidate, 2 domains
        ((0, 0), 1),  # CodeCarbon: zero counters are not flagged, 2 domains; wattlens: one (same 0 J total)
    ],
)
def test_codecarbon_mirrored_package_counters(tmp_path: Path, energies: tuple[int, int], counted: int) -> None:
    root, _ = _codecarbon_tree(tmp_path, [(f"package-{i}-die-0", e) for i, e in enumerate(energies)])
    src = RaplSource(root)
    assert len(src.zones) == len(energies)  # every file kept (CodeCarbon: "flagged, not dropped")
    comps = _window(src, lambda: None)
    assert len(comps) == counted and all(c.domain == DOMAIN_CPU for c in comps)


def test_codecarbon_dram_is_kept_when_it_matches_a_package_counter(tmp_path: Path) -> None:
    root, _ = _codecarbon_tree(
        tmp_path, [("package-0-die-0", 1_000_000), ("package-0-die-1", 1_000_000), ("dram", 1_000_000)]
    )
    comps = _window(RaplSource(root), lambda: None)
    assert sorted(c.domain for c in comps) == [DOMAIN_CPU, DOMAIN_MEMORY]  # 2 counted, DRAM among them


def test_codecarbon_unreadable_counter_is_skipped(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0", 1_000_000), ("package-1", 1_000_000)])
    src = RaplSource(root)
    (paths[1] / "energy_uj").write_text("unreadable")
    comps = _by_method(_window(src, lambda: _set(paths[0], 3_000_000)))
    assert comps["rapl:package-0"].energy_j == pytest.approx(2.0)
    assert comps["rapl:package-1"].source == UNAVAILABLE and "no number" in comps["rapl:package-1"].note


def test_codecarbon_counters_that_diverge_are_both_counted(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0", 1_000_000), ("package-1", 1_000_000)])
    src = RaplSource(root)
    assert len(_window(src, lambda: None)) == 1  # equal and still: one counter as far as this window shows
    comps = _window(src, lambda: _set(paths[1], 5_000_000))  # CodeCarbon's re-evaluated start()
    assert len(comps) == 2 and sum(c.energy_j for c in comps) == pytest.approx(4.0)


def test_codecarbon_confirmed_mirror_counts_once(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0-die-0", 1_000_000_000), ("package-0-die-1", 1_000_000_000)])
    src = RaplSource(root)
    comps = _window(src, lambda: [_set(p, 1_500_000_000) for p in paths])
    assert len(comps) == 1 and comps[0].energy_j == pytest.approx(500.0)  # the same 500 J seen twice


def test_codecarbon_coincidental_match_restored_after_diverging(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0", 1_000_000_000), ("package-1", 1_000_000_000)])
    src = RaplSource(root)
    comps = _window(src, lambda: (_set(paths[0], 1_010_000_000), _set(paths[1], 2_000_000_000)))
    assert sorted(c.energy_j for c in comps) == [pytest.approx(10.0), pytest.approx(1000.0)]


def test_codecarbon_mirrors_near_a_wrap_still_count_once(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0-die-0", 1000), ("package-0-die-1", 30000)])
    src = RaplSource(root)
    comps = _window(src, lambda: (_set(paths[0], 400_001_000), _set(paths[1], 400_030_000)))
    assert len(comps) == 1 and comps[0].energy_j == pytest.approx(400.0)


def test_codecarbon_inconclusive_then_diverging(tmp_path: Path) -> None:
    root, paths = _codecarbon_tree(tmp_path, [("package-0", 1_000_000_000), ("package-1", 1_000_000_000)])
    src = RaplSource(root)
    assert len(_window(src, lambda: None)) == 1
    comps = _window(src, lambda: (_set(paths[0], 1_010_000_000), _set(paths[1], 2_000_000_000)))
    assert len(comps) == 2


def _mixed_providers(tmp_path: Path, core: bool = False) -> tuple[str, Path, Path]:
    msr = _write_zone(tmp_path / "intel-rapl" / "intel-rapl:0", "package-0", 52_649_883_221)
    mmio = _write_zone(tmp_path / "intel-rapl-mmio" / "intel-rapl-mmio:0", "package-0", 99_999_999_999)
    if core:
        _write_zone(tmp_path / "intel-rapl" / "intel-rapl:0:0", "core", 11_111_111_111)
    return str(tmp_path), msr, mmio


def _deny(*paths: Path):
    """An opener refusing these energy files as the kernel does for a non-root user (tests run as root, for whom
    chmod 000 denies nothing; test_rapl.py also checks a real EACCES as user 'nobody')."""
    denied = {str(p / "energy_uj") for p in paths}

    def opener(path: str) -> int:
        if path in denied or os.path.realpath(path) in denied:
            raise PermissionError(13, "Permission denied", path)
        return os.open(path, os.O_RDONLY)

    return opener


def test_codecarbon_mixed_permissions_use_the_readable_provider(tmp_path: Path) -> None:
    root, msr, mmio = _mixed_providers(tmp_path)
    src = RaplSource(root, opener=_deny(mmio))
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0"]
    src2 = RaplSource(root, opener=_deny(msr))  # and the other way round: MMIO used when MSR is refused
    assert [z.zone_id for z in src2.zones] == ["intel-rapl-mmio:0"]


def test_codecarbon_all_providers_unreadable(tmp_path: Path) -> None:
    root, msr, mmio = _mixed_providers(tmp_path)
    status = RaplSource.probe(root=root, opener=_deny(msr, mmio))
    assert not status.available and status.detail == PERMISSION_FIX
    with pytest.raises(SourceUnavailableError, match="CVE-2020-8694"):
        RaplSource(root, opener=_deny(msr, mmio))


def test_codecarbon_duplicate_package_counted_once_core_filtered(tmp_path: Path) -> None:
    """CodeCarbon keeps the MMIO copy; wattlens the MSR one (Kepler's choice too) — one package either way."""
    root, _, _ = _mixed_providers(tmp_path, core=True)
    src = RaplSource(root)
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0"]
    assert {k.split()[0] for k in dict(src.skipped)} == {"intel-rapl-mmio:0", "intel-rapl:0:0"}


def test_codecarbon_psys_not_used_when_a_package_is(tmp_path: Path) -> None:
    base = tmp_path / "intel-rapl"
    _write_zone(base / "intel-rapl:1", "psys", 99_999_999_999)
    _write_zone(base / "intel-rapl:0", "package-0", 52_649_883_221)
    _write_zone(base / "intel-rapl:0:0", "core", 11_111_111_111)
    _write_zone(base / "intel-rapl:0:1", "uncore", 22_222_222_222)
    src = RaplSource(str(tmp_path))
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0"]


# --- Zeus -------------------------------------------------------------------------------------------------
def test_zeus_wraparound_polling_sequence(tmp_path: Path) -> None:
    """Zeus's polling process sees 100000, 90000, ..., 40000, 50000, 20000, 10000 (range 100000) and counts 8
    wraparounds. Folded by the sampler's reads, the energy is last + 8 x range - first = 710000 µJ."""
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package", 100_000, max_range_uj=100_000, max_power_uw=1)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    for value in (90_000, 80_000, 70_000, 60_000, 50_000, 40_000, 50_000, 20_000):
        fake.set("intel-rapl:0", value)
        src.sample()
    fake.set("intel-rapl:0", 10_000)
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j * 1e6 == pytest.approx(10_000 + 8 * 100_000 - 100_000)


def test_zeus_read_after_five_wraps(tmp_path: Path) -> None:
    """Zeus's RAPLFile: start 100000, read 90000 with no wrap = 90 mJ, then 80000 after 5 wraps = 580 mJ
    ((80000 + 5 x 100000) / 1000). A window over the same readings (each wrap seen by a sampler read) is the
    difference, 580 - 100 = 480 mJ."""
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package", 100_000, max_range_uj=100_000, max_power_uw=1)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 90_000)
    first = src.delta(a, src.snapshot())[0]
    assert first.energy_j * 1e3 == pytest.approx(90.0 - 100.0 + 100.0)  # 100000 -> 90000 is a wrap: 90 mJ
    b = src.snapshot()
    for value in (60_000, 30_000, 10_000, 5_000):  # four more wraps, each seen by a read
        fake.set("intel-rapl:0", value)
        src.sample()
    fake.set("intel-rapl:0", 80_000)
    total = src.delta(a, src.snapshot())[0]
    assert total.energy_j * 1e3 == pytest.approx((80_000 + 5 * 100_000 - 100_000) / 1000)  # 480 mJ
    assert src.delta(b, src.snapshot())[0].energy_j > 0


def test_zeus_package_with_dram_subpackage(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package", 1_000_000)
    fake.add("intel-rapl:0:0", "dram", 500_000)
    src = RaplSource(fake.roots)
    comps = _by_method(
        _window(src, lambda: (fake.set("intel-rapl:0", 2_000_000), fake.set("intel-rapl:0:0", 1_500_000)))
    )
    assert comps["rapl:package"].energy_j == pytest.approx(1.0) and comps["rapl:dram-0"].energy_j == pytest.approx(1.0)
    assert comps["rapl:dram-0"].domain == DOMAIN_MEMORY


def test_zeus_two_cpus(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 1_000_000)
    fake.add("intel-rapl:1", "package-1", 5_000_000)
    src = RaplSource(fake.roots)
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0", "intel-rapl:1"]


@pytest.mark.parametrize("missing", ["name", "energy_uj", "max_energy_range_uj"])
def test_zeus_zone_with_a_missing_file_is_not_used(tmp_path: Path, missing: str) -> None:
    """Zeus raises ZeusRAPLFileInitError for each missing file; wattlens leaves the zone out and says why."""
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 1_000_000)
    (fake.dirs["intel-rapl:0"] / missing).unlink()
    with pytest.raises(SourceUnavailableError):
        RaplSource(fake.roots)
    assert not RaplSource.probe(root=fake.roots).available


def test_zeus_no_rapl_directory(tmp_path: Path) -> None:
    assert not RaplSource.probe(root=str(tmp_path / "absent")).available
