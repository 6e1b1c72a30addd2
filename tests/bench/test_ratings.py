"""Ratings: quantile bands of log(Wh) over a frozen population, robust to outliers, with stated edges."""

from __future__ import annotations

import csv
import math

import pytest

from wattlens.bench.ratings import POPULATION_CSV, bands_for, bands_from_values, describe, rate


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
    r = rate("text-generation", 20.0)
    assert r["stars"] == 5 and r["wh_per_1000"] == 20.0
    assert len(r["edges_wh_per_1000"]) == 4 and r["population_n"] == 2
    assert "PHP" in r["source"] and "A100" in r["boundary"]
    assert rate("text-generation", 1e4)["stars"] == 1
    assert rate("no-such-task", 1.0)["stars"] is None
    assert rate("text-generation", None) is None


def test_aliases_and_description() -> None:
    assert bands_for("image-captioning") == bands_for("image-to-text")
    assert "Wh/1000" in describe("summarization") and "n=11" in describe("summarization")
