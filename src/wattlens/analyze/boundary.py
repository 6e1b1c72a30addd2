"""Energy at a declared boundary: the device(s) a job uses, the whole node around them, or the facility.

``device`` is what GPU-only benchmarks report (ML.ENERGY, AI Energy Score: the accelerators' NVML counters, their
static power included). ``node`` adds what a node meter sees over the same wall time (``data/node_profiles.csv``,
every figure a sourced range): the node's other accelerators idling, the host CPUs (idle draw plus the threads the
job keeps busy), DRAM and the rest (switches, NICs, fans, power conversion) -- Power Hungry Processing's figure is
a node figure (seven idle A100s, a CPU constant and a RAM rule). ``facility`` multiplies the node by a PUE the user
gives (never a silent default).

Also the *net* figure a benchmark reports after subtracting its idle baseline (bench's ``net``): the device's
dynamic energy plus the host threads' dynamic power, nothing that would be drawn idle.

Torch-free.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from wattlens.analyze.profiles import Figure, Profile, get_profile
from wattlens.analyze.records import BoundaryEnergy, BoundaryPart, Range
from wattlens.errors import WattlensError

CSV_NAME = "node_profiles.csv"
BOUNDARIES = ("device", "node", "facility")
# host threads a query keeps busy: the Python thread issuing ops (or spin-waiting on the device) all the time; a
# second for the tokenizer or the CUDA runtime's own threads (assumed, U). Image pre-processing runs torch's
# intra-op thread pool on the host (PyTorch's default: every core it sees), whose OpenMP threads spin between
# parallel regions: up to all of the node's threads.
BUSY_THREADS = Figure(1.0, 2.0, "threads", "assumed (U): the main thread always, up to one more")


def busy_threads(input_kind: str, node_threads: int) -> Figure:
    if input_kind == "image":
        return Figure(
            1.0,
            float(max(node_threads, 1)),
            "threads",
            "assumed (U): image pre-processing on torch's intra-op pool (default: every visible core), whose "
            "OpenMP threads spin between parallel regions",
        )
    return BUSY_THREADS


class BoundaryError(WattlensError, ValueError):
    """A boundary that cannot be computed with what was given (the message says what to pass)."""


@dataclass(frozen=True)
class NodeProfile:
    name: str
    accelerator: str  # hardware_profiles.csv row of the node's accelerators
    accelerators: int
    cpu: str
    cpu_threads: int
    cpu_idle_w: Figure  # the whole host CPU at idle
    cpu_busy_thread_w: Figure  # dynamic power of one busy host thread
    dram_w: Figure  # node DRAM
    other_w: Figure  # switches, NICs, fans, power conversion
    max_w: float | None
    network_gbs_per_gpu: Figure | None  # inter-node fabric per GPU and direction (data/tensor-parallel traffic)
    status: str
    source: str
    note: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "accelerator": self.accelerator,
            "accelerators": self.accelerators,
            "cpu": self.cpu,
            "cpu_threads": self.cpu_threads,
            "cpu_idle_w": self.cpu_idle_w.to_dict(),
            "cpu_busy_thread_w": self.cpu_busy_thread_w.to_dict(),
            "dram_w": self.dram_w.to_dict(),
            "other_w": self.other_w.to_dict(),
            "max_w": self.max_w,
            "network_gbs_per_gpu": self.network_gbs_per_gpu.to_dict() if self.network_gbs_per_gpu else None,
            "status": self.status,
            "source": self.source,
            "note": self.note,
        }


def _f(row: dict[str, str], col: str) -> float | None:
    v = (row.get(col) or "").strip()
    return float(v) if v else None


def _estimated_cpu(raw_model: str, threads: int) -> tuple[Figure, Figure, str]:
    """(idle W of all threads, dynamic W per busy thread, note) from wattlens' own CPU estimator."""
    from wattlens.meters import cpu as cpu_tables
    from wattlens.meters.estimator import resolve_cpu_power

    info = cpu_tables.CpuInfo(raw_model, cpu_tables.normalise_model_name(raw_model), threads, True, "node profile")
    model = resolve_cpu_power(cpu_threads=None, info=info)
    src = f"wattlens estimator for '{raw_model}' x {threads} threads: {model.note}"
    idle = Figure(model.idle_w.low * threads, model.idle_w.high * threads, "W", src)
    dyn = Figure(model.dynamic_w.low, model.dynamic_w.high, "W", src)
    return idle, dyn, model.note


@lru_cache(maxsize=1)
def _rows() -> dict[str, dict[str, str]]:
    text = resources.files("wattlens.analyze").joinpath("data", CSV_NAME).read_text(encoding="utf-8")
    return {r["name"]: r for r in csv.DictReader(text.splitlines())}


def node_names() -> list[str]:
    return list(_rows())


@cache
def get_node(name: str) -> NodeProfile:
    rows = _rows()
    if name not in rows:
        raise BoundaryError(f"unknown node profile {name!r}; known: {', '.join(rows)}")
    r = rows[name]
    src = f"{CSV_NAME} row {name} ({r['status']}): {r['source']}"
    threads = int(r["cpu_threads"])
    if r["cpu_estimator"]:
        idle, busy, _ = _estimated_cpu(r["cpu_estimator"], threads)
    else:
        idle = Figure(_f(r, "cpu_idle_w_low") or 0.0, _f(r, "cpu_idle_w_high") or 0.0, "W", src)
        busy = Figure(_f(r, "cpu_busy_thread_w_low") or 0.0, _f(r, "cpu_busy_thread_w_high") or 0.0, "W", src)
    gb = _f(r, "dram_gb") or 0.0
    dram = Figure(gb * (_f(r, "dram_w_per_gb_low") or 0.0), gb * (_f(r, "dram_w_per_gb_high") or 0.0), "W", src)
    other = Figure(_f(r, "other_w_low") or 0.0, _f(r, "other_w_high") or 0.0, "W", src)
    net_gbs = _f(r, "network_gbs_per_gpu")
    net = Figure(net_gbs, net_gbs, "GB/s", f"{CSV_NAME} row {name}: {r['network_source']}") if net_gbs else None
    return NodeProfile(
        name,
        r["accelerator"],
        int(r["accelerators"]),
        r["cpu"],
        threads,
        idle,
        busy,
        dram,
        other,
        _f(r, "max_w"),
        net,
        r["status"],
        src,
        r["note"],
    )


def default_node(profile: Profile) -> str:
    """The reference node of an accelerator (the first row built around it), or a clear error."""
    for status in ("S", "R"):  # a vendor reference server first, then a measured study's node
        for name, r in _rows().items():
            if r["accelerator"] == profile.name and int(r["accelerators"]) > 1 and r["status"].startswith(status):
                return name
    for name, r in _rows().items():
        if r["accelerator"] == profile.name:
            return name
    raise BoundaryError(f"no node profile holds {profile.name}; pass --node (known: {', '.join(node_names())})")


def parse_pue(text: str | float | None) -> Range | None:
    """``1.2`` or ``1.1-1.4`` -> a PUE range (1.0-3.0), None when not given."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        lo = hi = float(text)
    else:
        parts = str(text).replace("..", "-").split("-")
        try:
            lo, hi = (float(parts[0]), float(parts[-1]))
        except ValueError as exc:
            raise BoundaryError(f"--pue must be a number or a range LOW-HIGH (e.g. 1.1-1.4), got {text!r}") from exc
    if not (1.0 <= lo <= hi <= 3.0):
        raise BoundaryError(f"--pue must lie in [1.0, 3.0] with low <= high, got {text!r}")
    return Range(lo, (lo * hi) ** 0.5, hi)


def _w(fig: Figure) -> Range:
    return Range(fig.low, fig.mid, fig.high)


def _times(power: Range, t: Range) -> Range:
    return Range(power.low * t.low, power.mid * t.mid, power.high * t.high)


def node_energy(
    device_j: Range,
    device_static_j: Range,
    wall_s: Range,
    used: int,
    node: NodeProfile,
    profile: Profile,
    input_kind: str = "text",
) -> BoundaryEnergy:
    """The node around ``used`` busy accelerators over ``wall_s`` (see the module docstring)."""
    if used > node.accelerators:
        raise BoundaryError(f"{used} devices do not fit node {node.name} ({node.accelerators} x {node.accelerator})")
    acc = get_profile(node.accelerator)
    notes = []
    if acc.name != profile.name:
        notes.append(f"node {node.name} holds {acc.name}; the busy devices are analysed as {profile.name}")
    idle_each = acc.static_w or Figure(0.0, 0.0, "W", "unmodelled")
    idle_n = node.accelerators - used
    threads = busy_threads(input_kind, node.cpu_threads)
    busy = _w(threads)
    cpu_busy = Range(
        node.cpu_busy_thread_w.low * busy.low,
        node.cpu_busy_thread_w.mid * busy.mid,
        node.cpu_busy_thread_w.high * busy.high,
    )
    parts = [
        BoundaryPart(f"accelerators in use ({used} x {profile.name})", device_j, None, "the device-boundary analysis"),
        BoundaryPart(
            f"idle accelerators ({idle_n} x {acc.name})",
            _times(_w(idle_each).scaled(idle_n), wall_s),
            _w(idle_each).scaled(idle_n),
            idle_each.source + " (idle_w_low..high: no context .. context loaded)",
        ),
        BoundaryPart(
            "host CPUs: idle draw", _times(_w(node.cpu_idle_w), wall_s), _w(node.cpu_idle_w), node.cpu_idle_w.source
        ),
        BoundaryPart(
            "host CPUs: busy threads",
            _times(cpu_busy, wall_s),
            cpu_busy,
            f"{node.cpu_busy_thread_w.source}; {threads.low:g}-{threads.high:g} threads: {threads.source}",
        ),
        BoundaryPart("DRAM", _times(_w(node.dram_w), wall_s), _w(node.dram_w), node.dram_w.source),
        BoundaryPart(
            "other (switches, NICs, fans, conversion)",
            _times(_w(node.other_w), wall_s),
            _w(node.other_w),
            node.other_w.source,
        ),
    ]
    total = parts[0].energy_j
    for p in parts[1:]:
        total = total.plus(p.energy_j)
    idle_power = _w(idle_each).scaled(idle_n).plus(_w(node.cpu_idle_w)).plus(_w(node.dram_w)).plus(_w(node.other_w))
    used_idle = _w(profile.static_w).scaled(used) if profile.static_w else Range(0.0, 0.0, 0.0)
    net = Range(
        max(device_j.low - device_static_j.low, 0.0) + parts[3].energy_j.low,
        max(device_j.mid - device_static_j.mid, 0.0) + parts[3].energy_j.mid,
        max(device_j.high - device_static_j.high, 0.0) + parts[3].energy_j.high,
    )
    if node.max_w and total.high / max(wall_s.high, 1e-12) > node.max_w:
        notes.append(f"the high corner's mean power exceeds the node's rated {node.max_w:.0f} W")
    return BoundaryEnergy(
        "node",
        total,
        tuple(parts),
        node=node.name,
        net_energy_j=net,
        idle_w=idle_power.plus(used_idle),
        notes=tuple([*notes, node.note]),
    )


def facility_energy(node: BoundaryEnergy, pue: Range) -> BoundaryEnergy:
    e = node.energy_j
    total = Range(e.low * pue.low, e.mid * pue.mid, e.high * pue.high)
    overhead = Range(total.low - e.low, total.mid - e.mid, total.high - e.high)
    parts = (*node.parts, BoundaryPart("facility overhead (PUE - 1)", overhead, None, "the PUE given (--pue)"))
    return BoundaryEnergy(
        "facility",
        total,
        parts,
        node=node.node,
        pue=pue,
        net_energy_j=node.net_energy_j,
        idle_w=node.idle_w,
        notes=node.notes,
    )


__all__ = [
    "BOUNDARIES",
    "BoundaryError",
    "NodeProfile",
    "default_node",
    "facility_energy",
    "get_node",
    "node_energy",
    "node_names",
    "parse_pue",
]
