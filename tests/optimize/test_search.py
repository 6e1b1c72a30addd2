"""Search strategies on a synthetic cost surface with a known optimum (no models, fast)."""

from __future__ import annotations

import pytest

from wattlens.optimize import search as S
from wattlens.optimize import synthetic as Y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_successive_halving_finds_optimum_at_low_cost(seed: int) -> None:
    sf = Y.Surface(seed=seed)
    configs = Y.space(Y.small_knobs())
    rungs = S.default_rungs(200, 3)
    out = S.successive_halving(configs, sf.evaluate, rungs, S.Constraints(min_quality=0.99))
    _, opt = sf.optimum(configs, min_quality=0.99)
    assert out.best is not None
    assert Y.true_energy(out.best.config) <= 1.05 * opt
    assert out.cost_s <= 0.30 * sf.full_cost(configs, rungs[-1])
    assert all(t.quality >= 0.99 for t in out.final)  # the gate was applied before promotion


@pytest.mark.parametrize(("sampler", "seed"), [("tpe", 0), ("tpe", 1), ("nsga2", 0)])
def test_optuna_finds_optimum_at_low_cost(sampler: str, seed: int) -> None:
    sf = Y.Surface(seed=seed)
    knobs = Y.large_knobs()
    configs = Y.space(knobs)
    rungs = S.default_rungs(200, 3)
    out = S.optuna_search(knobs, sf.evaluate, rungs, 300, S.Constraints(min_quality=0.99), seed=seed, sampler=sampler)
    _, opt = sf.optimum(configs, min_quality=0.99)
    assert out.best is not None
    assert Y.true_energy(out.best.config) <= 1.05 * opt
    assert out.cost_s <= 0.30 * sf.full_cost(configs, rungs[-1])
    assert out.space_size == len(configs)


def test_exhaustive_is_the_reference() -> None:
    sf = Y.Surface(seed=0, noise=0.0)
    configs = Y.space(Y.small_knobs())
    out = S.exhaustive(configs, sf.evaluate, S.Fidelity("full", 50, 1))
    _, opt = sf.optimum(configs, min_quality=None)
    assert len(out.trials) == len(configs)
    assert out.best.j_per_query == pytest.approx(opt)


def test_latency_limit_respected() -> None:
    sf = Y.Surface(seed=0)
    configs = Y.space(Y.small_knobs())
    cons = S.Constraints(min_quality=0.99, max_p95_ms=4.0)
    out = S.successive_halving(configs, sf.evaluate, S.default_rungs(200, 3), cons)
    assert out.best is not None and out.best.p95_ms <= 4.0
    _, opt = sf.optimum(configs, 0.99, 4.0)
    assert Y.true_energy(out.best.config) <= 1.10 * opt


def test_failing_configuration_is_recorded_and_skipped() -> None:
    sf = Y.Surface(seed=0)

    def evaluate(c, fid):
        if c["engine"] == "ort":
            raise RuntimeError("unsupported op: FancyAttention")
        return sf.evaluate(c, fid)

    configs = Y.space(Y.small_knobs())
    out = S.successive_halving(configs, evaluate, S.default_rungs(200, 3), S.Constraints(min_quality=0.99))
    failed = [t for t in out.trials if not t.ok]
    assert failed and all("unsupported op" in t.why for t in failed)
    assert out.best is not None and out.best.config["engine"] != "ort"


def test_pareto_front() -> None:
    a = S.Trial({"k": 1}, "f", j_per_query=1.0, quality=0.99, p95_ms=10)
    b = S.Trial({"k": 2}, "f", j_per_query=2.0, quality=0.999, p95_ms=5)
    c = S.Trial({"k": 3}, "f", j_per_query=2.5, quality=0.98, p95_ms=12)  # dominated by a
    d = S.Trial({"k": 4}, "f", ok=False, why="gate")
    front = S.pareto([a, b, c, d])
    assert front == [a, b]
    assert S.Constraints(min_quality=0.995).violation(a).startswith("quality")
    assert S.Constraints(max_p95_ms=8).violation(a).startswith("p95")
    assert S.Constraints(max_p95_ms=8).violation(a, slack=1.25) == ""


def test_import_stays_light() -> None:
    """``import wattlens.optimize`` (and the CLI module) must not import torch, numpy or optuna."""
    import subprocess
    import sys

    code = (
        "import sys, wattlens.optimize, wattlens.optimize.search, wattlens.optimize.space, "
        "wattlens.cli.optimize; heavy = [m for m in ('torch', 'numpy', 'optuna', 'transformers', "
        "'onnxruntime') if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_rung_measured_at_once_chooses_what_one_at_a_time_chooses() -> None:
    """``evaluate_many`` (optimize --ray: a rung's trials as parallel tasks) is called once per rung with that
    rung's survivors, and the search promotes and recommends exactly as with one evaluate call per trial."""
    configs = Y.space(Y.small_knobs())
    rungs = S.default_rungs(200, 3)
    one_by_one = S.successive_halving(configs, Y.Surface(seed=3, noise=0.0).evaluate, rungs, S.Constraints())
    surface, calls = Y.Surface(seed=3, noise=0.0), []

    def many(batch: list, fid: S.Fidelity) -> list:
        calls.append((fid.name, len(batch)))
        return [surface.evaluate(c, fid) for c in batch]

    def never(config: object, fid: object) -> None:
        raise AssertionError("with evaluate_many, no trial is evaluated one at a time")

    at_once = S.successive_halving(configs, never, rungs, S.Constraints(), evaluate_many=many)
    assert [name for name, _ in calls] == [f.name for f in rungs] and calls[0][1] == len(configs)
    assert at_once.best is not None and one_by_one.best is not None
    assert at_once.best.config == one_by_one.best.config
    assert [t.config for t in at_once.trials] == [t.config for t in one_by_one.trials]
