"""Apple powermetrics source: parsers on recorded-format output, the timeline, and a replayed child process.

The text fixture follows powermetrics' printed format (headers, ``CPU Power: N mW`` lines, the GPU power
printed twice). It was reconstructed from that documented format, not captured on a Mac (none here).
"""

from __future__ import annotations

import os
import plistlib
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wattlens.meters.apple import NOT_MACOS, AppleSource, discover, parse_final_text_block, parse_powermetrics
from wattlens.meters.base import DOMAIN_CPU, DOMAIN_GPU, INTEGRATED, MEASURED, UNAVAILABLE
from wattlens.meters.sampler import Sampler, SourceUnavailableError

TEXT = (Path(__file__).parent / "fakes" / "powermetrics_text.txt").read_text()


def _plist(elapsed_s: float, cpu_mw: float, gpu_mw: float, ane_mw: float = 0.0) -> bytes:
    doc = {
        "is_delta": True,
        "elapsed_ns": int(elapsed_s * 1e9),
        "hw_model": "MacBookPro18,3",
        "kern_osversion": "23B81",
        "timestamp": "2023-11-14T09:21:44Z",
        "processor": {
            "clusters": [],
            "cpu_power": cpu_mw,
            "gpu_power": gpu_mw,
            "ane_power": ane_mw,
            "combined_power": cpu_mw + gpu_mw + ane_mw,
            "cpu_energy": round(cpu_mw * elapsed_s),
            "gpu_energy": round(gpu_mw * elapsed_s),
            "ane_energy": round(ane_mw * elapsed_s),
        },
        "gpu": {"freq_hz": 389.0, "idle_ratio": 0.95, "gpu_energy": round(gpu_mw * elapsed_s)},
    }
    return plistlib.dumps(doc) + b"\x00"


def test_text_parser_on_recorded_output():
    samples = parse_final_text_block(TEXT)
    assert len(samples) == 2
    s1, s2 = samples
    assert s1.elapsed_s == pytest.approx(0.50231)
    assert s1.energy_j["cpu"] == pytest.approx(1.254 * 0.50231)
    assert s1.energy_j["gpu"] == pytest.approx(0.038 * 0.50231)  # printed twice, counted once
    assert s2.energy_j == pytest.approx({"cpu": 2.310 * 0.50187, "gpu": 0.415 * 0.50187, "ane": 0.012 * 0.50187})
    # streaming: the last block is held back until the next header proves it complete
    streamed, rest = parse_powermetrics(TEXT)
    assert len(streamed) == 1 and rest.startswith(b"*** Sampled system activity")


def test_plist_parser_stream_with_a_partial_document():
    data = _plist(0.5, 1000, 200) + _plist(0.5, 3000, 0, 40) + _plist(0.25, 800, 100)
    partial = _plist(0.5, 5000, 5000)[:300]
    samples, rest = parse_powermetrics(data + partial)
    assert [s.elapsed_s for s in samples] == [0.5, 0.5, 0.25]
    assert samples[1].energy_j == pytest.approx({"cpu": 1.5, "gpu": 0.0, "ane": 0.02})
    assert rest == partial
    more, rest2 = parse_powermetrics(rest + _plist(0.5, 5000, 5000)[300:])
    assert len(more) == 1 and more[0].energy_j["gpu"] == pytest.approx(2.5) and rest2 == b""


def test_plist_energy_keys_used_when_power_is_absent():
    doc = {"elapsed_ns": 1_000_000_000, "processor": {"cpu_energy": 1500, "gpu_energy": 250}}
    (s,), _ = parse_powermetrics(plistlib.dumps(doc) + b"\x00")
    assert s.energy_j == pytest.approx({"cpu": 1.5, "gpu": 0.25})


def test_linux_is_not_macos():
    if sys.platform == "darwin":
        pytest.skip("macOS")
    st = AppleSource.probe()
    assert not st.available and st.detail == NOT_MACOS and "not macOS" in st.detail
    with pytest.raises(SourceUnavailableError, match="not macOS"):
        AppleSource()
    assert discover() == []


class _FakeProc:
    """Popen stand-in whose stdout is a real pipe the test writes powermetrics output into."""

    def __init__(self) -> None:
        r, self.w = os.pipe()
        self.stdout = os.fdopen(r, "rb", buffering=0)
        self.terminated = False

    def write(self, data: bytes) -> None:
        os.write(self.w, data)

    def terminate(self) -> None:
        self.terminated = True
        os.close(self.w)

    def wait(self, timeout=None) -> int:
        return 0

    def kill(self) -> None:
        pass


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _source(clock):
    proc = _FakeProc()
    src = AppleSource(500, command=["powermetrics"], platform="darwin", clock=clock, popen=lambda *a, **k: proc)
    return src, proc


def test_window_energy_from_the_sample_timeline():
    clock = Clock(100.0)
    src, proc = _source(clock)
    clock.t = 100.25
    a = src.snapshot()  # before any sample has arrived
    for t, cpu_mw in ((100.5, 2000), (101.0, 4000)):
        clock.t = t
        proc.write(_plist(0.5, cpu_mw, 1000))
        src.sample()
    clock.t = 101.25
    b = src.snapshot()
    # at window end the 101.0-101.5 sample has not arrived: its part is extrapolated and flagged
    by = {c.domain: c for c in src.delta(a, b)}
    assert by[DOMAIN_CPU].energy_j == pytest.approx(0.25 * 2 + 0.5 * 4 + 0.25 * 4)
    assert "extrapolated" in by[DOMAIN_CPU].note
    assert by[DOMAIN_CPU].high_j > by[DOMAIN_CPU].energy_j * 1.1
    clock.t = 101.5
    proc.write(_plist(0.5, 6000, 1000))
    src.sample()
    by = {c.device: c for c in src.delta(a, b)}  # same edges, now fully covered: exact
    cpu, gpu, ane = by["cpu"], by["apple-gpu"], by["ane"]
    assert (cpu.domain, gpu.domain, ane.domain) == (DOMAIN_CPU, DOMAIN_GPU, DOMAIN_GPU)  # ANE: an accelerator
    assert cpu.energy_j == pytest.approx(0.25 * 2 + 0.5 * 4 + 0.25 * 6, rel=1e-9)
    assert cpu.source == MEASURED and cpu.method == "powermetrics:cpu_power"
    assert "extrapolated" not in cpu.note and cpu.low_j < cpu.energy_j < cpu.high_j
    assert gpu.energy_j == pytest.approx(1.0) and gpu.device == "apple-gpu"
    assert ane.energy_j == pytest.approx(0.0) and ane.device == "ane"
    src.close()
    assert proc.terminated


def test_short_window_is_integrated_and_before_first_sample_is_unavailable():
    clock = Clock(10.0)
    src, proc = _source(clock)
    a = src.snapshot()
    clock.t = 10.1
    (c, *_) = src.delta(a, src.snapshot())
    assert c.source == UNAVAILABLE and "no powermetrics sample" in c.note
    clock.t = 10.5
    proc.write(_plist(0.5, 3000, 0))
    src.sample()
    a = src.snapshot()
    clock.t = 10.6
    (c, *_) = src.delta(a, src.snapshot())
    assert c.source == INTEGRATED and c.energy_j == pytest.approx(0.3) and "shorter than two" in c.note
    src.close()


@pytest.mark.slow
def test_replayed_powermetrics_process_with_the_shared_sampler():
    # A child process that writes powermetrics plist documents every 100 ms, like `powermetrics -i 100`.
    script = textwrap.dedent("""
        import plistlib, sys, time
        last = time.monotonic()
        while True:  # like powermetrics: elapsed_ns is the real time since the previous sample
            time.sleep(0.1)
            now = time.monotonic()
            doc = {"elapsed_ns": int((now - last) * 1e9),
                   "processor": {"cpu_power": 2000.0, "gpu_power": 500.0, "ane_power": 0.0}}
            last = now
            sys.stdout.buffer.write(plistlib.dumps(doc) + b"\\x00"); sys.stdout.buffer.flush()
    """)
    src = AppleSource(100, command=[sys.executable, "-c", script], platform="darwin")
    sampler = Sampler()
    sampler.register(src)
    try:
        time.sleep(0.3)  # let the first samples arrive (as after the Monitor's start)
        sampler.open_window()
        a = src.snapshot()
        time.sleep(0.6)
        b = src.snapshot()
        sampler.close_window()
        time.sleep(0.15)  # the sample covering the window end arrives
        by = {c.device: c for c in src.delta(a, b)}
        assert by["cpu"].energy_j == pytest.approx(2.0 * (b.t_s - a.t_s), rel=0.05)
        assert by["apple-gpu"].energy_j == pytest.approx(0.5 * (b.t_s - a.t_s), rel=0.05)
        assert sampler.stats()["samples"] >= 3
    finally:
        sampler.stop()
        src.close()
    assert src._proc.poll() is not None  # the child is reaped: nothing left running
    assert not sampler.running
