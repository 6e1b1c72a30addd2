"""Ratings: quantile bands of log(Wh), robust to outliers, with stated edges; like compared with like only
(the frozen PHP population for runs of its tier, else the run's own results per task)."""

from __future__ import annotations

import csv
import math

import pytest

from wattlens.bench.ratings import (
    POPULATION_CSV,
    REFERENCE_TIER,
    bands_for,
    bands_from_values,
    describe,
    describe_rows,
    rate,
    relative_bands,
    run_tier,
)
from wattlens.bench.ratings import rate_rows as rate_records
from wattlens.bench.records import BenchRow


def rate_rows(rows: list[dict]) -> list[dict]:
    """Rate rows given in the JSON contract's shape; the rated rows in that shape again."""
    return [r.to_dict() for r in rate_records([BenchRow.from_dict(r) for r in rows])]


def test_bands_are_log_quantiles_of_the_population() -> None:
    b = bands_from_values("t", [1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0])
    # log10 values 0..5: 20/40/60/80 % quantiles at 1, 2, 3, 4
    assert [math.log10(e) for e in b.edges_wh_per_1000] == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert [b.stars(x) for x in (0.5, 10.0, 50.0, 500.0, 5000.0, 1e9)] == [5, 5, 4, 3, 2, 1]


def test_one_outlier_does_not_move_the_bands() -> None:
    base = [1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]
    b0 = bands_from_values("t", base)
    b1 = bands_from_values("t", [*base, 1e6])  # an AIES-style top outlier
    assert b1.clipped_n == 1
    for e0, e1 in zip(b0.edges_wh_per_1000, b1.edges_wh_per_1000, strict=True):
        assert e1 == pytest.approx(e0, rel=0.25)
    # equal-width bands over [min, max] (the AIES rule) would put every inlier in the 5-star band
    width = (1e6 - 1.0) / 5
    assert all(v <= 1.0 + width for v in base)
    assert len({b1.stars(v) for v in base}) >= 4


def test_frozen_population_has_a_source_for_every_row() -> None:
    with POPULATION_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 20
    assert all(r["source"].strip() and r["boundary"].strip() for r in rows)
    assert {r["task"] for r in rows} >= {"text-classification", "text-generation", "text-to-image", "summarization"}
    # PHP §1.3 anchors: distilgpt2 0.0147 and gpt2-xl 0.0953 kWh per 1,000 queries
    gen = {r["model"]: float(r["kwh_per_1000_queries"]) for r in rows if r["task"] == "text-generation"}
    assert gen == {"distilgpt2": 0.0147, "gpt2-xl": 0.0953}


def test_rating_states_edges_population_and_keeps_raw_wh() -> None:
    r = rate("text-generation", 20.0).to_dict()
    assert r["stars"] == 5 and r["wh_per_1000"] == 20.0
    assert len(r["edges_wh_per_1000"]) == 4 and r["population_n"] == 2
    assert "PHP" in r["source"] and "A100" in r["boundary"]
    assert rate("text-generation", 1e4).stars == 1
    assert rate("no-such-task", 1.0).stars is None
    assert rate("text-generation", None) is None


def test_aliases_and_description() -> None:
    assert bands_for("image-captioning") == bands_for("image-to-text")
    assert "Wh/1000" in describe("summarization") and "n=11" in describe("summarization")


def test_reference_population_states_its_tier() -> None:
    with POPULATION_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["tier"] for r in rows} == {REFERENCE_TIER.key} == {"gpu-node-gross"}
    assert REFERENCE_TIER.label == "gpu-node-gross (PHP 2023, 8xA100, CodeCarbon)"
    assert bands_for("text-generation").tier == REFERENCE_TIER.label
    assert bands_for("text-generation").kind == "reference"


@pytest.mark.parametrize(
    ("device", "attribution", "meters", "basis", "key", "comparable"),
    [
        ("cpu", "machine", ["rapl", "estimator"], "net", "cpu-node-net", False),
        (None, "machine", ["estimator"], "net", "cpu-node-net", False),  # before devices were recorded: cpu
        ("cuda:0", "machine", ["nvml", "rapl"], "net", "gpu-node-net", True),  # rated on its gross figure
        ("cuda:0", "machine", ["nvml"], "gross", "gpu-node-gross", True),
        ("cuda:0", "process", ["nvml"], "net", "gpu-process-net", False),
        ("cuda:0", "machine", ["rapl", "estimator"], "net", "gpu-unmetered-node-net", False),  # GPU not read
        ("mps", "machine", ["apple"], "gross", "soc-node-gross", False),
    ],
)
def test_run_tier(device, attribution, meters, basis, key, comparable) -> None:
    t = run_tier(device, attribution, meters, basis, "measured")
    assert t.key == key and t.comparable_to_reference() is comparable
    assert t.label.startswith(key + " (measured; meters: ")


def _rows(
    values: list[float],
    *,
    device: str = "cpu",
    meters: tuple[str, ...] = ("estimator",),
    basis: str = "net",
    task: str = "text-generation",
    run_id: str = "r1",
    gross_factor: float = 3.0,
) -> list[dict]:
    tier = run_tier(device, "machine", list(meters), basis, "estimated").to_dict()
    return [
        {
            "run_id": run_id,
            "task": task,
            "model": f"m{i}",
            "status": "ok",
            "wh_per_1000": v,
            "energy_basis": basis,
            "gross_j_per_query": None if v is None else abs(v) * gross_factor * 3.6,
            "tier": tier,
        }
        for i, v in enumerate(values)
    ]


def test_cpu_figures_get_no_reference_stars_but_a_relative_rating() -> None:
    # net CPU estimates ~100x below PHP's GPU node: under the old rule all 5 stars
    rows = rate_rows(_rows([1.0, 10.0, 100.0, 1000.0, 10000.0]))
    assert [r["rating"] for r in rows] == [5, 4, 3, 2, 1]  # log10 0..4: edges at 0.8, 1.6, 2.4, 3.2
    for r in rows:
        assert r["rating_reference"]["stars"] is None
        assert r["rating_reference"]["note"] == (
            "n/a (reference population is gpu-node-gross (PHP 2023, 8xA100, CodeCarbon); this run is "
            "cpu-node-net (estimated; meters: estimator))"
        )
        band = r["rating_band"]
        assert band["kind"] == "relative" and band["basis"] == "net" and band["population_n"] == 5
        assert band["population"].startswith("relative to this run's 5 text-generation models, tier cpu-node-net")
        assert [math.log10(e) for e in band["edges_wh_per_1000"]] == pytest.approx([0.8, 1.6, 2.4, 3.2])
        assert "relative to this run's 5" in r["rating_text"] and "reference: n/a" in r["rating_text"]
    lines = describe_rows([BenchRow.from_dict(r) for r in rows])
    assert any("5* <= 6.31 | 39.8 | 251 | 1.58e+03 Wh/1000 (net) < 1*" in line for line in lines)
    assert any("reference rating n/a (reference population is gpu-node-gross" in line for line in lines)


def test_an_outlier_in_the_run_does_not_move_the_relative_bands_much() -> None:
    base = [1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0]
    b0 = relative_bands("t", base)
    b1 = relative_bands("t", [*base, 5000.0])  # one model 2,500x the others
    assert b1.clipped_n == 1
    for e0, e1 in zip(b0.edges_wh_per_1000, b1.edges_wh_per_1000, strict=True):
        assert e1 == pytest.approx(e0, rel=0.25)
    rows = rate_rows(_rows([*base, 5000.0]))
    stars = [r["rating"] for r in rows]
    assert stars[-1] == 1 and stars[0] == 5
    assert len(set(stars[:-1])) >= 4  # the inliers still spread over the bands
    # the AIES rule (5 equal-width bands over [min, max]) would put every inlier in one band
    width = (5000.0 - 1.0) / 5
    assert all(v <= 1.0 + width for v in base)


def test_small_outlier_population_known_answer() -> None:
    # 3 models, one far out: median/MAD clipping keeps the two close ones apart
    rows = rate_rows(_rows([1.0, 1.5, 1000.0]))
    assert [r["rating"] for r in rows] == [5, 3, 1]
    assert rows[0]["rating_band"]["clipped_n"] == 1


def test_fewer_than_three_results_get_no_relative_stars() -> None:
    rows = rate_rows(_rows([1.0, 2.0]))
    for r in rows:
        assert r["rating"] is None and r["rating_band"] is None
        assert r["rating_relative"]["note"].startswith("n/a (a relative rating needs >= 3 ok results")
        assert r["rating_text"].startswith("n/a (reference population is gpu-node-gross")


def test_gpu_node_results_are_rated_against_the_reference_on_their_gross_figure() -> None:
    # PHP: distilgpt2 14.7, gpt2-xl 95.3 Wh/1000 (gross, 8xA100 node). Net figures 3x below the gross ones.
    mid = math.sqrt(14.7 * 95.3)  # half-way in log space: between the 40 % and 60 % edges
    rows = rate_rows(_rows([14.7 / 3, mid / 3, 1000.0 / 3], device="cuda:0", meters=("nvml", "rapl")))
    ref = [r["rating_reference"] for r in rows]
    assert [x["wh_per_1000"] for x in ref] == pytest.approx([14.7, mid, 1000.0])
    assert [r["rating"] for r in rows] == [5, 3, 1]
    for r in rows:
        assert r["rating_band"]["kind"] == "reference" and r["rating_band"]["basis"] == "gross"
        assert r["rating_band"]["tier"] == REFERENCE_TIER.label
        assert r["rating_relative"]["stars"] is not None  # the within-run rating is kept beside it


def test_tiers_and_runs_are_not_pooled_and_failed_cells_are_not_rated() -> None:
    cpu = _rows([1.0, 2.0, 3.0])
    gpu = _rows([100.0, 200.0], device="cuda:0", meters=("nvml",))
    other_run = _rows([1000.0], run_id="r2")
    failed = [{**cpu[0], "model": "broken", "status": "failed", "wh_per_1000": None}]
    rows = rate_rows(cpu + gpu + other_run + failed)
    assert [r["rating_band"]["population_n"] for r in rows[:3]] == [3, 3, 3]
    assert all(r["rating_relative"]["stars"] is None for r in rows[3:6])
    assert rows[-1]["rating"] is None and rows[-1]["rating_text"] == "n/a (status failed)"


def test_net_at_or_below_zero_falls_back_to_gross_for_the_group() -> None:
    rows = rate_rows(_rows([-0.5, 2.0, 4.0, 8.0]))
    assert all(r["rating_band"]["basis"] == "gross" for r in rows)
    assert rows[0]["rating"] == 5 and rows[-1]["rating"] == 1
