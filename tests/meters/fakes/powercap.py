"""A faithful fake of the Linux powercap sysfs tree, built from real files in a temporary directory.

Layout as the kernel makes it: real zone directories nested under
``devices/virtual/powercap/intel-rapl[-mmio]/``, and symlinks to each zone in ``class/powercap/``.
Every zone holds ``name``, ``energy_uj``, ``max_energy_range_uj`` (and ``constraint_0_max_power_uw``
when given). Counters are rewritten in place (same inode), so a source's kept descriptors and ``pread``
see new values exactly as with sysfs.
"""

from __future__ import annotations

import os
from pathlib import Path

RANGE_UJ = 262_143_328_850  # a real Intel max_energy_range_uj (CodeCarbon's fixture, measurement-anchors §2)


class FakePowercap:
    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.devices = self.base / "devices" / "virtual" / "powercap"
        self.klass = self.base / "class" / "powercap"
        self.klass.mkdir(parents=True, exist_ok=True)
        self.devices.mkdir(parents=True, exist_ok=True)
        self.dirs: dict[str, Path] = {}

    @property
    def roots(self) -> list[str]:
        return [str(self.klass), str(self.devices)]

    def add(
        self,
        zone_id: str,
        name: str,
        energy_uj: int = 0,
        *,
        max_range_uj: int = RANGE_UJ,
        max_power_uw: int | None = None,
    ) -> Path:
        control = "intel-rapl-mmio" if zone_id.startswith("intel-rapl-mmio") else "intel-rapl"
        parts = zone_id.split(":")
        if len(parts) > 2:  # subzone: lives inside its parent's directory
            parent = self.dirs[":".join(parts[:-1])]
            path = parent / zone_id
        else:
            path = self.devices / control / zone_id
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        (path / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
        (path / "enabled").write_text("1\n")
        if max_power_uw is not None:
            (path / "constraint_0_name").write_text("long_term\n")
            (path / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
        link = self.klass / zone_id
        os.symlink(os.path.relpath(path, self.klass), link)
        if not (self.klass / control).exists():
            os.symlink(os.path.relpath(self.devices / control, self.klass), self.klass / control)
        self.dirs[zone_id] = path
        return path

    def set(self, zone_id: str, energy_uj: int) -> None:
        with open(self.dirs[zone_id] / "energy_uj", "r+") as f:  # same inode, like sysfs
            f.truncate(0)
            f.write(f"{energy_uj}\n")

    def energy_path(self, zone_id: str) -> str:
        return str(self.dirs[zone_id] / "energy_uj")


def intel_client_tree(base: Path) -> FakePowercap:
    """A laptop/desktop Intel part: package-0 with core/uncore/dram, psys, and the MMIO package mirror."""
    fake = FakePowercap(base)
    fake.add("intel-rapl:0", "package-0", 1_000_000, max_power_uw=65_000_000)
    fake.add("intel-rapl:0:0", "core", 500_000)
    fake.add("intel-rapl:0:1", "uncore", 100_000)
    fake.add("intel-rapl:0:2", "dram", 300_000)
    fake.add("intel-rapl:1", "psys", 9_000_000)
    fake.add("intel-rapl-mmio:0", "package-0", 1_000_000)
    return fake
