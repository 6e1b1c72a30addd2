"""``wattlens bench … --ray ADDRESS|auto|local``: a suite's cells as Ray tasks, each written to the shared store.

* **One task per cell**, with its resource request: ``num_gpus=1`` for a cell on a GPU; ``num_cpus`` its threads.
  In ``machine`` attribution the CPU package is inside every cell's boundary, so cells run **one per node at a
  time** — a placement group with one ``{"CPU": 1}`` bundle per node (``STRICT_SPREAD``) that every cell task is
  scheduled into: co-located cells would otherwise share one RAPL counter. In ``process`` attribution (CPU-time
  shares) cells may share a node.
* **Workers write their cell** to the store the moment it finishes (``run_cell`` → ``save_cell`` +
  its timeline, one transaction), and mark it ``running`` (attempt, host, pid) when it starts.
* **Resumable and idempotent**: cells already ``ok``/``failed``/``invalid`` are skipped; a cell is one row keyed by
  (run, cell key), so a re-submitted cell replaces its own row, never adds one.
* **A worker that dies** (killed, out of memory, its node lost) fails its task; the driver submits the cell once
  more and records the first attempt's fate in the cell's ``warnings``; a second death stores the cell as
  ``failed`` with both reasons, and the run goes on.
* **Stores**: PostgreSQL for a multi-node cluster; SQLite is refused there (workers on other nodes cannot reach
  the file and SQLite does not take concurrent writers from several machines), and accepted on a one-node Ray.

Ray is imported only here (``wattlens[ray]``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wattlens._logging import get_logger
from wattlens.errors import WattlensError
from wattlens.records import Record, optional

logger = get_logger(__name__)

MAX_ATTEMPTS = 2  # a cell whose worker dies is submitted once more
STATUS_RUNNING = "running"
# The driver's own settings of these reach the workers (Ray workers are started by the raylets, not by the driver,
# so they would not inherit them): an offline hub stays offline on every node.
_FORWARDED_ENV = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "TOKENIZERS_PARALLELISM",
    "WATTLENS_COUNTRY",
    "WATTLENS_REGION",
    "WATTLENS_CPU_TDP_W",
    "WATTLENS_CPU_THREADS",
)
WAIT_POLL_S = 1.0  # the driver checks for finished cells (and Ctrl-C) at least this often


class RaySweepError(WattlensError, ValueError):
    """A Ray sweep that cannot run as asked (Ray missing, no cluster, a store the cluster cannot share)."""


@dataclass(frozen=True)
class ClusterInfo(Record):
    """The Ray cluster a sweep runs on."""

    address: str
    nodes: int
    cpus: float
    gpus: float


@dataclass(frozen=True)
class CellAttempt(Record):
    """Where and how a cell ran on the cluster (kept in the cell's ``info["executor"]``)."""

    executor: str
    attempt: int
    host: str
    pid: int
    node_id: str
    started_unix_s: float
    previous_error: str | None = optional()


@dataclass(frozen=True)
class CellReport(Record):
    """What a cell task returns to the driver (the cell itself is already in the store)."""

    key: str
    status: str
    line: str
    attempt: int
    host: str
    pid: int
    cell_s: float
    error: str | None = optional()


# --- the cluster ---------------------------------------------------------------------------------------------


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise RaySweepError("--ray needs Ray: pip install 'wattlens[ray]'") from None
    return ray


def connect(address: str) -> ClusterInfo:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to; ``local``: start a one-node Ray
    here). Raises :class:`RaySweepError` with the fix when there is none."""
    ray = ray_module()
    if not ray.is_initialized():
        env = {k: os.environ[k] for k in _FORWARDED_ENV if os.environ.get(k)}
        kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
        if env:
            kwargs["runtime_env"] = {"env_vars": env}
        try:
            if address == "local":
                ray.init(include_dashboard=False, **kwargs)
            else:
                ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RaySweepError(
                f"cannot join a Ray cluster at {address!r} ({type(exc).__name__}: {str(exc).splitlines()[0]}); start "
                "one with `ray start --head` (or give --ray local for a one-machine Ray)"
            ) from None
    alive = [n for n in ray.nodes() if n.get("Alive")]
    res = ray.cluster_resources()
    return ClusterInfo(address, len(alive), float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0)))


def check_store(url: str, cluster: ClusterInfo) -> None:
    """SQLite is refused for a multi-node cluster (one clear line); PostgreSQL and one-node Ray are fine."""
    if url.startswith("sqlite") and cluster.nodes > 1:
        raise RaySweepError(
            f"--ray: a {cluster.nodes}-node Ray cluster needs a shared store: SQLite cannot be written from several "
            "machines; give --db postgresql://user@host/db (SQLite is fine with --ray local or a one-node cluster)"
        )


# --- the worker side -------------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {"stores": {}, "monitors": {}, "idle": {}}


def _worker_store(url: str) -> Any:
    store = _WORKER["stores"].get(url)
    if store is None:
        from wattlens.store import open_store

        store = _WORKER["stores"][url] = open_store(url)
    return store


def _worker_monitor(attribution: str) -> Any:
    mon = _WORKER["monitors"].get(attribution)
    if mon is None:
        from wattlens.tracking import Monitor

        mon = _WORKER["monitors"][attribution] = Monitor(attribution=attribution)
    return mon


def run_cell_task(
    db_url: str,
    run_id: str,
    cell: Any,
    settings: Mapping[str, Any],
    attempt: int,
    previous_error: str | None = None,
) -> CellReport:
    """One cell on a Ray worker: mark it running, measure it (``bench.execute.run_cell``), store it. ``settings``:
    the suite's ``idle_s``, ``max_power_w`` and ``attribution``."""
    from wattlens.bench.execute import _measure_idle, run_cell, summary_line

    t0 = time.time()
    store = _worker_store(db_url)
    ray = ray_module()
    try:
        node_id = str(ray.get_runtime_context().get_node_id())
    except Exception:  # informative only
        node_id = ""
    where = CellAttempt("ray", attempt, socket.gethostname(), os.getpid(), node_id, t0, previous_error)
    store.save_cell(run_id, cell.key, STATUS_RUNNING, where)
    monitor = _worker_monitor(str(settings["attribution"]))
    idle_s = float(settings["idle_s"])
    idle = _WORKER["idle"].pop((db_url, run_id), None)  # this worker's previous cell's "after" baseline
    if idle is None:
        idle = _measure_idle(monitor, idle_s, "before", [])
    out = run_cell(cell, monitor, idle, idle_s, None, settings.get("max_power_w"))
    if out.idle_after is not None:
        _WORKER["idle"][(db_url, run_id)] = out.idle_after
    warnings = tuple(out.result.warnings or ())
    if previous_error:
        warnings += (f"attempt {attempt}: the previous attempt's worker died ({previous_error}); cell re-run",)
    info = {**dict(out.result.info or {}), "executor": where.to_dict()}
    result = replace(out.result, info=info, warnings=warnings or None)
    store.save_cell(run_id, cell.key, out.status, result, out.error, timeline=out.timeline)
    return CellReport(
        cell.key, out.status, summary_line(out), attempt, where.host, where.pid, time.time() - t0, out.error
    )


# --- the driver side -------------------------------------------------------------------------------------------


def _gpu_request(cell: Any, cluster: ClusterInfo) -> float:
    device = str(getattr(cell, "device", "cpu"))
    if device.startswith("cuda"):
        return 1.0
    return 1.0 if device == "auto" and cluster.gpus > 0 else 0.0


def _placement(ray: Any, cluster: ClusterInfo, exclusive: bool) -> Any:
    """One ``{"CPU": 1}`` bundle per node (STRICT_SPREAD): tasks scheduled into it run one per node at a time."""
    if not exclusive:
        return None
    from ray.util.placement_group import placement_group

    pg = placement_group([{"CPU": 1.0}] * cluster.nodes, strategy="STRICT_SPREAD")
    ready, _ = ray.wait([pg.ready()], timeout=120)
    if not ready:
        raise RaySweepError(f"Ray could not reserve one CPU on each of the {cluster.nodes} nodes within 120 s")
    return pg


def _options(cell: Any, cluster: ClusterInfo, pg: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"max_retries": 0, "num_gpus": _gpu_request(cell, cluster)}
    if pg is not None:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        opts["num_cpus"] = 1
        opts["scheduling_strategy"] = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=-1)
    else:
        opts["num_cpus"] = max(1, int(getattr(cell, "threads", 0) or 1))
    return opts


def _failed_result(cell: Any, error: str) -> Any:
    from wattlens.bench.execute import RESULT_SCHEMA, _cell_config
    from wattlens.bench.records import CellResult

    return CellResult(
        schema=RESULT_SCHEMA,
        task=cell.task,
        model=cell.model,
        config=_cell_config(cell),
        cell=cell.to_dict(),
        error=error,
    )


def execute_on_ray(
    store: Any,
    db_url: str,
    run_id: str,
    suite: Any,
    *,
    address: str = "auto",
    progress: Any = None,
    retry_failed: bool = False,
    on_report: Callable[[CellReport], None] | None = None,
) -> Any:
    """Run the cells of ``suite`` not yet stored for ``run_id`` as Ray tasks (see the module docstring).

    ``store`` is the driver's own connection (status, done cells); ``db_url`` the URL the workers open (the same
    database: a full SQLAlchemy URL, with its password). Returns the :class:`~wattlens.bench.records.RunSummary`.
    """
    from wattlens.bench.execute import Progress, close_run, pending_cells
    from wattlens.bench.validity import STATUS_FAILED

    progress = progress or Progress()
    ray = ray_module()
    cluster = connect(address)
    check_store(db_url, cluster)
    t0 = time.time()
    pending = pending_cells(store, run_id, suite, retry_failed)
    settings = {"idle_s": suite.idle_s, "max_power_w": suite.max_power_w, "attribution": suite.attribution}
    store.set_run_status(run_id, "running")
    progress.start(run_id, len(suite.cells), len(suite.cells) - len(pending))
    remote = ray.remote(run_cell_task)
    pg = _placement(ray, cluster, exclusive=suite.attribution == "machine") if pending else None
    in_flight: dict[Any, tuple[int, Any, int, str | None]] = {}

    def submit(index: int, cell: Any, attempt: int, previous: str | None) -> None:
        ref = remote.options(**_options(cell, cluster, pg)).remote(db_url, run_id, cell, settings, attempt, previous)
        in_flight[ref] = (index, cell, attempt, previous)

    for i, cell in enumerate(pending):
        submit(i, cell, 1, None)
    counts: dict[str, int] = {}
    status = "done"
    try:
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_POLL_S)
            for ref in ready:
                index, cell, attempt, previous = in_flight.pop(ref)
                try:
                    report: CellReport = ray.get(ref)
                except Exception as exc:  # the worker died (or the task raised): retry once, then a failed cell
                    why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                    if attempt < MAX_ATTEMPTS:
                        logger.warning("cell %s: attempt %d lost (%s); submitting it again", cell.key, attempt, why)
                        submit(index, cell, attempt + 1, why)
                        continue
                    error = f"failed after {attempt} attempts: {previous}; then {why}"
                    store.save_cell(run_id, cell.key, STATUS_FAILED, _failed_result(cell, error), error)
                    report = CellReport(cell.key, STATUS_FAILED, f"failed: {error}", attempt, "", 0, 0.0, error)
                counts[report.status] = counts.get(report.status, 0) + 1
                progress.cell_done(index, cell, report.status, report.line)
                if on_report is not None:
                    on_report(report)
    except KeyboardInterrupt:
        status = "interrupted"
        for ref in in_flight:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # best effort: the run is resumable either way
                pass
        store.set_run_status(run_id, status)
        progress.finish(status)
        raise
    finally:
        if pg is not None:
            try:
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(pg)
            except Exception:  # the cluster releases it with the driver anyway
                pass
    return close_run(store, run_id, suite, pending, counts, status, progress, t0)


__all__ = [
    "CellAttempt",
    "CellReport",
    "ClusterInfo",
    "RaySweepError",
    "check_store",
    "connect",
    "execute_on_ray",
    "run_cell_task",
]
