"""Grid carbon intensity by country or cloud region, and PUE defaults — offline tables, stated choices.

Rules this module enforces (see docs/DATA.md and the measurement anchors):

* No silent location. With no country/region given (and none in ``WATTLENS_REGION`` /
  ``WATTLENS_COUNTRY``) the WORLD average is used and the returned :class:`Location` says so
  (``stated_default=True`` and a ``note``). CodeCarbon silently falls back to Canada when its
  geolocation fails; we never guess.
* No silent PUE. The default is 1.0 (node energy, no facility overhead) and is stated; provider
  PUEs (Cloud Carbon Footprint's defaults) are only returned by :func:`provider_pue` for a caller
  who explicitly opted in. Carbontracker applies a fixed 1.58 to everything; we never do.
* Every figure carries its year, basis (``lifecycle`` / ``direct`` / ``user``) and source.

Tables are read lazily with the stdlib ``csv`` module and cached, so ``import wattlens`` stays cheap.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.errors import WattlensError
from wattlens.records import Record

DATA_DIR = Path(__file__).resolve().parent / "data"
COUNTRIES_CSV = DATA_DIR / "grid_carbon_intensity_countries.csv"
CLOUD_REGIONS_CSV = DATA_DIR / "cloud_regions.csv"
PUE_CSV = DATA_DIR / "pue_defaults.csv"

ENV_COUNTRY = "WATTLENS_COUNTRY"
ENV_REGION = "WATTLENS_REGION"

PROVIDERS = ("aws", "gcp", "azure")
_PROVIDER_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
# Other spellings people use for the three providers.
_PROVIDER_ALIASES = {"amazon": "aws", "google": "gcp", "gce": "gcp", "microsoft": "azure", "az": "azure"}

# Common names and codes that are not in the table's own spelling (Ember's short names / ISO codes).
_COUNTRY_ALIASES = {
    "uk": "GBR",
    "great britain": "GBR",
    "britain": "GBR",
    "england": "GBR",
    "usa": "USA",
    "us": "USA",
    "united states of america": "USA",
    "america": "USA",
    "turkey": "TUR",
    "vietnam": "VNM",
    "czech republic": "CZE",
    "el": "GRC",  # the EU's code for Greece
    "taiwan": "TWN",
    "hong kong": "HKG",
    "tanzania": "TZA",
    "ivory coast": "CIV",
    "drc": "COD",
    "democratic republic of the congo": "COD",
    "korea": "KOR",
    "republic of korea": "KOR",
    "russian federation": "RUS",
    "macedonia": "MKD",
    "holland": "NLD",
}

# Accepted range for a user-given intensity. The table spans 2.73 (GCP Stockholm, direct) to 1306.3
# (Turkmenistan, lifecycle); lignite plants reach ~1,200 g/kWh lifecycle. Above 2,000 is almost
# certainly a unit mistake (kg/MWh is the same number as g/kWh; lb/MWh or g/MWh is not).
MAX_USER_INTENSITY_G_PER_KWH = 2000.0

# PUE bounds. Uptime Institute's annual global surveys put the industry-average PUE at about
# 1.5-1.6 (1.58 in 2023) and the best hyperscale sites report about 1.1; 3.0 leaves room for old
# server closets. Below 1.0 is physically impossible (the IT load is part of the facility load).
PUE_MIN = 1.0
PUE_MAX = 3.0
DEFAULT_PUE = 1.0


class CarbonError(WattlensError, ValueError):
    """A location, intensity, PUE or price that wattlens cannot use; the message says what is allowed."""


@dataclass(frozen=True)
class Location(Record):
    """Where the electricity came from, with the carbon intensity wattlens will use and why.

    ``kind`` is ``country``, ``cloud-region``, ``world``, ``user`` (intensity given by the user) or
    ``live`` (fetched on request from Electricity Maps, see :mod:`wattlens.carbon.live`).
    ``origin`` says who chose it: ``argument``, ``environment`` or ``default``.

    >>> loc = resolve_location(country="FR", use_env=False)
    >>> loc.key, loc.g_co2e_per_kwh, loc.basis, loc.stated_default
    ('FRA', 44.18, 'lifecycle', False)
    """

    key: str
    name: str
    g_co2e_per_kwh: float
    year: int | None
    basis: str
    source: str
    stated_default: bool
    kind: str
    origin: str = "argument"
    note: str = ""
    country_alpha3: str | None = None
    grid_zone: str | None = None  # Electricity Maps zone (for AWS/Azure rows and live lookups)

    def describe(self) -> str:
        """One line for reports: what intensity, for where, on what basis, from where."""
        year = f", data year {self.year}" if self.year else ""
        text = f"{self.name} ({self.key}): {self.g_co2e_per_kwh:g} gCO2e/kWh, {self.basis}, {self.source}{year}"
        return f"{text} — {self.note}" if self.note else text


# --- table loading (lazy, cached) ---------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Türkiye' and 'turkiye' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=1)
def countries() -> tuple[dict[str, Any], ...]:
    """All country rows (plus ``WORLD``) as dicts: iso_alpha3, iso_alpha2, country_name, g_co2e_per_kwh, year, source.

    >>> len(countries()) > 200
    True
    """
    rows = []
    for r in _read_csv(COUNTRIES_CSV):
        rows.append(
            {
                "iso_alpha3": r["iso_alpha3"],
                "iso_alpha2": r["iso_alpha2"] or None,
                "country_name": r["country_name"],
                "g_co2e_per_kwh": float(r["g_co2e_per_kwh"]),
                "year": int(r["year"]) if r["year"] else None,
                "source": r["source"],
            }
        )
    return tuple(rows)


@lru_cache(maxsize=1)
def cloud_regions() -> tuple[dict[str, Any], ...]:
    """All cloud region rows as dicts: provider, region, location, country_iso_alpha3, g_co2e_per_kwh, year,
    basis, grid_zone, source.

    >>> sorted({r["provider"] for r in cloud_regions()})
    ['aws', 'azure', 'gcp']
    """
    rows = []
    for r in _read_csv(CLOUD_REGIONS_CSV):
        rows.append(
            {
                "provider": r["provider"],
                "region": r["region"],
                "location": r["location"],
                "country_iso_alpha3": r["country_iso_alpha3"],
                "g_co2e_per_kwh": float(r["g_co2e_per_kwh"]),
                "year": int(r["year"]) if r["year"] else None,
                "basis": r["basis"],
                "grid_zone": r["grid_zone"] or None,
                "source": r["source"],
            }
        )
    return tuple(rows)


@lru_cache(maxsize=1)
def _country_index() -> dict[str, dict[str, Any]]:
    """Folded alpha-2, alpha-3, name and alias -> row."""
    index: dict[str, dict[str, Any]] = {}
    by_a3 = {}
    for row in countries():
        by_a3[row["iso_alpha3"]] = row
        index[_fold(row["iso_alpha3"])] = row
        index[_fold(row["country_name"])] = row
        if row["iso_alpha2"]:
            index[_fold(row["iso_alpha2"])] = row
    for alias, a3 in _COUNTRY_ALIASES.items():
        index.setdefault(alias, by_a3[a3])
    return index


@lru_cache(maxsize=1)
def _region_index() -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["provider"], r["region"].casefold()): r for r in cloud_regions()}


# --- lookups --------------------------------------------------------------------------------------


def _close_matches(word: str, candidates: list[str], n: int = 5) -> list[str]:
    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)


def _country_error(text: str) -> CarbonError:
    folded = _fold(text)
    labels = {}
    for row in countries():
        label = f"{row['iso_alpha3']} ({row['country_name']})"
        labels[_fold(row["iso_alpha3"])] = label
        labels[_fold(row["country_name"])] = label
        if row["iso_alpha2"]:
            labels[_fold(row["iso_alpha2"])] = label
    for alias, a3 in _COUNTRY_ALIASES.items():
        labels.setdefault(alias, labels[_fold(a3)])
    suggestions = list(dict.fromkeys(labels[m] for m in _close_matches(folded, list(labels))))
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return CarbonError(
        f"unknown country {text!r}.{hint} Allowed: an ISO 3166 alpha-2 code (FR), alpha-3 code (FRA) or "
        f"country name (France) from the {len(countries())}-row Ember table, or WORLD "
        f"(see wattlens.carbon.countries()); or pass an intensity in gCO2e/kWh yourself."
    )


def _country_location(text: str, origin: str) -> Location:
    row = _country_index().get(_fold(text))
    if row is None:
        raise _country_error(text)
    is_world = row["iso_alpha3"] == "WORLD"
    return Location(
        key=row["iso_alpha3"],
        name=row["country_name"],
        g_co2e_per_kwh=row["g_co2e_per_kwh"],
        year=row["year"],
        basis="lifecycle",  # every row of the country table is lifecycle (DATA.md §1)
        source=row["source"],
        stated_default=False,
        kind="world" if is_world else "country",
        origin=origin,
        note=_origin_note(origin, ENV_COUNTRY, text),
        country_alpha3=None if is_world else row["iso_alpha3"],
        grid_zone=row["iso_alpha2"],
    )


def _split_region(text: str) -> tuple[str | None, str]:
    for sep in (":", "/"):
        if sep in text:
            provider, region = text.split(sep, 1)
            provider = provider.strip().casefold()
            return _PROVIDER_ALIASES.get(provider, provider), region.strip()
    return None, text.strip()


def _region_error(text: str, provider: str | None) -> CarbonError:
    keys = [f"{r['provider']}:{r['region']}" for r in cloud_regions()]
    if provider is not None and provider not in PROVIDERS:
        return CarbonError(
            f"unknown cloud provider {provider!r} in {text!r}. Allowed providers: {', '.join(PROVIDERS)} "
            f"(write the region as provider:region, e.g. aws:us-east-1, gcp:europe-west1, azure:westeurope)."
        )
    probe = f"{provider}:{_split_region(text)[1]}" if provider else text.strip()
    suggestions = _close_matches(probe.casefold(), keys)
    if not suggestions:  # a bare region name: compare with the region part only
        regions = {r["region"]: f"{r['provider']}:{r['region']}" for r in cloud_regions()}
        suggestions = [regions[m] for m in _close_matches(_split_region(text)[1].casefold(), list(regions))]
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return CarbonError(
        f"unknown cloud region {text!r}.{hint} Allowed: provider:region (or provider/region) with provider in "
        f"{', '.join(PROVIDERS)} and a region from the {len(keys)}-row table (see wattlens.carbon.cloud_regions())."
    )


def _find_region(text: str) -> dict[str, Any]:
    provider, region = _split_region(text)
    if provider is None:
        # A bare region id is accepted only when exactly one provider has it.
        hits = [r for r in cloud_regions() if r["region"].casefold() == region.casefold()]
        if len(hits) == 1:
            return hits[0]
        raise _region_error(text, None)
    row = _region_index().get((provider, region.casefold()))
    if row is None:
        raise _region_error(text, provider)
    return row


def _region_location(text: str, origin: str) -> Location:
    row = _find_region(text)
    key = f"{row['provider']}:{row['region']}"
    return Location(
        key=key,
        name=f"{_PROVIDER_NAMES[row['provider']]} {row['region']} ({row['location']})",
        g_co2e_per_kwh=row["g_co2e_per_kwh"],
        year=row["year"],
        basis=row["basis"],
        source=row["source"],
        stated_default=False,
        kind="cloud-region",
        origin=origin,
        note=_origin_note(origin, ENV_REGION, text),
        country_alpha3=row["country_iso_alpha3"],
        grid_zone=row["grid_zone"],
    )


def _origin_note(origin: str, env_name: str, value: str) -> str:
    return f"from the environment: {env_name}={value}" if origin == "environment" else ""


def world_location(note: str | None = None) -> Location:
    """The WORLD average (Ember 2024, 472.94 gCO2e/kWh, lifecycle) marked as a stated default."""
    row = _country_index()["world"]
    return Location(
        key="WORLD",
        name=row["country_name"],
        g_co2e_per_kwh=row["g_co2e_per_kwh"],
        year=row["year"],
        basis="lifecycle",
        source=row["source"],
        stated_default=True,
        kind="world",
        origin="default",
        note=note
        or (
            f"no country or cloud region given (and {ENV_COUNTRY}/{ENV_REGION} unset): using the WORLD average "
            f"{row['g_co2e_per_kwh']:g} gCO2e/kWh ({row['source']}, {row['year']}); pass --country or --region "
            "for your grid"
        ),
    )


def validate_intensity(value: Any) -> float:
    """A user-given carbon intensity in gCO2e/kWh: a finite number in [0, 2000].

    >>> validate_intensity(120)
    120.0
    """
    number = _as_number(value, "carbon intensity (gCO2e/kWh)")
    if not 0.0 <= number <= MAX_USER_INTENSITY_G_PER_KWH:
        raise CarbonError(
            f"carbon intensity {value!r} gCO2e/kWh is out of range: allowed 0 to {MAX_USER_INTENSITY_G_PER_KWH:g} "
            "(grids span about 3 to 1,300 gCO2e/kWh; check the unit: g per kWh, not g per MWh or lb/MWh)."
        )
    return number


def _user_location(value: Any, place: Location | None) -> Location:
    number = validate_intensity(value)
    where = f" for {place.name} ({place.key})" if place is not None else ""
    return Location(
        key=f"user:{place.key}" if place is not None else "user",
        name=f"user-supplied intensity{where}",
        g_co2e_per_kwh=number,
        year=None,
        basis="user",
        source="given by the user",
        stated_default=False,
        kind="user",
        origin="argument",
        note=f"intensity {number:g} gCO2e/kWh given by the user{where}; the table value was not used",
        country_alpha3=place.country_alpha3 if place is not None else None,
        grid_zone=place.grid_zone if place is not None else None,
    )


def resolve_location(
    country: str | None = None,
    region: str | None = None,
    intensity_g_per_kwh: float | None = None,
    *,
    use_env: bool = True,
    live: bool = False,
) -> Location:
    """Pick the carbon intensity to use, and say why.

    Precedence: ``intensity_g_per_kwh`` (user figure) > ``region`` > ``country`` > the environment
    (``WATTLENS_REGION``, then ``WATTLENS_COUNTRY``; stated as such) > the WORLD average (stated
    default). Countries: ISO alpha-2, alpha-3 or name, case-insensitive. Regions: ``aws:us-east-1``,
    ``gcp/europe-west1``, ``azure:westeurope`` (a bare id is accepted when only one provider has it).
    ``live=True`` asks Electricity Maps for the current figure (network; needs a token; see
    :mod:`wattlens.carbon.live`) — never done unless asked.

    Raises :class:`CarbonError` (a ``ValueError``) for unknown places, with close matches.

    >>> resolve_location(region="gcp:europe-west1", use_env=False).basis
    'direct'
    >>> resolve_location(use_env=False).stated_default
    True
    """
    origin = "argument"
    if region is None and country is None and use_env:
        region = os.environ.get(ENV_REGION) or None
        country = None if region else (os.environ.get(ENV_COUNTRY) or None)
        origin = "environment" if (region or country) else "default"
    if region is not None and not str(region).strip():
        raise CarbonError("empty cloud region: write it as provider:region, e.g. aws:us-east-1")
    if country is not None and not str(country).strip():
        raise CarbonError("empty country: give an ISO code (FR, FRA) or a country name")

    place: Location | None = None
    if region is not None:
        place = _region_location(str(region), origin)
        if country is not None:
            _check_region_in_country(place, str(country))
    elif country is not None:
        place = _country_location(str(country), origin)

    if intensity_g_per_kwh is not None:
        return _user_location(intensity_g_per_kwh, place)
    if live:
        from wattlens.carbon.live import live_location  # lazy: urllib only when asked

        return live_location(place if place is not None else world_location(), live=True)
    return place if place is not None else world_location()


def _check_region_in_country(place: Location, country: str) -> None:
    other = _country_location(country, "argument")
    if other.kind == "country" and other.key != place.country_alpha3:
        raise CarbonError(
            f"cloud region {place.key} is in {place.country_alpha3}, not in {other.key} ({other.name}); "
            "give only the region, or a matching country"
        )


# --- PUE ------------------------------------------------------------------------------------------


def _as_number(value: Any, what: str, error: type[CarbonError] = CarbonError) -> float:
    if isinstance(value, bool):  # True would silently become 1.0
        raise error(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise error(f"{what} must be a finite number, got {value!r}")
    return number


def validate_pue(pue: Any) -> float:
    """Check a power usage effectiveness (facility energy / IT energy) and return it as a float.

    Allowed: a finite number with 1.0 <= PUE <= 3.0. Below 1.0 is impossible (the IT load is part
    of the facility load); Uptime Institute's global surveys put the industry average around
    1.5-1.6 and the best hyperscale sites around 1.1, and 3.0 leaves room for old server closets.

    >>> validate_pue(1.2)
    1.2
    """
    number = _as_number(pue, "PUE")
    if not PUE_MIN <= number <= PUE_MAX:
        raise CarbonError(
            f"PUE {pue!r} is out of range: allowed {PUE_MIN:g} to {PUE_MAX:g}. PUE = facility energy / IT energy, "
            "so it cannot be below 1.0; Uptime Institute surveys put the industry average at about 1.5-1.6 and "
            "the best hyperscale data centres at about 1.1 (use 1.0 for the node boundary)."
        )
    return number


@dataclass(frozen=True)
class PueDefault:
    """A provider's published/estimated PUE as carried by Cloud Carbon Footprint, with its source."""

    provider: str
    region: str | None
    pue: float
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def pue_defaults() -> tuple[PueDefault, ...]:
    """All rows of ``pue_defaults.csv`` (CCF's provider PUEs; per-region rows for GCP)."""
    return tuple(
        PueDefault(r["provider"], r["region"] or None, float(r["pue"]), r["source"], r["note"])
        for r in _read_csv(PUE_CSV)
    )


def provider_pue(provider: str, region: str | None = None) -> PueDefault:
    """CCF's default PUE for ``provider`` (``aws``, ``gcp``, ``azure``), per region where CCF has one.

    This is only a lookup: wattlens never applies it unless the user opts in (``--pue provider``).
    ``provider`` may also be a region key such as ``gcp:europe-west1``.

    >>> provider_pue("gcp:europe-west1").pue
    1.09
    >>> provider_pue("aws").pue
    1.135
    """
    prov, reg = _split_region(provider) if (":" in provider or "/" in provider) else (provider, region)
    prov = _PROVIDER_ALIASES.get((prov or "").strip().casefold(), (prov or "").strip().casefold())
    if prov not in PROVIDERS:
        raise CarbonError(f"no default PUE for provider {provider!r}; allowed providers: {', '.join(PROVIDERS)}")
    rows = [r for r in pue_defaults() if r.provider == prov]
    if reg:
        for r in rows:
            if r.region and r.region.casefold() == reg.casefold():
                return r
    return next(r for r in rows if r.region is None)
