"""Live Electricity Maps lookups: refused unless opted in, parsed correctly; never a real connection here."""

from __future__ import annotations

import json
import urllib.request

import pytest

from wattlens.carbon import CarbonError, resolve_location
from wattlens.carbon import live as live_mod

PAYLOAD = {
    "zone": "FR",
    "carbonIntensity": 31,
    "datetime": "2026-11-21T05:00:00.000Z",
    "updatedAt": "2026-11-21T05:12:00.000Z",
    "emissionFactorType": "lifecycle",
    "isEstimated": True,
    "estimationMethod": "TIME_SLICER_AVERAGE",
}


class _Response:
    def __init__(self, body: bytes):
        self._body = body

    def read(self) -> bytes:
        return self._body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class StubOpener:
    """Records the request instead of sending it."""

    def __init__(self, body: bytes = json.dumps(PAYLOAD).encode(), error: Exception | None = None):
        self.body, self.error, self.requests = body, error, []

    def __call__(self, request, timeout):
        self.requests.append((request, timeout))
        if self.error is not None:
            raise self.error
        return _Response(self.body)


@pytest.fixture(autouse=True)
def _no_token(monkeypatch):
    monkeypatch.delenv(live_mod.ENV_TOKEN, raising=False)
    for name in ("WATTLENS_COUNTRY", "WATTLENS_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_refused_without_opt_in():
    opener = StubOpener()
    with pytest.raises(CarbonError, match="no network calls unless asked"):
        live_mod.fetch_intensity("FR", token="t", opener=opener)
    with pytest.raises(CarbonError, match="live=True"):
        live_mod.live_location(resolve_location(country="FR"), token="t", opener=opener)
    assert opener.requests == []


def test_needs_token():
    opener = StubOpener()
    with pytest.raises(CarbonError, match=live_mod.ENV_TOKEN):
        live_mod.fetch_intensity("FR", live=True, opener=opener)
    assert opener.requests == []


def test_request_shape_and_parsing(monkeypatch):
    monkeypatch.setenv(live_mod.ENV_TOKEN, "secret-token")
    opener = StubOpener()
    loc = live_mod.fetch_intensity("FR", live=True, opener=opener, timeout_s=3)
    ((request, timeout),) = opener.requests
    assert request.full_url == "https://api.electricitymap.org/v3/carbon-intensity/latest?zone=FR"
    assert request.get_header("Auth-token") == "secret-token" and timeout == 3
    assert (loc.g_co2e_per_kwh, loc.basis, loc.kind, loc.year, loc.key) == (31.0, "lifecycle", "live", 2026, "live:FR")
    assert "Electricity Maps" in loc.source and "estimated" in loc.source and not loc.stated_default


def test_region_uses_its_grid_zone_and_gcp_falls_back_to_country():
    opener = StubOpener(json.dumps({**PAYLOAD, "zone": "US-MIDA-PJM", "carbonIntensity": 400}).encode())
    aws = resolve_location(region="aws:us-east-1")
    loc = live_mod.live_location(aws, live=True, token="t", opener=opener)
    assert "zone=US-MIDA-PJM" in opener.requests[0][0].full_url and loc.country_alpha3 == "USA"
    live_mod.live_location(resolve_location(region="gcp:europe-west1"), live=True, token="t", opener=opener)
    assert opener.requests[1][0].full_url.endswith("zone=BE")
    with pytest.raises(CarbonError, match="no Electricity Maps zone"):
        live_mod.live_location(resolve_location(), live=True, token="t", opener=opener)


def test_resolve_location_live_goes_through_urlopen_only_when_asked(monkeypatch):
    opener = StubOpener()
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    assert resolve_location(country="FR").kind == "country" and opener.requests == []
    monkeypatch.setenv(live_mod.ENV_TOKEN, "t")
    loc = resolve_location(country="FR", live=True)
    assert loc.kind == "live" and len(opener.requests) == 1


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"error": "zone not allowed"}).encode(), "zone not allowed"),
        (json.dumps({**PAYLOAD, "carbonIntensity": -3}).encode(), "out of range"),
    ],
)
def test_bad_answers_become_clear_errors(body, match):
    with pytest.raises(CarbonError, match=match):
        live_mod.fetch_intensity("FR", live=True, token="t", opener=StubOpener(body))


def test_transport_failure_becomes_carbon_error():
    opener = StubOpener(error=OSError("connection refused"))
    with pytest.raises(CarbonError, match="failed: connection refused"):
        live_mod.fetch_intensity("FR", live=True, token="t", opener=opener)
