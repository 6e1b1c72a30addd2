"""Hardware profiles from ``data/hardware_profiles.csv`` (see docs/HARDWARE.md for every column's meaning,
provenance and sources). Every figure used by the energy model is a :class:`Figure` -- a [low, high]
range with its source -- never a point value; empty cells stay unmodelled (``None``), never defaulted.

Derived figures (rule stated in each ``source``):
- pJ/FLOP for a dtype other than the row's ``pj_flop_dtype``: the HARDWARE.md "X" rule applied to that
  dtype's peak: low = (TDP - idle_high) / peak, high = (TDP - idle_low) / (peak x gemm_frac_low).
- on-chip movement per DRAM byte (GPU/SoC/TPU): 0 .. (170 - DRAM-low) pJ/B, from the measured ML.ENERGY
  H100 decode anchor (HARDWARE.md caveat: ~170 pJ per streamed byte at device level); CPUs: 0 .. 100 pJ/B
  (unverified: cache hierarchy and uncore, a parameter to calibrate).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

CSV_NAME = "hardware_profiles.csv"
HARDWARE_DOC = "docs/HARDWARE.md"

ALIASES: dict[str, str] = {
    "a100": "a100-sxm-80gb",
    "a100-80gb": "a100-sxm-80gb",
    "a100-40gb": "a100-sxm-40gb",
    "a100-sxm": "a100-sxm-80gb",
    "h100": "h100-sxm",
    "h100-sxm5": "h100-sxm",
    "h100-pcie-80gb": "h100-pcie",
    "h200-sxm": "h200",
    "b200-sxm": "b200",
    "v100": "v100-sxm2-32gb",
    "4090": "rtx4090",
    "rtx-4090": "rtx4090",
    "3090": "rtx3090",
    "rtx-3090": "rtx3090",
    "mi300": "mi300x",
    "mi250": "mi250x",
    "tpu-v4i": "tpu-v4",
    "v4": "tpu-v4",
    "v5e": "tpu-v5e",
    "v5p": "tpu-v5p",
    "v6e": "tpu-v6e",
    "trillium": "tpu-v6e",
    "m1": "m1-max",
    "m2": "m2-max",
    "m3": "m3-max",
    "m4-base": "m4",
    "apple": "m3-max",
    "apple-m": "m3-max",
    "jetson": "orin-agx",
    "jetson-orin": "orin-agx",
    "orin": "orin-agx",
    "jetson-orin-nano": "orin-nano",
    "xeon": "xeon-8480",
    "sapphire-rapids": "xeon-8480",
    "epyc": "epyc-9654",
    "genoa": "epyc-9654",
    "cpu": "generic-x86-core",
    "x86": "generic-x86-core",
    "generic-cpu": "generic-x86-core",
}

DTYPE_COLUMNS = {
    "fp32": "peak_tflops_fp32",
    "tf32": "peak_tflops_tf32",
    "bf16": "peak_tflops_bf16",
    "fp16": "peak_tflops_fp16",
    "int8": "peak_tops_int8",
    "fp8": "peak_tflops_fp8",
}


@dataclass(frozen=True)
class Figure:
    low: float
    high: float
    unit: str
    source: str

    @property
    def mid(self) -> float:
        # geometric mean for ranges spanning a factor > 2, arithmetic otherwise (both are inside the range)
        if self.low > 0 and self.high / self.low > 2:
            return math.sqrt(self.low * self.high)
        return (self.low + self.high) / 2

    def at(self, corner: str) -> float:
        return {"low": self.low, "mid": self.mid, "high": self.high}[corner]

    def scaled(self, k: float, note: str = "") -> Figure:
        return Figure(self.low * k, self.high * k, self.unit, self.source + (f"; {note}" if note else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "unit": self.unit, "source": self.source}


@dataclass
class Profile:
    name: str
    kind: str
    vendor: str
    peak_tflops: dict[str, Figure]  # dtype -> dense peak (a single vendor figure: low == high)
    mem_type: str
    mem_bw_gbs: Figure | None
    mem_gb: float | None
    l2_mb: float | None
    pj_per_byte: dict[str, Figure]  # memory level -> pJ/B ("dram", "on_chip")
    pj_per_flop: dict[str, Figure]  # dtype -> pJ/FLOP
    static_w: Figure | None
    tdp_w: float | None
    launch_us: Figure | None
    gemm_frac: Figure
    bw_frac: Figure
    interconnect: str
    interconnect_gbs: float | None
    provenance: str
    source: str
    notes: str
    main_dtype: str
    link_gbs: Figure | None = None  # per direction, from the bidirectional interconnect_gbs
    pj_per_link_byte: Figure | None = None
    link_eff: Figure | None = None
    derived_from: str = ""
    calibrated: dict[str, Any] = field(default_factory=dict)

    def peak_flops(self, dtype: str) -> tuple[float, str]:
        """Peak FLOP/s for ``dtype`` and the dtype actually used (a missing column falls back, stated)."""
        for d in _fallbacks(dtype):
            fig = self.peak_tflops.get(d)
            if fig is not None:
                return fig.low * 1e12, d
        raise ValueError(f"profile {self.name} has no peak FLOP/s figure at all")

    def eps_flop(self, dtype: str) -> tuple[Figure, str]:
        for d in _fallbacks(dtype):
            fig = self.pj_per_flop.get(d)
            if fig is not None:
                return fig, d
        raise ValueError(f"profile {self.name}: energy per FLOP unmodelled (empty TDP/idle in {CSV_NAME})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "vendor": self.vendor,
            "main_dtype": self.main_dtype,
            "peak_tflops": {k: v.to_dict() for k, v in self.peak_tflops.items()},
            "mem_type": self.mem_type,
            "mem_gb": self.mem_gb,
            "l2_mb": self.l2_mb,
            "mem_bw_gbs": self.mem_bw_gbs.to_dict() if self.mem_bw_gbs else None,
            "pj_per_byte": {k: v.to_dict() for k, v in self.pj_per_byte.items()},
            "pj_per_flop": {k: v.to_dict() for k, v in self.pj_per_flop.items()},
            "static_w": self.static_w.to_dict() if self.static_w else None,
            "tdp_w": self.tdp_w,
            "launch_us": self.launch_us.to_dict() if self.launch_us else None,
            "gemm_frac": self.gemm_frac.to_dict(),
            "bw_frac": self.bw_frac.to_dict(),
            "interconnect": self.interconnect,
            "interconnect_gbs": self.interconnect_gbs,
            "link_gbs": self.link_gbs.to_dict() if self.link_gbs else None,
            "pj_per_link_byte": self.pj_per_link_byte.to_dict() if self.pj_per_link_byte else None,
            "link_eff": self.link_eff.to_dict() if self.link_eff else None,
            "provenance": self.provenance,
            "source": self.source,
            "notes": self.notes,
            "derived_from": self.derived_from,
            "calibrated": self.calibrated,
        }


def fallback_note(profile: Profile, dtype: str) -> str | None:
    """What ``dtype``'s matrix work is priced at when the profile has no peak for it (e.g. fp8 on an A100, which
    has no FP8 units): the stated substitute, or None when the profile has the figure."""
    if dtype in profile.peak_tflops:
        return None
    try:
        _, used = profile.peak_flops(dtype)
    except ValueError:
        return None
    return (
        f"{dtype}: {profile.name} has no {dtype} peak figure (no {dtype} units in hardware_profiles.csv): its "
        f"matrix work is priced at the {used} peak and energy per FLOP instead -- a what-if, not a measured rate"
    )


def _fallbacks(dtype: str) -> list[str]:
    order = {
        "fp32": ["fp32", "tf32", "bf16", "fp16"],
        "tf32": ["tf32", "fp32"],
        "bf16": ["bf16", "fp16", "fp32"],
        "fp16": ["fp16", "bf16", "fp32"],
        "int8": ["int8", "fp8", "fp16", "bf16", "fp32"],
        "fp8": ["fp8", "int8", "fp16", "bf16", "fp32"],
        "int4": ["int8", "fp16", "bf16", "fp32"],
    }
    return order.get(dtype, [dtype, "fp32", "bf16", "fp16"])


def _f(row: dict[str, str], col: str) -> float | None:
    v = (row.get(col) or "").strip()
    return float(v) if v else None


@lru_cache(maxsize=1)
def _rows() -> dict[str, dict[str, str]]:
    text = resources.files("wattlens.analyze").joinpath("data", CSV_NAME).read_text(encoding="utf-8")
    return {r["name"]: r for r in csv.DictReader(text.splitlines())}


def names() -> list[str]:
    return list(_rows())


def _profile_from_row(r: dict[str, str]) -> Profile:
    # each figure names its row and column; the row's full source text and provenance codes are in
    # Profile.source / Profile.provenance (printed once by `wattlens hardware NAME`)
    src = f"{CSV_NAME} row {r['name']}"
    peaks = {
        d: Figure(v, v, "TFLOP/s", f"{src}; dense peak, column {col}")
        for d, col in DTYPE_COLUMNS.items()
        if (v := _f(r, col)) is not None
    }
    tdp, idle_lo, idle_hi = _f(r, "tdp_w"), _f(r, "idle_w_low"), _f(r, "idle_w_high")
    gemm = Figure(_f(r, "gemm_frac_low") or 0.5, _f(r, "gemm_frac_high") or 0.8, "fraction", f"{src}; gemm_frac")
    bwf = Figure(_f(r, "bw_frac_low") or 0.7, _f(r, "bw_frac_high") or 0.9, "fraction", f"{src}; bw_frac")
    main = r["pj_flop_dtype"] or "bf16"
    eps: dict[str, Figure] = {}
    lo, hi = _f(r, "pj_per_flop_bf16_low"), _f(r, "pj_per_flop_bf16_high")
    if lo is not None and hi is not None:
        eps[main] = Figure(lo, hi, "pJ/FLOP", f"{src}; pj_per_flop ({main}, HARDWARE.md rule X: TDP-idle over peak)")
    if tdp is not None and idle_lo is not None and idle_hi is not None:
        for d, fig in peaks.items():
            if d in eps or fig.low <= 0:
                continue
            eps[d] = Figure(
                (tdp - idle_hi) / fig.low,
                (tdp - idle_lo) / (fig.low * gemm.low),
                "pJ/FLOP",
                f"derived for {d} with HARDWARE.md rule X from {CSV_NAME} row {r['name']} "
                f"(TDP {tdp} W, idle {idle_lo}-{idle_hi} W, peak {fig.low} TFLOP/s)",
            )
    dram_lo, dram_hi = _f(r, "pj_per_byte_dram_low"), _f(r, "pj_per_byte_dram_high")
    per_byte: dict[str, Figure] = {}
    if dram_lo is not None and dram_hi is not None:
        per_byte["dram"] = Figure(dram_lo, dram_hi, "pJ/B", f"{src}; {r['mem_type']} class table in {HARDWARE_DOC}")
        if r["kind"] == "cpu":
            per_byte["on_chip"] = Figure(
                0.0,
                100.0,
                "pJ/B",
                "unverified (U): CPU cache hierarchy + uncore per DRAM byte; calibrate with --calibrate",
            )
        else:
            per_byte["on_chip"] = Figure(
                0.0,
                max(0.0, 170.0 - dram_lo),
                "pJ/B",
                "derived (X) from the ML.ENERGY v3 H100 decode anchor: ~170 pJ per "
                f"streamed byte at device level minus DRAM ({HARDWARE_DOC}, caveat)",
            )
    bw = _f(r, "mem_bw_gbs")
    launch = None
    if (ll := _f(r, "kernel_launch_us_low")) is not None and (lh := _f(r, "kernel_launch_us_high")) is not None:
        launch = Figure(ll, lh, "us", f"{src}; kernel_launch_us (class table in {HARDWARE_DOC})")
    static = None
    if idle_lo is not None and idle_hi is not None:
        static = Figure(idle_lo, idle_hi, "W", f"{src}; idle_w (the high end applies while a job holds the device)")
    link_bw = _f(r, "interconnect_gbs")
    link = Figure(link_bw / 2, link_bw / 2, "GB/s", f"{src}; interconnect_gbs / 2 (per direction)") if link_bw else None
    return Profile(
        link_gbs=link,
        # anchors 1.5: NVLink-C2C 1.3 pJ/bit .. long-reach 112G SerDes ~5.5 pJ/bit; GPU-GPU NVLink/PCIe itself: U
        pj_per_link_byte=Figure(
            10.4, 44.0, "pJ/B", "unverified (U): 1.3-5.5 pJ/bit, NVLink-C2C to long-reach SerDes (analysis anchors 1.5)"
        )
        if link
        else None,
        link_eff=Figure(
            0.60,
            0.84,
            "fraction",
            "calculon NVLink collective efficiency 0.60-0.65 (assumed); "
            "H100 p2p measured 83-84% (NVIDIA/nccl#1264), via docs/HARDWARE.md",
        )
        if link
        else None,
        name=r["name"],
        kind=r["kind"],
        vendor=r["vendor"],
        peak_tflops=peaks,
        mem_type=r["mem_type"],
        mem_bw_gbs=Figure(bw, bw, "GB/s", f"{src}; mem_bw_gbs") if bw else None,
        mem_gb=_f(r, "mem_gb"),
        l2_mb=_f(r, "l2_mb"),
        pj_per_byte=per_byte,
        pj_per_flop=eps,
        static_w=static,
        tdp_w=tdp,
        launch_us=launch,
        gemm_frac=gemm,
        bw_frac=bwf,
        interconnect=r["interconnect"],
        interconnect_gbs=_f(r, "interconnect_gbs"),
        provenance=r["provenance"],
        source=r["source"],
        notes=r["notes"],
        main_dtype=main,
    )


def resolve_name(name: str) -> str:
    key = name.strip().lower()
    if key in _rows():
        return key
    if key in ALIASES:
        return ALIASES[key]
    matches = [n for n in _rows() if n.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    raise KeyError(
        f"unknown hardware {name!r}; known: {', '.join(names())}, this-machine (aliases: {', '.join(sorted(ALIASES))})"
    )


def get_profile(name: str, calibrated: bool | None = None) -> Profile:
    """A profile by name/alias; ``this-machine`` = generic-x86-core x detected cores, or the calibrated
    profile saved by ``--calibrate`` when one exists (``calibrated=False`` forces the uncalibrated one)."""
    if name.strip().lower() in ("this-machine", "this", "local", "host"):
        if calibrated is not False:
            cal = load_calibrated()
            if cal is not None:
                return cal
        return this_machine()
    return _profile_from_row(_rows()[resolve_name(name)])


def detected_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def this_machine(cores: int | None = None) -> Profile:
    n = cores or detected_cores()
    p = _profile_from_row(_rows()["generic-x86-core"])
    note = f"x {n} detected cores"
    p.name = "this-machine"
    p.derived_from = f"generic-x86-core x {n} cores (uncalibrated)"
    p.peak_tflops = {d: f.scaled(n, note) for d, f in p.peak_tflops.items()}
    if p.mem_bw_gbs:
        p.mem_bw_gbs = p.mem_bw_gbs.scaled(n, note + " (per-core bandwidth, measured)")
    if p.static_w:
        p.static_w = p.static_w.scaled(n, note)
    p.tdp_w = (p.tdp_w or 0) * n
    p.l2_mb = (p.l2_mb or 0) * n
    return p


# ------------------------------------------------------------------------------------------ calibration cache
def cache_path() -> Path:
    base = os.environ.get("WATTLENS_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    root = Path(base) if os.environ.get("WATTLENS_CACHE_DIR") else Path(base) / "wattlens"
    return root / "calibrated_profile.json"


def save_calibrated(p: Profile, path: Path | None = None) -> Path:
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(p.to_dict(), indent=1))
    return path


def _fig(d: dict[str, Any] | None) -> Figure | None:
    return Figure(d["low"], d["high"], d["unit"], d["source"]) if d else None


def profile_from_dict(d: dict[str, Any]) -> Profile:
    kw = dict(d)
    for k in ("mem_bw_gbs", "static_w", "launch_us", "link_gbs", "pj_per_link_byte", "link_eff"):
        kw[k] = _fig(kw.get(k))
    for k in ("gemm_frac", "bw_frac"):
        kw[k] = _fig(kw[k])
    for k in ("peak_tflops", "pj_per_byte", "pj_per_flop"):
        kw[k] = {n: _fig(v) for n, v in kw.get(k, {}).items()}
    allowed = {f.name for f in dataclasses.fields(Profile)}
    return Profile(**{k: v for k, v in kw.items() if k in allowed})


def load_calibrated(path: Path | None = None) -> Profile | None:
    path = path or cache_path()
    try:
        return profile_from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def all_profiles() -> list[Profile]:
    return [_profile_from_row(r) for r in _rows().values()] + [this_machine()]
