"""``wattlens exporter`` over real sockets on 127.0.0.1: only /metrics, clear errors, SIGTERM exits 0, OTLP push
to a real loopback OTLP/HTTP receiver that decodes the protobuf with opentelemetry-proto."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from wattlens.cli.main import main
from wattlens.serving.counters import EnergyCounters
from wattlens.serving.exporter import Exporter, ExporterError, serve
from wattlens.tracking import Monitor

prom_parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture
def running_exporter():
    exp = Exporter(EnergyCounters(lambda: Monitor(sources=["estimator"])))
    server = serve(exp, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield exp, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    exp.close()


def test_only_metrics_is_served(running_exporter):
    _, base = running_exporter
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        names = {f.name for f in prom_parser.text_string_to_metric_families(r.read().decode())}
    assert "wattlens_energy_joules" in names
    for path in ("/", "/api", "/metrics/../etc/passwd", "/debug"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=10)
        assert err.value.code == 404


def test_port_in_use_is_one_clear_error(running_exporter):
    _, base = running_exporter
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(ExporterError, match=f"--port {port}: already in use"):
        serve(Exporter(EnergyCounters(lambda: Monitor(sources=["estimator"]))), "127.0.0.1", port)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["exporter", "--port", "abc"], "--port 'abc'"),
        (["exporter", "--port", "70000"], "--port 70000"),
        (["exporter", "--otlp", "ftp://x"], "--otlp 'ftp://x'"),
        (["exporter", "--interval", "0"], "--interval 0"),
        (["loadtest", "http://127.0.0.1:9/x", "--rate", "0"], "--rate 0"),
        (["loadtest", "http://127.0.0.1:9/x", "--rate", "-2"], "--rate -2"),
        (["loadtest", "not-a-url", "--rate", "1"], "URL 'not-a-url'"),
        (["loadtest", "http://127.0.0.1:9/x"], "exactly one of --rate"),
        (["loadtest", "http://127.0.0.1:9/x", "--rate", "1", "--openai"], "--openai with"),
        (["loadtest", "http://127.0.0.1:9/x", "--rate", "1", "--no-save"], "the first request failed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err and "Traceback" not in err


def test_port_in_use_from_the_cli(running_exporter, capsys):
    _, base = running_exporter
    port = base.rsplit(":", 1)[1]
    assert main(["exporter", "--port", port]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"wattlens exporter: --port {port}: already in use on 127.0.0.1; choose another port"


@pytest.mark.slow
def test_sigterm_exits_cleanly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattlens", "exporter", "--port", "0", "--idle-baseline", "0.3", "--processes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COVERAGE_PROCESS_START": os.environ.get("COVERAGE_PROCESS_START", "")},
    )
    try:
        line = proc.stdout.readline()  # "wattlens exporter: http://127.0.0.1:PORT/metrics (...)"
        url = line.split()[2]
        text = ""
        for _ in range(20):  # per-process shares need two ticks; a loaded machine may delay the second (bounded)
            time.sleep(0.6)
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode()
            if 'attributed="cpu-time-share"' in text:
                break
        assert "wattlens_energy_joules_total" in text and 'idle_basis="measured-baseline"' in text
        assert 'attributed="cpu-time-share"' in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


# ---- OpenTelemetry -------------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        _Receiver.bodies.append(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_otlp_push_reaches_a_real_receiver():
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    from wattlens.serving.otel import OtlpBridge

    _Receiver.bodies = []
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    counters = EnergyCounters(lambda: Monitor(sources=["estimator"]), power_interval_s=0.0)
    bridge = OtlpBridge(counters, f"http://127.0.0.1:{receiver.server_address[1]}", interval_s=3600)
    try:
        counters.tick()
        sum(i * i for i in range(50000))
        counters.tick()
        assert bridge.flush(10)
    finally:
        bridge.close(flush=False)
        receiver.shutdown()
        receiver.server_close()
    req = ExportMetricsServiceRequest()
    req.ParseFromString(_Receiver.bodies[-1])
    metrics = {m.name: m for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"hw.energy", "hw.power", "hw.host.energy", "hw.host.power"} <= set(metrics)
    energy = metrics["hw.energy"]
    assert energy.unit == "J" and energy.sum.is_monotonic and energy.sum.aggregation_temporality == 2  # cumulative
    points = {
        dict((a.key, a.value.string_value) for a in p.attributes)["hw.type"]: p.as_double
        for p in energy.sum.data_points
    }
    assert set(points) == {"cpu", "memory"} and all(v > 0 for v in points.values())
    host = metrics["hw.host.energy"].sum.data_points[0].as_double
    assert host == pytest.approx(sum(points.values()), rel=0.05)  # the host total is its own metric, not a sum of these
    assert metrics["hw.power"].unit == "W" and metrics["hw.power"].gauge.data_points
    assert socket.gethostname() in str(req.resource_metrics[0].resource)
