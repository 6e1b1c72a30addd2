"""The whole optimize run on a tiny model: JSON contract, stored result, gate, resume, artefact, CLI."""

from __future__ import annotations

import json

import pytest

from wattlens.optimize import engine as E
from wattlens.optimize import search as S
from wattlens.optimize.results import OptimizeResult
from wattlens.optimize.trials import ProbePruner, TrialMeasurer
from wattlens.optimize.variants import VariantBank

pytestmark = pytest.mark.slow  # every test here runs real models or a whole run (> 2 s)

CONTRACT_POINT = {"config", "j_per_query", "quality", "p50_ms", "p95_ms", "peak_rss_mb"}


def _req(tiny_dir: str, db: str, **kw) -> E.OptimizeRequest:
    base = dict(
        model=tiny_dir,
        task="sentence-similarity",
        mode="online",
        min_quality=0.99,
        queries=16,
        repeats=2,
        quality_inputs=16,
        confirm_rounds=1,
        store_url=db,
        batches=[1, 2],
        threads=[1],
        transforms=["onnxruntime", "ort-int8-dynamic", "threads", "batching"],
        deploy_check=False,
    )
    base.update(kw)
    return E.OptimizeRequest(**base)


@pytest.fixture(scope="module")
def run(tiny_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("opt")
    db = str(d / "o.sqlite")
    req = _req(tiny_dir, db, artefact_dir=str(d / "art"), deploy_check=True)
    return E.optimize(req), db, d


def test_json_contract(run) -> None:
    result, _, _ = run
    res = json.loads(json.dumps(result.to_dict()))  # serialisable as is
    assert OptimizeResult.from_dict(res) == result  # the stored form reads back to the same record
    for role in ("baseline", "recommended"):
        assert CONTRACT_POINT <= set(res[role]), role
        assert res[role]["j_per_query"] > 0
    assert res["saving_factor"] == pytest.approx(res["baseline"]["j_per_query"] / res["recommended"]["j_per_query"])
    assert isinstance(res["pareto"], list) and res["pareto"]
    assert all(CONTRACT_POINT <= set(p) for p in res["pareto"])
    assert isinstance(res["rejected"], list)
    assert all("why" in r and "config" in r for r in res["rejected"])
    assert {"trials", "duration_s", "energy_j", "exhaustive_trials"} <= set(res["search"])
    assert res["search"]["energy_j"] > 0
    assert "payback_queries" in res
    assert res["baseline"]["config"]["engine"] == "torch" and res["baseline"]["config"]["batch"] == 1


def test_hidden_costs_and_savings(run) -> None:
    result, _, _ = run
    res = result.to_dict()
    rec = res["recommended"]
    for k in ("throughput_qps", "model_size_mb", "wh_per_1000", "hidden_costs"):
        assert rec[k] is not None, k
    hidden = result.recommended.hidden_costs
    assert hidden.p95_ratio > 0 and hidden.peak_rss_ratio > 0 and hidden.model_size_ratio > 0
    assert hidden.quality_delta == pytest.approx(result.recommended.quality - result.baseline.quality)
    # the world grid is always resolvable: the yearly projection must be there, not an error
    assert result.savings.per_year_error is None and "per_year_error" not in res["savings"]
    per_year = res["savings_per_year"]
    assert per_year["kwh_saved"] == pytest.approx(per_year["kwh_baseline"] - per_year["kwh_recommended"])
    assert per_year["kwh_saved"] > 0 and per_year["tco2e_saved"] > 0 and "gCO2e/kWh" in per_year["grid"]
    assert res["energy_boundary"]["attribution"] == "process"


def test_result_stored_for_report(run) -> None:
    res, db, d = run
    stored = E.load_result(res.run_id, db)
    assert stored == res  # the store keeps the whole typed result
    from wattlens.store import open_store

    st = open_store(db)
    assert st.get_run(res.run_id)["status"] == "done"
    keys = st.done_keys(res.run_id)
    assert "result" in keys and any(k.startswith("trial:") for k in keys)
    try:
        from wattlens.report import write_optimize_html
    except ImportError:
        pytest.skip("report layer not available")
    out = write_optimize_html(stored, str(d / "opt.html"), title="tiny")
    assert "recommended" in open(out).read().lower()


def test_artefact_loads_and_matches(run, texts) -> None:
    import numpy as np

    res, _, _ = run
    art = res.artefact
    assert art.path and "wattlens-optimize.json" in art.files
    assert art.deploy_check.ok, art.deploy_check
    assert res.recommended.deploy_rss_mb > 0
    from wattlens.optimize.artefact import load_artefact

    m = load_artefact(art.path)
    out = m(texts[:5])
    assert len(out) == 5 and np.isfinite(np.asarray(out)).all()
    assert m.config["threads"] == res.recommended.config["threads"]


def test_broken_transform_rejected_by_gate(tiny_dir, tmp_path, monkeypatch) -> None:
    """A transform that silently damages the model is caught by the measured quality, with its numbers."""
    import torch

    from wattlens.optimize import transforms as T

    real_cast = T.cast

    def broken_cast(module, precision):
        with torch.no_grad():
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.5)
        return real_cast(module, precision)

    monkeypatch.setattr(T, "cast", broken_cast)
    bank = VariantBank(_req(tiny_dir, str(tmp_path / "g.sqlite")), str(tmp_path))
    bank.hold_aside()
    spec = bank.base_spec()
    passed = bank.screen([spec, {**spec, "precision": "bf16"}])
    assert passed == [spec]
    (rej,) = bank.rejections.items
    assert rej.config["precision"] == "bf16" and rej.quality < 0.99 and "quality" in rej.why
    assert rej.quality_detail.metrics["cosine_min"] <= rej.quality  # the numbers behind the verdict are kept


def test_resume_skips_done_trials(tiny_dir, tmp_path, monkeypatch) -> None:
    db = str(tmp_path / "r.sqlite")
    calls = {"n": 0}
    real = TrialMeasurer.measure

    def flaky(self, config, fid, monitor=None):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-search
        return real(self, config, fid, monitor)

    monkeypatch.setattr(TrialMeasurer, "measure", flaky)
    req = _req(tiny_dir, db)
    opt = E.Optimizer(req)
    with pytest.raises(KeyboardInterrupt):
        opt.run()
    run_id = opt.run_id
    from wattlens.store import open_store

    st = open_store(db)
    assert st.get_run(run_id)["status"] == "interrupted"
    done_before = {k for k in st.done_keys(run_id) if k.startswith("trial:")}
    assert len(done_before) == 4

    calls["n"] = -10_000  # no more interruptions
    measured: list[str] = []

    def counting(self, config, fid, monitor=None):
        measured.append(f"trial:{fid.name}:{S.config_key(config)}")
        return real(self, config, fid, monitor)

    monkeypatch.setattr(TrialMeasurer, "measure", counting)
    res = E.optimize(E.OptimizeRequest(**{**req.__dict__, "run_id": run_id}))
    assert not (done_before & set(measured))  # nothing measured twice
    assert res.search.resumed_trials >= 4
    assert res.recommended is not None and st.get_run(run_id)["status"] == "done"


def test_cli_json(tiny_dir, tmp_path, capsys) -> None:
    from wattlens.cli.main import main

    rc = main(
        [
            "optimize",
            tiny_dir,
            "--json",
            "--quiet",
            "--db",
            str(tmp_path / "c.sqlite"),
            "--queries",
            "16",
            "--repeats",
            "1",
            "--quality-inputs",
            "16",
            "--batches",
            "1",
            "--threads",
            "1",
            "--transforms",
            "onnxruntime,batching",
            "--no-deploy-check",
            "--min-quality",
            "0.99",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert {"baseline", "recommended", "saving_factor", "pareto", "rejected", "search", "payback_queries"} <= set(res)


def test_parse_duration() -> None:
    assert E.parse_duration("5m") == 300
    assert E.parse_duration("90s") == 90
    assert E.parse_duration("1h") == 3600
    assert E.parse_duration("12") == 12
    assert E.parse_duration(None) is None


def test_candidate_model_compared_by_similarity_structure(tiny_dir, tmp_path) -> None:
    """A different model has a different embedding space: it is judged on the rank agreement of pairwise
    similarities with the reference model (vectors cannot be compared)."""
    import shutil

    other = str(tmp_path / "other")
    shutil.copytree(tiny_dir, other)
    req = _req(tiny_dir, str(tmp_path / "k.sqlite"), candidates=[other], min_quality=0.0)
    bank = VariantBank(req, str(tmp_path))
    bank.hold_aside()
    assert req.models == [tiny_dir, other]
    q = bank.quality_of(bank.base_spec(other), 1, False)
    assert q.metric == "similarity_spearman"
    assert q.quality > 0.999  # an identical copy ranks every pair the same way


def test_probe_prune_skips_hopeless_configs() -> None:
    pruner = ProbePruner(factor=10.0)
    # references of 0.1-0.3 ms CPU per query: the slow config (~5 ms/query) is far beyond 10x, and the cheap one
    # stays under 1 ms even with CPU-clock granularity and a loaded machine
    for cpq in (2e-4, 1e-4):  # two probes: not enough references yet
        pruner.record(cpq)

    def slow(batch):
        return [sum(i * i for i in range(100_000)) for _ in batch]

    assert pruner.check(slow, ["a", "b"], 2, S.Fidelity("probe", 8)) == ""  # needs a few references first
    pruner.record(3e-4)
    assert pruner.best_cpu_per_query == 1e-4
    assert "pruned early" in pruner.check(slow, ["a", "b"], 2, S.Fidelity("probe", 8))
    assert pruner.check(slow, ["a", "b"], 2, S.Fidelity("short", 32)) == ""  # only the first rung
    assert pruner.check(lambda b: list(b), ["a", "b"], 2, S.Fidelity("probe", 8)) == ""  # a cheap one is measured
