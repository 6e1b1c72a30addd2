"""Footprint arithmetic with known numbers, PUE/price choices stated, unknown energy never becomes 0."""

from __future__ import annotations

import math

import pytest

from wattlens.carbon import (
    CarbonError,
    footprint,
    project_yearly,
    resolve_location,
    resolve_price,
    resolve_pue,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("WATTLENS_COUNTRY", "WATTLENS_REGION", "WATTLENS_PUE", "WATTLENS_PRICE_PER_KWH", "WATTLENS_CURRENCY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fr():
    return resolve_location(country="FR")


def test_known_numbers_france_pue_1_2(fr):
    fp = footprint(3.6e6, 3.0e6, 4.5e6, location=fr, pue=1.2)
    assert fp.facility_energy_j == pytest.approx(4.32e6)
    assert (fp.facility_low_j, fp.facility_high_j) == (pytest.approx(3.6e6), pytest.approx(5.4e6))
    assert fp.kwh == pytest.approx(1.2)
    assert fp.co2e_g == pytest.approx(53.016)
    assert fp.co2e_low_g == pytest.approx(44.18)
    assert fp.co2e_high_g == pytest.approx(66.27)
    assert fp.carbon_intensity_g_per_kwh == 44.18 and fp.basis == "lifecycle"
    assert fp.pue == 1.2 and fp.pue_origin == "argument" and fp.boundary == "facility"
    assert fp.location["key"] == "FRA" and fp.location["year"] == 2024


def test_default_pue_is_one_and_stated(fr):
    fp = footprint(3.6e6, location=fr)
    assert fp.pue == 1.0 and fp.pue_origin == "default" and fp.boundary == "node"
    assert fp.co2e_g == pytest.approx(44.18)
    assert any("PUE 1.0 (default" in n for n in fp.notes)
    assert fp.low_j == fp.high_j == 3.6e6  # no interval given: the point value


def test_cost_none_when_price_unset_and_stated(fr):
    fp = footprint(3.6e6, location=fr)
    assert fp.cost is None
    d = fp.to_dict()
    assert d["cost"] is None and d["cost_note"] == "not set"
    assert "cost not set" in fp.summary()


def test_cost_with_price(fr):
    fp = footprint(3.6e6, 1.8e6, 7.2e6, location=fr, pue=1.5, price_per_kwh=0.2, currency="eur")
    assert fp.cost == {
        "amount": pytest.approx(0.3),
        "low": pytest.approx(0.15),
        "high": pytest.approx(0.6),
        "currency": "EUR",
        "price_per_kwh": 0.2,
        "origin": "argument",
    }


def test_price_from_environment_is_stated(monkeypatch, fr):
    monkeypatch.setenv("WATTLENS_PRICE_PER_KWH", "0.30")
    monkeypatch.setenv("WATTLENS_CURRENCY", "USD")
    fp = footprint(3.6e6, location=fr)
    assert fp.cost["amount"] == pytest.approx(0.3) and fp.cost["currency"] == "USD"
    assert fp.cost["origin"] == "environment"
    assert footprint(3.6e6, location=fr, use_env=False).cost is None


def test_price_validation():
    assert resolve_price(None, "EUR", use_env=False) is None
    with pytest.raises(CarbonError):
        resolve_price(-0.1, "EUR")
    with pytest.raises(CarbonError):
        resolve_price(math.nan, "EUR")
    with pytest.raises(CarbonError, match="currency"):
        resolve_price(0.1, "a very long currency")
    assert resolve_price(0.1, None, use_env=False).currency is None


def test_unknown_energy_gives_none_never_zero(fr):
    fp = footprint(None, None, None, location=fr, pue=1.2, price_per_kwh=0.2, currency="EUR")
    assert fp.co2e_g is None and fp.co2e_low_g is None and fp.co2e_high_g is None
    assert fp.facility_energy_j is None and fp.kwh is None
    assert fp.cost is not None and fp.cost["amount"] is None
    assert any("not 0" in n for n in fp.notes)
    assert "unavailable" in fp.summary()


def test_zero_energy_is_zero_not_none(fr):
    assert footprint(0.0, location=fr).co2e_g == 0.0


def test_bad_energy_inputs(fr):
    with pytest.raises(CarbonError):
        footprint(math.nan, location=fr)
    with pytest.raises(CarbonError, match="inverted"):
        footprint(10.0, 12.0, 8.0, location=fr)
    with pytest.raises(CarbonError, match="Location"):
        footprint(10.0, location="FR")  # type: ignore[arg-type]


def test_bad_pue_in_footprint(fr):
    for bad in (0.5, -1, math.nan, 10):
        with pytest.raises(CarbonError):
            footprint(1.0, location=fr, pue=bad)


def test_provider_pue_only_on_explicit_opt_in():
    aws = resolve_location(region="aws:us-east-1")
    assert footprint(3.6e6, location=aws).pue == 1.0  # never applied silently
    fp = footprint(3.6e6, location=aws, pue="provider")
    assert fp.pue == 1.135 and fp.pue_origin == "provider" and "Cloud Carbon Footprint" in fp.pue_source
    assert footprint(3.6e6, location=resolve_location(region="gcp:europe-west1"), pue="provider").pue == 1.09
    with pytest.raises(CarbonError, match="needs a cloud region"):
        footprint(3.6e6, location=resolve_location(country="FR"), pue="provider")


def test_pue_from_environment_is_stated(monkeypatch, fr):
    monkeypatch.setenv("WATTLENS_PUE", "1.4")
    setting = resolve_pue(None, fr)
    assert setting.value == 1.4 and setting.origin == "environment" and "WATTLENS_PUE" in setting.note
    monkeypatch.setenv("WATTLENS_PUE", "9")
    with pytest.raises(CarbonError):
        footprint(1.0, location=fr)


def test_world_default_flows_into_footprint():
    fp = footprint(3.6e6)
    assert fp.location["key"] == "WORLD" and fp.location["stated_default"] is True
    assert fp.co2e_g == pytest.approx(472.94)
    assert "stated default" in fp.summary()
    assert any("WORLD average" in n for n in fp.notes)


def test_project_yearly_known_numbers(fr):
    # 100 J/query x 1e6 queries/day x 365 days = 3.65e10 J = 10,138.9 kWh node; x PUE 1.2 = 12,166.7 kWh.
    y = project_yearly(
        100.0, 1e6, fr, pue=1.2, price_per_kwh=0.1, currency="EUR", j_per_query_low=80.0, j_per_query_high=130.0
    )
    assert y["queries_per_year"] == pytest.approx(3.65e8)
    assert y["node_kwh_per_year"] == pytest.approx(10138.888, rel=1e-6)
    assert y["kwh_per_year"] == pytest.approx(12166.667, rel=1e-6)
    assert y["kwh_per_year_low"] == pytest.approx(12166.667 * 0.8, rel=1e-6)
    assert y["tco2e_per_year"] == pytest.approx(12166.667 * 44.18 / 1e6, rel=1e-6)
    assert y["tco2e_per_year_high"] == pytest.approx(12166.667 * 1.3 * 44.18 / 1e6, rel=1e-6)
    assert y["cost_per_year"]["amount"] == pytest.approx(1216.6667, rel=1e-6)
    assert y["footprint"]["pue"] == 1.2 and y["j_per_query"] == 100.0


def test_project_yearly_without_price_or_energy(fr):
    y = project_yearly(None, 1000, fr)
    assert y["tco2e_per_year"] is None and y["kwh_per_year"] is None
    assert y["cost_per_year"] is None and y["cost_note"] == "not set"
    with pytest.raises(CarbonError):
        project_yearly(1.0, -5, fr)
