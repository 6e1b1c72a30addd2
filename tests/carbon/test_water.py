"""Water (issue 15): on-site (WUE) and off-site (generation), in litres, never folded into carbon."""

from __future__ import annotations

import pytest

from wattlens.carbon import resolve_location
from wattlens.carbon.hardware_footprints import LifecycleError
from wattlens.carbon.water import resolve_offsite, resolve_wue, water_footprint

KWH = 3.6e6


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATTLENS_WUE", raising=False)


def test_hand_computed_one_kwh_in_france_with_a_pue() -> None:
    fr = resolve_location(country="FR", use_env=False)
    w = water_footprint(KWH, 0.5 * KWH, 2 * KWH, pue=1.2, location=fr, wue=resolve_wue(0.5, use_env=False))
    assert w.onsite_l == pytest.approx(0.5)  # 1 kWh IT x 0.5 L/kWh
    assert w.offsite_l == pytest.approx(1.2 * 3.6737)  # 1.2 kWh generated x 3.6737 L/kWh (WRI, France)
    assert w.water_l == pytest.approx(0.5 + 1.2 * 3.6737)
    assert w.water_low_l == pytest.approx(0.5 * (0.5 + 1.2 * 3.6737))
    assert w.water_high_l == pytest.approx(2 * (0.5 + 1.2 * 3.6737))
    assert "FRA" in w.basis and w.offsite.key == "FRA" and not w.offsite.stated_default


def test_cloud_region_uses_the_provider_fleet_wue() -> None:
    loc = resolve_location(region="aws:us-east-1", use_env=False)
    wue = resolve_wue(location=loc, use_env=False)
    assert (wue.wue_l_per_kwh, wue.origin, wue.provider) == (0.18, "provider", "aws")
    w = water_footprint(KWH, location=loc, wue=wue)
    assert w.water_l == pytest.approx(0.18 + 3.1321)


def test_unknown_site_gets_the_documented_range() -> None:
    w = water_footprint(KWH, location=resolve_location(country="DE", use_env=False), use_env=False)
    assert (w.onsite_low_l, w.onsite_l, w.onsite_high_l) == pytest.approx((0.0, 0.37, 1.07))
    assert w.wue.origin == "default" and "pass --wue" in w.wue.note


def test_country_without_a_figure_falls_back_to_world_with_the_span_stated() -> None:
    sg = resolve_offsite(resolve_location(country="SG", use_env=False))
    assert sg.key == "WORLD" and sg.stated_default and "no generation water figure for SGP" in sg.note
    assert sg.low < sg.l_per_kwh < sg.high
    world = resolve_offsite(resolve_location(use_env=False))
    assert world.key == "WORLD" and world.low == world.high == world.l_per_kwh == 3.908


def test_unknown_energy_gives_unknown_water_not_zero() -> None:
    w = water_footprint(None, location=resolve_location(country="FR", use_env=False), use_env=False)
    assert w.water_l is None and w.onsite_l is None and any("not 0" in n for n in w.notes)


def test_wue_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_wue("Google", use_env=False).provider == "gcp"
    assert resolve_wue(0, use_env=False).wue_l_per_kwh == 0.0  # a laptop or a dry-cooled room
    monkeypatch.setenv("WATTLENS_WUE", "azure")
    assert resolve_wue().origin == "environment"
    with pytest.raises(LifecycleError, match="allowed: aws"):
        resolve_wue("hetzner", use_env=False)
    with pytest.raises(LifecycleError, match="out of range"):
        resolve_wue(-1, use_env=False)
