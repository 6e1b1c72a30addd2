"""The TrainingMeter both callbacks share: windows, step cadence, rank roles, the store record, no raising."""

from __future__ import annotations

import logging

import pytest

from wattlens.integrations.errors import IntegrationError
from wattlens.integrations.training import CALIBRATION_STEPS, TrainingMeter, merge_measurements
from wattlens.store import open_store
from wattlens.tracking.ranks import RankInfo, detect_rank


def _busy(n: int = 20_000) -> int:
    return sum(i * i for i in range(n))


def _meter(**kw) -> TrainingMeter:
    kw.setdefault("sources", ["estimator"])
    kw.setdefault("db", False)
    return TrainingMeter(framework="test", **kw)


def _train(meter: TrainingMeter, steps: int, work: int = 20_000, epochs: int = 1) -> dict[str, float]:
    meter.start({"model": "demo", "max_steps": steps * epochs})
    logs: dict[str, float] = {}
    for epoch in range(epochs):
        meter.epoch_begin(epoch)
        for step in range(steps):
            meter.step_begin(step)
            _busy(work)
            meter.step_end(step)
        meter.epoch_end()
        logs = meter.log_metrics(step=steps * (epoch + 1))
    return logs


def test_windows_are_logged_with_their_interval():
    meter = _meter(step_every=1)
    logs = _train(meter, steps=4)
    for kind in ("train", "step", "epoch"):
        j, lo, hi = logs[f"energy/{kind}_j"], logs[f"energy/{kind}_low_j"], logs[f"energy/{kind}_high_j"]
        assert 0 < lo <= j <= hi, kind
        assert logs[f"energy/{kind}_co2e_g"] > 0 and logs[f"energy/{kind}_power_w"] > 0
    meter.eval_begin()
    _busy()
    meter.eval_end()
    final = meter.train_end()
    assert final["energy/eval_j"] > 0 and final["energy/train_j"] >= logs["energy/train_j"]
    assert meter.finish({"global_step": 4}) is None  # db=False
    assert meter.record["kind"] == "training" and meter.record["steps"]["windows"] == 4
    assert meter.record["training"] == {"model": "demo", "max_steps": 4, "global_step": 4}


def test_auto_cadence_keeps_the_callback_cost_within_budget():
    """Empty steps: the window costs more than 0.5 % of a step, so auto meters one step in N > 1."""
    meter = _meter()
    _train(meter, steps=CALIBRATION_STEPS + 40, work=0)
    assert meter.step_every > 1
    cost, step = meter.calibration
    assert cost / (meter.step_every * step) <= 0.0051  # the rule the cadence follows
    assert cost / ((meter.step_every - 1) * step) > 0.005  # and N is the smallest that keeps it
    metered = meter._steps_total.count
    assert metered < CALIBRATION_STEPS + 40  # later steps were skipped, not metered
    # long steps: every step is metered
    slow = _meter()
    _train(slow, steps=CALIBRATION_STEPS + 2, work=1_000_000)  # ~0.1 s steps: the window is < 0.1 % of one
    assert slow.step_every == 1
    slow.finish({})
    meter.finish({})


def test_cadence_follows_steps_that_get_longer():
    """N is chosen again from every block of metered steps: 100 us of our CPU per 1 ms step -> 1 in 20;
    the same cost per 100 ms step -> every step."""
    from wattlens.integrations.training import RECALIBRATE_STEPS

    meter = _meter()
    for _ in range(CALIBRATION_STEPS + 1):
        meter._calibrate(100e-6, 1e-3)
    assert meter.step_every == 20 and meter.calibration == (100e-6, 1e-3)
    for _ in range(RECALIBRATE_STEPS):
        meter._calibrate(100e-6, 0.1)
    assert meter.step_every == 1


def test_fixed_and_disabled_step_windows():
    every3 = _meter(step_every=3)
    _train(every3, steps=9)
    assert every3._steps_total.count == 3
    none = _meter(step_every=0)
    logs = _train(none, steps=3)
    assert not any(k.startswith("energy/step") for k in logs) and "energy/train_j" in logs
    every3.finish({})
    none.finish({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step_every": -1}, "allowed are 'auto'"),
        ({"step_every": "often"}, "allowed are 'auto'"),
        ({"attribution": "node"}, "allowed are machine, process"),
        ({"db": 3}, "allowed are None"),
        ({"sources": []}, "source names"),
        ({"cpu_tdp_w": -5}, "watts"),
    ],
)
def test_bad_configuration_names_what_is_allowed(kwargs, message):
    with pytest.raises(IntegrationError, match=message):
        _meter(**kwargs)


def test_bad_location_fails_at_construction():
    from wattlens.carbon import CarbonError

    with pytest.raises(CarbonError, match="Allowed"):
        _meter(country="Atlantis")


def test_non_zero_local_rank_neither_meters_nor_logs(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    meter = _meter()
    logs = _train(meter, steps=3)
    assert logs == {} and not meter.metering and meter._mon is None
    assert meter.finish({}) is None and meter.record is None


def test_local_zero_of_another_node_meters_and_stores_but_does_not_log(monkeypatch, tmp_path):
    env = {"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "job7"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    db = str(tmp_path / "w.sqlite")
    meter = _meter(db=db)
    logs = _train(meter, steps=3)
    assert logs == {} and meter.metering
    run_id = meter.finish({"global_step": 3})
    assert run_id == "training-job7"  # every node of the job writes into one run
    with open_store(db) as st:
        cells = st.cells(run_id)
    assert [c["cell_key"] for c in cells] == ["train/node-1"]
    assert cells[0]["result"]["rank"]["rank"] == 2 and "other nodes not included" in cells[0]["result"]["scope"]


def test_store_record_has_the_training_facts(tmp_path):
    db = str(tmp_path / "w.sqlite")
    meter = _meter(db=db, country="FR")
    _train(meter, steps=3, epochs=2)
    run_id = meter.finish({"global_step": 6, "tokens_seen": 600})
    with open_store(db) as st:
        run = st.get_run(run_id)
        (cell,) = st.cells(run_id)
    assert run["kind"] == "training" and run["status"] == "done" and run["config"]["max_steps"] == 6
    rec = cell["result"]
    assert rec["training"]["tokens_seen"] == 600 and rec["location"]["key"] == "FRA"
    assert len(rec["epochs"]) == 2 and rec["low_j"] <= rec["energy_j"] <= rec["high_j"]
    assert rec["source"] == "estimated" and rec["components"]


def test_a_meter_failure_never_reaches_the_training_loop(caplog):
    meter = _meter(step_every=1)
    meter.start({})

    def broken(name):
        raise RuntimeError("sensor gone")

    meter._mon.end = broken
    with caplog.at_level(logging.WARNING, logger="wattlens.integrations.training"):
        meter.step_begin(0)
        meter.step_end(0)  # raises inside: caught, metering stops
        meter.step_begin(1)
        meter.step_end(1)
        assert meter.log_metrics(2) == {}
        meter.finish({})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "sensor gone" in warnings[0].getMessage()
    assert not meter.metering


def test_interrupted_training_is_kept_at_exit(tmp_path):
    """The interpreter exits mid-training (a crash): the at-exit hook stores what was measured as interrupted."""
    db = str(tmp_path / "w.sqlite")
    meter = _meter(db=db)
    _train(meter, steps=2)
    meter._at_exit()  # what atexit runs
    with open_store(db) as st:
        (run,) = st.list_runs(kind="training")
        (cell,) = st.cells(run["run_id"])
    assert run["status"] == "interrupted" and cell["status"] == "interrupted" and cell["result"]["energy_j"] > 0


def test_merge_keeps_unavailable_components_only_where_nothing_was_read():
    from wattlens.meters.base import ComponentEnergy
    from wattlens.tracking.result import Measurement

    a = Measurement(
        "a",
        0.0,
        1.0,
        [ComponentEnergy.unavailable("gpu", "nvml", "lost"), ComponentEnergy("cpu", 1.0, "measured", "rapl", 1.0, 1.0)],
    )
    b = Measurement("b", 1.0, 1.0, [ComponentEnergy("gpu", 2.0, "measured", "nvml", 2.0, 2.0)])
    m = merge_measurements("train", [a, b])
    assert m.energy_j == 3.0 and sorted(c.domain for c in m.components) == ["cpu", "gpu"]


def test_given_rank_overrides_detection():
    rank = RankInfo(1, 1, 2, 2, 0, 1, "test")
    meter = _meter(rank=rank)
    meter.start({})
    assert not meter.metering and meter.rank is rank and detect_rank({}).rank == 0


def test_an_unknown_callback_option_names_the_allowed_ones():
    from wattlens.integrations.training import meter_for

    with pytest.raises(IntegrationError, match="unknown option 'contry'; allowed: country, region"):
        meter_for("transformers", {"contry": "FR"})
    assert meter_for("transformers", {"country": "FR", "db": False}).carbon.location.key == "FRA"


def test_step_end_does_not_wait_for_a_gpu_read_in_the_background(monkeypatch):
    """NVML reads that take 4 ms (a virtualised H200) are read off the edge: step_end does not wait for them,
    and every step's energy still arrives in the logged figures."""
    import statistics
    import time

    from tests.benchmarks.standin import ClockedNvml
    from wattlens.meters.nvml import NvmlSource
    from wattlens.tracking import monitor as monitor_mod

    nv = ClockedNvml(latency_s=0.004)
    nv.nvmlInit()
    real_monitor = monitor_mod.Monitor
    monkeypatch.setattr(
        monitor_mod, "Monitor", lambda *a, **k: real_monitor([NvmlSource([0], nvml=nv, edge_reads="async")])
    )
    meter = _meter(step_every=1, sources=["nvml"])
    meter.start({"model": "demo", "max_steps": 12})
    nv.start_load(5.0)
    ends = []
    for step in range(12):
        meter.step_begin(step)
        time.sleep(0.01)
        t0 = time.perf_counter()
        meter.step_end(step)
        ends.append(time.perf_counter() - t0)
    logs = meter.log_metrics(step=12)
    meter.finish({})
    nv.nvmlShutdown()
    assert statistics.median(ends) < 0.1 * 0.004  # the end edge's reading was not waited for
    assert meter.record["steps"]["windows"] == 12
    assert logs["energy/step_j"] > 0 and logs["energy/step_low_j"] <= logs["energy/step_j"]
