"""A bench run as AI Energy Score submission files (``wattlens export --aiesc RUN_ID OUT``).

The layout follows what the AI Energy Score tooling writes into its results folder and what its summariser reads
(huggingface/AIEnergyScore: ``entrypoint.sh`` runs optimum-benchmark's ``energy_star`` scenario into ``/results``,
then ``summarize_gpu_wh.py`` reads ``benchmark_report.json`` and writes ``GPU_ENERGY_WH.txt`` and
``GPU_ENERGY_SUMMARY.json``; the folder is zipped and uploaded to the submission portal with its attestation). One
folder per cell, and its zip beside it::

    OUT/README.md
    OUT/<task>/<model>__<config>/benchmark_config.json    what ran: backend, scenario, environment
    OUT/<task>/<model>__<config>/benchmark_report.json    per target (load_model, forward | prefill + decode | call):
                                                          energy {unit: kWh, cpu, ram, gpu, total}, efficiency,
                                                          latency, and one ``measures`` entry per measured repeat
    OUT/<task>/<model>__<config>/GPU_ENERGY_SUMMARY.json  {"units": "Wh", "total", "<phase>_wh", ...}
    OUT/<task>/<model>__<config>/GPU_ENERGY_WH.txt        only when the run measured GPU energy
    OUT/<task>/<model>__<config>/wattlens_provenance.json  source, method, interval, boundary, tier, validity
    OUT/<task>/<model>__<config>.zip                       the folder, ready to upload

What differs from an AI Energy Score run, and is written down in the files rather than hidden:

* energies are per **1,000 queries** (the leaderboard's unit; ``num_samples: 1000``), scaled from the queries
  actually measured (``wattlens.measured_queries``) — never a pass that did not happen;
* energies are **gross** (what the meter read over each window, idle included, as AI Energy Score counts), per
  domain as the meter reported it (``cpu``, ``ram`` = memory, ``gpu`` = all GPUs); a domain with no reading is
  ``null``, never 0;
* ``decode`` is measured in its own windows, not derived as generate minus prefill;
* AI Energy Score scores GPU energy on an NVIDIA H100 only: a run without GPU energy gets no ``GPU_ENERGY_WH.txt``
  and its summary says why; a run on other hardware says which.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattlens.bench.records import BenchRow, WindowRow
from wattlens.records import Record
from wattlens.report import _fmt as f
from wattlens.report.query import RunInfo, UnknownRunError, leaderboard, require_run, run_timeline
from wattlens.units import J_PER_KWH

PER = 1000  # AI Energy Score's num_samples: its Wh are per 1,000 queries
DOMAINS = {"cpu": "cpu", "memory": "ram", "gpu": "gpu"}  # wattlens domain -> optimum-benchmark energy key
# wattlens task -> the AI Energy Score / optimum-benchmark task name
AIES_TASKS = {
    "text-generation": "text_generation",
    "summarization": "summarization",
    "question-answering": "question_answering",
    "text-classification": "text_classification",
    "sentence-similarity": "sentence_similarity",
    "image-classification": "image_classification",
    "object-detection": "object_detection",
    "text-to-image": "text_to_image",
    "image-to-text": "image_captioning",
    "automatic-speech-recognition": "automatic_speech_recognition",
}


@dataclass(frozen=True)
class ExportResult(Record):
    """What an export wrote: the files and what the reader should know about them."""

    format: str
    run_id: str
    out_dir: str
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "model"


def _energy(windows: Sequence[WindowRow], phase: str) -> list[dict[str, object]]:
    """Per measured repeat of ``phase``: gross energy per domain, scaled to 1,000 queries, in kWh."""
    measures = []
    for w in windows:
        if w.phase != phase or not w.queries:
            continue
        scale = PER / w.queries / J_PER_KWH
        by_key: dict[str, float | None] = dict.fromkeys(DOMAINS.values())
        other = 0.0
        for c in w.components:
            if c.energy_j is None:
                continue
            key = DOMAINS.get(c.domain)
            if key is None:
                other += c.energy_j
            else:
                by_key[key] = (by_key[key] or 0.0) + c.energy_j
        total = None if w.energy_j is None else w.energy_j * scale
        measure: dict[str, object] = {k: None if v is None else v * scale for k, v in by_key.items()}
        if other:
            measure["other"] = other * scale
        measures.append({"unit": "kWh", **measure, "total": total})
    return measures


def _mean(measures: Sequence[Mapping[str, object]]) -> dict[str, object] | None:
    if not measures:
        return None
    out: dict[str, object] = {"unit": "kWh"}
    for key in ("cpu", "ram", "gpu", "other", "total"):
        values = [m.get(key) for m in measures]
        known = [float(v) for v in values if isinstance(v, (int, float))]
        if key == "other" and not known:
            continue
        out[key] = sum(known) / len(known) if known and len(known) == len(values) else None
    return out


def _target(
    windows: Sequence[WindowRow], phase: str, efficiency_unit: str, volume_per_1000: float | None
) -> dict[str, object] | None:
    measures = _energy(windows, phase)
    energy = _mean(measures)
    if energy is None:
        return None
    durations = [w.duration_s * PER / w.queries for w in windows if w.phase == phase and w.queries]
    total = energy.get("total")
    efficiency = None
    if isinstance(total, float) and total > 0 and volume_per_1000:
        efficiency = {"unit": efficiency_unit, "value": volume_per_1000 / total}
    latency = {"unit": "s", "mean_per_1000_queries": sum(durations) / len(durations)} if durations else None
    return {
        "memory": None,
        "latency": latency,
        "throughput": None,
        "energy": energy,
        "efficiency": efficiency,
        "measures": measures,
    }


def _load_target(windows: Sequence[WindowRow]) -> dict[str, object] | None:
    loads = [w for w in windows if w.phase == "load" and w.energy_j is not None]
    if not loads:
        return None
    w = loads[0]
    by_key: dict[str, float | None] = dict.fromkeys(DOMAINS.values())
    for c in w.components:
        key = DOMAINS.get(c.domain)
        if key is not None and c.energy_j is not None:
            by_key[key] = (by_key[key] or 0.0) + c.energy_j / J_PER_KWH
    energy = {"unit": "kWh", **by_key, "total": (w.energy_j or 0.0) / J_PER_KWH}
    return {
        "memory": None,
        "latency": {"unit": "s", "values": [w.duration_s]},
        "throughput": None,
        "energy": energy,
        "efficiency": None,
        "measures": None,
    }


def report_of(row: BenchRow, windows: Sequence[WindowRow]) -> dict[str, object]:
    """``benchmark_report.json`` of one cell: its targets as optimum-benchmark's energy_star scenario names them."""
    report: dict[str, object] = {}
    load = _load_target(windows)
    if load is not None:
        report["load_model"] = load
    out_tokens = row.per_unit.output_tokens_per_query
    targets: list[tuple[str, str, str, float | None]]
    if row.task == "text-to-image":
        targets = [("call", "query", "images/kWh", float(PER))]
    elif "prefill" in row.phases and "decode" in row.phases:
        decode_tokens = None if out_tokens is None else max(out_tokens - 1, 0) * PER  # 1 token comes from prefill
        targets = [("prefill", "prefill", "samples/kWh", float(PER)), ("decode", "decode", "tokens/kWh", decode_tokens)]
    else:
        targets = [("forward", "query", "samples/kWh", float(PER))]
    for name, phase, unit, volume in targets:
        target = _target(windows, phase, unit, volume)
        if target is not None:
            report[name] = target
    return report


def _phase_wh(report: Mapping[str, object], key: str) -> dict[str, float | None]:
    """Wh per scored target (everything but load_model) for one energy key (gpu, or total)."""
    out: dict[str, float | None] = {}
    for name, target in report.items():
        if name == "load_model" or not isinstance(target, Mapping):
            continue
        energy = target.get("energy")
        value = energy.get(key) if isinstance(energy, Mapping) else None
        out[name] = None if not isinstance(value, (int, float)) else float(value) * 1000.0
    return out


def summary_of(row: BenchRow, report: Mapping[str, object], gpus: Sequence[str]) -> dict[str, object]:
    """``GPU_ENERGY_SUMMARY.json``: the summariser's keys (units, total, <phase>_wh), plus the node's total beside."""
    gpu = _phase_wh(report, "gpu")
    node = _phase_wh(report, "total")
    measured = bool(gpu) and all(v is not None for v in gpu.values())
    summary: dict[str, object] = {
        "units": "Wh",
        "total": sum(v for v in gpu.values() if v is not None) if measured else None,
        "format": "optimum",
        **{f"{k}_wh": v for k, v in gpu.items()},
        "per_queries": PER,
        "node_total_wh": sum(v for v in node.values() if v is not None) if node else None,
        "source": row.source,
    }
    if not measured:
        summary["note"] = (
            "no GPU energy in this run (it ran on " + (row.config.device or "cpu") + "): AI Energy Score scores GPU "
            "energy only, so there is no GPU_ENERGY_WH.txt; node_total_wh is the whole measured boundary"
        )
    elif not any("H100" in g for g in gpus):
        summary["note"] = f"measured on {', '.join(gpus) or 'an unnamed GPU'}; AI Energy Score's leaderboard uses H100"
    return summary


def config_of(run: RunInfo, row: BenchRow) -> dict[str, object]:
    """``benchmark_config.json``: what ran, in optimum-benchmark's sections (backend, scenario, environment)."""
    env = run.environment
    gpus = run.machine.gpus
    return {
        "name": f"wattlens_{AIES_TASKS.get(row.task, row.task)}",
        "backend": {
            "name": row.config.engine or "pytorch",
            "task": AIES_TASKS.get(row.task, row.task),
            "model": row.model,
            "device": row.config.device or "cpu",
            "torch_dtype": row.config.precision,
            "no_weights": row.weights == "random",
        },
        "scenario": {
            "name": "energy_star",
            "num_samples": PER,
            "input_shapes": {"batch_size": row.config.batch},
            "energy": True,
            "iterations": row.repeats,
        },
        "environment": {
            "cpu": run.machine.cpu,
            "cpu_count": run.machine.logical_cpus,
            "platform": env.get("platform"),
            "python_version": env.get("python"),
            "gpu": list(gpus),
            "gpu_count": len(gpus),
            "wattlens_version": (row.versions or {}).get("wattlens"),
        },
        "wattlens": {"run_id": run.run_id, "cell_key": row.cell_key, "measured_queries": row.queries},
    }


def provenance_of(row: BenchRow) -> dict[str, object]:
    return {
        "run_id": row.run_id,
        "cell_key": row.cell_key,
        "status": row.status,
        "validity": list(row.validity),
        "source": row.source,
        "boundary": row.boundary,
        "tier": row.tier,
        "energy_basis_of_j_per_query": row.energy_basis,
        "j_per_query": row.j_per_query,
        "j_per_query_low": row.j_per_query_low,
        "j_per_query_high": row.j_per_query_high,
        "wh_per_1000": row.wh_per_1000,
        "exported_energy": "gross window energy per domain, scaled to 1,000 queries from the measured queries",
        "decode": "measured in its own windows (not generate minus prefill)",
        "weights": row.weights,
        "quality": row.quality,
        "quality_metric": row.quality_metric,
    }


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    return path


def _zip(folder: Path) -> Path:
    archive = folder.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(folder.iterdir()):
            zf.write(item, f"{folder.name}/{item.name}")
    return archive


def write_cell(run: RunInfo, row: BenchRow, windows: Sequence[WindowRow], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    report = report_of(row, windows)
    summary = summary_of(row, report, run.machine.gpus)
    files = [
        _write_json(folder / "benchmark_config.json", config_of(run, row)),
        _write_json(folder / "benchmark_report.json", report),
        _write_json(folder / "GPU_ENERGY_SUMMARY.json", summary),
        _write_json(folder / "wattlens_provenance.json", provenance_of(row)),
    ]
    if isinstance(summary.get("total"), float):
        (folder / "GPU_ENERGY_WH.txt").write_text(f"{summary['total']:.6g}\n", encoding="utf-8")
        files.append(folder / "GPU_ENERGY_WH.txt")
    return [*files, _zip(folder)]


README = """# AI Energy Score submission files (written by `wattlens export --aiesc`)

Run {run_id} ({machine}); one folder per cell, each zipped beside it. Upload a zip with the attestation the
AI Energy Score submission portal asks for (public sharing, unaltered logs, production-representative model).

* Energies are gross (idle included), per domain as the meter read them, scaled to 1,000 queries from the
  queries measured (`benchmark_config.json` -> `wattlens.measured_queries`); `null` = no reading for that domain.
* Energy source of this run: {sources} (measured = hardware counter, integrated = sampled power, estimated = a
  model; see each folder's `wattlens_provenance.json` for the interval and the validity checks).
* AI Energy Score scores GPU energy on an NVIDIA H100: {gpu_note}
"""


def export_aiesc(store: Any, run_id: str, out: str | Path) -> ExportResult:
    """Write every cell of a bench run with a figure (ok or invalid; failed cells are listed in the notes)."""
    run = require_run(store, run_id)
    if run.kind != "bench":
        raise UnknownRunError(f"run {run_id!r} is a {run.kind!r} run; --aiesc exports bench runs")
    rows = leaderboard(store, run.run_id).rows
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    notes: list[str] = []
    for row in rows:
        if row.j_per_query is None:
            notes.append(f"{row.task} {row.model} ({f.config_label(row.config)}): {row.status}, nothing to export")
            continue
        folder = out_dir / _slug(row.task) / f"{_slug(row.model)}__{_slug(f.config_label(row.config))}"
        files.extend(write_cell(run, row, run_timeline(store, run.run_id, row.cell_key), folder))
        if row.status != "ok":
            notes.append(f"{folder}: exported although {row.status} ({'; '.join(row.validity)})")
    gpus = run.machine.gpus
    gpu_note = (
        f"this run measured {', '.join(gpus)}." if gpus else "this run has no GPU, so no GPU_ENERGY_WH.txt was written."
    )
    sources = ", ".join(sorted({r.source for r in rows if r.source})) or "n/a"
    readme = out_dir / "README.md"
    readme.write_text(README.format(run_id=run.run_id, machine=run.machine.label, sources=sources, gpu_note=gpu_note))
    if not gpus:
        notes.append("no GPU in this run: AI Energy Score scores GPU energy, so no GPU_ENERGY_WH.txt was written")
    return ExportResult("aiesc", run.run_id, str(out_dir), tuple(str(p) for p in [readme, *files]), tuple(notes))


def cells_of(files: Iterable[str]) -> list[str]:
    """The cell folders of an export (for tests and messages)."""
    return sorted({str(Path(p).parent) for p in files if p.endswith("benchmark_report.json")})
