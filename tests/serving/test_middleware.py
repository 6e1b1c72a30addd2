"""EnergyMiddleware on a real Starlette app: each interval's energy shared by the requests active in it — the
request energies plus the unattributed energy add up to the meter's total — the histogram, tokens, the header."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("starlette")
prom_parser = pytest.importorskip("prometheus_client.parser")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from wattlens.serving.counters import EnergyCounters  # noqa: E402
from wattlens.serving.middleware import EnergyMiddleware, RequestEnergyLedger  # noqa: E402
from wattlens.tracking import Monitor  # noqa: E402


async def work(request: Request) -> JSONResponse:
    n = int(request.query_params.get("n", "20000"))
    sum(i * i for i in range(n))
    await asyncio.sleep(0.005)
    request.state.wattlens_tokens = 3
    return JSONResponse({"ok": True})


def _app(header: bool) -> tuple[Starlette, RequestEnergyLedger]:
    ledger = RequestEnergyLedger(EnergyCounters(lambda: Monitor(sources=["estimator"])))
    app = Starlette(routes=[Route("/work", work)])
    app.add_middleware(EnergyMiddleware, ledger=ledger, header=header)
    return app, ledger


def _metrics(client: TestClient) -> dict:
    text = client.get("/metrics").text
    return {f.name: f for f in prom_parser.text_string_to_metric_families(text)}


def test_energy_is_conserved_and_on_metrics():
    app, ledger = _app(header=True)
    with TestClient(app) as client:
        joules = [float(client.get("/work").headers["x-energy-joules"]) for _ in range(5)]
        fams = _metrics(client)
    assert all(j > 0 for j in joules)
    hist = {s.name: s for s in fams["wattlens_request_energy_joules"].samples if "le" not in s.labels}
    assert hist["wattlens_request_energy_joules_count"].value == 5
    assert "shared equally among the requests active" in fams["wattlens_request_energy_joules"].documentation
    tokens = fams["wattlens_tokens"].samples[0]
    assert tokens.value == 15 and tokens.labels == {"kind": "output"}
    total = sum(s.value for s in fams["wattlens_energy_joules"].samples)
    unattributed = fams["wattlens_unattributed_energy_joules"].samples[0].value
    attributed = hist["wattlens_request_energy_joules_sum"].value
    assert attributed + unattributed == pytest.approx(total, rel=1e-9)
    assert sum(joules) <= attributed + 1e-12  # the header is the energy up to the response's first byte
    ledger.counters.close()


def test_concurrent_requests_share_the_intervals():
    """Two requests overlapping completely get half of the shared intervals each, never the whole twice."""

    async def scenario() -> tuple[float, float, float]:
        ledger = RequestEnergyLedger(EnergyCounters(lambda: Monitor(sources=["estimator"])))
        before = ledger.counters.snapshot()
        a = ledger.start()
        b = ledger.start()
        sum(i * i for i in range(200000))
        ea = ledger.finish(a, None)
        eb = ledger.finish(b, None)
        view = ledger.counters.snapshot()
        total = sum(t.energy_j for t in view.energy.values()) - sum(t.energy_j for t in before.energy.values())
        ledger.counters.close()
        return ea, eb, total

    ea, eb, total = asyncio.run(scenario())
    assert ea == pytest.approx(eb, rel=0.2)  # b's extra: the few µs between the two starts and ends
    assert ea + eb <= total * (1 + 1e-9)
