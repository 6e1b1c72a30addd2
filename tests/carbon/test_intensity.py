"""Carbon-intensity tables and location resolution: loaded offline, every choice stated, errors helpful."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from wattlens.carbon import (
    ENV_COUNTRY,
    ENV_REGION,
    CarbonError,
    cloud_regions,
    countries,
    provider_pue,
    pue_defaults,
    resolve_location,
    validate_intensity,
    validate_pue,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (ENV_COUNTRY, ENV_REGION, "WATTLENS_PUE", "WATTLENS_PRICE_PER_KWH", "WATTLENS_CURRENCY"):
        monkeypatch.delenv(name, raising=False)


# --- tables ---------------------------------------------------------------------------------------


def test_country_table_is_complete_and_sourced():
    rows = countries()
    assert len(rows) >= 200
    for r in rows:
        assert r["year"] and 2000 <= r["year"] <= 2030, r
        assert r["source"].strip(), r
        assert 0 < r["g_co2e_per_kwh"] < 1400, r  # Turkmenistan 1306.3 is the documented maximum
    a3 = [r["iso_alpha3"] for r in rows]
    assert len(a3) == len(set(a3))
    world = [r for r in rows if r["iso_alpha3"] == "WORLD"]
    assert world and world[0]["g_co2e_per_kwh"] == pytest.approx(472.94)


def test_cloud_regions_cover_three_providers_with_basis_and_source():
    rows = cloud_regions()
    by_provider = {p: [r for r in rows if r["provider"] == p] for p in ("aws", "gcp", "azure")}
    assert all(len(v) >= 30 for v in by_provider.values()), {k: len(v) for k, v in by_provider.items()}
    known = {r["iso_alpha3"] for r in countries()}
    for r in rows:
        assert r["basis"] in ("direct", "lifecycle") and r["source"] and r["year"]
        assert r["country_iso_alpha3"] in known
    assert {r["basis"] for r in by_provider["gcp"]} == {"direct"}


def test_tables_load_without_pandas_and_import_is_light():
    heavy = "('pandas', 'numpy', 'sqlalchemy', 'urllib.request')"
    code = f"import sys, wattlens.carbon; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- countries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["FR", "fr", "FRA", "fra", "France", "FRANCE", " france "])
def test_country_lookup_by_code_or_name(text):
    loc = resolve_location(country=text)
    assert (loc.key, loc.g_co2e_per_kwh, loc.year, loc.basis, loc.kind) == ("FRA", 44.18, 2024, "lifecycle", "country")
    assert not loc.stated_default and loc.origin == "argument" and "Ember" in loc.source


@pytest.mark.parametrize(("text", "key"), [("Türkiye", "TUR"), ("turkiye", "TUR"), ("UK", "GBR"), ("XK", "XKX")])
def test_country_accents_aliases_and_user_codes(text, key):
    assert resolve_location(country=text).key == key


def test_unknown_country_lists_close_matches_and_what_is_allowed():
    with pytest.raises(CarbonError) as err:
        resolve_location(country="Frnace")
    msg = str(err.value)
    assert "FRA (France)" in msg and "alpha-2" in msg and "alpha-3" in msg
    assert isinstance(err.value, ValueError)
    with pytest.raises(CarbonError, match=r"Did you mean: .*DEU"):
        resolve_location(country="Germny")


def test_unknown_code_without_near_match_still_says_what_is_allowed():
    with pytest.raises(CarbonError, match="ISO 3166 alpha-2 code") as err:
        resolve_location(country="QQQQQQ")
    assert "Did you mean" not in str(err.value)


# --- cloud regions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "basis"),
    [
        ("aws:us-east-1", "aws:us-east-1", "lifecycle"),
        ("AWS/us-east-1", "aws:us-east-1", "lifecycle"),
        ("gcp:europe-west1", "gcp:europe-west1", "direct"),
        ("google:europe-west1", "gcp:europe-west1", "direct"),
        ("azure:westeurope", "azure:westeurope", "lifecycle"),
        ("westeurope", "azure:westeurope", "lifecycle"),  # bare id, only one provider has it
    ],
)
def test_cloud_region_lookup(text, key, basis):
    loc = resolve_location(region=text)
    assert (loc.key, loc.basis, loc.kind) == (key, basis, "cloud-region")
    assert loc.year and loc.source and loc.country_alpha3


def test_gcp_region_value_is_google_published():
    assert resolve_location(region="gcp:europe-west1").g_co2e_per_kwh == pytest.approx(103.37)


def test_unknown_region_and_provider_errors():
    with pytest.raises(CarbonError, match="Did you mean: aws:us-east-2"):
        resolve_location(region="aws:us-east-3")
    with pytest.raises(CarbonError, match="Allowed providers: aws, gcp, azure"):
        resolve_location(region="ibm:us-south")
    with pytest.raises(CarbonError, match="provider:region"):
        resolve_location(region="nowhere-1")


def test_region_and_conflicting_country_rejected():
    assert resolve_location(country="US", region="aws:us-east-1").key == "aws:us-east-1"
    with pytest.raises(CarbonError, match="not in FRA"):
        resolve_location(country="FR", region="aws:us-east-1")


# --- defaults and environment ---------------------------------------------------------------------


def test_unset_location_is_world_and_stated():
    loc = resolve_location()
    assert loc.key == "WORLD" and loc.kind == "world" and loc.g_co2e_per_kwh == pytest.approx(472.94)
    assert loc.stated_default is True and loc.origin == "default"
    assert "WORLD average" in loc.note and "--country" in loc.note and "Ember" in loc.source


def test_environment_location_is_honoured_and_stated(monkeypatch):
    monkeypatch.setenv(ENV_COUNTRY, "DE")
    loc = resolve_location()
    assert loc.key == "DEU" and loc.origin == "environment" and "WATTLENS_COUNTRY=DE" in loc.note
    monkeypatch.setenv(ENV_REGION, "gcp:europe-west1")
    loc = resolve_location()
    assert loc.key == "gcp:europe-west1" and "WATTLENS_REGION" in loc.note
    assert resolve_location(country="FR").key == "FRA"  # an argument beats the environment
    assert resolve_location(use_env=False).key == "WORLD"


def test_bad_environment_value_fails_loudly(monkeypatch):
    monkeypatch.setenv(ENV_COUNTRY, "Atlantis")
    with pytest.raises(CarbonError, match="unknown country 'Atlantis'"):
        resolve_location()


def test_user_intensity_overrides_and_is_labelled():
    loc = resolve_location(country="FR", intensity_g_per_kwh=12.5)
    assert (loc.kind, loc.basis, loc.g_co2e_per_kwh, loc.key) == ("user", "user", 12.5, "user:FRA")
    assert "France" in loc.name and not loc.stated_default
    assert resolve_location(intensity_g_per_kwh=300).key == "user"


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, 5000, "abc", True])
def test_user_intensity_validation(bad):
    with pytest.raises(CarbonError):
        validate_intensity(bad)


def test_location_is_frozen_and_serialisable():
    loc = resolve_location(country="SE")
    with pytest.raises(AttributeError):
        loc.g_co2e_per_kwh = 0  # type: ignore[misc]
    d = loc.to_dict()
    assert d["key"] == "SWE" and d["stated_default"] is False and d["year"] == 2024


# --- PUE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.5, -1, math.nan, math.inf, 10, 0.99, 3.01, "x", None, True])
def test_pue_validation_rejects(bad):
    with pytest.raises(CarbonError) as err:
        validate_pue(bad)
    if isinstance(bad, (int, float)) and not isinstance(bad, bool) and math.isfinite(bad):
        assert "allowed 1 to 3" in str(err.value) and "Uptime Institute" in str(err.value)


@pytest.mark.parametrize(("good", "value"), [(1.2, 1.2), (1, 1.0), (3.0, 3.0), ("1.5", 1.5)])
def test_pue_validation_accepts(good, value):
    assert validate_pue(good) == value


def test_provider_pue_has_ccf_values_with_source():
    assert provider_pue("aws").pue == 1.135
    assert provider_pue("azure").pue == 1.185
    assert provider_pue("gcp").pue == 1.1
    assert provider_pue("gcp", "europe-west1").pue == 1.09
    assert provider_pue("gcp:asia-east1").pue == 1.12
    assert provider_pue("gcp:us-west1").pue == 1.1  # no per-region figure: the fleet value
    assert all("Cloud Carbon Footprint" in r.source for r in pue_defaults())
    with pytest.raises(CarbonError, match="allowed providers"):
        provider_pue("oracle")
