"""RAPL over a faithful fake powercap tree (real files in tmp_path, the kernel's names and layout)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.meters.fakes.powercap import RANGE_UJ, FakePowercap, intel_client_tree
from wattlens.meters.base import DOMAIN_CPU, DOMAIN_MEMORY, DOMAIN_SOC, MEASURED, UNAVAILABLE
from wattlens.meters.rapl import PERMISSION_FIX, RaplSource, discover, find_zones
from wattlens.meters.sampler import Sampler, SourceUnavailableError

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _by_method(components):
    return {c.method: c for c in components}


def _total(components):
    return sum(c.energy_j for c in components if c.energy_j is not None)


def test_client_tree_reports_package_and_dram_only_no_double_counting(tmp_path):
    fake = intel_client_tree(tmp_path)
    t = [10.0]
    src = RaplSource(fake.roots, clock=lambda: t[0])
    a = src.snapshot()
    t[0] += 1.0
    fake.set("intel-rapl:0", 6_000_000)  # +5 J package
    fake.set("intel-rapl:0:0", 3_500_000)  # +3 J core (inside package)
    fake.set("intel-rapl:0:1", 600_000)  # +0.5 J uncore (inside package)
    fake.set("intel-rapl:0:2", 2_300_000)  # +2 J dram
    fake.set("intel-rapl:1", 29_000_000)  # +20 J psys (contains everything)
    fake.set("intel-rapl-mmio:0", 6_000_000)  # MMIO mirror of package-0
    comps = src.delta(a, src.snapshot())
    by = _by_method(comps)
    assert set(by) == {"rapl:package-0", "rapl:dram-0"}
    assert by["rapl:package-0"].energy_j == pytest.approx(5.0, rel=1e-12)
    assert by["rapl:package-0"].domain == DOMAIN_CPU and by["rapl:package-0"].source == MEASURED
    assert by["rapl:dram-0"].energy_j == pytest.approx(2.0, rel=1e-12)
    assert by["rapl:dram-0"].domain == DOMAIN_MEMORY
    assert _total(comps) == pytest.approx(7.0)  # not 5+3+0.5+2+20+5
    for c in comps:
        assert c.low_j <= c.energy_j <= c.high_j
        assert c.high_j / c.energy_j < 1.06  # ±5 % band + edge staleness, documented in the note
        assert "assumption" in c.note
    skipped = " ".join(f"{a} {b}" for a, b in src.skipped)
    assert "psys" in skipped and "intel-rapl-mmio:0" in skipped and "core" in skipped
    src.close()


def test_both_roots_and_symlinks_enumerate_each_zone_once(tmp_path):
    fake = intel_client_tree(tmp_path)
    ids = [z.zone_id for z in find_zones(fake.roots)]
    assert sorted(ids) == sorted(
        ["intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:0:2", "intel-rapl:1", "intel-rapl-mmio:0"]
    )
    only_devices = [z.zone_id for z in find_zones(str(fake.devices))]
    assert sorted(only_devices) == sorted(ids)


def test_probe_lists_domains_and_what_was_left_out(tmp_path):
    st = RaplSource.probe(root=intel_client_tree(tmp_path).roots)
    assert st.available and st.source == MEASURED
    assert st.domains == (DOMAIN_CPU, DOMAIN_MEMORY)
    assert "package-0" in st.detail and "psys" in st.detail


def test_psys_reported_only_when_no_package(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "psys", 1_000_000)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 13_500_000)
    (c,) = src.delta(a, src.snapshot())
    assert (c.domain, c.method, c.energy_j) == (DOMAIN_SOC, "rapl:psys", pytest.approx(12.5))


def test_mmio_only_package_is_used(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl-mmio:0", "package-0", 0)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl-mmio:0", 4_250_000)
    (c,) = src.delta(a, src.snapshot())
    assert c.method == "rapl:package-0" and c.energy_j == pytest.approx(4.25)


def test_mmio_copy_replaces_an_unreadable_msr_copy(tmp_path):
    fake = intel_client_tree(tmp_path)
    denied = fake.energy_path("intel-rapl:0")

    def opener(path: str) -> int:
        if os.path.realpath(path) == os.path.realpath(denied):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return os.open(path, os.O_RDONLY)

    src = RaplSource(fake.roots, opener=opener)
    assert [z.zone_id for z in src.zones if z.domain == DOMAIN_CPU] == ["intel-rapl-mmio:0"]
    a = src.snapshot()
    fake.set("intel-rapl-mmio:0", 3_000_000)
    assert _by_method(src.delta(a, src.snapshot()))["rapl:package-0"].energy_j == pytest.approx(2.0)


def test_single_wrap_uses_max_energy_range(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", RANGE_UJ - 1_000_000)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 4_000_000)  # wrapped: 1 J to the top, then 4 J
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(5.0, rel=1e-12)
    assert "wraps may be missing" not in c.note


def test_sample_period_from_range_and_max_power(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 0)  # no max power: 1 kW conservative default
    assert RaplSource(fake.roots).sample_period_s() == pytest.approx(RANGE_UJ / (2 * 1000e6))  # ~131 s
    fake2 = FakePowercap(tmp_path / "b")
    fake2.add("intel-rapl:0", "package-0", 0, max_power_uw=200_000_000)
    assert RaplSource(fake2.roots).sample_period_s() == pytest.approx(RANGE_UJ / (2 * 200e6))  # ~655 s


class _Counter:
    """A package drawing a constant power; the raw counter wraps at range_uj. Driven by real time."""

    def __init__(self, power_w: float, range_uj: int) -> None:
        self.power_w, self.range_uj, self.t0 = power_w, range_uj, time.monotonic()

    def true_uj(self, t: float) -> float:
        return self.power_w * 1e6 * (t - self.t0)

    def pread(self, fd: int, n: int, off: int) -> bytes:
        return f"{int(self.true_uj(time.monotonic())) % self.range_uj}\n".encode()


@pytest.mark.slow
def test_multiple_wraps_in_one_window_are_counted_with_the_sampler(tmp_path):
    # 30 J range at 50 W wraps every 0.6 s; max power 300 W -> safe gap 0.1 s -> sampler polls every 0.05 s,
    # so only a > 0.55 s scheduling stall of the sampler thread could lose a wrap.
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 0, max_range_uj=30_000_000, max_power_uw=300_000_000)
    counter = _Counter(50.0, 30_000_000)
    src = RaplSource(fake.roots, pread=counter.pread)
    assert src.sample_period_s() == pytest.approx(0.05)
    sampler = Sampler()
    sampler.register(src)
    sampler.open_window()
    a = src.snapshot()
    time.sleep(1.5)  # 75 J: two full wraps and a half
    b = src.snapshot()
    sampler.close_window()
    assert not sampler.running
    (c,) = src.delta(a, b)
    expected_j = 50.0 * (b.t_s - a.t_s)
    assert expected_j > 2 * 30.0
    assert c.energy_j == pytest.approx(expected_j, rel=0.02)
    assert "wraps may be missing" not in c.note
    assert sampler.stats()["samples"] >= 5


def test_without_sampler_a_long_gap_widens_the_upper_bound_instead_of_lying(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 0, max_range_uj=20_000_000, max_power_uw=100_000_000)
    t = [100.0]
    raw = [0]
    src = RaplSource(fake.roots, pread=lambda fd, n, off: f"{raw[0]}".encode(), clock=lambda: t[0])
    a = src.snapshot()
    t[0] += 1.25  # 62.5 J at 50 W: the counter wrapped three times, edge reads see only 2.5 J
    raw[0] = 2_500_000
    (c,) = src.delta(a, src.snapshot())
    assert c.energy_j == pytest.approx(2.5)
    assert c.high_j >= 62.5  # the truth is inside the interval
    assert "wraps may be missing" in c.note


def _multi_die_tree(tmp_path, die0_uj, die1_uj):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0-die-0", die0_uj)
    fake.add("intel-rapl:1", "package-0-die-1", die1_uj)
    return fake


def test_mirrored_die_counters_are_counted_once(tmp_path):
    # AMD-style: every die zone reads the same package counter (CodeCarbon #1274: 68 W + 68 W = 137 W).
    fake = _multi_die_tree(tmp_path, 7_000_000, 7_000_000)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 75_000_000)
    fake.set("intel-rapl:1", 75_000_000)
    comps = src.delta(a, src.snapshot())
    assert len(comps) == 1
    assert comps[0].energy_j == pytest.approx(68.0)
    assert "counted once" in comps[0].note


def test_independent_die_counters_are_summed(tmp_path):
    # Intel multi-die parts have real per-die counters: they drift apart and both count.
    fake = _multi_die_tree(tmp_path, 7_000_000, 91_000_000)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    fake.set("intel-rapl:0", 75_000_000)
    fake.set("intel-rapl:1", 101_000_000)
    comps = src.delta(a, src.snapshot())
    assert sorted(c.energy_j for c in comps) == pytest.approx([10.0, 68.0])


def test_same_named_package_zones_are_one_zone(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 1_000_000)
    fake.add("intel-rapl:1", "package-0", 1_000_000)  # per-die copy with the package's name
    src = RaplSource(fake.roots)
    assert [z.zone_id for z in src.zones] == ["intel-rapl:0"]


def test_two_sockets_are_both_counted_with_their_dram(tmp_path):
    fake = FakePowercap(tmp_path)
    fake.add("intel-rapl:0", "package-0", 0)
    fake.add("intel-rapl:0:0", "dram", 0)
    fake.add("intel-rapl:1", "package-1", 50_000_000)
    fake.add("intel-rapl:1:0", "dram", 70_000_000)
    src = RaplSource(fake.roots)
    a = src.snapshot()
    for zid, v in [
        ("intel-rapl:0", 10_000_000),
        ("intel-rapl:0:0", 1_000_000),
        ("intel-rapl:1", 62_000_000),
        ("intel-rapl:1:0", 71_500_000),
    ]:
        fake.set(zid, v)
    by = _by_method(src.delta(a, src.snapshot()))
    assert {k: v.energy_j for k, v in by.items()} == pytest.approx(
        {"rapl:package-0": 10.0, "rapl:dram-0": 1.0, "rapl:package-1": 12.0, "rapl:dram-1": 1.5}
    )


def _deny_energy(path: str) -> int:
    if path.endswith("energy_uj"):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    return os.open(path, os.O_RDONLY)


def test_permission_denied_gives_one_clear_message_with_the_fix(tmp_path):
    # Tests run as root, for whom chmod 000 denies nothing: the opener raises EACCES as the kernel would.
    roots = intel_client_tree(tmp_path).roots
    st = RaplSource.probe(root=roots, opener=_deny_energy)
    assert not st.available
    assert st.detail == PERMISSION_FIX
    assert "chmod a+r /sys/class/powercap/intel-rapl*/energy_uj" in st.detail and "root" in st.detail
    with pytest.raises(SourceUnavailableError, match="CVE-2020-8694"):
        RaplSource(roots, opener=_deny_energy)
    assert discover(roots, opener=_deny_energy) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop to 'nobody'")
def test_permission_denied_for_real_as_an_unprivileged_user():
    # The kernel's actual mode (0400 root) read by uid 65534: a real EACCES, not a simulation.
    base = tempfile.mkdtemp(prefix="wattlens-rapl-")
    try:
        os.chmod(base, 0o755)
        fake = intel_client_tree(Path(base))
        for p in Path(base).rglob("*"):
            if not p.is_symlink():
                os.chmod(p, 0o755 if p.is_dir() else (0o400 if p.name == "energy_uj" else 0o444))
        code = textwrap.dedent(f"""
            import sys; sys.path.insert(0, {SRC!r})
            from wattlens.meters.rapl import RaplSource
            st = RaplSource.probe(root={fake.roots!r})
            print(st.available); print(st.detail)
        """)
        out = None
        for python in (sys.executable, "/usr/bin/python3"):  # the venv's interpreter may sit under /root
            try:
                out = subprocess.run(
                    [python, "-c", code], user=65534, group=65534, capture_output=True, text=True, timeout=30
                )
                break
            except OSError:
                continue
        if out is None:
            pytest.skip("no interpreter the unprivileged user may run")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "False" and lines[1] == PERMISSION_FIX
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_file_vanishing_mid_window_makes_that_zone_unavailable_never_raises(tmp_path):
    fake = intel_client_tree(tmp_path)
    gone: set[int] = set()

    def pread(fd: int, n: int, off: int) -> bytes:
        if fd in gone:  # sysfs answers ENODEV once the zone is unregistered
            raise OSError(errno.ENODEV, "No such device")
        return os.pread(fd, n, off)

    src = RaplSource(fake.roots, pread=pread)
    dram_i = next(i for i, z in enumerate(src.zones) if z.domain == DOMAIN_MEMORY)
    a = src.snapshot()
    fake.set("intel-rapl:0", 3_000_000)
    gone.add(src._fds[dram_i])
    shutil.rmtree(fake.dirs["intel-rapl:0:2"])
    b = src.snapshot()
    assert "dram-0" in b.errors
    by = _by_method(src.delta(a, b))
    assert by["rapl:package-0"].energy_j == pytest.approx(2.0)
    dram = by["rapl:dram-0"]
    assert dram.source == UNAVAILABLE and dram.energy_j is None
    assert "vanished" in dram.note
    # later windows: still no exception, still unavailable with the reason
    c = src.snapshot()
    assert _by_method(src.delta(b, c))["rapl:dram-0"].energy_j is None
    src.close()


def test_snapshot_uses_kept_descriptors_and_close_releases_them(tmp_path):
    fake = intel_client_tree(tmp_path)
    opened: list[str] = []

    def opener(path: str) -> int:
        opened.append(path)
        return os.open(path, os.O_RDONLY)

    src = RaplSource(fake.roots, opener=opener)
    n_open = len(opened)
    for _ in range(100):
        src.snapshot()
    assert len(opened) == n_open == 2  # package-0 + dram-0, opened once
    fds = list(src._fds)
    src.close()
    src.close()  # idempotent
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    snap = src.snapshot()
    assert snap.errors and all(c.energy_j is None for c in src.delta(snap, snap))
    assert src.sample_period_s() is None


def test_snapshot_is_cheap(tmp_path):
    src = RaplSource(intel_client_tree(tmp_path).roots)
    ts = []
    for _ in range(300):
        t = time.perf_counter()
        src.snapshot()
        ts.append(time.perf_counter() - t)
    ts.sort()
    assert ts[len(ts) // 2] < 100e-6  # target 2 zones ≪ 50 µs per edge; generous on a shared 2-core VM


def test_no_powercap_probe_and_constructor(tmp_path):
    st = RaplSource.probe(root=str(tmp_path / "none"))
    assert not st.available and "no RAPL zones" in st.detail
    with pytest.raises(SourceUnavailableError):
        RaplSource(str(tmp_path / "none"))
    assert discover(str(tmp_path / "none")) == []
