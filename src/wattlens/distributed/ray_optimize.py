"""``wattlens optimize MODEL … --ray ADDRESS|auto|local``: each rung of the search's trials as Ray tasks.

The search process screens the model variants (their quality is stored in the run), then runs successive halving;
each rung's configurations are submitted at once, one Ray task per trial, and the survivors chosen from what comes
back. A worker builds what it measures with once per run and keeps it (:func:`wattlens.optimize.engine.
worker_measurer`: the same base model, held-aside split and inputs as the search process — same request, same
seed — the run's stored variant qualities, its own meter), measures the trial, and stores it in the run the moment
it finishes, with where it ran (``extra.process``: ``ray:<host>:<pid>:<node>``). The confirmation of the baseline
and the finalists (interleaved rounds) and the artefact stay in the search process, on one machine, so that the
saving factor compares like with like.

Placement follows the meter's boundary, as ``bench --ray`` does: in ``machine`` attribution the CPU package is
inside every trial's figure, so trials run one per node at a time (a STRICT_SPREAD placement group of one CPU per
node); in ``process`` attribution (optimize's default: CPU-time shares) trials may share a node, each asking for its
configuration's threads. Resumable: trials already stored are not submitted again. A worker that dies fails its task;
the trial is submitted once more, then recorded as failed with the reason and the search goes on. The model must be
readable at the same path on every node. SQLite is refused for a multi-node cluster.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from wattlens._logging import get_logger
from wattlens.distributed.ray_sweep import MAX_ATTEMPTS, WAIT_POLL_S, check_store, connect, ray_module
from wattlens.optimize.results import Config, Fidelity, Trial, config_int

logger = get_logger(__name__)

_MEASURERS: dict[tuple[str, str], Any] = {}  # (store URL, run id) -> this worker's TrialMeasurer


def trial_task(req: Any, db_url: str, run_id: str, config: Config, fid: Fidelity) -> Trial:
    """One trial on a Ray worker: measured, stored in the run, returned (with where it ran)."""
    from wattlens.optimize.engine import serial_tokenizers, worker_measurer
    from wattlens.store import open_store

    key = (db_url, run_id)
    measurer = _MEASURERS.get(key)
    if measurer is None:
        measurer = _MEASURERS[key] = worker_measurer(req, open_store(db_url), run_id)
    try:
        node = str(ray_module().get_runtime_context().get_node_id())[:12]
    except Exception:  # informative only
        node = ""
    with serial_tokenizers():  # as in the search process, the worker's environment given back afterwards
        trial: Trial = measurer.evaluate(config, fid, where=f"ray:{socket.gethostname()}:{os.getpid()}:{node}")
    return trial


class RayTrials:
    """The search's ``remote``: a rung's configurations as Ray tasks on the cluster at ``address``."""

    def __init__(self, req: Any, db_url: str, address: str = "auto") -> None:
        self.req = req
        self.db_url = db_url
        self.cluster = connect(address)
        check_store(db_url, self.cluster)
        self._ray = ray_module()
        self._remote = self._ray.remote(trial_task)
        self._pg: Any = None
        if req.attribution == "machine":
            from wattlens.distributed.ray_sweep import _placement

            self._pg = _placement(self._ray, self.cluster, exclusive=True)

    def _options(self, config: Config) -> dict[str, Any]:
        opts: dict[str, Any] = {"max_retries": 0, "num_gpus": 1.0 if self.req.device == "cuda" else 0.0}
        if self._pg is not None:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            opts["num_cpus"] = 1
            opts["scheduling_strategy"] = PlacementGroupSchedulingStrategy(self._pg, placement_group_bundle_index=-1)
        else:
            opts["num_cpus"] = max(1, config_int(config, "threads", 1))
        return opts

    def __call__(self, run_id: str, configs: list[Config], fid: Fidelity) -> list[Trial]:
        ray = self._ray
        results: dict[int, Trial] = {}
        in_flight: dict[Any, tuple[int, int, str | None]] = {}

        def submit(i: int, attempt: int, previous: str | None) -> None:
            ref = self._remote.options(**self._options(configs[i])).remote(
                self.req, self.db_url, run_id, configs[i], fid
            )
            in_flight[ref] = (i, attempt, previous)

        for i in range(len(configs)):
            submit(i, 1, None)
        try:
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_POLL_S)
                for ref in ready:
                    i, attempt, previous = in_flight.pop(ref)
                    try:
                        results[i] = ray.get(ref)
                    except Exception as exc:  # the worker died or the task raised: once more, then a failed trial
                        why = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
                        if attempt < MAX_ATTEMPTS:
                            logger.warning("trial %s: attempt %d lost (%s); submitting it again", i, attempt, why)
                            submit(i, attempt + 1, why)
                            continue
                        lost = f"Ray task failed after {attempt} attempts: {previous}; then {why}"
                        results[i] = Trial(dict(configs[i]), fid.name, ok=False, why=lost)
        except KeyboardInterrupt:
            for ref in in_flight:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # best effort: the run is resumable either way
                    pass
            raise
        return [results[i] for i in range(len(configs))]

    def close(self) -> None:
        if self._pg is not None:
            try:
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(self._pg)
            except Exception:  # the cluster releases it with the driver anyway
                pass
