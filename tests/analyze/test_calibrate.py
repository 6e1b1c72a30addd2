"""Calibration: the fit on synthetic data, one quick real calibration, and predicted-vs-measured ratios of
whole models run for real under the meter.

Tolerances (stated): on these shared 2-core CI machines wall time is noisy, so models are timed as the best
of many runs, interleaved, on one thread (OpenMP barriers with a descheduled peer thread make small GEMMs
erratic), each run's duration being min(wall time, thread CPU time) (time descheduled excluded). The
predicted ratio between two models must agree with the measured ratio within a factor of 2 for time and
2.5 for energy (the meter here is an estimate of machine-wide CPU power, noisier than time).
"""

from __future__ import annotations

import time

import pytest
import torch

from tests.analyze.helpers import tiny_gpt2
from wattlens.analyze import calibrate as C
from wattlens.analyze.analysis import analyze
from wattlens.analyze.profiles import load_calibrated

pytestmark = pytest.mark.slow  # every test here runs real models or a whole run (> 2 s)


def _synthetic(e_flop=2e-11, e_byte=8e-11, p_static=12.0, rate=1e11, bw=2e10, launch=2e-6):
    benches = []
    for n in (64, 256, 512, 1024):
        f, b, reps = 2.0 * n**3, 12.0 * n * n, 100
        t = reps * (f / rate + launch)
        benches.append(C.Bench(f"gemm_{n}", "dense_gemm", f * reps, b * reps, reps, t, t / reps, reps))
    nb, reps = 2 * 32 * 2**20, 20
    t = reps * nb / bw
    benches.append(C.Bench("copy_32MiB", "norm_elementwise", 0.0, nb * reps, reps, t, t / reps, reps))
    reps = 10000
    benches.append(C.Bench("dispatch_probe", "overhead", float(reps), 12.0 * reps, reps, reps * launch, launch, reps))
    benches.append(C.Bench("idle", "static", 0.0, 0.0, 0, 0.5, 0.1, 5))
    for b in benches:
        b.energy_j = e_flop * b.flops + e_byte * b.bytes + p_static * b.seconds
        b.low_j, b.high_j, b.source = b.energy_j * 0.95, b.energy_j * 1.05, "measured"
    return benches


def test_fit_recovers_synthetic_machine():
    cal = C.fit_profile(_synthetic(), threads=1)
    fit = cal.fit
    assert fit["flop_per_s"] == pytest.approx(1e11, rel=0.05)
    assert fit["bytes_per_s"] == pytest.approx(2e10, rel=1e-6)
    assert fit["launch_us"] == pytest.approx(2.0, rel=1e-6)
    assert fit["j_per_flop"] == pytest.approx(2e-11, rel=1e-3)
    assert fit["j_per_byte"] == pytest.approx(8e-11, rel=1e-3)
    assert fit["static_w"] == pytest.approx(12.0, rel=1e-3)
    p = cal.profile
    assert p.pj_per_flop["fp32"].low <= 20 <= p.pj_per_flop["fp32"].high
    assert "calibrated" in p.peak_tflops["fp32"].source and p.calibrated["meter_source"] == "measured"


def test_nnls_never_negative():
    x, _ = C.nnls3([(1.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 1.0)], [0.5, 0.5, 0.4])
    assert all(v >= 0 for v in x)


def test_fit_without_meter_keeps_energy_figures():
    benches = _synthetic()
    for b in benches:
        b.energy_j = None
    cal = C.fit_profile(benches, threads=1)
    assert "no meter readings" in " ".join(cal.notes)
    assert cal.profile.pj_per_flop["fp32"].source.startswith("hardware_profiles.csv")


@pytest.fixture(scope="module")
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def real_calibration(one_thread, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("WATTLENS_CACHE_DIR", str(tmp_path_factory.mktemp("cal")))
    t0 = time.perf_counter()
    cal = C.calibrate(target_s=0.25, save=True)
    cal.fit["took_s"] = time.perf_counter() - t0
    mp.undo()
    return cal


def test_quick_real_calibration(real_calibration):
    cal = real_calibration
    assert cal.fit["took_s"] < 20
    assert 1e9 < cal.fit["flop_per_s"] < 1e13 and 1e8 < cal.fit["bytes_per_s"] < 1e12
    assert 0.05 < cal.fit["launch_us"] < 100
    from pathlib import Path

    assert load_calibrated(Path(cal.saved_to)) is not None  # saved to the user cache (here a temp dir)
    big = [r for r in cal.comparison if r["benchmark"] in ("gemm_1024", "copy_32MiB")]
    for r in big:  # the fitted profile reproduces its own large benchmarks
        assert 0.5 < r["time_ratio"] < 2.0, r
    estimated = "estimated" in str(cal.profile.calibrated.get("meter_source")).split(",")
    assert any("ESTIMATE" in n for n in cal.notes) == estimated  # the notes say so exactly when it is


def _models():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(*[m for _ in range(4) for m in (torch.nn.Linear(512, 512), torch.nn.GELU())]).eval()
    g_small = tiny_gpt2(layers=2, embd=128, heads=4, vocab=1024, device="cpu")
    g_large = tiny_gpt2(layers=6, embd=256, heads=8, vocab=1024, device="cpu")
    x = torch.randn(64, 512)
    ids_s, ids_l = torch.zeros(4, 64, dtype=torch.long), torch.zeros(4, 128, dtype=torch.long)
    return {
        "mlp": (mlp, dict(inputs=(x,)), lambda: mlp(x)),
        "gpt2-small": (g_small, dict(batch=4, seq=64), lambda: g_small(input_ids=ids_s)),
        "gpt2-large": (g_large, dict(batch=4, seq=128), lambda: g_large(input_ids=ids_l)),
    }


def test_predicted_vs_measured_ratios(real_calibration):
    pytest.importorskip("wattlens.tracking")
    from wattlens.tracking import Monitor

    models = _models()
    pred = {}
    for name, (m, kw, _) in models.items():
        a = analyze(m, real_calibration.profile, phase="forward", levers=False, **kw)
        pred[name] = (a.time("mid"), a.energy("mid"))
    best = dict.fromkeys(models, float("inf"))
    joules = {n: float("inf") for n in models}
    mon = Monitor()
    try:
        with torch.no_grad():
            for _ in range(3):  # interleaved rounds share the machine's background load evenly
                for name, (_, _, run) in models.items():
                    run()
                    mon.begin(name)
                    t0, k = time.perf_counter(), 0
                    while time.perf_counter() - t0 < 0.25:
                        t1, c1 = time.perf_counter(), time.thread_time()
                        run()
                        # one torch thread: this thread's CPU time excludes time descheduled by other jobs
                        own = min(time.perf_counter() - t1, time.thread_time() - c1)
                        best[name] = min(best[name], own)
                        k += 1
                    m = mon.end(name)
                    assert m.energy_j is not None, m.notes  # auto-discovery always ends with the estimator
                    joules[name] = min(joules[name], m.energy_j / k)
    finally:
        mon.close()
    report = []
    for a, b in (("mlp", "gpt2-small"), ("gpt2-small", "gpt2-large"), ("mlp", "gpt2-large")):
        t_ratio = (pred[b][0] / pred[a][0]) / (best[b] / best[a])
        report.append((a, b, t_ratio))
        print(
            f"{b}/{a}: time predicted {pred[b][0] / pred[a][0]:.3g} measured {best[b] / best[a]:.3g}; energy "
            f"predicted {pred[b][1] / pred[a][1]:.3g} measured {joules[b] / joules[a]:.3g}"
        )
        assert 0.5 < t_ratio < 2.0, (a, b, pred, best)
        e_ratio = (pred[b][1] / pred[a][1]) / (joules[b] / joules[a])
        assert 0.4 < e_ratio < 2.5, (a, b, pred, joules)


def test_predictions_agree_with_bench_runner_measurements(real_calibration):
    """Issue 4 req. 6: whole-model predictions checked against ``wattlens bench`` measurements (its runner,
    ``measure_queries``: warm-up, steady-state windows, repeats) of the same models, as ratios.

    The bench's J/query on this VM is the meter's CPU-time estimate, so the energy ratio between two models
    follows their CPU-time ratio; the stated tolerance is a factor of 2.5 (as for the direct check above)."""
    from wattlens.bench.runner import measure_queries
    from wattlens.tracking import Monitor

    models = _models()
    pred = {}
    for name, (m, kw, _) in models.items():
        a = analyze(m, real_calibration.profile, phase="forward", levers=False, **kw)
        pred[name] = a.energy("mid")
    measured: dict[str, float] = {}
    mon = Monitor(attribution="process")  # this process's share: other tenants of the VM are not charged
    try:
        with torch.no_grad():
            for name, (_, _, run) in models.items():
                stats = measure_queries(
                    lambda batch, run=run: [run() for _ in batch],
                    list(range(8)),
                    batch=1,
                    monitor=mon,
                    repeats=3,
                    warmup=2,
                    min_window_s=0.3,
                )
                assert stats.j_per_query is not None and stats.j_per_query > 0
                measured[name] = stats.j_per_query
    finally:
        mon.close()
    for a, b in (("mlp", "gpt2-small"), ("gpt2-small", "gpt2-large"), ("mlp", "gpt2-large")):
        ratio = (pred[b] / pred[a]) / (measured[b] / measured[a])
        print(f"{b}/{a}: energy predicted {pred[b] / pred[a]:.3g}, bench-measured {measured[b] / measured[a]:.3g}")
        assert 0.4 < ratio < 2.5, (a, b, pred, measured)
