"""A real Prometheus server (Debian's package, scripts/prometheus.sh) scrapes the exporter on 127.0.0.1; PromQL
``increase()`` over a window agrees with wattlens's own window energy within 1 % plus one scrape interval."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from wattlens.serving.counters import EnergyCounters
from wattlens.serving.exporter import Exporter, serve
from wattlens.tracking import Monitor

PROMETHEUS = os.environ.get("WATTLENS_PROMETHEUS", "/usr/bin/prometheus")
SCRAPE_S = 1.0
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(PROMETHEUS), reason="no Prometheus server: scripts/prometheus.sh installs it"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(base: str, promql: str, at: float) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.fixture
def prometheus_on(tmp_path):
    started = []

    def start(target_port: int) -> str:
        port = _free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(
            f"global:\n  scrape_interval: {int(SCRAPE_S * 1000)}ms\n  scrape_timeout: {int(SCRAPE_S * 800)}ms\n"
            "scrape_configs:\n  - job_name: wattlens\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.log").open("w"),
        )
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # bounded: 20 s
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return base
            except OSError:
                pass
            time.sleep(0.2)
            if proc.poll() is not None:
                break
        raise AssertionError("Prometheus did not become ready: " + (tmp_path / "prometheus.log").read_text()[-2000:])

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=20)


def test_promql_increase_agrees_with_the_window(prometheus_on):
    exp = Exporter(EnergyCounters(lambda: Monitor(sources=["estimator"])), interval_s=1.0)
    exp.start()
    server = serve(exp, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    own = Monitor(sources=["estimator"])
    try:
        base = prometheus_on(server.server_address[1])
        deadline = time.time() + 20
        while not _query(base, "wattlens_energy_joules_total", time.time()) and time.time() < deadline:
            time.sleep(0.5)  # bounded: the first scrapes
        time.sleep(2 * SCRAPE_S)
        own.begin("window")
        t_a = time.time()
        end = time.monotonic() + 10
        while time.monotonic() < end:  # some real work, so that the dynamic term moves too
            sum(i * i for i in range(20000))
            time.sleep(0.01)
        m = own.end("window")
        t_b = time.time()
        time.sleep(2.5 * SCRAPE_S)  # the scrape at or after t_b is ingested
        ms = int((t_b - t_a) * 1000)
        result = _query(base, f"sum(increase(wattlens_energy_joules_total[{ms}ms]))", t_b)
        up = _query(base, 'up{job="wattlens"}', t_b)
    finally:
        server.shutdown()
        server.server_close()
        exp.close()
        own.close()
    assert up and up[0]["value"][1] == "1"
    promql_j = float(result[0]["value"][1])
    window_j = m.energy_j
    tolerance = 0.01 * window_j + m.power_w * SCRAPE_S
    print(f"increase() {promql_j:.3f} J, window {window_j:.3f} J, allowed difference {tolerance:.3f} J")
    assert abs(promql_j - window_j) <= tolerance, (promql_j, window_j, tolerance)
