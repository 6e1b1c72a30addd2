"""OMP_WAIT_POLICY must be set before torch starts its thread pool: such trials run in a worker process."""

from __future__ import annotations

import pytest

from wattlens.optimize.request import OptimizeRequest
from wattlens.optimize.search import Fidelity
from wattlens.optimize.worker import WorkerClient


@pytest.mark.slow
def test_worker_measures_with_its_environment(tiny_dir, texts) -> None:
    req = OptimizeRequest(model=tiny_dir, task="sentence-similarity", gen_tokens=4)
    w = WorkerClient({"OMP_WAIT_POLICY": "PASSIVE"}, req)
    try:
        cfg = {
            "model": tiny_dir,
            "engine": "torch",
            "precision": "fp32",
            "quant": "none",
            "prune": "none",
            "compile": False,
            "threads": 2,
            "wait": "passive",
            "batch": 2,
            "sort": False,
        }
        res = w.measure(cfg, Fidelity("probe", 8, 1, 1), texts[:8])
        assert res.error is None, res
        assert res.j_per_query > 0 and res.p95_ms > 0
        assert res.extra.omp_wait_policy == "PASSIVE"
        bad = w.measure({**cfg, "prune": "struct-xx"}, Fidelity("probe", 8, 1, 1), texts[:8])
        assert bad.error and "struct-xx" in bad.error  # a failing trial is reported, the worker keeps serving
        assert w.measure(cfg, Fidelity("probe", 8, 1, 1), texts[:8]).error is None
    finally:
        w.close()
    assert w.proc.poll() is not None  # nothing left running
