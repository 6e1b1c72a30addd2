"""The bundled country carbon table cross-checked against CodeCarbon's, row by row.

``data/codecarbon_grid_intensity.csv`` is CodeCarbon's ``global_energy_mix.json`` (carbon_intensity and year per
country, at the commit named in its source column), reduced to the figures compared. Every country both tables
know must agree within 25 %, or be listed in ``data/codecarbon_intensity_differences.csv`` with the reason (a
different data year, a different source for the same year, or CodeCarbon having no figure) — and a listed row
must really differ, so the list cannot go stale.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from wattlens.carbon.intensity import resolve_location

DATA = Path(__file__).parent / "data"
TOLERANCE = 0.25
REASON_KINDS = {"year", "source", "codecarbon_unknown"}


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


PEER = {r["iso_alpha3"]: r for r in _rows("codecarbon_grid_intensity.csv")}
DIFFERENCES = {r["iso_alpha3"]: r for r in _rows("codecarbon_intensity_differences.csv")}


def _ours(iso3: str) -> tuple[float, int | None]:
    loc = resolve_location(country=iso3, use_env=False)
    assert loc.kind == "country" and loc.key == iso3
    return loc.g_co2e_per_kwh, loc.year


def _relative_gap(ours: float, peer: float) -> float:
    return abs(ours - peer) / peer


def test_the_peer_table_is_the_whole_of_codecarbons() -> None:
    assert len(PEER) >= 200  # CodeCarbon's table has 213 countries
    assert all("mlco2/codecarbon@" in r["source"] for r in PEER.values())


@pytest.mark.parametrize("iso3", sorted(PEER))
def test_each_country_agrees_within_25_percent_or_says_why(iso3: str) -> None:
    ours, our_year = _ours(iso3)
    peer = float(PEER[iso3]["g_co2e_per_kwh"] or 0)
    documented = DIFFERENCES.get(iso3)
    if peer > 0 and _relative_gap(ours, peer) <= TOLERANCE:
        assert documented is None, f"{iso3} agrees ({ours} vs {peer}) but is listed as differing: drop the row"
        return
    assert documented is not None, f"{iso3}: wattlens {ours} vs CodeCarbon {peer} g/kWh, >25 % apart and not explained"
    assert documented["kind"] in REASON_KINDS and documented["reason"].strip()
    if documented["kind"] == "codecarbon_unknown":
        assert peer == 0
    elif documented["kind"] == "year":
        assert str(our_year) != PEER[iso3]["year"], f"{iso3}: listed as a year difference but both use {our_year}"
        assert str(our_year) in documented["reason"] and PEER[iso3]["year"] in documented["reason"]
    else:
        assert str(our_year) == PEER[iso3]["year"]


def test_every_listed_difference_names_a_country_codecarbon_knows() -> None:
    assert set(DIFFERENCES) <= set(PEER)
    assert len(DIFFERENCES) <= 0.1 * len(PEER)  # a table that disagreed broadly would need a closer look
