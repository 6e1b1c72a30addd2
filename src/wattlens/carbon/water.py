"""Water consumed for a window's electricity, in litres — its own figure, never folded into carbon.

Two parts, after Li, Yang, Islam & Ren, *Making AI Less "Thirsty"* (2023) and the WRI guidance:

* **on-site**: node (IT) kWh x the data centre's water usage effectiveness (WUE, litres per IT kWh): a
  published operator fleet figure (``water_onsite.csv``) when the provider is known, a number the user
  gives, or — unknown site — the documented range of ``lifecycle_defaults.csv`` (0 for a machine without
  evaporative cooling up to the highest published fleet figure);
* **off-site**: facility kWh (node x PUE) x the water consumed per kWh generated in the country
  (``water_offsite.csv``, WRI 2020 method, which counts hydropower reservoir evaporation).

Only consumption is counted (water withdrawn and returned is not). Manufacturing water is not counted.

>>> from wattlens.carbon.intensity import resolve_location
>>> fr = resolve_location(country="FR", use_env=False)
>>> w = water_footprint(3.6e6, pue=1.0, location=fr, wue=resolve_wue(0.5, use_env=False))
>>> round(w.onsite_l, 3), round(w.offsite_l, 3), round(w.water_l, 3)
(0.5, 3.674, 4.174)
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.carbon.hardware_footprints import LifecycleError
from wattlens.carbon.intensity import Location, _as_number, _split_region
from wattlens.carbon.lifecycle import defaults
from wattlens.units import J_PER_KWH

DATA_DIR = Path(__file__).resolve().parent / "data"
ONSITE_CSV = DATA_DIR / "water_onsite.csv"
OFFSITE_CSV = DATA_DIR / "water_offsite.csv"
MAX_WUE_L_PER_KWH = 20.0
ENV_WATER = "WATTLENS_WATER"
ENV_WUE = "WATTLENS_WUE"


@dataclass(frozen=True)
class OnsiteRow:
    provider: str
    name: str
    wue_l_per_kwh: float
    year: int
    scope: str
    source: str
    url: str


@lru_cache(maxsize=1)
def onsite_table() -> tuple[OnsiteRow, ...]:
    """Published data-centre WUEs by operator (fleet averages)."""
    with ONSITE_CSV.open(newline="", encoding="utf-8") as fh:
        return tuple(
            OnsiteRow(
                r["provider"], r["name"], float(r["wue_l_per_kwh"]), int(r["year"]), r["scope"], r["source"], r["url"]
            )
            for r in csv.DictReader(fh)
        )


@dataclass(frozen=True)
class OffsiteRow:
    iso_alpha3: str
    country_name: str
    l_per_kwh: float
    year: int
    source: str
    url: str


@lru_cache(maxsize=1)
def offsite_table() -> dict[str, OffsiteRow]:
    """Water consumed per kWh of electricity generated, by ISO alpha-3 code (plus ``WORLD``)."""
    with OFFSITE_CSV.open(newline="", encoding="utf-8") as fh:
        rows = (
            OffsiteRow(r["iso_alpha3"], r["country_name"], float(r["l_per_kwh"]), int(r["year"]), r["source"], r["url"])
            for r in csv.DictReader(fh)
        )
        return {r.iso_alpha3: r for r in rows}


# --- on-site WUE ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WueSetting:
    """The on-site WUE used, with its range and where it came from (argument, environment, provider, default)."""

    wue_l_per_kwh: float
    low: float
    high: float
    origin: str
    provider: str | None
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _provider_row(provider: str) -> OnsiteRow:
    key = provider.strip().casefold()
    aliases = {"amazon": "aws", "google": "gcp", "microsoft": "azure", "ovh": "ovhcloud"}
    key = aliases.get(key, key)
    for row in onsite_table():
        if row.provider == key:
            return row
    allowed = ", ".join(r.provider for r in onsite_table())
    raise LifecycleError(f"no published WUE for provider {provider!r}; allowed: {allowed}, or a number in L/kWh")


def validate_wue(value: Any) -> float:
    number = _as_number(value, "WUE (L/kWh)", LifecycleError)
    if not 0.0 <= number <= MAX_WUE_L_PER_KWH:
        raise LifecycleError(
            f"WUE {value!r} L/kWh is out of range: allowed 0 to {MAX_WUE_L_PER_KWH:g} (published fleet figures "
            "span about 0.1 to 1.1 L per kWh of IT energy; 0 for a site without evaporative cooling)"
        )
    return number


def resolve_wue(wue: Any = None, location: Location | None = None, *, use_env: bool = True) -> WueSetting:
    """On-site WUE: a number or a provider name (``aws``, ``gcp``, ``azure``, ``meta``, ...) given by the user,
    else ``WATTLENS_WUE``, else the provider of a cloud-region location, else the stated unknown-site range.

    >>> resolve_wue("aws", use_env=False).wue_l_per_kwh
    0.18
    >>> s = resolve_wue(use_env=False)
    >>> (s.low, s.wue_l_per_kwh, s.high, s.origin)
    (0.0, 0.37, 1.07, 'default')
    """
    origin = "argument"
    if wue is None and use_env and os.environ.get(ENV_WUE):
        wue, origin = os.environ[ENV_WUE], "environment"
    if wue is not None:
        text = str(wue).strip()
        try:
            number = float(text)
        except ValueError:
            return _provider_setting(_provider_row(text), origin)
        value = validate_wue(number)
        where = f"{ENV_WUE}={wue}" if origin == "environment" else "given by the user"
        return WueSetting(value, value, value, origin, None, where, f"on-site WUE {value:g} L/kWh ({where})")
    provider = _location_provider(location)
    if provider is not None:
        return _provider_setting(_provider_row(provider), "provider")
    d = defaults()["onsite_wue_unknown_site"]
    note = (
        f"on-site WUE unknown (no provider or --wue): range [{d.low:g}, {d.high:g}] L/kWh, central {d.value:g} "
        "(median of published operator fleet figures); pass --wue (0 for a laptop or a dry-cooled room)"
    )
    return WueSetting(d.value, d.low, d.high, "default", None, d.source, note)


def _provider_setting(row: OnsiteRow, origin: str) -> WueSetting:
    note = f"on-site WUE {row.wue_l_per_kwh:g} L/kWh: {row.name} {row.scope} ({row.year})"
    return WueSetting(
        row.wue_l_per_kwh, row.wue_l_per_kwh, row.wue_l_per_kwh, origin, row.provider, f"{row.source} ({row.url})", note
    )


def _location_provider(location: Location | None) -> str | None:
    if location is None or location.kind not in ("cloud-region", "user"):
        return None
    key = location.key[len("user:") :] if location.key.startswith("user:") else location.key
    provider, _ = _split_region(key) if ":" in key else (None, "")
    return provider


# --- off-site water per kWh generated ----------------------------------------------------------------


@dataclass(frozen=True)
class OffsiteSetting:
    """Water consumed per kWh generated at the location, with range and provenance."""

    l_per_kwh: float
    low: float
    high: float
    key: str
    year: int | None
    source: str
    stated_default: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_offsite(location: Location | None) -> OffsiteSetting:
    """The generation water factor for the location's country; the WORLD figure (stated) otherwise.

    A country with no WRI figure gets the world figure with the range of every country in the table, said so.

    >>> resolve_offsite(None).key
    'WORLD'
    """
    table = offsite_table()
    world = table["WORLD"]
    country = location.country_alpha3 if location is not None else None
    row = table.get(country) if country else None
    if row is not None:
        src = f"{row.source} ({row.url})"
        note = f"off-site water {row.l_per_kwh:g} L per kWh generated in {row.country_name} ({row.year}, WRI method)"
        return OffsiteSetting(row.l_per_kwh, row.l_per_kwh, row.l_per_kwh, row.iso_alpha3, row.year, src, False, note)
    countries = [r.l_per_kwh for r in table.values() if r.iso_alpha3 != "WORLD"]
    if country:
        note = (
            f"no generation water figure for {country}: world figure {world.l_per_kwh:g} L/kWh used, with the span of "
            f"the {len(countries)} countries of water_offsite.csv [{min(countries):g}, {max(countries):g}]"
        )
        low, high = min(countries), max(countries)
    else:
        note = f"no country given: world figure {world.l_per_kwh:g} L per kWh generated (stated default)"
        low = high = world.l_per_kwh
    return OffsiteSetting(world.l_per_kwh, low, high, "WORLD", world.year, f"{world.source} ({world.url})", True, note)


# --- the footprint ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterFootprint:
    """Litres of water consumed on site (cooling) and off site (generation) for an amount of node energy."""

    water_l: float | None
    water_low_l: float | None
    water_high_l: float | None
    onsite_l: float | None
    onsite_low_l: float | None
    onsite_high_l: float | None
    offsite_l: float | None
    offsite_low_l: float | None
    offsite_high_l: float | None
    wue: WueSetting
    offsite: OffsiteSetting
    pue: float
    basis: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def water_footprint(
    energy_j: float | None,
    low_j: float | None = None,
    high_j: float | None = None,
    *,
    pue: float = 1.0,
    location: Location | None = None,
    wue: WueSetting | None = None,
    use_env: bool = True,
) -> WaterFootprint:
    """Water for ``energy_j`` joules of node energy (interval [low_j, high_j]) at ``location`` with ``pue``.

    on-site = node kWh x WUE; off-site = node kWh x PUE x L/kWh generated. ``None`` (never 0) when the
    energy is unknown.
    """
    setting = wue or resolve_wue(location=location, use_env=use_env)
    off = resolve_offsite(location)
    p = _as_number(pue, "PUE")
    notes = (setting.note, off.note)
    basis = (
        f"on-site {setting.wue_l_per_kwh:g} L/kWh IT ({setting.origin}) + off-site {off.l_per_kwh:g} L/kWh generated "
        f"({off.key}) x PUE {p:g}"
    )
    if energy_j is None:
        none = (None,) * 9
        return WaterFootprint(*none, setting, off, p, basis, (*notes, "energy unavailable: water is unknown (not 0)"))
    kwh = energy_j / J_PER_KWH
    kwh_low = (energy_j if low_j is None else low_j) / J_PER_KWH
    kwh_high = (energy_j if high_j is None else high_j) / J_PER_KWH
    on = (kwh * setting.wue_l_per_kwh, kwh_low * setting.low, kwh_high * setting.high)
    offs = (kwh * p * off.l_per_kwh, kwh_low * p * off.low, kwh_high * p * off.high)
    return WaterFootprint(
        on[0] + offs[0],
        on[1] + offs[1],
        on[2] + offs[2],
        *on,
        *offs,
        wue=setting,
        offsite=off,
        pue=p,
        basis=basis,
        notes=notes,
    )
