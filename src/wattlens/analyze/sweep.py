"""Co-design sweeps: every combination of hardware, batch, dtype, length, runtime and tensor parallelism,
evaluated from ONE trace per model and phase, and the Pareto front of energy per token against latency among the
configurations that fit in memory.

    wattlens analyze llama-3-8b --sweep hardware=a100,h100,h200 batch=1,8,64,256 dtype=bf16,fp8 seq=512,4096

The trace (:func:`wattlens.analyze.phases.trace_grid`) fits every op's counts as a polynomial in batch and length
(prompt length for decode) over the sweep's ranges and checks it at a point it was not fitted on; each sweep
point reads its counts off that polynomial, re-types them to its dtype (:mod:`wattlens.analyze.retype`) and runs
the time/energy model on its hardware profile and runtime -- no tracing per point. The trace goes through the
trace cache like any other (a second sweep of the same model and phase does not trace at all).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattlens.analyze.analysis import Request, default_dtype, options_for, with_framework
from wattlens.analyze.graph import PhaseTrace, flatten
from wattlens.analyze.host import RUNTIMES
from wattlens.analyze.model import estimate_totals
from wattlens.analyze.parallel import tensor_parallel
from wattlens.analyze.profiles import Profile, get_profile
from wattlens.analyze.records import Range
from wattlens.analyze.retype import DTYPES, retype
from wattlens.analyze.traces import ModelSource, TraceRequest, TraceSet, get_traces
from wattlens.errors import WattlensError
from wattlens.pareto import Objective, pareto_front
from wattlens.records import Record, optional

AXES = ("hardware", "batch", "dtype", "seq", "runtime", "tp")
TRACE_DTYPE = "bf16"  # what the one trace is captured in; every dtype of the sweep is re-typed from it


class SweepError(WattlensError, ValueError):
    """A sweep specification that cannot be evaluated (the message says what is allowed)."""


@dataclass(frozen=True)
class SweepPoint(Record):
    """One configuration of a sweep: its energy, latency and memory, and whether it is on the Pareto front."""

    hardware: str
    batch: int
    dtype: str
    seq: int  # forward/prefill/train length, or the decode prompt length
    runtime: str
    tensor_parallel: int
    energy_j: Range  # device boundary, one query call (a batch)
    energy_j_per_token: Range  # per output token (generative) or per processed token
    latency_s: Range  # wall time of one query call (the whole generation for generative phases)
    tokens: int  # tokens the energy per token divides by
    throughput_tokens_per_s: float  # mid
    resident_bytes_per_device: float
    device_memory_bytes: float | None
    fits: bool | None
    paced_by: str  # host | device (mid)
    pareto: bool = False  # on the front of energy per token vs latency among the points that fit
    # the dtype whose peak and energy per FLOP priced the matrix work when the hardware has no units for ``dtype``
    # (e.g. fp8 on an A100: int8) -- a what-if, not a measured rate
    priced_as: str | None = optional()


@dataclass(frozen=True)
class SweepResult(Record):
    """``wattlens analyze MODEL --sweep ... --json``: every point, the Pareto front and how the counts were got."""

    model: str
    phase: str
    new_tokens: int | None
    axes: Mapping[str, tuple[str, ...]]
    points: tuple[SweepPoint, ...]
    pareto: tuple[int, ...]  # indices of the front's points in ``points``, by increasing latency
    traces: int  # traces captured or read from the cache: one per model and phase
    traced_now: bool  # False: the trace came from the cache
    seconds: float  # evaluation time of the whole sweep (tracing included)
    notes: tuple[str, ...] = ()
    objective: str = "minimise energy_j_per_token (mid) and latency_s (mid) among points that fit in memory"
    trace_key: str | None = optional()


def parse_axes(specs: Sequence[str]) -> dict[str, list[str]]:
    """``["hardware=a100,h100", "batch=1,8"]`` -> ``{"hardware": ["a100", "h100"], "batch": ["1", "8"]}``."""
    axes: dict[str, list[str]] = {}
    for spec in specs:
        for part in spec.split():
            if "=" not in part:
                raise SweepError(f"--sweep takes AXIS=V1,V2,... (axes: {', '.join(AXES)}), got {part!r}")
            k, v = part.split("=", 1)
            k = k.strip().lower()
            if k not in AXES:
                raise SweepError(f"unknown sweep axis {k!r}; allowed: {', '.join(AXES)}")
            vals = [x.strip() for x in v.split(",") if x.strip()]
            if not vals:
                raise SweepError(f"sweep axis {k!r} has no values")
            axes[k] = vals
    for k in ("batch", "seq", "tp"):
        for v in axes.get(k, []):
            if not v.isdigit() or int(v) < 1:
                raise SweepError(f"sweep axis {k} takes positive integers, got {v!r}")
    for v in axes.get("dtype", []):
        if v not in DTYPES:
            raise SweepError(f"sweep dtype {v!r} unknown; allowed: {', '.join(DTYPES)}")
    for v in axes.get("runtime", []):
        if v not in RUNTIMES:
            raise SweepError(f"sweep runtime {v!r} unknown; allowed: {', '.join(RUNTIMES)}")
    return axes


def _instantiate(ts: TraceSet, batch: int, seq: int, new_tokens: int) -> list[PhaseTrace]:
    out = []
    for t in ts.traces:
        if t.fit is None:
            raise SweepError(f"the {t.phase} trace has no shape fit: the sweep cannot evaluate other shapes")
        if t.phase == "decode":
            recs = t.fit.steps(batch, seq, new_tokens)
            tokens = batch * new_tokens
        else:
            recs = t.fit.at(batch, seq, t.phase)
            tokens = batch * seq if ts.model.kind in ("causal_lm", "encoder", "seq2seq", "image_text") else batch
        pt = PhaseTrace(t.phase, recs, 0, 0.0, list(t.notes), list(t.traced_contexts), t.exact, tokens, steps=t.steps)
        per_tok = t.state_bytes.get("kv_cache_per_token")
        if per_tok:
            pt.state_bytes["kv_cache"] = per_tok * batch * (seq + (new_tokens if t.phase == "decode" else 0))
        for k in ("optimizer", "gradients"):
            if k in t.state_bytes:
                pt.state_bytes[k] = t.state_bytes[k]
        out.append(pt)
    return out


def _retyped(traces: list[PhaseTrace], dtype: str) -> list[PhaseTrace]:
    if dtype == TRACE_DTYPE:
        return traces
    return [dataclasses.replace(t, records=retype(t.records, TRACE_DTYPE, dtype)) for t in traces]


# the sweep's two axes of the front, both minimised: latency first (the order of SweepResult.pareto), then energy
_FRONT_OBJECTIVES: tuple[Objective[tuple[int, SweepPoint]], ...] = (
    Objective(lambda ip: ip[1].latency_s.mid),
    Objective(lambda ip: ip[1].energy_j_per_token.mid),
)


def _front(points: Sequence[SweepPoint]) -> list[int]:
    """Indices of the fitting points no other fitting point beats on both latency and energy per token (mid), in
    order of latency (:func:`wattlens.pareto.pareto_front`)."""
    fitting = [(i, p) for i, p in enumerate(points) if p.fits is not False]
    return [i for i, _ in pareto_front(fitting, _FRONT_OBJECTIVES)]


def sweep(
    model: str,
    axes: Mapping[str, Sequence[str]],
    phase: str = "auto",
    new_tokens: int = 128,
    runtime: str = "eager",
    host: str = "auto",
    use_cache: bool = True,
) -> SweepResult:
    t0 = time.perf_counter()
    hw: list[Profile] = [get_profile(h) for h in axes.get("hardware", ["h100"])]
    batches = [int(b) for b in axes.get("batch", ["1"])]
    seqs = [int(s) for s in axes.get("seq", ["512"])]
    runtimes = list(axes.get("runtime", [runtime]))
    tps = [int(t) for t in axes.get("tp", ["1"])]
    src = ModelSource(model, TRACE_DTYPE)
    from wattlens.analyze.analysis import _peek_model

    info = _peek_model(src, use_cache)
    rq0 = Request(phase=phase, seq=seqs[0], prompt=seqs[0], new_tokens=new_tokens).resolved(
        info.generative, info.name, info.kind
    )
    req = TraceRequest(rq0.phase, 1, seqs[0], seqs[0], new_tokens, grid=tuple(sorted(set(seqs))))
    ts = get_traces(src, req, use_cache)
    notes = [n for t in ts.traces for n in t.notes]
    points: list[SweepPoint] = []
    per_shape: dict[tuple[int, int], list[PhaseTrace]] = {}
    for b in batches:
        for s in seqs:
            per_shape[(b, s)] = _instantiate(ts, b, s, new_tokens)
    retyped: dict[tuple[int, int, str], list[PhaseTrace]] = {}
    for prof in hw:
        dtypes = list(axes.get("dtype", [default_dtype(prof)]))
        for dt in dtypes:
            info = dataclasses.replace(ts.model, dtype=dt)
            for (b, s), traces in per_shape.items():
                key = (b, s, dt)
                rt_traces = retyped.get(key)
                if rt_traces is None:
                    rt_traces = retyped[key] = _retyped(traces, dt)
                for rt in runtimes:
                    if rt == "cuda-graph" and prof.kind == "cpu":
                        continue
                    for tp in tps:
                        rq = dataclasses.replace(
                            rq0, batch=b, seq=s, prompt=s, runtime=rt, host=host, tensor_parallel=tp
                        )
                        points.append(_point(rt_traces, info, prof, rq, dt, ts.model.weights_bytes))
    front = _front(points)
    on = set(front)
    points = [dataclasses.replace(p, pareto=i in on) for i, p in enumerate(points)]
    return SweepResult(
        model=ts.model.name,
        phase=rq0.phase,
        new_tokens=new_tokens if rq0.phase in ("decode", "generate") else None,
        axes={k: tuple(v) for k, v in axes.items()},
        points=tuple(points),
        pareto=tuple(front),
        traces=1,
        traced_now=not ts.cached,
        seconds=time.perf_counter() - t0,
        notes=tuple(dict.fromkeys(notes)),
        trace_key=ts.key or None,
    )


def _point(
    traces: list[PhaseTrace], info: Any, prof: Profile, rq: Request, dtype: str, weights_traced: float
) -> SweepPoint:
    recs = flatten(traces)
    opt = options_for(info, prof, rq)
    if rq.tensor_parallel > 1:
        recs = tensor_parallel(recs, rq.tensor_parallel)
    recs = with_framework(recs, traces, rq)
    tot = estimate_totals(recs, prof, opt)
    e, t = Range.of(tot.energy_j), Range.of(tot.time_s)
    out_tokens = sum(x.tokens for x in traces if x.phase == "decode")
    tokens = out_tokens or sum(x.tokens for x in traces) or rq.batch
    state: dict[str, float] = {}
    for x in traces:
        for k, v in x.state_bytes.items():
            if k != "kv_cache_per_token":
                state[k] = max(state.get(k, 0.0), v)
    w_scale = {"fp8": 0.5, "int8": 0.5, "fp32": 2.0}.get(dtype, 1.0)  # weights traced in bf16
    resident = (weights_traced * w_scale + sum(state.values())) / max(rq.tensor_parallel, 1)
    dev = prof.mem_gb * 1e9 if prof.mem_gb else None
    paced = "host" if tot.host_s["mid"] > tot.device_s["mid"] else "device"
    return SweepPoint(
        hardware=prof.name,
        batch=rq.batch,
        dtype=dtype,
        seq=rq.seq or 0,
        runtime=rq.runtime,
        tensor_parallel=rq.tensor_parallel,
        energy_j=e,
        energy_j_per_token=e.scaled(1.0 / max(tokens, 1)),
        latency_s=t,
        tokens=tokens,
        throughput_tokens_per_s=tokens / t.mid if t.mid > 0 else 0.0,
        resident_bytes_per_device=resident,
        device_memory_bytes=dev,
        fits=(resident <= dev) if dev else None,
        paced_by=paced,
        priced_as=_priced_as(prof, dtype),
    )


def _priced_as(prof: Profile, dtype: str) -> str | None:
    """The substitute dtype when ``prof`` has no peak for ``dtype`` (see profiles.fallback_note), else None."""
    if dtype in prof.peak_tflops:
        return None
    try:
        return prof.peak_flops(dtype)[1]
    except ValueError:
        return None


CSV_COLUMNS = (
    "hardware",
    "batch",
    "dtype",
    "seq",
    "runtime",
    "tensor_parallel",
    "energy_j_low",
    "energy_j_mid",
    "energy_j_high",
    "j_per_token_low",
    "j_per_token_mid",
    "j_per_token_high",
    "latency_s_low",
    "latency_s_mid",
    "latency_s_high",
    "tokens",
    "throughput_tokens_per_s",
    "resident_bytes_per_device",
    "device_memory_bytes",
    "fits",
    "paced_by",
    "pareto",
    "priced_as",
)


def to_csv(result: SweepResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in result.points:
        w.writerow(
            [
                p.hardware,
                p.batch,
                p.dtype,
                p.seq,
                p.runtime,
                p.tensor_parallel,
                *(f"{x:.6g}" for x in (p.energy_j.low, p.energy_j.mid, p.energy_j.high)),
                *(f"{x:.6g}" for x in (p.energy_j_per_token.low, p.energy_j_per_token.mid, p.energy_j_per_token.high)),
                *(f"{x:.6g}" for x in (p.latency_s.low, p.latency_s.mid, p.latency_s.high)),
                p.tokens,
                f"{p.throughput_tokens_per_s:.6g}",
                f"{p.resident_bytes_per_device:.6g}",
                "" if p.device_memory_bytes is None else f"{p.device_memory_bytes:.6g}",
                "" if p.fits is None else str(p.fits).lower(),
                p.paced_by,
                str(p.pareto).lower(),
                p.priced_as or "",
            ]
        )
    return buf.getvalue()


def write(result: SweepResult, path: str) -> str:
    """Write the sweep as CSV (``.csv``) or JSON (anything else); returns the path."""
    with open(path, "w", encoding="utf-8") as f:
        if path.endswith(".csv"):
            f.write(to_csv(result))
        else:
            json.dump(result.to_dict(), f, indent=1)
    return path


def text(result: SweepResult, top: int = 12) -> str:
    lines = [
        f"wattlens analyze {result.model} --sweep: {len(result.points)} points, phase {result.phase}"
        + (f", {result.new_tokens} new tokens" if result.new_tokens else "")
        + f"; {result.traces} trace per model and phase ({'traced now' if result.traced_now else 'from the cache'}), "
        f"{result.seconds:.2f} s",
        f"Pareto front ({len(result.pareto)} points; {result.objective}):",
        f"  {'hardware':16s} {'batch':>5s} {'dtype':5s} {'seq':>6s} {'runtime':10s} {'tp':>2s} "
        f"{'J/token mid [low-high]':>28s} {'latency s mid [low-high]':>28s} {'fits':>5s} paced",
    ]
    for i in result.pareto[:top]:
        p = result.points[i]
        lines.append(
            f"  {p.hardware:16s} {p.batch:5d} {p.dtype:5s} {p.seq:6d} {p.runtime:10s} {p.tensor_parallel:2d} "
            f"{_r(p.energy_j_per_token):>28s} {_r(p.latency_s):>28s} {p.fits!s:>5s} {p.paced_by}"
        )
    nofit = sum(1 for p in result.points if p.fits is False)
    if nofit:
        lines.append(f"  ({nofit} points do not fit in device memory and are left off the front)")
    substitutes = sorted({(p.hardware, p.dtype, p.priced_as) for p in result.points if p.priced_as})
    for hardware, dtype, used in substitutes:
        lines.append(f"  note: {hardware} has no {dtype} units: its {dtype} points are priced at the {used} peak")
    return "\n".join(lines)


def _r(r: Range) -> str:
    return f"{r.mid:.3g} [{r.low:.3g}-{r.high:.3g}]"


def plot(result: SweepResult, out_dir: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fit = [p for p in result.points if p.fits is not False]
    nofit = [p for p in result.points if p.fits is False]
    ax.scatter([p.latency_s.mid for p in fit], [p.energy_j_per_token.mid for p in fit], s=10, label="fits")
    if nofit:
        ax.scatter(
            [p.latency_s.mid for p in nofit],
            [p.energy_j_per_token.mid for p in nofit],
            s=10,
            marker="x",
            label="does not fit",
        )
    front = [result.points[i] for i in result.pareto]
    ax.plot([p.latency_s.mid for p in front], [p.energy_j_per_token.mid for p in front], "k-", label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency per query (s, mid)")
    ax.set_ylabel("energy per token (J, mid)")
    ax.set_title(f"{result.model}: co-design sweep ({len(result.points)} points)")
    ax.legend(fontsize=7)
    path = out / "sweep_pareto.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


__all__ = ["AXES", "SweepError", "SweepPoint", "SweepResult", "parse_axes", "sweep", "to_csv", "write"]
