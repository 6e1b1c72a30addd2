"""Host and framework time (overlap with the device, runtimes, TF32) and the node / facility boundaries."""

from __future__ import annotations

import itertools
import random

import pytest

from wattlens.analyze import boundary as B
from wattlens.analyze import host as H
from wattlens.analyze.analysis import analyze
from wattlens.analyze.model import _pass_time
from wattlens.analyze.profiles import get_profile


def _simulate(hs: list[float], ds: list[float]) -> float:
    """The host issues op k after its host work; the device runs ops in order: finish time of the last op."""
    t_host = t_dev = 0.0
    for h, d in zip(hs, ds, strict=True):
        t_host += h
        t_dev = max(t_dev, t_host) + d
    return t_dev


def test_pass_time_is_the_exact_pipeline_also_for_folded_blocks():
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 6)
        hs = [rng.uniform(0, 3) for _ in range(n)]
        ds = [rng.uniform(0, 3) for _ in range(n)]
        mults = [1] * n
        assert _pass_time(hs, ds, mults) == pytest.approx(_simulate(hs, ds))
        # a block of 3 ops repeated m times between a prefix and a suffix
        m = rng.randint(2, 5)
        pre, blk, suf = hs[:1], [rng.uniform(0, 3) for _ in range(3)], hs[1:2]
        dpre, dblk, dsuf = ds[:1], [rng.uniform(0, 3) for _ in range(3)], ds[1:2]
        flat_h = pre + blk * m + suf
        flat_d = dpre + dblk * m + dsuf
        got = _pass_time(pre + blk + suf, dpre + dblk + dsuf, [1, m, m, m] + [1] * len(suf))
        assert got == pytest.approx(_simulate(flat_h, flat_d))


def test_batch1_eager_on_a_gpu_is_host_bound_and_the_device_idles():
    a = analyze("gpt2", "h100", phase="generate", prompt=32, new_tokens=8, levers=False)
    h = a.host_time()
    assert h is not None and h.bound == "host" and h.device_idle_fraction > 0.5
    assert h.wall_s.mid >= h.host_issue_s.mid >= h.device_busy_s.mid
    # most of the device energy is static power over the host-bound time
    assert a.report().energy_parts_j_mid["static"] > 0.5 * a.energy("mid")
    roles = {r.role for r in a.by_role()}
    assert "host_framework" in roles


def test_cuda_graphs_and_compile_cut_host_time_a_cpu_is_serial():
    eager = analyze("gpt2", "h100", phase="generate", prompt=32, new_tokens=8, levers=False)
    graph = analyze("gpt2", "h100", phase="generate", prompt=32, new_tokens=8, levers=False, runtime="cuda-graph")
    comp = analyze("gpt2", "h100", phase="generate", prompt=32, new_tokens=8, levers=False, runtime="compiled")
    assert graph.time("mid") < comp.time("mid") < eager.time("mid")
    assert graph.energy("mid") < eager.energy("mid")
    cpu = analyze("gpt2", "this-machine", phase="prefill", seq=32, levers=False)
    h = cpu.host_time()
    assert h is not None and cpu.host is not None and cpu.host.serial
    assert h.wall_s.mid == pytest.approx(h.device_busy_s.mid + h.host_issue_s.mid + h.framework_s.mid, rel=1e-9)
    with pytest.raises(ValueError, match="accelerator"):
        analyze("gpt2", "this-machine", phase="prefill", seq=32, levers=False, runtime="cuda-graph")


def test_every_host_figure_is_a_sourced_range():
    for key, row in H.rows().items():
        f = row.figure
        assert 0 <= f.low <= f.high, key
        assert row.status in ("M", "X", "U", "S", "R"), key
        assert f.source and "csv" in f.source, key
    m = H.host_model(get_profile("h200"), "gpt2", "causal_lm", "eager", "same-cpu")
    assert m.op_us.low < m.op_us.high and "kernel_launch_us" in m.op_us.source


def test_tf32_convolutions_by_default_and_matmuls_on_request():
    conv = analyze("resnet-50", "a100", phase="forward", dtype="fp32", levers=False)
    assert conv.report().tf32 == {"conv": True, "matmul": False}
    assert any("TF32" in s for s in conv.assumptions())
    vit = analyze("vit-base-patch16-224", "a100", phase="forward", dtype="fp32", levers=False, batch=64)
    vit32 = analyze(
        "vit-base-patch16-224", "a100", phase="forward", dtype="fp32", levers=False, batch=64, tf32_matmul=True
    )
    assert vit32.time("mid") < vit.time("mid")  # matmuls on TF32 tensor cores instead of FP32 SIMT


def test_node_boundary_counts_idle_neighbours_cpus_and_dram():
    a = analyze(
        "distilgpt2",
        "a100",
        phase="generate",
        prompt=24,
        new_tokens=10,
        dtype="fp32",
        levers=False,
        boundary="node",
        node="php-p4de",
    )
    b = a.boundary
    assert b is not None and b.boundary == "node" and b.node == "php-p4de"
    parts = {p.part.split(" (")[0]: p for p in b.parts}
    assert parts["idle accelerators"].energy_j.mid > a.energy("mid")  # seven idle A100s outweigh the busy one
    total = sum(p.energy_j.mid for p in b.parts)
    assert b.energy_j.mid == pytest.approx(total)
    assert b.net_energy_j is not None and b.net_energy_j.high < b.energy_j.low
    # PHP's published figure for distilgpt2 (0.0147 kWh per 1,000 queries, benchmark-anchors s1.3, not used to
    # derive any constant) lies inside the node interval
    assert b.energy_j.contains(0.0147 * 3.6e6 / 1000)


def test_facility_needs_a_pue_and_multiplies_the_node():
    with pytest.raises(B.BoundaryError, match="--pue"):
        analyze("gpt2", "h100", phase="prefill", seq=64, levers=False, boundary="facility")
    a = analyze("gpt2", "h100", phase="prefill", seq=64, levers=False, boundary="facility", pue="1.1-1.3")
    n = analyze("gpt2", "h100", phase="prefill", seq=64, levers=False, boundary="node")
    assert a.boundary is not None and n.boundary is not None
    assert a.boundary.energy_j.low == pytest.approx(n.boundary.energy_j.low * 1.1)
    assert a.boundary.energy_j.high == pytest.approx(n.boundary.energy_j.high * 1.3)
    with pytest.raises(B.BoundaryError, match=r"\[1.0, 3.0\]"):
        B.parse_pue("0.8")


def test_every_node_profile_loads_with_sourced_figures():
    for name in B.node_names():
        n = B.get_node(name)
        assert n.accelerators >= 1 and n.source
        get_profile(n.accelerator)
        for f in (n.cpu_idle_w, n.cpu_busy_thread_w, n.dram_w, n.other_w):
            assert 0 <= f.low <= f.high and f.source
    assert list(itertools.islice(B.node_names(), 1)) == ["php-p4de"]


def test_host_calibration_measures_a_twin_and_is_used_after():
    from wattlens.analyze.calibrate import calibrate_host

    got = calibrate_host("distilgpt2", reps=10)
    lo, hi = got["op_us"]
    assert 0.5 < lo <= hi < 500  # µs of host time per recorded op on this CPU (a real measurement)
    assert got["ops"] == 121  # the width-shrunk twin runs exactly the real model's ops (6 layers, seq 24)
    a = analyze("distilgpt2", "this-machine", phase="prefill", seq=24, levers=False)
    assert a.host is not None and "calibrated on this machine" in a.host.op_us.source
    assert a.host.op_us.low == pytest.approx(lo)
