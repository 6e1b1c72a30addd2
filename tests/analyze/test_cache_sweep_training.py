"""The trace cache (torch-free second run, safe to delete), co-design sweeps and whole training runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wattlens.analyze import sweep as S
from wattlens.analyze import training as T
from wattlens.analyze.analysis import analyze
from wattlens.analyze.traces import cache_dir
from wattlens.cli.main import main

_CHILD = (
    "import sys, json; from wattlens.cli.main import main; "
    "rc = main(['analyze', 'gpt2', '--hardware', 'h100', '--phase', 'decode', '--prompt', '64', '--new-tokens', '8', "
    "'--json']); print('TORCH', 'torch' in sys.modules); sys.exit(rc)"
)


def _run(env: dict[str, str]) -> tuple[dict, bool]:
    p = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=300, check=True)
    out = p.stdout
    torch_loaded = "TORCH True" in out
    return json.loads(out[out.find("{") : out.rfind("}") + 1]), torch_loaded


def test_a_cached_analysis_runs_without_torch_and_gives_the_same_figures(tmp_path):
    env = {**os.environ, "WATTLENS_CACHE_DIR": str(tmp_path / "c"), "HF_HUB_OFFLINE": "1"}
    first, torch1 = _run(env)
    second, torch2 = _run(env)
    assert torch1 and not first["capture"]["cached"]
    assert not torch2 and second["capture"]["cached"]  # no torch import at all on the cached path
    assert second["energy_j"] == first["energy_j"] and second["levers"] == first["levers"]
    # deleting the cache is always safe; a corrupt entry is traced again
    for f in (tmp_path / "c" / "traces").iterdir():
        f.write_text("{not json")
    third, torch3 = _run(env)
    assert torch3 and not third["capture"]["cached"] and third["energy_j"] == first["energy_j"]


def test_the_cache_key_follows_model_config_phase_and_shapes():
    a = analyze("gpt2", "a100", phase="prefill", seq=64, levers=False)
    b = analyze("gpt2", "a100", phase="prefill", seq=64, levers=False)
    c = analyze("gpt2", "a100", phase="prefill", seq=65, levers=False)
    assert a.trace_set and b.trace_set and c.trace_set
    assert b.trace_set.cached and b.trace_set.key == a.trace_set.key
    assert not c.trace_set.cached and c.trace_set.key != a.trace_set.key
    assert (cache_dir() / f"{a.trace_set.key}.json").exists()


def test_sweep_points_equal_direct_analyses_and_form_a_front():
    axes = S.parse_axes(["hardware=a100,h100", "batch=1,4", "dtype=bf16,fp8", "seq=32,96"])
    r = S.sweep("gpt2", axes, phase="generate", new_tokens=4)
    assert len(r.points) == 2 * 2 * 2 * 2 and r.traces == 1
    p = next(x for x in r.points if (x.hardware, x.batch, x.dtype, x.seq) == ("h100-sxm", 4, "bf16", 96))
    direct = analyze("gpt2", "h100", phase="generate", batch=4, prompt=96, new_tokens=4, levers=False, dtype="bf16")
    assert p.energy_j.mid == pytest.approx(direct.energy("mid"), rel=1e-6)
    assert p.latency_s.mid == pytest.approx(direct.time("mid"), rel=1e-6)
    front = [r.points[i] for i in r.pareto]
    assert front and all(x.pareto for x in front)
    for f in front:  # nothing that fits beats a front point on both axes
        assert not any(
            q.energy_j_per_token.mid < f.energy_j_per_token.mid and q.latency_s.mid < f.latency_s.mid
            for q in r.points
            if q.fits is not False
        )
    again = S.sweep("gpt2", axes, phase="generate", new_tokens=4)
    assert not again.traced_now  # the one trace came from the cache
    csv_text = S.to_csv(r)
    assert csv_text.splitlines()[0].split(",") == list(S.CSV_COLUMNS) and len(csv_text.splitlines()) == 17
    # an A100 has no FP8 units: its fp8 points say what priced them, the H100's (which has them) do not
    assert {x.priced_as for x in r.points if x.hardware.startswith("a100") and x.dtype == "fp8"} == {"int8"}
    assert all(x.priced_as is None for x in r.points if x.hardware == "h100-sxm" or x.dtype == "bf16")
    assert "a100" in S.text(r) and "no fp8 units" in S.text(r)


def test_sweep_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["analyze", "gpt2", "--sweep", "colour=red"]) == 2
    assert "unknown sweep axis 'colour'" in capsys.readouterr().err
    out = tmp_path / "s.json"
    assert (
        main(
            [
                "analyze",
                "gpt2",
                "--phase",
                "prefill",
                "--sweep",
                "hardware=h100",
                "batch=1,2",
                "seq=16,32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert len(d["points"]) == 4 and d["pareto"]


def test_training_run_flops_time_and_layout():
    r = T.training_run("gpt2", "a100", tokens=1e9, gpus=16, tp=2, pp=2, mfu="0.4", seq=256, intensity=100)
    fwd = analyze("gpt2", "a100", phase="forward", seq=256, levers=False)
    per_tok = fwd.report().flops / 256
    assert r.flops_per_token.high == pytest.approx(3 * per_tok, rel=1e-9)
    assert r.data_parallel == 4 and r.mfu.mid == pytest.approx(0.4)
    t = r.model_flops.high / (16 * 312e12 * 0.4)
    assert r.time_s.high == pytest.approx(t, rel=1e-9)
    assert r.gpu_hours.high == pytest.approx(t * 16 / 3600, rel=1e-9)
    parts = {c.part for c in r.communication}
    assert {"tensor-parallel all-reduce", "data-parallel gradient all-reduce", "pipeline sends"} <= parts
    assert r.energy_j.high <= 16 * 400 * t * 1.001  # never above every GPU at its power limit
    assert r.co2e_kg is not None and r.co2e_kg.mid == pytest.approx(r.energy_kwh.mid * 0.1)
    with pytest.raises(T.TrainingError, match="tp"):
        T.layout(10, 4, 1, None)


def test_breakeven_takes_a_training_estimate(capsys, tmp_path):
    run = tmp_path / "run.json"
    assert (
        main(
            [
                "analyze",
                "gpt2",
                "--phase",
                "train",
                "--tokens",
                "1e9",
                "--gpus",
                "8",
                "--hardware",
                "a100",
                "--seq",
                "256",
                "--json",
                "--intensity",
                "50",
            ]
        )
        == 0
    )
    run.write_text(capsys.readouterr().out)
    assert main(["breakeven", "--training-estimate", str(run), "--j-per-query", "1.0", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    be = d["breakeven"]
    assert be["training_source"].startswith("estimated")
    assert be["training_kwh_low"] < be["training_kwh"] < be["training_kwh_high"]
    assert be["queries_low"] < be["queries"] < be["queries_high"]
    assert main(["breakeven", "--training-estimate", str(tmp_path / "nope.json"), "--j-per-query", "1"]) == 2
