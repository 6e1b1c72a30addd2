"""GPU truth: every wattlens GPU path checked against real NVIDIA hardware, in one command.

    benchmarks/gpu_truth.sh                # on a lent GPU machine: installs the carried wheels, runs this
    python benchmarks/gpu_truth.py --out gpu-truth.json [--budget-s 420] [--skip bench,zeus]

Each check is a named result with ``pass`` / ``fail`` / ``skip`` (with the reason) and its figures:

* ``sources`` — ``wattlens sources --json`` (the user's path) finds the GPU with its counter kind; RAPL state.
* ``counter_period`` — how often the NVML energy counter really advances (wattlens assumes ≤ 100 ms).
* ``edge_cost`` — what a window edge costs the caller: 50 back-to-back ~20 ms windows under load with the
  counter read at the edge (``edge_reads="blocking"``, what Zeus does) and in the background (``"async"``, the
  default): median begin+end wall time of each next to a plain pair of counter reads, and the 50 async windows
  summing to one enclosing window.
* ``counter_vs_integration`` — one ~20 s matmul load measured at once by the NVML energy counter and by
  wattlens' 10 Hz power integration (plus this script's own 20 Hz integration of the raw power reading and,
  where NVML has it, of the instant power field): agreement within 5 %.
* ``zeus`` — Zeus's ``ZeusMonitor`` on the very same windows: within 5 % (skipped when zeus is absent).
* ``idle_load_short`` — idle power; a 1 s window under load; 50 ms windows flagged and never 0;
  back-to-back windows summing to the enclosing one within 1 %.
* ``stream_sync`` — a window around asynchronous CUDA work contains that work (its duration covers the
  kernels' CUDA-event time), and what a window without the synchronisation would have read.
* ``measure_cli`` — ``wattlens measure --json -- python -c <matmul>`` reports a measured GPU component.
* ``power_limit`` — optimize's hardware knob: the limit is set, the load's power drops under it, and the
  limit after the run equals the one before.
* ``bench`` — ``wattlens bench`` on CUDA for a subset of the php suite (text-classification, the GPT-2
  ladder, image-classification) with gross / idle / net, and the measured energy ratios between models
  next to ``wattlens analyze --hardware h200`` predictions for the same models and shapes.

The GPU load runs in a separate process (``_LOADER``), so that this process never holds queued CUDA work
that wattlens' edge synchronisation would wait for; only ``stream_sync`` issues CUDA work here on purpose.

Everything the checks need from the machine comes through a :class:`Rig`. :class:`RealRig` drives the GPU;
the tests drive the same checks through a stand-in rig (``tests/benchmarks/``), and the report then says
``"hardware": "stand-in"`` — a stand-in run is never evidence. The JSON is rewritten after every check, so a
run cut short by its time limit still leaves the finished checks behind.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCHEMA = 1
PASS, FAIL, SKIP = "pass", "fail", "skip"
AGREEMENT_REL = 0.05  # counter vs integration, wattlens vs Zeus
SUM_REL = 0.01  # back-to-back windows vs the enclosing one
SYNC_COVER = 0.95  # a synchronised window lasts at least this share of the kernels' CUDA-event time
EDGE_COST_SHARE = 0.10  # an async window's begin+end costs at most this share of one counter read

# The GPU load: a long-lived child process that runs bf16 matmuls when told ("load SECONDS" -> "done N").
_LOADER = r"""
import sys, time, torch
n = int(sys.argv[1])
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16); b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(3): a @ b
torch.cuda.synchronize(); print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd or cmd[0] == "quit": break
    t_end, k = time.monotonic() + float(cmd[1]), 0
    while time.monotonic() < t_end:
        for _ in range(8): a @ b
        torch.cuda.synchronize(); k += 8
    print("done", k, flush=True)
"""


# ---------------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Check:
    """One named check: its verdict, the criterion it was held to, and every figure behind the verdict."""

    name: str
    status: str = SKIP
    criterion: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def verdict(self, ok: bool, why: str = "") -> None:
        self.status = PASS if ok else FAIL
        if why:
            self.notes.append(why)


@dataclass
class Report:
    hardware: str
    started_utc: str
    host: dict[str, Any]
    gpu: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = {s: sum(c.status == s for c in self.checks) for s in (PASS, FAIL, SKIP)}
        return out


def rel_diff(a: float | None, b: float | None) -> float | None:
    """|a - b| / b, None when either is unknown or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------------------------------------------
# the rig: what the checks need from the machine
# ---------------------------------------------------------------------------------------------------------
class Rig:
    """The machine under test. Subclasses: :class:`RealRig` here, a stand-in in the tests."""

    hardware = "stand-in"
    nvml: Any = None
    gpu_index = 0
    edge_reads = "auto"  # NvmlSource's default: background edge reads with the real pynvml

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def load(self, seconds: float) -> int:
        """Keep the GPU busy for ``seconds`` (blocking); returns the matmuls done."""
        self.load_begin(seconds)
        return self.load_wait()

    def load_begin(self, seconds: float) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def load_wait(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def async_work(self, target_s: float) -> Callable[[], float]:  # pragma: no cover - overridden
        """Queue about ``target_s`` of GPU work from *this* process without waiting; returns a function that,
        once the work is done, gives its CUDA-event time in seconds."""
        raise NotImplementedError

    def cli(self, args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("HF_HUB_OFFLINE", "1")
        return subprocess.run(
            [sys.executable, "-m", "wattlens", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=tempfile.gettempdir(),
        )

    def nvml_source(self, mode: str = "auto", edge_reads: str | None = None) -> Any:
        from wattlens.meters.nvml import NvmlSource

        return NvmlSource([self.gpu_index], nvml=self.nvml, mode=mode, edge_reads=edge_reads or self.edge_reads)


class RealRig(Rig):
    """The lent NVIDIA machine: pynvml for the readings, a child process for the load, torch here for the
    stream-synchronisation check."""

    hardware = "real"

    def __init__(self, matmul_n: int = 8192) -> None:
        self.matmul_n = matmul_n
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        import pynvml

        self.nvml = pynvml
        pynvml.nvmlInit()  # held for the run; the sources and knobs init and shut down on top of it (refcounted)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _LOADER, str(self.matmul_n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("ready"):
            raise RuntimeError(f"GPU load process did not start: {line!r}")

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass
        if self._proc and self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("quit\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except Exception:
                self._proc.kill()

    def load_begin(self, seconds: float) -> None:
        assert self._proc and self._proc.stdin
        self._proc.stdin.write(f"load {seconds}\n")
        self._proc.stdin.flush()

    def load_wait(self) -> int:
        assert self._proc and self._proc.stdout
        parts = self._proc.stdout.readline().split()
        return int(parts[1]) if len(parts) == 2 else 0

    def async_work(self, target_s: float) -> Callable[[], float]:
        import torch

        n = self.matmul_n
        a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0.record()
        for _ in range(10):
            a @ b
        t1.record()
        torch.cuda.synchronize()
        per_mm_s = t0.elapsed_time(t1) / 1e3 / 10
        count = max(1, int(target_s / per_mm_s))
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(count):
            a @ b
        stop.record()  # queued, not waited for: the caller's window edge must do the waiting
        return lambda: (stop.synchronize(), start.elapsed_time(stop) / 1e3)[1]


# ---------------------------------------------------------------------------------------------------------
# helpers shared by checks
# ---------------------------------------------------------------------------------------------------------
class PowerPoller:
    """This script's own integration of NVML power at ``hz`` (trapezoid), independent of wattlens' code:
    the averaged reading (``nvmlDeviceGetPowerUsage``) and, where NVML has it, the instant power field."""

    def __init__(self, nvml: Any, index: int, hz: float = 20.0) -> None:
        self.nvml, self.handle, self.period = nvml, nvml.nvmlDeviceGetHandleByIndex(index), 1.0 / hz
        self.instant_id = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
        self.samples: list[tuple[float, float, float | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-truth-poller", daemon=True)

    def _instant_w(self) -> float | None:
        if self.instant_id is None:
            return None
        try:
            val = self.nvml.nvmlDeviceGetFieldValues(self.handle, [self.instant_id])[0]
            if getattr(val, "nvmlReturn", 0) != 0:
                return None
            return float(val.value.uiVal) / 1000.0
        except Exception:
            self.instant_id = None
            return None

    def _run(self) -> None:
        nxt = time.monotonic()
        while not self._stop.is_set():
            p = float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0
            self.samples.append((time.monotonic(), p, self._instant_w()))
            nxt += self.period
            self._stop.wait(max(0.0, nxt - time.monotonic()))

    def __enter__(self) -> PowerPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def energy_j(self, t0: float, t1: float, instant: bool = False) -> float | None:
        pts = [(t, (pi if instant else p)) for t, p, pi in self.samples if t0 <= t <= t1]
        if len(pts) < 2 or any(v is None for _, v in pts):
            return None
        return sum(0.5 * (a[1] + b[1]) * (b[0] - a[0]) for a, b in itertools.pairwise(pts))  # type: ignore[operator]

    def rate_hz(self, t0: float, t1: float) -> float:
        n = sum(1 for t, _, _ in self.samples if t0 <= t <= t1)
        return n / (t1 - t0) if t1 > t0 else 0.0


def gpu_component(m: Any, method_prefix: str = "nvml") -> Any:
    """The GPU component of a wattlens Measurement (``None`` when absent)."""
    return next((c for c in m.components if c.domain == "gpu" and c.method.startswith(method_prefix)), None)


def component_figures(c: Any) -> dict[str, Any]:
    if c is None:
        return {"energy_j": None}
    return {
        "energy_j": c.energy_j,
        "low_j": c.low_j,
        "high_j": c.high_j,
        "source": c.source,
        "method": c.method,
        "note": c.note,
    }


@contextmanager
def timed(check: Check) -> Iterator[Check]:
    t0 = time.monotonic()
    try:
        yield check
    except Exception as exc:  # a broken check is a failed check with its reason, never a broken run
        check.status = FAIL
        check.notes.append(f"error: {type(exc).__name__}: {exc}")
    finally:
        check.duration_s = round(time.monotonic() - t0, 2)


def _zeus_monitor(index: int) -> tuple[Any, str]:
    try:
        from zeus.monitor import ZeusMonitor
    except Exception as exc:
        return None, f"zeus not importable: {type(exc).__name__}: {exc}"
    try:
        return ZeusMonitor(gpu_indices=[index], approx_instant_energy=True), ""
    except Exception as exc:
        return None, f"ZeusMonitor failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------------------
def check_sources(rig: Rig) -> Check:
    check = Check("sources", criterion="`wattlens sources --json` lists the GPU as available with an energy counter")
    with timed(check):
        proc = rig.cli(["sources", "--json"], timeout_s=60)
        data = json.loads(proc.stdout)
        by_name = {s["name"]: s for s in data["sources"]}
        nv, rapl = by_name.get("nvml", {}), by_name.get("rapl", {})
        check.figures = {
            "nvml_available": nv.get("available"),
            "nvml_source": nv.get("source"),
            "nvml_detail": nv.get("detail"),
            "rapl_available": rapl.get("available"),
            "rapl_detail": rapl.get("detail"),
            "cpu": data.get("cpu"),
        }
        ok = bool(nv.get("available")) and nv.get("source") == "measured" and "energy counter" in nv.get("detail", "")
        check.verdict(ok, "" if ok else "the GPU is not reported with a measured energy counter")
    return check


def check_counter_period(rig: Rig, seconds: float = 1.5) -> Check:
    from wattlens.meters.nvml import COUNTER_PERIOD_S

    check = Check(
        "counter_period",
        criterion=f"the NVML energy counter advances at least every {COUNTER_PERIOD_S * 1e3:.0f} ms (+5 % jitter) "
        "under load (wattlens' assumption); its read latency is recorded",
    )
    with timed(check):
        nv, h = rig.nvml, rig.nvml.nvmlDeviceGetHandleByIndex(rig.gpu_index)
        rig.load_begin(seconds + 0.5)
        time.sleep(0.3)
        changes, reads_ns, last = [], [], nv.nvmlDeviceGetTotalEnergyConsumption(h)
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            t0 = time.perf_counter_ns()
            v = nv.nvmlDeviceGetTotalEnergyConsumption(h)
            reads_ns.append(time.perf_counter_ns() - t0)
            if v != last:
                changes.append(time.monotonic())
                last = v
            time.sleep(0.0005)
        rig.load_wait()
        gaps = [b - a for a, b in itertools.pairwise(changes)]
        check.figures = {
            "updates": len(changes),
            "median_update_ms": round(statistics.median(gaps) * 1e3, 2) if gaps else None,
            "max_update_ms": round(max(gaps) * 1e3, 2) if gaps else None,
            "assumed_period_ms": COUNTER_PERIOD_S * 1e3,
            "read_latency_median_us": round(statistics.median(reads_ns) / 1e3, 1) if reads_ns else None,
            "read_latency_p95_us": round(sorted(reads_ns)[int(0.95 * (len(reads_ns) - 1))] / 1e3, 1)
            if reads_ns
            else None,
        }
        ok = bool(gaps) and statistics.median(gaps) <= COUNTER_PERIOD_S * 1.05
        check.verdict(ok, "" if ok else "the counter updates less often than wattlens assumes")
    return check


def window_costs(
    rig: Rig, edge_reads: str, windows: int, window_s: float, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``windows`` back-to-back windows inside an enclosing one, read through a Monitor over one NVML source in
    ``edge_reads`` mode (and the sources named in ``also``, e.g. the estimator): the begin+end wall time of each,
    and the parts' sum against the enclosing window."""
    from wattlens.tracking import Monitor

    src = rig.nvml_source("auto", edge_reads=edge_reads)
    mon = Monitor([src, *also])
    costs_s, parts = [], []
    try:
        mon.begin("enclosing")
        for i in range(windows):
            t0 = time.perf_counter()
            mon.begin(f"w{i}")
            t1 = time.perf_counter()
            time.sleep(window_s)
            t2 = time.perf_counter()
            parts.append(mon.end(f"w{i}"))
            costs_s.append(t1 - t0 + time.perf_counter() - t2)
        enclosing = mon.end("enclosing")
        parts_j = [gpu_component(p).energy_j for p in parts]  # the first read waits for pending readings
        enc = gpu_component(enclosing)
    finally:
        mon.close()
    notes = [gpu_component(p).note for p in parts]
    parts_sum = sum(e for e in parts_j if e is not None)
    return {
        "edge_reads": src.edge_reads,
        "sources": [getattr(s, "name", "?") for s in mon.sources],
        "pure_delta": bool(getattr(src, "pure_delta", False)),
        "median_begin_end_us": round(statistics.median(costs_s) * 1e6, 1),
        "p95_begin_end_us": round(sorted(costs_s)[int(0.95 * (len(costs_s) - 1))] * 1e6, 1),
        "windows": windows,
        "window_ms": [round(p.duration_s * 1e3, 2) for p in parts[:5]],
        "parts_unavailable": sum(e is None for e in parts_j),
        "parts_sum_j": parts_sum,
        "enclosing_j": enc.energy_j,
        "enclosing_s": enclosing.duration_s,
        "parts_vs_enclosing_rel": rel_diff(parts_sum, enc.energy_j),
        "note_of_first_part": notes[0] if notes else None,
        "enclosing_note": enc.note,
    }


def counter_read_pairs_s(rig: Rig, pairs: int) -> list[float]:
    """Wall time of ``pairs`` pairs of plain counter reads: what Zeus's window begin+end costs (one
    ``nvmlDeviceGetTotalEnergyConsumption`` at each edge, nothing else)."""
    nv, h = rig.nvml, rig.nvml.nvmlDeviceGetHandleByIndex(rig.gpu_index)
    out = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        nv.nvmlDeviceGetTotalEnergyConsumption(h)
        nv.nvmlDeviceGetTotalEnergyConsumption(h)
        out.append(time.perf_counter() - t0)
    return out


def check_edge_cost(rig: Rig, windows: int = 50, window_s: float = 0.02, reads: int = 50) -> Check:
    """Window begin+end cost with the counter read at the edge and in the background, under load."""
    from wattlens.meters.nvml import COUNTER_PERIOD_S

    check = Check(
        "edge_cost",
        criterion=f"async (background) edge reads: median begin+end of a window <= {EDGE_COST_SHARE:.0%} of one "
        f"counter read; {windows} back-to-back async ~{window_s * 1e3:.0f} ms windows sum to the enclosing one "
        f"within {SUM_REL:.0%} + one counter step ({COUNTER_PERIOD_S * 1e3:.0f} ms) of energy",
    )
    with timed(check):
        rig.load_begin(2 * windows * window_s + 4.0)
        time.sleep(0.3)
        pairs_s = counter_read_pairs_s(rig, reads)
        blocking = window_costs(rig, "blocking", windows, window_s)
        asynchronous = window_costs(rig, "async", windows, window_s)
        rig.load_wait()
        read_us = statistics.median(pairs_s) / 2 * 1e6
        step_j = (asynchronous["enclosing_j"] or 0.0) / asynchronous["enclosing_s"] * COUNTER_PERIOD_S
        gap_j = abs(asynchronous["parts_sum_j"] - (asynchronous["enclosing_j"] or 0.0))
        check.figures = {
            "counter_read_median_us": round(read_us, 1),
            "counter_read_pair_median_us": round(statistics.median(pairs_s) * 1e6, 1),
            "blocking": blocking,
            "async": asynchronous,
            "async_over_blocking": asynchronous["median_begin_end_us"] / blocking["median_begin_end_us"]
            if blocking["median_begin_end_us"]
            else None,
            "async_over_one_read": asynchronous["median_begin_end_us"] / read_us if read_us else None,
            "async_parts_gap_j": gap_j,
            "async_parts_allowed_gap_j": SUM_REL * (asynchronous["enclosing_j"] or 0.0) + step_j,
            "default_edge_reads": rig.edge_reads,
        }
        problems = []
        if asynchronous["edge_reads"] != "async" or not asynchronous["pure_delta"]:
            problems.append("the async source is not in async, pure-delta mode")
        if asynchronous["median_begin_end_us"] > EDGE_COST_SHARE * read_us:
            problems.append("an async window edge costs more than its share of one counter read")
        if asynchronous["parts_unavailable"] or asynchronous["enclosing_j"] is None:
            problems.append("an async window has no reading")
        elif gap_j > check.figures["async_parts_allowed_gap_j"]:
            problems.append("the async windows do not sum to the enclosing one")
        check.verdict(not problems, "; ".join(problems))
    return check


def check_counter_vs_integration(rig: Rig, load_s: float = 20.0, zeus: bool = True) -> tuple[Check, Check]:
    """One window, read four ways (counter, wattlens integration, raw integrations) plus Zeus on the same window."""
    from wattlens.tracking import Monitor

    check = Check(
        "counter_vs_integration",
        criterion=f"NVML energy counter and wattlens' 10 Hz power integration agree within {AGREEMENT_REL:.0%} "
        f"on a {load_s:.0f} s matmul load (1 s idle before, 2 s after, inside the window)",
    )
    zcheck = Check("zeus", criterion=f"wattlens and Zeus agree within {AGREEMENT_REL:.0%} on the same windows")
    with timed(check):
        counter, power = rig.nvml_source("auto"), rig.nvml_source("power")
        zm, why = _zeus_monitor(rig.gpu_index) if zeus else (None, "skipped by --skip")
        mon = Monitor([counter, power])
        try:
            with PowerPoller(rig.nvml, rig.gpu_index) as poller:
                t0 = time.monotonic()
                mon.begin("load")
                if zm:
                    zm.begin_window("load", sync_execution=False)
                time.sleep(1.0)
                iters = rig.load(load_s)
                time.sleep(2.0)
                zres = zm.end_window("load", sync_execution=False) if zm else None
                m = mon.end("load")
                t1 = time.monotonic()
        finally:
            mon.close()
        c_cnt = next(c for c in m.components if c.method == "nvml:energy-counter")
        c_int = next(c for c in m.components if c.method == "nvml:power-integration")
        raw = poller.energy_j(t0, t1)
        inst = poller.energy_j(t0, t1, instant=True)
        check.figures = {
            "window_s": round(m.duration_s, 3),
            "matmuls": iters,
            "counter": component_figures(c_cnt),
            "integration": component_figures(c_int),
            "integration_vs_counter_rel": rel_diff(c_int.energy_j, c_cnt.energy_j),
            "raw_avg_power_integration_j": raw,
            "raw_avg_vs_counter_rel": rel_diff(raw, c_cnt.energy_j),
            "raw_instant_power_integration_j": inst,
            "raw_instant_vs_counter_rel": rel_diff(inst, c_cnt.energy_j),
            "poll_rate_hz": round(poller.rate_hz(t0, t1), 1),
            "mean_power_w": c_cnt.energy_j / m.duration_s if c_cnt.energy_j else None,
        }
        d = check.figures["integration_vs_counter_rel"]
        check.verdict(d is not None and d <= AGREEMENT_REL)
        if zres is not None:
            z_j = float(zres.gpu_energy.get(rig.gpu_index, 0.0))
            zcheck.figures = {"zeus_j": z_j, "wattlens_j": c_cnt.energy_j, "rel": rel_diff(z_j, c_cnt.energy_j)}
            zcheck.verdict(zcheck.figures["rel"] is not None and zcheck.figures["rel"] <= AGREEMENT_REL)
        else:
            zcheck.notes.append(why)
    zcheck.duration_s = check.duration_s
    return check, zcheck


def check_idle_load_short(rig: Rig, part_s: float = 3.0, parts: int = 4) -> Check:
    """Idle power; a 1 s and 50 ms windows under load; ``parts`` back-to-back windows inside an enclosing one.

    The parts are long (``part_s``) because an edge can be one counter step behind: a step (100 ms of energy on
    an H200) falling between two parts belongs to the enclosing window only."""
    from wattlens.tracking import Monitor

    check = Check(
        "idle_load_short",
        criterion=f"idle power > 0; 1 s window > idle energy; 50 ms windows flagged and never 0; {parts} back-to-back "
        f"{part_s:g} s windows sum to the enclosing one within {SUM_REL:.0%}",
    )
    with timed(check):
        mon = Monitor([rig.nvml_source("auto")])
        try:
            idle = mon.measure_idle(3.0)
            idle_w = idle.total_w
            rig.load_begin(2.5 + parts * part_s + 1.0)
            time.sleep(0.5)
            mon.begin("one-second")
            time.sleep(1.0)
            one = mon.end("one-second")
            shorts = []
            for i in range(8):
                mon.begin(f"short-{i}")
                time.sleep(0.05)
                shorts.append(mon.end(f"short-{i}"))
            mon.begin("enclosing")
            pieces = []
            for i in range(parts):
                mon.begin(f"part-{i}")
                time.sleep(part_s)
                pieces.append(mon.end(f"part-{i}"))
            enclosing = mon.end("enclosing")
            rig.load_wait()
        finally:
            mon.close()
        short_e = [gpu_component(s).energy_j for s in shorts]
        short_flagged = ["shorter than two counter updates" in (gpu_component(s).note or "") for s in shorts]
        parts_sum = sum(p.energy_j or 0.0 for p in pieces)
        check.figures = {
            "idle_power_w": idle_w,
            "one_second": {"duration_s": one.duration_s, **component_figures(gpu_component(one))},
            "short_windows_ms": [round(s.duration_s * 1e3, 1) for s in shorts],
            "short_windows_j": short_e,
            "short_windows_flagged": short_flagged,
            "short_windows_sources": [gpu_component(s).source for s in shorts],
            "parts_j": [p.energy_j for p in pieces],
            "parts_sum_j": parts_sum,
            "enclosing_j": enclosing.energy_j,
            "enclosing_s": enclosing.duration_s,
            "parts_vs_enclosing_rel": rel_diff(parts_sum, enclosing.energy_j),
            "enclosing_interval_holds_parts_sum": (enclosing.low_j or 0) <= parts_sum <= (enclosing.high_j or 0),
        }
        problems = []
        if not idle_w > 0:
            problems.append("idle power is not positive")
        if not (one.energy_j or 0) > idle_w * one.duration_s:
            problems.append("a 1 s window under load read no more than idle")
        if any(e is None or e <= 0 for e in short_e):
            problems.append("a 50 ms window read 0 or nothing")
        if not all(short_flagged):
            problems.append("a 50 ms window was not flagged as short")
        rel = check.figures["parts_vs_enclosing_rel"]
        if rel is None or rel > SUM_REL:
            problems.append("back-to-back windows do not sum to the enclosing one")
        check.verdict(not problems, "; ".join(problems))
    return check


def check_stream_sync(rig: Rig) -> Check:
    from wattlens.tracking import Monitor

    check = Check(
        "stream_sync",
        criterion=f"a window around queued CUDA work lasts >= {SYNC_COVER:.0%} of the kernels' CUDA-event time",
    )
    with timed(check):
        mon = Monitor([rig.nvml_source("auto")])
        try:
            nv, h = rig.nvml, rig.nvml.nvmlDeviceGetHandleByIndex(rig.gpu_index)
            # what a meter without the synchronisation reads: the counter around the enqueue alone
            raw0 = nv.nvmlDeviceGetTotalEnergyConsumption(h)
            t_raw = time.monotonic()
            done = rig.async_work(1.5)
            unsynced_s = time.monotonic() - t_raw
            unsynced_j = (nv.nvmlDeviceGetTotalEnergyConsumption(h) - raw0) / 1e3
            done()
            mon.begin("async")
            done = rig.async_work(1.5)
            m = mon.end("async")
            gpu_s = done()
        finally:
            mon.close()
        check.figures = {
            "kernels_cuda_event_s": gpu_s,
            "window_s": m.duration_s,
            "window": component_figures(gpu_component(m)),
            "unsynchronised_window_s": unsynced_s,
            "unsynchronised_j": unsynced_j,
        }
        check.verdict(
            m.duration_s >= SYNC_COVER * gpu_s,
            "" if m.duration_s >= SYNC_COVER * gpu_s else "window ended before the queued kernels",
        )
    return check


_MEASURE_SNIPPET = (
    "import time, torch; a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16); t = time.time()\n"
    "while time.time() - t < 4: a @ a\n"
    "torch.cuda.synchronize()"
)


def check_measure_cli(rig: Rig) -> Check:
    check = Check(
        "measure_cli", criterion="`wattlens measure --json -- python -c <4 s matmul>` has a measured GPU part"
    )
    with timed(check):
        proc = rig.cli(["measure", "--json", "--", sys.executable, "-c", _MEASURE_SNIPPET], timeout_s=120)
        text = proc.stdout[proc.stdout.find("{") :]
        data = json.loads(text)
        gpus = [c for c in data.get("components", []) if c.get("domain") == "gpu"]
        check.figures = {
            "exit_code": data.get("exit_code"),
            "duration_s": data.get("duration_s"),
            "energy_j": data.get("energy_j"),
            "gpu_components": gpus,
            "boundary": data.get("boundary"),
        }
        ok = proc.returncode == 0 and any(c.get("source") == "measured" and (c.get("energy_j") or 0) > 0 for c in gpus)
        check.verdict(ok, "" if ok else f"no measured GPU component (rc {proc.returncode}): {proc.stderr[-300:]}")
    return check


def check_power_limit(rig: Rig, fraction: float = 0.6, load_s: float = 4.0) -> Check:
    from wattlens.optimize.hardware import GpuKnobs
    from wattlens.tracking import Monitor

    check = Check(
        "power_limit",
        criterion=f"optimize's knob sets the limit to {fraction:.0%} of default, load power stays under it (+5 %), and "
        "the limit after the run equals the one before",
    )
    with timed(check):
        nv = rig.nvml
        nv.nvmlInit()
        h = nv.nvmlDeviceGetHandleByIndex(rig.gpu_index)
        before_mw = int(nv.nvmlDeviceGetPowerManagementLimit(h))
        mon = Monitor([rig.nvml_source("auto")])
        knobs = GpuKnobs(rig.gpu_index, power_limit=fraction, nvml=nv)
        try:
            with knobs:
                inside_mw = int(nv.nvmlDeviceGetPowerManagementLimit(h))
                mon.begin("capped")
                rig.load(load_s)
                capped = mon.end("capped")
            mon.begin("uncapped")
            rig.load(load_s)
            uncapped = mon.end("uncapped")
        finally:
            mon.close()
            after_mw = int(nv.nvmlDeviceGetPowerManagementLimit(h))
            nv.nvmlShutdown()
        check.figures = {
            "limit_before_w": before_mw / 1e3,
            "limit_applied_w": knobs.applied.get("power_limit_w"),
            "limit_read_inside_w": inside_mw / 1e3,
            "limit_after_w": after_mw / 1e3,
            "capped_power_w": capped.power_w,
            "uncapped_power_w": uncapped.power_w,
            "capped_j_per_s": capped.power_w,
            "restore_errors": knobs.restore_errors,
        }
        problems = []
        if after_mw != before_mw:
            problems.append("the limit was not restored")
        if abs(inside_mw - int((knobs.applied.get("power_limit_w") or 0) * 1e3)) > 1000:
            problems.append("the limit read inside differs from the one applied")
        cap_w = inside_mw / 1e3
        if capped.power_w is None or capped.power_w > cap_w * 1.05:
            problems.append("load power above the applied limit")
        check.verdict(not problems, "; ".join(problems))
    return check


# The bench subset: tasks and models of the php suite that fit the time, with the analyze preset and the shape
# each is compared at (the classification head of distilbert-sst2 is left out of the preset: a few kFLOPs).
# Cheapest first: a run cut short by its time limit loses gpt2-xl, not the rest.
BENCH_MODELS: dict[str, tuple[str, str]] = {
    "distilbert-sst2": ("text-classification", "distilbert-base-uncased"),
    "resnet-50": ("image-classification", "resnet-50"),
    "vit-base-patch16-224": ("image-classification", "vit-base-patch16-224"),
    "distilgpt2": ("text-generation", "distilgpt2"),
    "gpt2": ("text-generation", "gpt2"),
    "gpt2-xl": ("text-generation", "gpt2-xl"),
}


def bench_suite_toml(
    device: str, queries: int, models: dict[str, tuple[str, str]], min_window_s: float = 2.0, idle_s: float = 3.0
) -> str:
    tasks: dict[str, list[str]] = {}
    for model, (task, _) in models.items():
        tasks.setdefault(task, []).append(model)
    lines = [
        "[suite]",
        'name = "gpu-truth"',
        'description = "php subset for benchmarks/gpu_truth.py"',
        f"queries = {queries}",
        "repeats = 3",
        "warmup = 3",
        f"min_window_s = {min_window_s}",
        f"idle_s = {idle_s}",
        "batch = [1]",
        'precision = ["fp32"]',
        "threads = [0]",
        'engine = ["pytorch"]',
        f'device = "{device}"',
        "phases = true",
        "quality = false",
    ]
    for task, names in tasks.items():
        lines += ["", "[[task]]", f'name = "{task}"', "models = [" + ", ".join(f'"{n}"' for n in names) + "]"]
    return "\n".join(lines) + "\n"


def analyze_args(row: dict[str, Any], preset: str) -> list[str]:
    """``wattlens analyze`` arguments for the shape one bench cell ran (batch, tokens in and out)."""
    args = [preset, "--hardware", "h200", "--dtype", "fp32", "--batch", str(row.get("config", {}).get("batch", 1))]
    args += ["--no-levers", "--json"]
    if row.get("task") == "text-generation":
        prompt = max(1, round(row.get("input_tokens_per_query") or 20))
        new = max(1, round(row.get("output_tokens_per_query") or 10))
        args += ["--phase", "generate", "--prompt", str(prompt), "--new-tokens", str(new)]
    elif row.get("input_tokens_per_query"):
        args += ["--phase", "forward", "--seq", str(max(1, round(row["input_tokens_per_query"])))]
    else:
        args += ["--phase", "forward"]
    return args


def ratio_table(measured: dict[str, float], predicted: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Every pair of models of one task: measured energy ratio next to analyze's (low, mid, high) ratio.

    The predicted interval of a ratio a/b is [low_a/high_b, high_a/low_b]."""
    out = []
    names = [n for n in measured if n in predicted]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if BENCH_MODELS.get(a, ("", ""))[0] != BENCH_MODELS.get(b, ("", ""))[0] or not measured[b]:
                continue
            pa, pb = predicted[a], predicted[b]
            r = measured[a] / measured[b]
            lo, mid, hi = pa["low"] / pb["high"], pa["mid"] / pb["mid"], pa["high"] / pb["low"]
            out.append(
                {
                    "pair": f"{a} / {b}",
                    "measured": r,
                    "predicted_mid": mid,
                    "predicted_low": lo,
                    "predicted_high": hi,
                    "mid_over_measured": mid / r if r else None,
                    "inside_interval": lo <= r <= hi,
                }
            )
    return out


def _bench_rows(rig: Rig, args: list[str], timeout_s: float) -> tuple[list[dict[str, Any]], int | None, str]:
    """Run ``wattlens bench ARGS --json``; on timeout read the committed cells back with ``wattlens results``.

    Returns (rows, exit code or None when stopped at the limit, stderr tail)."""
    try:
        proc = rig.cli(["bench", *args, "--json", "--quiet"], timeout_s=timeout_s)
        out, rc, err = proc.stdout, proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        db = args[args.index("--db") + 1]
        back = rig.cli(["results", "--db", db, "--run", "gpu-truth", "--json"], timeout_s=60)
        out, rc, err = back.stdout, None, str(exc.stderr or "")[-400:]
    rows = json.loads(out[out.find("[") :]) if "[" in out else []
    return rows, rc, err


def check_bench(
    rig: Rig,
    device: str = "cuda",
    queries: int = 20,
    models: dict[str, tuple[str, str]] | None = None,
    timeout_s: float = 300,
    min_window_s: float = 2.0,
    idle_s: float = 3.0,
) -> Check:
    models = models or BENCH_MODELS
    check = Check(
        "bench",
        criterion="every cell of `wattlens bench` on the GPU is ok, with a measured GPU energy and gross >= idle; "
        "measured energy ratios recorded next to `wattlens analyze --hardware h200` (informational)",
    )
    with timed(check):
        with tempfile.TemporaryDirectory() as tmp:
            suite, db = Path(tmp) / "gpu-truth.toml", str(Path(tmp) / "b.sqlite")
            suite.write_text(bench_suite_toml(device, queries, models, min_window_s, idle_s))
            rows, rc, err = _bench_rows(rig, ["--suite", str(suite), "--db", db, "--run-id", "gpu-truth"], timeout_s)
        if rc is None:
            check.notes.append(f"bench stopped at its {timeout_s:.0f} s limit: the cells it finished are kept")
        cells, measured_net, predicted = [], {}, {}
        for row in rows:
            cells.append(
                {
                    k: row.get(k)
                    for k in (
                        "model",
                        "task",
                        "status",
                        "error",
                        "source",
                        "j_per_query",
                        "j_per_query_low",
                        "j_per_query_high",
                        "gross_j_per_query",
                        "net_j_per_query",
                        "idle_w",
                        "mean_power_w",
                        "p50_ms",
                        "prefill_j_per_query",
                        "decode_j_per_token",
                        "input_tokens_per_query",
                        "output_tokens_per_query",
                        "validity",
                        "warnings",
                        "config",
                        "boundary",
                    )
                }
            )
            if row.get("status") == "ok" and row.get("j_per_query"):
                measured_net[row["model"]] = row["j_per_query"]
                an = rig.cli(["analyze", *analyze_args(row, models[row["model"]][1])], timeout_s=120)
                try:
                    pred = json.loads(an.stdout[an.stdout.find("{") :])["energy_j"]
                    predicted[row["model"]] = pred
                    cells[-1]["analyze_j_per_query"] = pred
                except Exception as exc:
                    cells[-1]["analyze_error"] = f"{type(exc).__name__}: {an.stderr[-200:]}"
        check.figures = {"cells": cells, "ratios": ratio_table(measured_net, predicted), "exit_code": rc}
        problems = [f"{c['model']}: {c['status']} {c.get('error') or ''}".strip() for c in cells if c["status"] != "ok"]
        if not cells:
            problems.append(f"no rows (rc {rc}): {err[-400:]}")
        for c in cells:
            if c["status"] == "ok" and (c.get("gross_j_per_query") or 0) <= 0:
                problems.append(f"{c['model']}: gross energy not positive")
        check.verdict(not problems, "; ".join(problems))
    return check


# ---------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------
def host_facts() -> dict[str, Any]:
    flags: list[str] = []
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")
                flags = [f for f in line.split(":", 1)[1].split() if f in wanted]
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def gpu_facts(rig: Rig) -> dict[str, Any]:
    nv = rig.nvml
    out: dict[str, Any] = {}
    try:
        nv.nvmlInit()
        h = nv.nvmlDeviceGetHandleByIndex(rig.gpu_index)
        for key, fn in (
            ("name", "nvmlDeviceGetName"),
            ("uuid", "nvmlDeviceGetUUID"),
            ("architecture", "nvmlDeviceGetArchitecture"),
            ("power_limit_mw", "nvmlDeviceGetPowerManagementLimit"),
            ("power_limit_default_mw", "nvmlDeviceGetPowerManagementDefaultLimit"),
            ("power_limit_constraints_mw", "nvmlDeviceGetPowerManagementLimitConstraints"),
        ):
            try:
                v = getattr(nv, fn)(h)
                out[key] = v.decode() if isinstance(v, bytes) else v if not isinstance(v, tuple) else list(v)
            except Exception as exc:
                out[key] = f"unreadable: {type(exc).__name__}"
        for key, fn in (("driver", "nvmlSystemGetDriverVersion"), ("nvml", "nvmlSystemGetNVMLVersion")):
            try:
                v = getattr(nv, fn)()
                out[key] = v.decode() if isinstance(v, bytes) else v
            except Exception as exc:
                out[key] = f"unreadable: {type(exc).__name__}"
        nv.nvmlShutdown()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    try:
        import torch

        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda
    except Exception:
        pass
    return out


CHECK_ORDER = (
    "sources",
    "counter_period",
    "edge_cost",
    "counter_vs_integration",
    "idle_load_short",
    "stream_sync",
    "measure_cli",
    "power_limit",
    "bench",
)
# seconds each check needs at the most (the run skips a check its remaining budget cannot cover)
CHECK_BUDGET_S = {
    "sources": 20,
    "counter_period": 10,
    "edge_cost": 20,
    "counter_vs_integration": 40,
    "idle_load_short": 30,
    "stream_sync": 20,
    "measure_cli": 60,
    "power_limit": 25,
    "bench": 200,
}


def run(
    rig: Rig,
    out: Path,
    skip: set[str],
    budget_s: float,
    bench_queries: int = 20,
    bench_device: str = "cuda",
    print_fn: Callable[[str], None] = print,
) -> Report:
    """Run every check not in ``skip`` within ``budget_s``; the JSON at ``out`` is rewritten after each one."""
    t_end = time.monotonic() + budget_s
    report = Report(rig.hardware, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), host_facts(), {})
    try:
        rig.start()
    except Exception as exc:  # no driver, no torch+CUDA: say so in the report instead of a traceback
        report.checks.append(Check("setup", FAIL, "NVML starts and the GPU load process runs", notes=[repr(exc)]))
        out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
        return report
    try:
        report.gpu = gpu_facts(rig)
        for name in CHECK_ORDER:
            if name in skip:
                report.checks.append(Check(name, notes=["skipped by --skip"]))
                continue
            left = t_end - time.monotonic()
            if left < CHECK_BUDGET_S[name] * (0.5 if name == "bench" else 1.0):
                report.checks.append(Check(name, notes=[f"skipped: {left:.0f} s of the budget left"]))
                continue
            if name == "counter_vs_integration":
                report.checks.extend(check_counter_vs_integration(rig, zeus="zeus" not in skip))
            elif name == "bench":
                report.checks.append(check_bench(rig, bench_device, bench_queries, timeout_s=max(60.0, left - 45)))
            else:
                report.checks.append(CHECKS[name](rig))
            for c in report.checks[-2 if name == "counter_vs_integration" else -1 :]:
                print_fn(f"{c.name:<24} {c.status:<5} {c.duration_s:7.1f} s  {'; '.join(c.notes)[:90]}")
            out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    finally:
        rig.close()
    out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return report


CHECKS: dict[str, Callable[[Rig], Check]] = {
    "sources": check_sources,
    "counter_period": check_counter_period,
    "edge_cost": check_edge_cost,
    "idle_load_short": check_idle_load_short,
    "stream_sync": check_stream_sync,
    "measure_cli": check_measure_cli,
    "power_limit": check_power_limit,
}


_SUMMARY: dict[str, Callable[[dict[str, Any]], str]] = {
    "counter_vs_integration": lambda f: (
        f"counter {f['counter']['energy_j']:.1f} J, integration "
        f"{f['integration']['energy_j']:.1f} J, rel {f['integration_vs_counter_rel']:.2%}"
    ),
    "zeus": lambda f: f"zeus {f['zeus_j']:.1f} J vs {f['wattlens_j']:.1f} J, rel {f['rel']:.2%}",
    "counter_period": lambda f: f"median update {f['median_update_ms']} ms, max {f['max_update_ms']} ms",
    "edge_cost": lambda f: (
        f"begin+end {f['blocking']['median_begin_end_us']:.0f} µs blocking, {f['async']['median_begin_end_us']:.0f} µs "
        f"async (one read {f['counter_read_median_us']:.0f} µs); async parts/enclosing "
        f"{f['async']['parts_vs_enclosing_rel']:.3%}"
    ),
    "idle_load_short": lambda f: (
        f"idle {f['idle_power_w']:.1f} W, parts/enclosing rel {f['parts_vs_enclosing_rel']:.3%}"
    ),
    "stream_sync": lambda f: (
        f"window {f['window_s']:.2f} s vs kernels {f['kernels_cuda_event_s']:.2f} s "
        f"(unsynced {f['unsynchronised_window_s'] * 1e3:.1f} ms)"
    ),
    "power_limit": lambda f: (
        f"{f['limit_before_w']:.0f} W -> {f['limit_read_inside_w']:.0f} W -> "
        f"{f['limit_after_w']:.0f} W; load {f['uncapped_power_w']:.0f} W -> {f['capped_power_w']:.0f} W"
    ),
    "bench": lambda f: ", ".join(
        f"{x['model']} {x['j_per_query']:.3g} J/q" for x in f["cells"] if x.get("j_per_query")
    ),
}


def summary_table(report: Report) -> str:
    """The figures a reader looks for first, one line per check."""
    lines = [f"gpu-truth ({report.hardware}): {report.gpu.get('name', '?')}, driver {report.gpu.get('driver', '?')}"]
    for c in report.checks:
        f = c.figures
        key = _SUMMARY.get(c.name)
        try:
            detail = key(f) if key and f else ""
        except Exception:
            detail = ""
        lines.append(f"  {c.name:<24} {c.status:<5} {detail or '; '.join(c.notes)[:100]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(os.environ.get("OUT", ".")) / "gpu-truth.json"
    parser.add_argument("--out", type=Path, default=default_out, help="JSON report (default $OUT/gpu-truth.json)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop starting checks after this (default 420)")
    parser.add_argument("--skip", default="", help=f"comma-separated checks to skip: {', '.join(CHECK_ORDER)}, zeus")
    parser.add_argument("--bench-queries", type=int, default=20)
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(CHECK_ORDER) - {"zeus"}
    if unknown:
        parser.error(f"--skip: unknown check(s) {sorted(unknown)}; allowed: {', '.join(CHECK_ORDER)}, zeus")
    sys.path.insert(0, str(REPO / "src"))
    report = run(RealRig(), args.out, skip, args.budget_s, args.bench_queries)
    print(summary_table(report))
    print(f"report: {args.out}")
    return 0 if not any(c.status == FAIL for c in report.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
