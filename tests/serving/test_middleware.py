"""EnergyMiddleware on a real Starlette app: each interval's energy shared by the requests active in it — the
request energies plus the unattributed energy add up to the meter's total — the histogram, tokens, the header."""

from __future__ import annotations

import asyncio
import time

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


def _app(header: bool, processes: bool = False) -> tuple[Starlette, RequestEnergyLedger]:
    ledger = RequestEnergyLedger(EnergyCounters(lambda: Monitor(sources=["estimator"]), processes=processes))
    app = Starlette(routes=[Route("/work", work)])
    app.add_middleware(EnergyMiddleware, ledger=ledger, header=header)
    return app, ledger


def _metrics(client: TestClient) -> dict:
    text = client.get("/metrics").text
    return {f.name: f for f in prom_parser.text_string_to_metric_families(text)}


def test_energy_is_conserved_and_on_metrics():
    app, ledger = _app(header=True)
    with TestClient(app) as client:
        ledger.counters.tick()  # one metered interval: the header's estimate needs its power
        joules = [float(client.get("/work").headers["x-energy-joules"]) for _ in range(5)]
        ledger.counters.tick()  # the interval the requests ended in is metered: their energy is final
        fams = _metrics(client)
    assert all(j > 0 for j in joules)
    hist = {s.name: s for s in fams["wattlens_request_energy_joules"].samples if "le" not in s.labels}
    assert hist["wattlens_request_energy_joules_count"].value == 5
    assert "fair share of the interval's active time" in fams["wattlens_request_energy_joules"].documentation
    tokens = fams["wattlens_tokens"].samples[0]
    assert tokens.value == 15 and tokens.labels == {"kind": "output"}
    total = sum(s.value for s in fams["wattlens_energy_joules"].samples)
    unattributed = fams["wattlens_unattributed_energy_joules"].samples[0].value
    attributed = hist["wattlens_request_energy_joules_sum"].value
    assert attributed > 0 and unattributed > 0
    assert attributed + unattributed == pytest.approx(total, rel=1e-6)
    ledger.close()


class RecordingLedger(RequestEnergyLedger):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.charged: list[float] = []

    def _observe(self, joules, tokens):
        self.charged.append(joules)
        super()._observe(joules, tokens)


def test_concurrent_requests_share_the_intervals():
    """Two requests active together get half of the shared time each; alone, all of it; power from the meter."""
    ledger = RecordingLedger(EnergyCounters(lambda: Monitor(sources=["estimator"])))
    ledger._thread = object()  # type: ignore[assignment]  # no background tick: this test ticks by hand
    ledger.counters.tick()
    a = ledger.start()
    b = ledger.start()
    time.sleep(0.2)
    ledger.finish(a, None)
    time.sleep(0.2)  # b alone
    ledger.finish(b, None)
    ledger.counters.tick()
    ea, eb = ledger.charged
    assert eb == pytest.approx(3 * ea, rel=0.15)  # b: 0.1 s shared + 0.2 s alone; a: 0.1 s shared
    power = ledger._last_power_w
    assert ea + eb == pytest.approx(power * 0.4, rel=0.1)  # together: the busy time x the interval's power
    ledger.counters.close()


def test_split_by_tokens_charges_a_long_generation_for_its_tokens():
    """The same two requests as above, the first reporting 3 tokens and the second 1: by tokens they get 3:1 of
    their joint energy (by time it was 1:3); the total is what the time split gave."""
    ledger = RecordingLedger(EnergyCounters(lambda: Monitor(sources=["estimator"])), split="tokens")
    ledger._thread = object()  # type: ignore[assignment]
    ledger.counters.tick()
    a = ledger.start()
    b = ledger.start()
    time.sleep(0.2)
    ledger.finish(a, 3)
    time.sleep(0.2)
    ledger.finish(b, 1)
    ledger.counters.tick()
    ea, eb = ledger.charged
    assert ea == pytest.approx(3 * eb, rel=1e-9)
    assert ea + eb == pytest.approx(ledger._last_power_w * 0.4, rel=0.1)
    assert "output tokens" in ledger.families()[0].help
    with pytest.raises(ValueError, match="split 'bytes'"):
        RequestEnergyLedger(ledger.counters, split="bytes")
    ledger.counters.close()


def test_a_request_spanning_intervals_is_charged_each_intervals_power():
    ledger = RecordingLedger(EnergyCounters(lambda: Monitor(sources=["estimator"])))
    ledger._thread = object()  # type: ignore[assignment]
    ledger._segments.extend([(0.0, 1.0, 10.0), (1.0, 2.0, 20.0)])
    ledger._tick_share_s = ledger._share_s = 2.0
    assert ledger._charge(0.5, 1.5) == pytest.approx(0.5 * 10 + 0.5 * 20)
    assert ledger._charge(-1.0, 0.5) == pytest.approx(1.0 * 10 + 0.5 * 10)  # before the oldest kept: its power
    ledger.counters.close()


def test_every_series_of_the_grafana_panels_is_exported():
    """docs/grafana-wattlens.json queries only series that the exporter or the middleware write."""
    import json
    import re
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-wattlens.json").read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"wattlens_[a-z_]+", e)}
    app, ledger = _app(header=False, processes=True)
    written: set[str] = set()
    with TestClient(app) as client:
        # a request enters the histogram up to one metering interval after it ends: scrape again, bounded
        for _ in range(30):
            client.get("/work")
            text = client.get("/metrics").text
            written = {s.name for f in prom_parser.text_string_to_metric_families(text) for s in f.samples}
            if used <= written:
                break
            time.sleep(0.1)
    ledger.close()
    assert used and used <= written, used - written
