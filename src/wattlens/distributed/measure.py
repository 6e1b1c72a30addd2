"""``wattlens.distributed.measure``: one window in every rank, reduced across the process group at exit.

>>> import wattlens.distributed as wd
>>> with wd.measure("train") as m:          # in each rank (here: a single process)
...     _ = sum(i * i for i in range(10_000))
>>> m.is_reporter, m.result.complete, len(m.result.ranks)
(True, True, 1)

At ``__enter__`` each rank finds its place (:func:`wattlens.tracking.ranks.detect_rank`); with an initialised
``torch.distributed`` group the ranks exchange host names and CPU sets, elect one meter per host and learn the
node's allocation (:mod:`wattlens.distributed.topology`). Each rank then opens a Monitor over exactly what it
meters. At ``__exit__`` the parts are gathered (``all_gather_object``: every rank ends up with the whole
result; ``is_reporter`` is global rank 0) and reduced (:mod:`wattlens.distributed.reduce`). Without a group each
rank keeps its own part (``result.complete`` is False for a multi-rank job) and, with ``db=``, writes it to the
store, where ``wattlens results --job`` sums the parts.

Meter failures never raise into the training code: a rank whose meter cannot be built measures nothing and says
why. The collective at exit is skipped when the block raised (another rank may never reach it).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from wattlens._logging import get_logger
from wattlens.distributed import group as pg
from wattlens.distributed.jobs import job_id_from_env, make_part, save_part
from wattlens.distributed.meter import build_monitor
from wattlens.distributed.records import DistributedResult, RankShare
from wattlens.distributed.reduce import node_shares, rank_share, reduce_ranks
from wattlens.distributed.topology import ATTRIBUTION_MACHINE, MeterPlan, local_peer, plan_for
from wattlens.tracking.ranks import detect_rank

logger = get_logger(__name__)


class DistributedMeasure:
    """The context manager :func:`measure` returns; after exit: ``result``, ``local``, ``is_reporter``, ``plan``."""

    def __init__(
        self,
        name: str = "run",
        *,
        attribution: str = ATTRIBUTION_MACHINE,
        job: str | None = None,
        db: str | None = None,
        cpu_tdp_w: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a window name must be a non-empty string, got {name!r}")
        self.name = name
        self.attribution = attribution
        self.job = job
        self.db = db
        self.cpu_tdp_w = cpu_tdp_w
        self.plan: MeterPlan | None = None
        self.local: RankShare | None = None
        self.result: DistributedResult | None = None
        self.saved_run_id: str | None = None
        self._mon: Any = None
        self._dist: Any = None

    @property
    def is_reporter(self) -> bool:
        """Whether this process should print/log the job's result (global rank 0)."""
        return self.plan is not None and self.plan.rank == 0

    # ---- enter ------------------------------------------------------------------------------------
    def __enter__(self) -> DistributedMeasure:
        rank = detect_rank()
        self._dist = pg.active_group()
        peers = None
        if self._dist is not None:
            peers = pg.gather(self._dist, local_peer(rank))  # a collective: every rank enters together
        self.plan = plan_for(rank, attribution=self.attribution, peers=peers)
        try:
            self._mon = build_monitor(self.plan, self.cpu_tdp_w)
            self._mon.begin(self.name)
        except Exception as exc:  # the meter never breaks the training code
            logger.warning("rank %d: no energy meter (%s: %s)", self.plan.rank, type(exc).__name__, exc)
            self._close()
        return self

    # ---- exit -------------------------------------------------------------------------------------
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        plan = self.plan
        assert plan is not None
        self.local = self._local_share(plan)
        parts = [self.local]
        reduction = "this process only (no torch.distributed process group)"
        dist = self._dist or pg.active_group()  # a group may have been initialised inside the block
        if dist is not None and exc_type is None:
            try:
                parts = [p for p in pg.gather(dist, self.local) if p is not None]
                reduction = pg.describe(dist)
            except Exception as err:  # a failed collective: keep this rank's part, say so
                logger.warning("could not gather the ranks' energy (%s: %s)", type(err).__name__, err)
                reduction = f"this process only (gathering failed: {type(err).__name__}: {err})"
        elif dist is not None:
            reduction = f"this process only (the block raised {exc_type.__name__ if exc_type else ''}: not gathered)"
        job_id = self.job or job_id_from_env()
        self.result = reduce_ranks(
            self.name,
            parts,
            world_size=plan.world_size,
            launcher=plan.launcher,
            reduction=reduction,
            job_id=job_id,
        )
        if self.db is not None:
            self._save(plan, parts, job_id, gathered=len(parts) > 1 or plan.world_size == 1)
        # returns None: never swallows the user's exception

    def _local_share(self, plan: MeterPlan) -> RankShare:
        from wattlens.tracking.result import Measurement

        m = None
        if self._mon is not None:
            try:
                m = self._mon.end(self.name)
            except Exception as exc:  # never raise from the meter
                logger.warning("rank %d: the energy window failed (%s)", plan.rank, exc)
        self._close()
        if m is None:
            m = Measurement(self.name, 0.0, 0.0, [], plan.attribution, None, ["no meter on this rank"])
        return rank_share(plan, m)

    def _close(self) -> None:
        mon, self._mon = self._mon, None
        if mon is not None:
            try:
                mon.close()
            except Exception:  # closing is best effort
                pass

    def _save(self, plan: MeterPlan, parts: list[RankShare], job_id: str | None, gathered: bool) -> None:
        """Each node's meter writes its node (ranks gathered), or each rank its own part (no group)."""
        from wattlens.store import open_store

        job = job_id or f"local-{os.getpid()}"
        if gathered and not plan.meters_node:
            return  # the node's meter writes the node
        try:
            store = open_store(self.db)
        except Exception as exc:
            logger.warning("the energy record could not be stored (%s): %s", type(exc).__name__, exc)
            return
        try:
            common = dict(
                job_id=job,
                name=self.name,
                node=plan.node_key,
                world_size=plan.world_size,
                nodes_expected=plan.nodes,
                launcher=plan.launcher,
                rank=plan.rank,
            )
            if gathered:
                node = next((n for n in node_shares(parts) if n.node == plan.node_key), None)
                part = make_part(**common, node_share=node)  # type: ignore[arg-type]
            else:
                part = make_part(**common, rank_share=self.local)  # type: ignore[arg-type]
            self.saved_run_id = save_part(store, part)
        except Exception as exc:
            logger.warning("the energy record could not be stored (%s): %s", type(exc).__name__, exc)
        finally:
            store.close()


def measure(
    name: str = "run",
    *,
    attribution: str = ATTRIBUTION_MACHINE,
    job: str | None = None,
    db: str | None = None,
    cpu_tdp_w: float | None = None,
) -> DistributedMeasure:
    """Measure a block in every rank of a distributed job; see the module docstring.

    Args:
        name: the window's name.
        attribution: ``"machine"`` (the node-level domains metered once per node by its elected rank) or
            ``"process"`` (every rank charges its own CPU-time share).
        job: the job id for the store (default: ``TORCHELASTIC_RUN_ID`` / ``SLURM_JOB_ID`` / Open MPI's).
        db: a store to write the parts to (SQLite path or ``postgresql://``), read by ``wattlens results --job``.
        cpu_tdp_w: the CPU's TDP for the estimator (labelled user-given).
    """
    return DistributedMeasure(name, attribution=attribution, job=job, db=db, cpu_tdp_w=cpu_tdp_w)


__all__ = ["DistributedMeasure", "measure"]
