"""Host and framework time: what the CPU does around every op and every query, and how it overlaps the device.

At batch 1 an eager PyTorch model spends most of its time on the host: Python, the modelling code, module calls
and the dispatcher for every op (tens of µs), the CUDA launch path for every kernel, and the framework's own work
per query (tokenisation, image pre-processing, the generation loop). The device idles while the host is behind;
a device held idle draws its static power all that time, which is most of a small model's energy.

Figures (``data/host_overheads.csv``, each a [low, high] range with its source and status):

* ``op_us.<family>``: eager host time per recorded (non-view) aten op, measured on THIS machine's CPU with a
  width-shrunk twin of each family (``wattlens analyze --calibrate`` re-measures it for the analysed model);
* ``host_speed.*``: how a GPU host's CPU compares -- the figures above are host work and transfer to another host
  scaled by its single-thread speed; the CUDA launch path and the device-side kernel floor do not transfer (they
  come from the accelerator's profile and class figures);
* per-runtime figures: CUDA graphs (one replay per pass, no per-op host work), ``torch.compile`` (fused kernels,
  a wrapper cost per kernel and guards per pass);
* per-query framework work by task (``framework.*``): tokenisation, image pre-processing, the extra ops of a
  query call and of each decode step.

Torch-free.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from wattlens.analyze.profiles import Figure, Profile, cache_path

CSV_NAME = "host_overheads.csv"
RUNTIMES = ("eager", "cuda-graph", "compiled")
HOSTS = ("auto", "this-machine", "same-cpu", "unknown")
ZERO = Figure(0.0, 0.0, "us", "none")


@dataclass(frozen=True)
class Row:
    key: str
    figure: Figure
    status: str
    note: str


@lru_cache(maxsize=1)
def rows() -> dict[str, Row]:
    text = resources.files("wattlens.analyze").joinpath("data", CSV_NAME).read_text(encoding="utf-8")
    out = {}
    for r in csv.DictReader(text.splitlines()):
        src = f"{CSV_NAME} {r['key']} ({r['status']}): {r['source']}"
        out[r["key"]] = Row(r["key"], Figure(float(r["low"]), float(r["high"]), r["unit"], src), r["status"], r["note"])
    return out


def figure(key: str) -> Figure:
    return rows()[key].figure


def family_op_us(family: str) -> Figure:
    fam = (family or "").lower()
    for key in (f"op_us.{fam}", f"op_us.{fam.split('-')[0]}"):
        if key in rows():
            return figure(key)
    return figure("op_us.generic")


def _mul(a: Figure, b: Figure, unit: str, why: str) -> Figure:
    return Figure(a.low * b.low, a.high * b.high, unit, f"{a.source} x {b.source} ({why})")


def _add(a: Figure, b: Figure, unit: str) -> Figure:
    return Figure(a.low + b.low, a.high + b.high, unit, f"{a.source} + {b.source}")


@dataclass(frozen=True)
class HostModel:
    """Per-op and per-query host time of one runtime on one host, as ranges (µs) with their sources."""

    runtime: str  # eager | cuda-graph | compiled
    host: str  # this-machine | same-cpu | unknown | calibrated
    serial: bool  # host and device are the same CPU: their times add (no overlap)
    op_us: Figure  # host time per executed op (eager) or per launched kernel (compiled); 0 inside a CUDA graph
    kernel_floor_us: Figure  # device: shortest time of one launched kernel
    pass_us: Figure  # per forward pass: graph replay (cuda-graph) or guards (compiled)
    call_us: Figure  # per query call: argument handling and post-processing (plus call_ops ops)
    call_ops: Figure
    item_us: Figure  # per input item: tokenisation (text) or image pre-processing (images); 0 for other inputs
    step_ops: Figure  # per decode step outside the model (the generation loop)
    fused_kernels: bool  # only the fused bound's kernels launch (compiled)
    eager_op_us: Figure  # one eager op (the framework's own ops around the model run eagerly)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "host": self.host,
            "serial": self.serial,
            "op_us": self.op_us.to_dict(),
            "kernel_floor_us": self.kernel_floor_us.to_dict(),
            "pass_us": self.pass_us.to_dict(),
            "call_us": self.call_us.to_dict(),
            "call_ops": self.call_ops.to_dict(),
            "item_us": self.item_us.to_dict(),
            "step_ops": self.step_ops.to_dict(),
            "fused_kernels": self.fused_kernels,
            "eager_op_us": self.eager_op_us.to_dict(),
            "notes": list(self.notes),
        }


def input_kind(model_kind: str) -> str:
    return {"vision": "image", "image_text": "image", "unet": "none", "module": "none"}.get(model_kind, "text")


def _host_speed(profile: Profile, host: str) -> tuple[str, Figure]:
    if host == "auto":
        host = "this-machine" if profile.kind == "cpu" else "unknown"
    return host, figure(f"host_speed.{host}")


def host_model(
    profile: Profile,
    family: str,
    model_kind: str,
    runtime: str = "eager",
    host: str = "auto",
    calibrated: dict[str, Any] | None = None,
) -> HostModel:
    """The host model of ``runtime`` for a ``family`` model on ``profile`` (see the module docstring)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; allowed: {', '.join(RUNTIMES)}")
    if host not in HOSTS:
        raise ValueError(f"unknown host {host!r}; allowed: {', '.join(HOSTS)}")
    cpu = profile.kind == "cpu"
    if cpu and runtime == "cuda-graph":
        raise ValueError("--runtime cuda-graph needs an accelerator profile (a CPU has no CUDA graphs)")
    host, speed = _host_speed(profile, host)
    notes: list[str] = []
    op = family_op_us(family)
    if calibrated and calibrated.get("op_us"):
        lo, hi = calibrated["op_us"]
        op = Figure(
            lo, hi, "us/op", f"calibrated on this machine {calibrated.get('when', '')} ({calibrated.get('what', '')})"
        )
        if host == "unknown":
            notes.append(
                "the host calibration ran on this machine; a GPU host's CPU is assumed within the unknown-host band"
            )
    eager_op = _mul(op, speed, "us/op", "host work scales with the host CPU's single-thread speed")
    launch = profile.launch_us if (profile.launch_us and not cpu) else ZERO
    floor = ZERO if cpu else figure("cuda.kernel_floor_us")
    kinds = input_kind(model_kind)
    item = {"text": figure("framework.text_item_us"), "image": figure("framework.image_item_us")}.get(kinds, ZERO)
    item = _mul(item, speed, "us", "host work")
    call = _mul(figure("framework.call_us"), speed, "us", "host work")
    eager = _add(eager_op, launch, "us/op") if not cpu else eager_op
    call_ops, step_ops = figure("framework.call_ops"), figure("framework.step_ops")

    def make(op: Figure, floor_: Figure, pass_: Figure, serial: bool, fused: bool) -> HostModel:
        return HostModel(
            runtime, host, serial, op, floor_, pass_, call, call_ops, item, step_ops, fused, eager, tuple(notes)
        )

    if runtime == "eager":
        return make(eager, floor, ZERO, cpu, False)
    if runtime == "cuda-graph":
        return make(ZERO, figure("cudagraph.kernel_floor_us"), figure("cudagraph.pass_us"), False, False)
    kernel = figure("compiled.kernel_us")
    per_kernel = _add(kernel, launch, "us/kernel") if not cpu else kernel
    return make(per_kernel, floor, figure("compiled.pass_us"), cpu, True)


# ------------------------------------------------------------------------------------------ calibration cache
def calibration_path() -> Path:
    return cache_path().with_name("host_calibration.json")


def load_calibration(family: str) -> dict[str, Any] | None:
    try:
        data = json.loads(calibration_path().read_text())
    except (OSError, ValueError):
        return None
    entry = data.get(family) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else None


def save_calibration(family: str, entry: dict[str, Any]) -> Path:
    """Store a host calibration of ``family`` in the user cache dir (safe to delete: the data file's figures
    are used again)."""
    path = calibration_path()
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[family] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    return path


__all__ = ["HOSTS", "RUNTIMES", "HostModel", "host_model", "input_kind", "rows"]
