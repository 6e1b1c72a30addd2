"""Energy -> facility energy (x PUE) -> gCO2e and cost, every choice stated.

Boundaries: the energy given is the *node* figure (sum of measured/estimated devices, see
:mod:`wattlens.tracking`); the facility figure is node x PUE. The interval [low, high] carries the
*energy* uncertainty only; the intensity table publishes no uncertainty, so none is invented.

Price: wattlens ships no price table (there is no open worldwide source; docs/DATA.md). Cost is
computed only when the user gives a price per kWh (argument or ``WATTLENS_PRICE_PER_KWH``), and is
``None`` ("not set") otherwise — never 0.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from wattlens.carbon.intensity import (
    DEFAULT_PUE,
    CarbonError,
    Location,
    _as_number,
    _split_region,
    provider_pue,
    resolve_location,
    validate_pue,
)
from wattlens.units import J_PER_KWH

DAYS_PER_YEAR = 365.0
ENV_PUE = "WATTLENS_PUE"
ENV_PRICE = "WATTLENS_PRICE_PER_KWH"
ENV_CURRENCY = "WATTLENS_CURRENCY"
COST_NOT_SET = "not set"


# --- PUE choice -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PueSetting:
    """The PUE applied and where it came from (``default``, ``argument``, ``environment``, ``provider``)."""

    value: float
    origin: str
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_pue(pue: Any = None, location: Location | None = None, *, use_env: bool = True) -> PueSetting:
    """Decide the PUE: a number (1.0-3.0), ``"provider"`` (explicit opt-in to CCF's cloud defaults,
    needs a cloud-region location), or ``None`` -> ``WATTLENS_PUE`` if set, else 1.0 (stated default).

    >>> resolve_pue(None, use_env=False).note.startswith("PUE 1.0 (default")
    True
    >>> resolve_pue("provider", resolve_location(region="aws:us-east-1", use_env=False)).value
    1.135
    """
    if isinstance(pue, PueSetting):
        return pue
    origin = "argument"
    if pue is None and use_env and os.environ.get(ENV_PUE):
        pue, origin = os.environ[ENV_PUE], "environment"
    if pue is None:
        return PueSetting(
            DEFAULT_PUE,
            "default",
            "wattlens default",
            "PUE 1.0 (default): node energy only, no data-centre overhead counted; pass --pue "
            "(e.g. 1.2, or 'provider' with a cloud region) for the facility boundary",
        )
    if isinstance(pue, str) and pue.strip().casefold() == "provider":
        return _provider_setting(location, origin)
    value = validate_pue(pue)
    where = f"{ENV_PUE}={pue}" if origin == "environment" else "given by the user"
    return PueSetting(value, origin, where, f"PUE {value:g} ({where})")


def _provider_setting(location: Location | None, origin: str) -> PueSetting:
    key = location.key if location is not None else ""
    if key.startswith("user:"):
        key = key[len("user:") :]
    provider, region = _split_region(key) if ":" in key else (None, "")
    if location is None or provider is None:
        raise CarbonError(
            "PUE 'provider' needs a cloud region (e.g. --region aws:us-east-1) to know whose data-centre PUE "
            "to use; otherwise pass a number between 1.0 and 3.0"
        )
    row = provider_pue(provider, region)
    where = f"{provider}:{row.region}" if row.region else f"{provider} fleet"
    note = f"PUE {row.pue:g}: {where} default chosen by the user; {row.note}"
    return PueSetting(row.pue, "provider", row.source, note)


# --- price choice ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceSetting:
    """Electricity price per kWh given by the user (argument or environment)."""

    price_per_kwh: float
    currency: str | None
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean_currency(currency: Any) -> str | None:
    if currency is None or (isinstance(currency, str) and not currency.strip()):
        return None
    if not isinstance(currency, str) or len(currency.strip()) > 8:
        raise CarbonError(f"currency must be a short code such as EUR or USD, got {currency!r}")
    text = currency.strip()
    return text.upper() if len(text) == 3 and text.isalpha() else text


def resolve_price(price_per_kwh: Any = None, currency: Any = None, *, use_env: bool = True) -> PriceSetting | None:
    """The user's price per kWh, or ``None`` (cost "not set"); falls back to ``WATTLENS_PRICE_PER_KWH`` /
    ``WATTLENS_CURRENCY`` (stated as from the environment). No built-in prices exist.

    >>> resolve_price(0.25, "eur", use_env=False)
    PriceSetting(price_per_kwh=0.25, currency='EUR', origin='argument')
    >>> resolve_price(None, use_env=False) is None
    True
    """
    origin = "argument"
    if price_per_kwh is None:
        if not (use_env and os.environ.get(ENV_PRICE)):
            return None
        price_per_kwh, origin = os.environ[ENV_PRICE], "environment"
    if currency is None and use_env:
        currency = os.environ.get(ENV_CURRENCY)
    value = _as_number(price_per_kwh, "price per kWh")
    if value < 0:
        raise CarbonError(f"price per kWh must be >= 0, got {price_per_kwh!r}")
    return PriceSetting(value, _clean_currency(currency), origin)


# --- footprint ------------------------------------------------------------------------------------


@dataclass
class Footprint:
    """Carbon and cost of an amount of node energy at a location, with every assumption attached.

    ``facility_*`` = node x PUE; ``kwh*`` are facility kWh; ``co2e_*_g`` use the location's intensity.
    All are ``None`` when the energy is unknown (never 0). ``cost`` is ``None`` when no price was given.
    """

    energy_j: float | None
    low_j: float | None
    high_j: float | None
    facility_energy_j: float | None
    facility_low_j: float | None
    facility_high_j: float | None
    kwh: float | None
    kwh_low: float | None
    kwh_high: float | None
    co2e_g: float | None
    co2e_low_g: float | None
    co2e_high_g: float | None
    carbon_intensity_g_per_kwh: float
    basis: str
    location: dict[str, Any]
    pue: float
    pue_origin: str
    pue_source: str
    boundary: str
    cost: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @property
    def cost_note(self) -> str:
        return COST_NOT_SET if self.cost is None else ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost_note"] = self.cost_note
        return d

    def summary(self) -> str:
        """One line: gCO2e [low, high], intensity and basis, PUE and cost (or "cost not set")."""
        loc = self.location
        if self.co2e_g is None:
            carbon = "gCO2e unavailable (energy unknown)"
        else:
            carbon = f"{self.co2e_g:.4g} gCO2e [{self.co2e_low_g:.4g}, {self.co2e_high_g:.4g}]"
        default = ", stated default" if loc.get("stated_default") else ""
        where = f"{loc['key']} {self.carbon_intensity_g_per_kwh:g} g/kWh ({self.basis}{default})"
        if self.cost is None:
            cost = f"cost {COST_NOT_SET}"
        elif self.cost["amount"] is None:
            cost = "cost unavailable (energy unknown)"
        else:
            cost = f"cost {self.cost['amount']:.4g} {self.cost['currency'] or '(currency not set)'}"
        return f"{carbon} at {where}, PUE {self.pue:g} ({self.pue_origin}), {cost}"


def _finite_or_none(value: Any, what: str) -> float | None:
    if value is None:
        return None
    return _as_number(value, what)


def _energy_triplet(energy_j: Any, low_j: Any, high_j: Any) -> tuple[float | None, float | None, float | None]:
    energy = _finite_or_none(energy_j, "energy_j")
    if energy is None:
        return None, None, None  # an interval without a central value is not usable
    low = _finite_or_none(low_j, "low_j")
    high = _finite_or_none(high_j, "high_j")
    low = energy if low is None else low
    high = energy if high is None else high
    if low > high:
        raise CarbonError(f"energy interval is inverted: low_j={low_j!r} > high_j={high_j!r}")
    return energy, low, high


def _scale(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def footprint(
    energy_j: float | None,
    low_j: float | None = None,
    high_j: float | None = None,
    location: Location | None = None,
    pue: float | str | PueSetting | None = None,
    price_per_kwh: float | None = None,
    currency: str | None = None,
    *,
    use_env: bool = True,
) -> Footprint:
    """Facility energy, gCO2e and cost of ``energy_j`` joules of node energy.

    ``location`` None -> :func:`resolve_location` (environment, else WORLD, stated); ``pue`` None ->
    1.0 stated (see :func:`resolve_pue`); price None -> ``WATTLENS_PRICE_PER_KWH`` or cost ``None``.

    >>> fr = resolve_location(country="FR", use_env=False)
    >>> fp = footprint(3.6e6, 3.0e6, 4.0e6, location=fr, pue=1.2, use_env=False)
    >>> round(fp.co2e_g, 3), fp.cost
    (53.016, None)
    """
    loc = location if location is not None else resolve_location(use_env=use_env)
    if not isinstance(loc, Location):
        raise CarbonError(f"location must be a wattlens.carbon.Location (use resolve_location), got {loc!r}")
    pue_setting = resolve_pue(pue, loc, use_env=use_env)
    price = resolve_price(price_per_kwh, currency, use_env=use_env)
    energy, low, high = _energy_triplet(energy_j, low_j, high_j)

    factor = pue_setting.value
    fac, fac_low, fac_high = _scale(energy, factor), _scale(low, factor), _scale(high, factor)
    kwh, kwh_low, kwh_high = (_scale(v, 1.0 / J_PER_KWH) for v in (fac, fac_low, fac_high))
    g = loc.g_co2e_per_kwh
    notes = [n for n in (loc.note, pue_setting.note) if n]
    if energy is None:
        notes.append("energy unavailable: carbon and cost are unknown (not 0)")
    cost = None
    if price is None:
        notes.append(f"cost {COST_NOT_SET}: pass --price-per-kwh/--currency or set {ENV_PRICE}/{ENV_CURRENCY}")
    else:
        cost = {
            "amount": _scale(kwh, price.price_per_kwh),
            "low": _scale(kwh_low, price.price_per_kwh),
            "high": _scale(kwh_high, price.price_per_kwh),
            "currency": price.currency,
            "price_per_kwh": price.price_per_kwh,
            "origin": price.origin,
        }
        if price.currency is None:
            notes.append(f"currency not set (pass --currency or set {ENV_CURRENCY})")
    return Footprint(
        energy_j=energy,
        low_j=low,
        high_j=high,
        facility_energy_j=fac,
        facility_low_j=fac_low,
        facility_high_j=fac_high,
        kwh=kwh,
        kwh_low=kwh_low,
        kwh_high=kwh_high,
        co2e_g=_scale(kwh, g),
        co2e_low_g=_scale(kwh_low, g),
        co2e_high_g=_scale(kwh_high, g),
        carbon_intensity_g_per_kwh=g,
        basis=loc.basis,
        location=loc.to_dict(),
        pue=factor,
        pue_origin=pue_setting.origin,
        pue_source=pue_setting.source,
        boundary="node" if pue_setting.origin == "default" else "facility",
        cost=cost,
        notes=notes,
    )


def project_yearly(
    j_per_query: float | None,
    queries_per_day: float,
    location: Location | None = None,
    pue: float | str | PueSetting | None = None,
    price_per_kwh: float | None = None,
    currency: str | None = None,
    *,
    j_per_query_low: float | None = None,
    j_per_query_high: float | None = None,
    days_per_year: float = DAYS_PER_YEAR,
    use_env: bool = True,
) -> dict[str, Any]:
    """A year of ``queries_per_day`` queries at ``j_per_query`` joules each: facility kWh, tCO2e, cost.

    Keys: queries_per_year, node_kwh_per_year, kwh_per_year (facility) with _low/_high,
    tco2e_per_year with _low/_high, cost_per_year (dict or None), cost_note, and ``footprint`` (the full
    :class:`Footprint` dict of the yearly energy, with location, PUE and notes).

    >>> fr = resolve_location(country="FR", use_env=False)
    >>> y = project_yearly(100.0, 1e6, fr, pue=1.0, use_env=False)
    >>> round(y["kwh_per_year"], 1), round(y["tco2e_per_year"], 3)
    (10138.9, 0.448)
    """
    qpd = _as_number(queries_per_day, "queries per day")
    days = _as_number(days_per_year, "days per year")
    if qpd < 0 or days <= 0:
        raise CarbonError(f"queries per day must be >= 0 and days per year > 0, got {queries_per_day!r}, {days!r}")
    queries = qpd * days
    fp = footprint(
        _scale(_finite_or_none(j_per_query, "j_per_query"), queries),
        _scale(_finite_or_none(j_per_query_low, "j_per_query_low"), queries),
        _scale(_finite_or_none(j_per_query_high, "j_per_query_high"), queries),
        location=location,
        pue=pue,
        price_per_kwh=price_per_kwh,
        currency=currency,
        use_env=use_env,
    )
    to_t = 1e-6  # grams -> tonnes
    cost = None
    if fp.cost is not None:
        cost = {k: fp.cost[k] for k in ("amount", "low", "high", "currency", "price_per_kwh", "origin")}
    return {
        "j_per_query": _finite_or_none(j_per_query, "j_per_query"),
        "queries_per_day": qpd,
        "days_per_year": days,
        "queries_per_year": queries,
        "node_kwh_per_year": _scale(fp.energy_j, 1.0 / J_PER_KWH),
        "kwh_per_year": fp.kwh,
        "kwh_per_year_low": fp.kwh_low,
        "kwh_per_year_high": fp.kwh_high,
        "tco2e_per_year": _scale(fp.co2e_g, to_t),
        "tco2e_per_year_low": _scale(fp.co2e_low_g, to_t),
        "tco2e_per_year_high": _scale(fp.co2e_high_g, to_t),
        "carbon_intensity_g_per_kwh": fp.carbon_intensity_g_per_kwh,
        "basis": fp.basis,
        "pue": fp.pue,
        "cost_per_year": cost,
        "cost_note": fp.cost_note,
        "footprint": fp.to_dict(),
    }
