"""Opt-in live carbon intensity from Electricity Maps (``/v3/carbon-intensity/latest?zone=``).

wattlens makes no network call unless the user asks: every function here refuses to run without
``live=True`` (the ``--live`` flag), and needs a token (argument or ``WATTLENS_ELECTRICITYMAPS_TOKEN``).
``urllib`` is imported only when a request is actually made. The offline tables stay the default.

Electricity Maps data are licensed ODbL 1.0; credit Electricity Maps where the figure is shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from wattlens.carbon.intensity import CarbonError, Location, countries, validate_intensity

API_URL = "https://api.electricitymap.org/v3/carbon-intensity/latest"
ENV_TOKEN = "WATTLENS_ELECTRICITYMAPS_TOKEN"
DEFAULT_TIMEOUT_S = 10.0

# An opener takes (request, timeout_s) and returns an object with .read() -> bytes, like urlopen.
Opener = Callable[[Any, float], Any]


def _require_opt_in(live: bool) -> None:
    if live is not True:
        raise CarbonError(
            "live carbon intensity is off: wattlens makes no network calls unless asked. Pass live=True "
            f"(CLI: --live) and set {ENV_TOKEN} to query Electricity Maps; otherwise the offline tables are used"
        )


def _token(token: str | None) -> str:
    value = token or os.environ.get(ENV_TOKEN)
    if not value:
        raise CarbonError(f"live carbon intensity needs an Electricity Maps API token: set {ENV_TOKEN} or pass token=")
    return value


def build_request(zone: str, token: str) -> Any:
    """The HTTP request for ``zone`` (urllib imported here, not at module import)."""
    from urllib.parse import urlencode
    from urllib.request import Request

    return Request(f"{API_URL}?{urlencode({'zone': zone})}", headers={"auth-token": token}, method="GET")


def parse_response(payload: bytes | str | dict[str, Any], zone: str, place: Location | None = None) -> Location:
    """Turn an Electricity Maps ``carbon-intensity/latest`` answer into a :class:`Location`.

    >>> loc = parse_response(b'{"zone": "FR", "carbonIntensity": 31, "datetime": "2026-11-21T05:00:00.000Z",'
    ...                      b' "emissionFactorType": "lifecycle", "isEstimated": true}', "FR")
    >>> loc.g_co2e_per_kwh, loc.basis, loc.year, loc.kind
    (31.0, 'lifecycle', 2026, 'live')
    """
    data = payload if isinstance(payload, dict) else _decode(payload)
    if "carbonIntensity" not in data or data["carbonIntensity"] is None:
        detail = data.get("error") or data.get("message") or sorted(data)
        raise CarbonError(f"Electricity Maps gave no carbonIntensity for zone {zone!r}: {detail}")
    value = validate_intensity(data["carbonIntensity"])
    stamp = str(data.get("datetime") or "")
    year = int(stamp[:4]) if stamp[:4].isdigit() else None
    basis = str(data.get("emissionFactorType") or "lifecycle")  # the API's default factors are lifecycle
    estimated = " (estimated by Electricity Maps)" if data.get("isEstimated") else ""
    name = f"{place.name} (live)" if place is not None else f"grid zone {data.get('zone') or zone} (live)"
    return Location(
        key=f"live:{data.get('zone') or zone}",
        name=name,
        g_co2e_per_kwh=value,
        year=year,
        basis=basis,
        source=f"Electricity Maps live API, {stamp or 'time not given'}{estimated}; ODbL",
        stated_default=False,
        kind="live",
        origin="argument",
        note=f"live figure for zone {zone} requested by the user at {stamp or 'unknown time'}",
        country_alpha3=place.country_alpha3 if place is not None else None,
        grid_zone=str(data.get("zone") or zone),
    )


def _decode(payload: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise CarbonError(f"Electricity Maps answer is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CarbonError(f"Electricity Maps answer is not a JSON object: {type(data).__name__}")
    return data


def fetch_intensity(
    zone: str,
    *,
    live: bool = False,
    token: str | None = None,
    opener: Opener | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    place: Location | None = None,
) -> Location:
    """Latest carbon intensity of an Electricity Maps zone (``FR``, ``US-MIDA-PJM``, ...). Needs ``live=True``.

    ``opener`` replaces ``urllib.request.urlopen`` (tests pass a stub; nothing else should).
    """
    _require_opt_in(live)
    if not zone:
        raise CarbonError("live carbon intensity needs a grid zone (e.g. FR, DE, US-MIDA-PJM)")
    request = build_request(zone, _token(token))
    open_url: Opener = opener if opener is not None else _urlopen
    try:
        with open_url(request, timeout_s) as response:
            body = response.read()
    except CarbonError:
        raise
    except Exception as exc:  # any transport failure (URLError, HTTPError, timeout) -> one clear error
        raise CarbonError(f"Electricity Maps request for zone {zone!r} failed: {exc}") from exc
    return parse_response(body, zone, place)


def live_location(
    place: Location,
    *,
    live: bool = False,
    token: str | None = None,
    opener: Opener | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Location:
    """Live figure for a resolved offline :class:`Location` (its Electricity Maps zone). Needs ``live=True``."""
    _require_opt_in(live)
    zone = place.grid_zone or _country_zone(place.country_alpha3)  # GCP rows carry no zone: use the country
    if place.kind == "world" or not zone:
        raise CarbonError(
            f"no Electricity Maps zone known for {place.key}: pass a country or an AWS/Azure/GCP region with --live"
        )
    return fetch_intensity(zone, live=live, token=token, opener=opener, timeout_s=timeout_s, place=place)


def _urlopen(request: Any, timeout_s: float) -> Any:
    from urllib.request import urlopen  # lazy: urllib only when a live figure is asked for

    return urlopen(request, timeout=timeout_s)


def _country_zone(alpha3: str | None) -> str | None:
    """Electricity Maps names country-wide zones by ISO alpha-2 code."""
    for row in countries():
        if row["iso_alpha3"] == alpha3:
            zone: str | None = row["iso_alpha2"]
            return zone
    return None
