"""Energy figures into MLflow: metrics with their interval, provenance as tags (``pip install 'wattlens[mlflow]'``).

>>> import mlflow, wattlens                                       # doctest: +SKIP
>>> import wattlens.integrations.mlflow as wl_mlflow              # doctest: +SKIP
>>> with mlflow.start_run():                                      # doctest: +SKIP
...     with wattlens.measure("infer", country="FR") as m:
...         predict(batch)
...     wl_mlflow.log(m.result)                                   # metrics + provenance tags + the JSON record

Metrics (``prefix`` prepended): ``energy_j``, ``energy_low_j``, ``energy_high_j``, ``power_w``, ``duration_s``,
``co2e_g``, ``co2e_low_g``, ``co2e_high_g`` — an unknown figure is left out, never logged as 0. Tags:
``wattlens.source`` (measured / integrated / estimated), ``wattlens.method``, ``wattlens.boundary``,
``wattlens.location``, ``wattlens.pue``, ``wattlens.attribution``, ``wattlens.carbon_intensity_g_per_kwh``.

Where it lands: ``run_id`` if given, else the active run, else the run named by ``MLFLOW_RUN_ID``, else a new
run (MLflow's own rule for logging without a run). ``wattlens measure --mlflow -- CMD`` creates (or reuses)
the run *before* the command starts and hands its id to the command as ``MLFLOW_RUN_ID``, so that the
command's own ``mlflow.start_run()`` joins it: the energy lands beside the command's own metrics.

MLflow unreachable or misconfigured: one warning (per tracking URI), the user's code goes on, ``log`` returns
``False`` and the record is kept in the wattlens store instead (``db``, default ``$WATTLENS_DB`` or
``./wattlens.sqlite``). An HTTP tracking server that does not accept a connection within 5 s is reported
at once, not after MLflow's own retries (minutes by default); MLflow's settings are left as the user set them.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from wattlens._logging import get_logger
from wattlens.integrations.errors import IntegrationError, missing_extra

logger = get_logger(__name__)

TAG_PREFIX = "wattlens."
REACH_TIMEOUT_S = 5.0  # an HTTP tracking server that does not accept a connection by then is unreachable
_METRICS = (  # canonical metric name -> key in a wattlens record (``build_record``) / attribute of a figure
    ("energy_j", "energy_j"),
    ("energy_low_j", "low_j"),
    ("energy_high_j", "high_j"),
    ("power_w", "power_w"),
    ("duration_s", "duration_s"),
    ("co2e_g", "co2e_g"),
    ("co2e_low_g", "co2e_low_g"),
    ("co2e_high_g", "co2e_high_g"),
)
_warned: set[str] = set()
_reachable: set[str] = set()


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise missing_extra("MLflow", "mlflow", exc) from exc
    return mlflow


# --- what is logged --------------------------------------------------------------------------------


def record_of(result: Any) -> dict[str, Any]:
    """The flat wattlens record of a ``MeasuredFootprint``, a ``Measurement`` or an existing record dict."""
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "measurement") and hasattr(result, "to_dict"):  # MeasuredFootprint
        return dict(result.to_dict())
    if hasattr(result, "components") and hasattr(result, "duration_s"):  # Measurement without a footprint
        from wattlens.tracking.summary import build_record

        return build_record(result)
    raise IntegrationError(
        f"cannot log a {type(result).__name__}: allowed are wattlens.measure(...).result (MeasuredFootprint), "
        "a Measurement, or a record dict from wattlens measure --json"
    )


def metrics_of(figures: Any, prefix: str = "") -> dict[str, float]:
    """The canonical metrics of a record dict or a figures object; unknown values are left out (never 0).

    >>> metrics_of({"energy_j": 2.0, "low_j": 1.5, "high_j": 3.0, "co2e_g": None, "duration_s": 4.0})
    {'energy_j': 2.0, 'energy_low_j': 1.5, 'energy_high_j': 3.0, 'duration_s': 4.0}
    """
    out: dict[str, float] = {}
    for name, key in _METRICS:
        value = figures.get(key) if isinstance(figures, Mapping) else getattr(figures, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:  # not NaN
            out[f"{prefix}{name}"] = float(value)
    return out


def tags_of(record: Mapping[str, Any]) -> dict[str, str]:
    """Provenance tags of a record: source, method, boundary, location, PUE, attribution.

    >>> tags_of({"source": "estimated", "methods": ["cpu-time-model"], "boundary": "node", "pue": 1.0,
    ...          "pue_origin": "default", "location": {"key": "WORLD", "name": "World", "basis": "lifecycle",
    ...          "stated_default": True}})["wattlens.location"]
    'WORLD (World, lifecycle; no location given: world average)'
    """
    tags: dict[str, str] = {}
    if record.get("source"):
        tags["source"] = str(record["source"])
    methods = record.get("methods")
    if methods:
        tags["method"] = ", ".join(methods) if isinstance(methods, (list, tuple)) else str(methods)
    if record.get("boundary"):
        tags["boundary"] = str(record["boundary"])
    loc = record.get("location")
    if isinstance(loc, Mapping) and loc.get("key"):
        default = "; no location given: world average" if loc.get("stated_default") else ""
        tags["location"] = f"{loc['key']} ({loc.get('name')}, {loc.get('basis')}{default})"
    if record.get("pue") is not None:
        tags["pue"] = f"{record['pue']:g} ({record.get('pue_origin') or 'default'})"
    if record.get("attribution"):
        tags["attribution"] = str(record["attribution"])
    if record.get("carbon_intensity_g_per_kwh") is not None:
        tags["carbon_intensity_g_per_kwh"] = f"{record['carbon_intensity_g_per_kwh']:g}"
    if record.get("scope"):
        tags["scope"] = str(record["scope"])
    return {f"{TAG_PREFIX}{k}": v[:5000] for k, v in tags.items()}  # MLflow caps tag values


# --- plumbing --------------------------------------------------------------------------------------


def _check_reachable(mlflow: Any, tracking_uri: str | None = None) -> None:
    """An HTTP tracking server that does not accept a connection fails here in seconds (OSError), instead of
    after MLflow's own retries (minutes by default); a server that answered once is not asked again.

    ``tracking_uri``: the store to check (default: MLflow's current tracking URI)."""
    uri = tracking_uri or _tracking_uri(mlflow)
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or uri in _reachable or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname, port), timeout=REACH_TIMEOUT_S):
        pass
    _reachable.add(uri)


def _tracking_uri(mlflow: Any) -> str:
    try:
        return str(mlflow.get_tracking_uri())
    except Exception:  # the URI itself is misconfigured: name the variable instead
        return os.environ.get("MLFLOW_TRACKING_URI", "(default)")


def _warn(mlflow: Any, what: str, exc: BaseException, kept: str, tracking_uri: str | None = None) -> None:
    """One warning per tracking URI and process: MLflow failing must not flood the user's log."""
    uri = tracking_uri or (_tracking_uri(mlflow) if mlflow is not None else "(mlflow)")
    if uri in _warned:
        logger.debug("MLflow %s failed again: %s", what, exc)
        return
    _warned.add(uri)
    logger.warning(
        "could not %s in MLflow at %s (%s: %s); your run goes on, %s",
        what,
        uri,
        type(exc).__name__,
        str(exc).splitlines()[0][:300] if str(exc) else "",
        kept,
    )


def _keep(record: Mapping[str, Any], db: str | None) -> str:
    """Save the record in the wattlens store (MLflow failed); returns the words for the warning."""
    try:
        from wattlens.store import open_store

        store = open_store(db)
        try:
            store.save_measurement(dict(record))
            return f"the record is kept in the wattlens store {store.url}"
        finally:
            store.close()
    except Exception as exc:  # both failed: say so, still never raise into the user's code
        return f"and the wattlens store failed too ({type(exc).__name__}: {exc})"


def _batch(
    mlflow: Any, metrics: Mapping[str, float], tags: Mapping[str, str], step: int | None
) -> tuple[list[Any], list[Any]]:
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    return (
        [Metric(k, float(v), now, int(step or 0)) for k, v in metrics.items()],
        [RunTag(k, str(v)) for k, v in tags.items()],
    )


def _current_run_id(mlflow: Any) -> str:
    """The active run, else $MLFLOW_RUN_ID, else a new active run (MLflow's own rule for logging without one)."""
    active = mlflow.active_run()
    if active is not None:
        return str(active.info.run_id)
    env_run = os.environ.get("MLFLOW_RUN_ID")
    if env_run:
        return env_run
    return str(mlflow.start_run().info.run_id)


def _artifact_name(record: Mapping[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(record.get("name") or "measurement"))[:80].strip("_") or "measurement"
    stamp = int(float(record.get("start_unix_s") or time.time()))
    return f"wattlens/{name}-{stamp}.json"


# --- the public calls ------------------------------------------------------------------------------


def log(
    result: Any,
    *,
    step: int | None = None,
    run_id: str | None = None,
    prefix: str = "",
    artifact: bool | None = None,
    db: str | None = None,
) -> bool:
    """Log a measurement's energy, interval, power and CO2e, with provenance tags, to an MLflow run.

    Args:
        result: ``wattlens.measure(...).result``, a ``Measurement`` or a record dict.
        step: MLflow step of the metrics (e.g. the training step).
        run_id: the run; default the active one (see the module docstring).
        prefix: prepended to every metric name (e.g. ``"infer."``).
        artifact: also log the full JSON record as an artifact (default: when ``step`` is None).
        db: the wattlens store that keeps the record if MLflow fails (default store when None).

    Returns ``True`` when MLflow took it; ``False`` (after one warning) when it did not. Raises
    :class:`IntegrationError` only for a wrong argument or MLflow not installed.
    """
    if not isinstance(prefix, str):
        raise IntegrationError(f"prefix={prefix!r}: a string such as 'infer.' (may be empty)")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise IntegrationError(f"step={step!r}: allowed is None or a whole number >= 0")
    record = record_of(result)
    mlflow = _mlflow()
    metrics, tags = metrics_of(record, prefix), tags_of(record)
    try:
        _check_reachable(mlflow)
        rid = run_id or _current_run_id(mlflow)
        client = mlflow.MlflowClient()
        m, t = _batch(mlflow, metrics, tags, step)
        client.log_batch(rid, metrics=m, tags=t)
        if artifact or (artifact is None and step is None):
            client.log_dict(rid, _jsonable(record), _artifact_name(record))
        return True
    except Exception as exc:
        _warn(mlflow, "log the energy record", exc, _keep(record, db))
        return False


def _jsonable(record: Mapping[str, Any]) -> Any:
    import json

    return json.loads(json.dumps(record, default=str))


class RunLogger:
    """Metrics at every training log event (used by the callbacks' ``mlflow=True``).

    Where they land: ``run_id`` in the store at ``tracking_uri`` when given (the Lightning callback passes its
    ``MLFlowLogger``'s run, which MLflow's fluent API does not know), else the active run, else
    ``$MLFLOW_RUN_ID``, else a new run (see the module docstring).

    After the first failure it warns once and stops trying (a training loop must not wait on MLflow at every
    step); the callback's store record keeps the figures.
    """

    def __init__(self, run_id: str | None = None, tracking_uri: str | None = None) -> None:
        self._mlflow = _mlflow()
        self._run_id = run_id
        self._tracking_uri = tracking_uri
        self._fixed_client: Any = None
        self.failed = False

    def log(self, metrics: Mapping[str, float], step: int | None = None, tags: Mapping[str, str] | None = None) -> bool:
        if self.failed or not metrics:
            return False
        try:
            _check_reachable(self._mlflow, self._tracking_uri)
            rid = self._run_id or _current_run_id(self._mlflow)
            m, t = _batch(self._mlflow, metrics, tags or {}, step)
            self._client().log_batch(rid, metrics=m, tags=t)
            return True
        except Exception as exc:
            self.failed = True
            kept = "the training record goes to the wattlens store"
            _warn(self._mlflow, "log step energy", exc, kept, self._tracking_uri)
            return False

    def _client(self) -> Any:
        """A client of the given store (made once), else of MLflow's current tracking URI (which may change)."""
        if not self._tracking_uri:
            return self._mlflow.MlflowClient()
        if self._fixed_client is None:
            self._fixed_client = self._mlflow.MlflowClient(self._tracking_uri)
        return self._fixed_client


class CommandRun:
    """The MLflow run of ``wattlens measure --mlflow -- CMD``: opened before CMD starts, logged to after it ends.

    ``open`` reuses ``$MLFLOW_RUN_ID`` when set (the caller's active run), else creates a run in the experiment
    named by ``$MLFLOW_EXPERIMENT_NAME`` / ``$MLFLOW_EXPERIMENT_ID`` (else MLflow's default). The CLI starts CMD
    with ``MLFLOW_RUN_ID`` naming the run, so that CMD's own ``mlflow.start_run()`` joins it.
    """

    def __init__(self, mlflow: Any, run_id: str | None, created: bool, error: BaseException | None) -> None:
        self._mlflow = mlflow
        self.run_id = run_id
        self.created = created
        self.error = error

    @classmethod
    def open(cls, name: str, command: list[str]) -> CommandRun:
        """Find or create the run (never raises for MLflow failures; :class:`IntegrationError` if not installed)."""
        mlflow = _mlflow()
        try:
            _check_reachable(mlflow)
            client = mlflow.MlflowClient()
            existing = os.environ.get("MLFLOW_RUN_ID")
            if existing:
                client.get_run(existing)  # fails clearly when the id is wrong
                return cls(mlflow, existing, False, None)
            run = client.create_run(
                _experiment_id(mlflow, client),
                run_name=name[:250],
                tags={f"{TAG_PREFIX}command": " ".join(command)[:5000]},
            )
            return cls(mlflow, str(run.info.run_id), True, None)
        except Exception as exc:
            return cls(mlflow, None, False, exc)

    def finish(self, record: Mapping[str, Any], exit_code: int, db: str | None, saved: bool) -> bool:
        """Log the record into the run and close it if we opened it; on failure keep the record in the store.

        ``saved``: the record is already in a wattlens store (``--db``), so a failure need not save it again.
        """
        kept = "the record was saved with --db" if saved else None
        if self.run_id is None:
            _warn(self._mlflow, "open a run", self.error or RuntimeError("unknown"), kept or _keep(record, db))
            return False
        try:
            _check_reachable(self._mlflow)
            client = self._mlflow.MlflowClient()
            tags = {**tags_of(record), f"{TAG_PREFIX}exit_code": str(exit_code)}
            m, t = _batch(self._mlflow, metrics_of(record), tags, None)
            client.log_batch(self.run_id, metrics=m, tags=t)
            client.log_dict(self.run_id, _jsonable(record), _artifact_name(record))
            if self.created and client.get_run(self.run_id).info.status == "RUNNING":
                client.set_terminated(self.run_id, "FINISHED" if exit_code == 0 else "FAILED")
            return True
        except Exception as exc:
            _warn(self._mlflow, "log the energy record", exc, kept or _keep(record, db))
            return False

    def abandon(self, reason: str) -> None:
        """The command never started: close the run we opened as FAILED (nothing to log)."""
        if not (self.created and self.run_id):
            return
        try:
            _check_reachable(self._mlflow)
            client = self._mlflow.MlflowClient()
            client.set_tag(self.run_id, f"{TAG_PREFIX}error", reason[:5000])
            client.set_terminated(self.run_id, "FAILED")
        except Exception as exc:
            _warn(self._mlflow, "close the run", exc, "nothing was measured")


def _experiment_id(mlflow: Any, client: Any) -> str:
    """$MLFLOW_EXPERIMENT_ID, else $MLFLOW_EXPERIMENT_NAME (created if new), else MLflow's default experiment."""
    given = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if given:
        return given
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        exp = client.get_experiment_by_name(name)
        return str(exp.experiment_id) if exp is not None else str(client.create_experiment(name))
    return "0"  # MLflow's "Default" experiment, which every tracking store creates


__all__ = ["CommandRun", "RunLogger", "log", "metrics_of", "record_of", "tags_of"]
