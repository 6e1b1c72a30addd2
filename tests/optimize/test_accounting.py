"""Per-configuration energy accounting: the memory term is charged for each configuration's OWN deployment footprint,
never for the search process's RSS (which holds every variant at once); and the baseline's call path."""

from __future__ import annotations

import dataclasses

import pytest

from wattlens.bench.records import WindowComponent, WindowRow
from wattlens.meters.estimator import MEMORY_W_PER_GB
from wattlens.optimize import accounting as A
from wattlens.optimize import engine as E
from wattlens.optimize.results import OptimizePoint, RoundAccount

W = MEMORY_W_PER_GB[1]


def _windows(cpu_j: float, rss_mb: float, seconds: float = 2.0, measured_dram: bool = False) -> list[WindowRow]:
    """Two windows as the meter reports them: CPU term + memory term = W/GB x RSS x wall time, the memory
    component carrying the RSS and W/GB it charged (the estimator) or not (a measured DRAM counter)."""
    mem_j = W * rss_mb / 1024.0 * seconds / 2
    mem = (
        WindowComponent("memory", energy_j=mem_j, source="measured", method="rapl:dram")
        if measured_dram
        else WindowComponent(
            "memory", energy_j=mem_j, source="estimated", method="cpu-time-model", rss_mb=rss_mb, w_per_gb=W
        )
    )
    win = WindowRow(duration_s=seconds / 2, queries=50, components=(WindowComponent("cpu", energy_j=cpu_j / 2), mem))
    return [win, win]


def _j(windows: list[WindowRow], queries: int = 100) -> float:
    return sum(c.energy_j or 0.0 for w in windows for c in w.components) / queries


def test_meter_rss_comes_from_the_memory_component() -> None:
    split = A.split_components(_windows(10.0, 1660.0), 100)
    assert split.meter_rss_mb == pytest.approx(1660.0)
    assert split.meter_w_per_gb == pytest.approx(W)  # the component's own W/GB, not a re-declared constant
    assert split.rescalable and split.memory_j_per_gb == pytest.approx(W * 2.0 / 100)
    assert split.cpu_j_per_query == pytest.approx(0.1)


@pytest.mark.parametrize("search_rss_mb", [400.0, 1660.0, 6000.0])
def test_search_process_rss_does_not_leak_into_per_config_energy(search_rss_mb: float) -> None:
    """Same configuration, same CPU work, same footprint: the J per query must not depend on how much the
    search process happened to hold (other variants, caches)."""
    wins = _windows(10.0, search_rss_mb)
    j, _ = A.charge_footprint(_j(wins), A.split_components(wins, 100), 330.0)
    expected = (10.0 + W * 330.0 / 1024.0 * 2.0) / 100
    assert j == pytest.approx(expected, rel=1e-9)


def test_measured_dram_energy_is_not_rescaled() -> None:
    wins = _windows(10.0, 1660.0, measured_dram=True)
    split = A.split_components(wins, 100)
    j, delta = A.charge_footprint(_j(wins), split, 330.0)
    assert not split.rescalable and j == _j(wins) and delta == 0.0
    assert split.meter_w_per_gb is None  # a measured DRAM counter has no W/GB


def test_the_accounting_note_states_the_meters_own_w_per_gb() -> None:
    p = _point(cpu=0.02, mem_search=0.004, rss=1660.0, est_fp=500.0, deploy=None)
    first = A.assumptions(p, dataclasses.replace(p, meter_w_per_gb=0.5), None)[0]
    assert "(0.5 W/GB x RSS x wall time)" in first
    assert "(the meter's W/GB x RSS x wall time)" in A.assumptions(p, p, None)[0]  # unknown: no figure invented


def _point(cpu: float, mem_search: float, rss: float, est_fp: float, deploy: float | None) -> OptimizePoint:
    """A confirmed point as the confirmation leaves it: J charged for the per-trial estimate ``est_fp``."""
    per_gb = mem_search / rss * 1024.0  # what one GB resident cost per query in these rounds
    runs = [cpu + mem_search * est_fp / rss] * 3
    return OptimizePoint(
        config={"engine": "torch"},
        label="torch",
        j_per_query=runs[0],
        j_per_query_runs=tuple(runs),
        j_per_query_low=runs[0] * 0.9,
        j_per_query_high=runs[0] * 1.1,
        j_per_query_cpu=cpu,
        j_per_query_memory=mem_search,
        meter_rss_mb=rss,
        j_per_query_search_process=cpu + mem_search,
        memory_footprint_mb=est_fp,
        memory_footprint_basis="per-trial estimate",
        deploy_rss_mb=deploy,
        accounts=(RoundAccount(cpu + mem_search, mem_search, per_gb, True),) * 3,
    )


def test_fresh_process_footprint_sets_the_primary_saving_factor() -> None:
    base = A.deployed(_point(cpu=0.020, mem_search=0.004, rss=1660.0, est_fp=500.0, deploy=457.0))
    rec = A.deployed(_point(cpu=0.002, mem_search=0.0008, rss=1660.0, est_fp=360.0, deploy=330.0))
    factors = A.saving_factors(base, rec, None)
    jb = 0.020 + 0.004 * 457.0 / 1660.0
    jr = 0.002 + 0.0008 * 330.0 / 1660.0
    assert base.j_per_query == pytest.approx(jb) and rec.j_per_query == pytest.approx(jr)
    assert rec.j_per_query_low == pytest.approx(jr - 0.1 * (0.002 + 0.0008 * 360.0 / 1660.0))  # bounds moved too
    assert factors.primary == pytest.approx(jb / jr)
    assert factors.search_process == pytest.approx(0.024 / 0.0028)
    assert factors.primary > factors.search_process  # the search artefact compressed it
    assert rec.memory_footprint_basis.startswith("fresh-process") and rec.memory_footprint_mb == 330.0
    assert rec.memory_footprint_estimate_mb == 360.0  # what the search charged stays visible
    notes = A.assumptions(base, rec, None)
    assert any("fresh-process" in a for a in notes)


def test_a_point_without_a_footprint_model_keeps_its_measured_energy() -> None:
    p = _point(cpu=0.02, mem_search=0.004, rss=1660.0, est_fp=500.0, deploy=457.0)
    measured = OptimizePoint(**{**p.__dict__, "accounts": (RoundAccount(0.024, 0.004, None, False),) * 3})
    assert A.deployed(measured) == measured


@pytest.mark.slow
def test_run_accounts_each_config_for_its_own_footprint(tiny_dir, tmp_path) -> None:
    """End to end, with a 300 MB ballast held by the search process: it shows in the meter's RSS, and in the
    search-process figure, but not in the per-configuration J per query."""
    import numpy as np

    ballast = np.ones(300 * 2**20 // 8)  # touched: resident
    req = E.OptimizeRequest(
        model=tiny_dir,
        task="sentence-similarity",
        mode="online",
        min_quality=0.99,
        queries=16,
        repeats=2,
        quality_inputs=16,
        confirm_rounds=1,
        store_url=str(tmp_path / "a.sqlite"),
        batches=[1],
        threads=[1],
        transforms=["onnxruntime", "threads", "batching"],
        deploy_check=True,
    )
    result = E.optimize(req)
    del ballast
    res = result.to_dict()
    for role in ("baseline", "recommended"):
        p = res[role]
        assert p["memory_footprint_basis"].startswith("fresh-process"), p["memory_footprint_basis"]
        assert p["memory_footprint_mb"] == pytest.approx(p["deploy_rss_mb"])
        assert p["meter_rss_mb"] > p["deploy_rss_mb"] + 250  # the ballast was charged by the meter ...
        mem_deployed = p["j_per_query"] - p["j_per_query_search_process"] + p["j_per_query_memory"]
        # ... but the per-configuration memory term is the deployment's share of it, not the search process's
        assert mem_deployed == pytest.approx(p["j_per_query_memory"] * p["deploy_rss_mb"] / p["meter_rss_mb"], rel=0.05)
        assert p["j_per_query"] < p["j_per_query_search_process"]
        assert "_acct" not in p
    assert res["saving_factor"] == pytest.approx(res["baseline"]["j_per_query"] / res["recommended"]["j_per_query"])
    assert res["saving_factor_search_process"] > 0 and res["assumptions"]
    assert res["baseline"]["config"]["path"] == "transformers"  # no modules.json: not a sentence-transformers model


@pytest.fixture(scope="module")
def st_dir(tiny_dir, tmp_path_factory) -> str:
    st = pytest.importorskip("sentence_transformers")
    from sentence_transformers import models as stm

    d = str(tmp_path_factory.mktemp("tiny-st"))
    mods = [stm.Transformer(tiny_dir), stm.Pooling(32, "mean"), stm.Normalize()]
    st.SentenceTransformer(modules=mods, device="cpu").save(d)
    return d


@pytest.mark.slow
def test_baseline_uses_the_library_call_path(st_dir, tmp_path, texts) -> None:
    """A sentence-transformers model is served by its users with ``SentenceTransformer(path).encode``: that is the
    baseline (labelled), its outputs match the hand-written path, and its artefact loads in a fresh process."""
    import numpy as np

    from wattlens.optimize import models as M
    from wattlens.optimize import space as SP
    from wattlens.optimize.artefact import deploy_check, save_artefact
    from wattlens.optimize.variants import VariantBank, full_config

    req = E.OptimizeRequest(model=st_dir, store_url=str(tmp_path / "s.sqlite"))
    bank = VariantBank(req, str(tmp_path))
    cfg = E.baseline_config(req, bank, default_threads=1)
    assert cfg["path"] == M.ST_PATH and cfg["batch"] == 1 and cfg["precision"] == "fp32"
    assert "sentence-transformers" in SP.describe(cfg)
    a = np.asarray(bank.st_fn(1)(texts[:6]))
    b = np.asarray(M.make_fn(bank.variant(bank.base_spec()), 1)(texts[:6]))
    assert (a * b).sum(1).min() > 0.999
    path = save_artefact(bank, full_config(cfg), str(tmp_path / "art"))
    chk = deploy_check(path, texts[:4])
    assert chk["ok"] and chk["peak_rss_mb"] > 0, chk


def test_without_sentence_transformers_falls_back(st_dir, monkeypatch) -> None:
    import builtins

    from wattlens.optimize import models as M

    real = builtins.__import__

    def no_st(name, *a, **k):
        if name.startswith("sentence_transformers"):
            raise ImportError("not installed")
        return real(name, *a, **k)

    base = M.load_base(st_dir, "sentence-similarity")
    assert M.st_available(base)
    monkeypatch.setattr(builtins, "__import__", no_st)
    assert not M.st_available(base)
