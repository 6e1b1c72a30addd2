"""Synthetic bench rows and optimize results shaped like the `wattlens results --json` / optimize contracts.

The magnitudes follow the Power Hungry Processing task table (benchmark-anchors.md §1.3) scaled down to
CPU-sized figures, so the log-scale chart has several decades to show.
"""

from __future__ import annotations

from typing import Any

EVIL_MODEL = '<script>alert("x")</script>&co/model'


def _row(task: str, model: str, j: float, *, quality: float | None, weights: str = "trained", **extra: Any) -> dict:
    row = {
        "run_id": "run-test-1",
        "task": task,
        "model": model,
        "config": {"batch": 1, "precision": "fp32", "threads": 2, "engine": "pytorch"},
        "weights": weights,
        "status": "ok",
        "queries": 200,
        "j_per_query": j,
        "j_per_query_low": j * 0.9,
        "j_per_query_high": j * 1.12,
        "wh_per_1000": j * 1000 / 3600,
        "source": "estimated",
        "gross_j": j * 200 * 1.3,
        "idle_j": j * 200 * 0.3,
        "net_j": j * 200,
        "p50_ms": j * 40,
        "p95_ms": j * 55,
        "quality": quality,
        "quality_metric": "accuracy" if quality is not None else None,
        "co2e_g_per_1000": j * 1000 / 3.6e6 * 475,
        "rating": None,
        "error": None,
        "validity": [],
        "ci95_j": j * 0.05,
        "cv": 0.03,
        "throughput_qps": 1000 / (j * 40),
        "boundary": "node",
        "repeats": 5,
    }
    row.update(extra)
    return row


def bench_rows() -> list[dict]:
    band = {
        "basis": "net",
        "task": "text-classification",
        "edges_wh_per_1000": [0.05, 0.1, 0.2, 0.3],
        "population_n": 4,
        "clipped_n": 0,
        "population_min_wh_per_1000": 0.033,
        "population_max_wh_per_1000": 0.39,
        "boundary": "this run's boundary: cpu-node-net",
        "source": "run run-test-1",
        "kind": "relative",
        "population": "relative to this run's 4 text-classification models, tier cpu-node-net",
        "tier": "cpu-node-net",
        "rule": "wattlens-stars-2",
    }
    rows = [
        _row("text-classification", "distilbert-base-uncased-sst2", 0.35, quality=0.91, rating=5, rating_band=band),
        _row("text-classification", "roberta-large-sentiment", 1.4, quality=0.94, rating=3, rating_band=band),
        _row("text-classification", "tiny-bert", 0.12, quality=0.82, rating=5, rating_band=band),
        _row("text-classification", EVIL_MODEL, 0.8, quality=0.80, rating=4, rating_band=band),
        _row("image-classification", "mobilenet_v2", 0.9, quality=None, weights="random"),
        _row("image-classification", "google/vit-base-patch16-224", 3.1, quality=None, weights="random"),
        _row("text-generation", "distilgpt2", 9.0, quality=None, weights="random"),
        _row("text-generation", "gpt2-medium", 32.0, quality=None, weights="random"),
        _row("text-generation", "gpt2", 15.0, quality=None, weights="random"),
        _row(
            "text-generation",
            "opt-350m",
            20.0,
            quality=None,
            weights="random",
            status="invalid",
            validity=["cv: cv 0.31 > 0.10", "power above TDP"],
        ),
        _row("summarization", "bart-base-cnn", 60.0, quality=0.21, quality_metric="rougeL"),
        {
            "run_id": "run-test-1",
            "task": "summarization",
            "model": "pegasus-large",
            "config": {"batch": 1, "precision": "fp32", "threads": 2, "engine": "pytorch"},
            "weights": "random",
            "status": "failed",
            "queries": 0,
            "j_per_query": None,
            "quality": None,
            "error": "MemoryError: out of memory while loading weights",
        },
    ]
    return rows


def optimize_result() -> dict:
    """An optimize result in the ``--json`` contract's shape (OptimizeResult.to_dict)."""

    def point(batch: int, precision: str, j: float, q: float | None, p95: float, rss: float) -> dict:
        config = {"batch": batch, "precision": precision, "threads": 2, "engine": "pytorch"}
        return {
            "config": config,
            "label": f"pytorch {precision} t2 b{batch}",
            "j_per_query": j,
            "j_per_query_runs": [j],
            "quality": q,
            "p50_ms": p95 * 0.8,
            "p95_ms": p95,
            "peak_rss_mb": rss,
            "throughput_qps": 1000 / p95,
            "model_size_mb": 90 if precision == "int8" else 260,
            "wh_per_1000": j / 3.6,
            "rounds": 1,
        }

    baseline = point(1, "fp32", 1.0, 0.912, 30.0, 900)
    recommended = point(8, "int8", 0.25, 0.905, 70.0, 700)
    pareto = [
        point(8, "int8", 0.25, 0.905, 70.0, 700),
        point(4, "fp32", 0.5, 0.912, 45.0, 950),
        point(1, "int8", 0.6, 0.905, 14.0, 650),
    ]
    rejected = [{**point(16, "int8", 0.2, 0.85, 140.0, 800), "why": "quality 0.85 < floor 0.90 <b>"}]
    return {
        "wattlens": "optimize",
        "schema": 1,
        "run_id": "opt-test-1",
        "model": "distilbert-base-uncased-sst2",
        "task": "text-classification",
        "mode": "online",
        "baseline": baseline,
        "recommended": recommended,
        "saving_factor": 4.0,
        "pareto": pareto,
        "rejected": rejected,
        "search": {
            "strategy": "successive-halving",
            "trials": 12,
            "duration_s": 95.0,
            "energy_j": 410.0,
            "exhaustive_trials": 48,
        },
        "payback_queries": 547,
        "savings": {
            "j_per_query_saved": 0.75,
            "wh_per_1000_baseline": 0.278,
            "wh_per_1000_recommended": 0.069,
            "wh_per_1000_saved": 0.208,
            "queries_per_day": 1_000_000,
        },
        "savings_per_year": {
            "kwh_baseline": 101.4,
            "kwh_recommended": 25.4,
            "kwh_saved": 76.0,
            "tco2e_saved": 0.0361,
            "cost_saved": 15.2,
            "cost_currency": "EUR",
            "cost_note": "",
            "grid": "World 472.94 gCO2e/kWh (2024, lifecycle) - stated default",
            "pue": 1.0,
        },
    }
