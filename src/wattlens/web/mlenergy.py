"""A bench run as ML.ENERGY-like JSON (``wattlens export --mlenergy RUN_ID OUT``): ``OUT/mlenergy.json``.

One object per cell with the fields of the ML.ENERGY benchmark's v3 run records (ml-energy/data,
``mlenergy_data/records/runs.py``: ``LLMRun`` for generative text tasks, ``DiffusionRun`` for text-to-image), so that
the same analysis code reads both: ``task``, ``model_id``, ``nickname``, ``gpu_model``, ``num_gpus``,
``max_num_seqs``/``batch_size``, ``steady_state_energy_joules``, ``steady_state_duration_seconds``,
``energy_per_token_joules``, ``energy_per_request_joules``, ``energy_per_generation_joules``,
``output_throughput_tokens_per_sec``, ``request_throughput_req_per_sec``, ``avg_power_watts``,
``total_output_tokens``, ``completed_requests``, ``avg_output_len``, ``p50``/``p95`` latencies, ``is_stable``,
``unstable_reason``. Other tasks (classification, ...) have no ML.ENERGY schema: they are ``domain: "other"`` with
the request-level fields.

Differences that are written down, not hidden: ML.ENERGY measures GPU energy only over a steady-state window;
these figures are wattlens' measured windows on its declared boundary (``energy_scope``), gross like ML.ENERGY's
(no idle subtraction), each with ``energy_source`` and the J/query interval beside it; ``is_stable`` is wattlens'
validity verdict and ``unstable_reason`` its reasons.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wattlens.bench.records import BenchRow
from wattlens.report.query import RunInfo, UnknownRunError, leaderboard, require_run
from wattlens.web.aiesc import ExportResult

GENERATIVE_TEXT = frozenset({"text-generation", "summarization"})
SCHEMA = "ml.energy-like runs, v3 field names (wattlens export --mlenergy)"


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def run_record(run: RunInfo, row: BenchRow) -> dict[str, object]:
    """One cell in ML.ENERGY's field names (gross energy over the measured windows), with wattlens' provenance."""
    gpus = run.machine.gpus
    domain = "llm" if row.task in GENERATIVE_TEXT else ("diffusion" if row.task == "text-to-image" else "other")
    out_tokens_per_query = row.per_unit.output_tokens_per_query
    queries = row.queries
    total_tokens = None if out_tokens_per_query is None or queries is None else out_tokens_per_query * queries
    energy, duration = row.gross_j, row.measured_s
    record: dict[str, object] = {
        "domain": domain,
        "task": row.task,
        "model_id": row.model,
        "nickname": row.model.rsplit("/", 1)[-1],
        "gpu_model": ", ".join(gpus) if gpus else None,
        "device": row.config.device or "cpu",
        "cpu_model": run.machine.cpu,
        "num_gpus": len(gpus) if (row.config.device or "cpu").startswith("cuda") else 0,
        "weight_precision": row.config.precision,
        "weights": row.weights,
        "max_num_seqs" if domain == "llm" else "batch_size": row.config.batch,
        "steady_state_energy_joules": energy,
        "steady_state_duration_seconds": duration,
        "energy_per_request_joules": row.gross_j_per_query,
        "request_throughput_req_per_sec": row.throughput_qps,
        "avg_power_watts": _div(energy, duration),
        "completed_requests": queries,
        "p50_latency_ms": row.p50_ms,
        "p95_latency_ms": row.p95_ms,
        "is_stable": row.ok,
        "unstable_reason": "; ".join(row.validity) if not row.ok else "",
        "energy_scope": row.boundary,
        "energy_source": row.source,
        "energy_basis": "gross (idle included, as ML.ENERGY)",
        "net_energy_per_request_joules": row.net_j_per_query,
        "j_per_query": row.j_per_query,
        "j_per_query_low": row.j_per_query_low,
        "j_per_query_high": row.j_per_query_high,
        "j_per_query_basis": row.energy_basis,
        "tier": (row.tier or {}).get("key"),
        "quality": row.quality,
        "quality_metric": row.quality_metric,
        "wattlens_run_id": run.run_id,
        "wattlens_cell_key": row.cell_key,
    }
    if domain == "llm":
        record.update(
            energy_per_token_joules=_div(energy, total_tokens),
            output_throughput_tokens_per_sec=_div(total_tokens, duration),
            total_output_tokens=total_tokens,
            avg_output_len=out_tokens_per_query,
        )
    elif domain == "diffusion":
        record.update(
            energy_per_generation_joules=row.gross_j_per_query,
            throughput_generations_per_sec=row.throughput_qps,
            batch_latency_s=None if row.p50_ms is None else row.p50_ms / 1000.0,
        )
    return record


def export_mlenergy(store: Any, run_id: str, out: str | Path) -> ExportResult:
    """Write ``OUT/mlenergy.json``: every cell with a measured figure (failed cells are listed in the notes)."""
    run = require_run(store, run_id)
    if run.kind != "bench":
        raise UnknownRunError(f"run {run_id!r} is a {run.kind!r} run; --mlenergy exports bench runs")
    rows = leaderboard(store, run.run_id).rows
    kept = [r for r in rows if r.gross_j is not None]
    notes = [f"{r.task} {r.model}: {r.status}, no measured windows to export" for r in rows if r.gross_j is None]
    if not run.machine.gpus:
        notes.append("no GPU in this run: energies are the CPU/memory boundary named in energy_scope, not GPU energy")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mlenergy.json"
    doc = {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "machine": run.machine.label,
        "runs": [run_record(run, r) for r in kept],
    }
    path.write_text(json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    return ExportResult("mlenergy", run.run_id, str(out_dir), (str(path),), tuple(notes))
