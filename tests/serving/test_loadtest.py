"""``wattlens loadtest`` against a real uvicorn + FastAPI server on 127.0.0.1 (MiniLM embeddings with trained weights,
a tiny random-weight generator, EnergyMiddleware on); the steady-state figures, the store, ``wattlens results``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from wattlens.cli.main import main
from wattlens.serving.loadtest import LoadTestConfig, RequestRecord, _Window, summarise

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
prom_parser = pytest.importorskip("prometheus_client.parser")
APP = Path(__file__).with_name("serving_app.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(APP), str(port)], stdout=out, stderr=out, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # bounded: 60 s for torch + the two models
            try:
                with urllib.request.urlopen(base + "/metrics", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(log.read_text()[-2000:]) from None
                time.sleep(0.25)
        else:
            raise AssertionError("the model server did not start in 60 s: " + log.read_text()[-2000:])
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_embeddings_at_a_constant_rate(model_server, tmp_path, capsys):
    db = str(tmp_path / "lt.sqlite")
    argv = [
        "loadtest",
        model_server + "/v1/embeddings",
        "--openai",
        "--rate",
        "8",
        "--duration",
        "6",
        "--min-window",
        "3",
        "--idle",
        "1",
        "--model",
        "all-MiniLM-L6-v2",
        "--db",
        db,
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"], out["reasons"]
    assert out["mode"] == "rate" and out["window_s"] >= 3 and out["window_requests"] >= 10
    assert out["throughput_rps"] == pytest.approx(8, rel=0.25)
    assert out["gross_j"] > 0 and out["idle_j"] > 0 and out["energy_basis"] == "net"
    assert out["j_per_request"] is not None and out["p50_ms"] <= out["p95_ms"] <= out["p99_ms"]
    assert out["j_per_output_token"] is None  # embeddings have no output tokens
    assert main(["results", "--db", db, "--run", out["run_id"], "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["model"] == "all-MiniLM-L6-v2" and row["status"] == "ok"
    assert row["j_per_query"] == pytest.approx(out["j_per_request"])
    assert row["queries"] == out["window_requests"] and row["p95_ms"] == pytest.approx(out["p95_ms"])
    assert main(["report", out["run_id"], "--db", db]) == 0
    assert "loadtest-openai-embeddings" in capsys.readouterr().out


@pytest.mark.slow
def test_streamed_completions_at_fixed_concurrency_with_the_middleware(model_server, tmp_path, capsys):
    db = str(tmp_path / "lt.sqlite")
    argv = [
        "loadtest",
        model_server + "/v1/completions",
        "--openai",
        "--concurrency",
        "2",
        "--duration",
        "6",
        "--min-window",
        "3",
        "--idle",
        "1",
        "--stream",
        "--max-tokens",
        "8",
        "--db",
        db,
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"], out["reasons"]
    assert out["mean_in_flight"] == pytest.approx(2, abs=0.3)  # saturated: both clients busy over the window
    assert out["ttft_p50_ms"] is not None and out["ttft_p50_ms"] <= out["p50_ms"]
    assert out["output_tokens"] == 8 * out["window_requests"]
    assert out["j_per_output_token"] == pytest.approx(out["j_per_request"] / 8)
    with urllib.request.urlopen(model_server + "/metrics", timeout=10) as r:
        fams = {f.name: f for f in prom_parser.text_string_to_metric_families(r.read().decode())}
    count = next(s.value for s in fams["wattlens_request_energy_joules"].samples if s.name.endswith("_count"))
    assert count >= out["requests_ok"]
    assert fams["wattlens_tokens"].samples[0].value >= 8 * out["requests_ok"]


def _record(sent: float, done: float, ok: bool = True) -> RequestRecord:
    return RequestRecord(sent, done, ok, None, None)


def test_a_short_window_or_a_lagging_server_is_invalid():
    cfg = LoadTestConfig(url="http://127.0.0.1:9/x", rate=10.0, duration_s=5, min_window_s=30)
    window = _Window(monitor=None)
    window.start_s, window.end_s = 1.0, 5.0
    records = [_record(1.0 + i * 0.1, 1.05 + i * 0.1) for i in range(12)]
    samples = [(1.0 + i * 0.1, 1) for i in range(12)]
    res = summarise(cfg, records, samples, 0.0, window)
    assert not res.valid
    assert any("< the minimum 30 s" in r for r in res.reasons)
    assert any("kept up with" in r for r in res.reasons)  # 12 answers in 4 s at 10/s asked
    assert res.gross_j is None and res.j_per_request is None  # no meter reading: no figure, never 0


def test_no_steady_state_is_said_so():
    cfg = LoadTestConfig(url="http://127.0.0.1:9/x", concurrency=4, duration_s=5, min_window_s=1)
    res = summarise(cfg, [_record(0.0, 0.1, ok=False)], [], 0.0, _Window(monitor=None))
    assert not res.valid and any("no steady state" in r for r in res.reasons)
    assert any("failed" in r for r in res.reasons)
