"""Energy windows of a training run, shared by the Hugging Face Trainer and Lightning callbacks.

A :class:`TrainingMeter` knows nothing of either framework: the callbacks translate their hooks into
``start`` / ``epoch_begin`` / ``step_begin`` / ``eval_begin`` / ``log_metrics`` / ``finish``, and put the
returned metrics into their framework's own log stream. What it does:

* **windows** — the whole train (as a chain of segments, so that the cumulative figure can be logged at
  every log event), each epoch, each evaluation, and steps (every step or every Nth, see below);
* **step cadence** — ``step_every="auto"`` meters every step for a few steps, times its own cost and the
  step, then meters one step in N with N the smallest that keeps its cost within 0.5 % of the step time
  (the issue's bound is 1 % of a 50 ms step; half of it leaves room for noise). A fixed N or 0 (no step
  windows) can be given;
* **ranks** — only the process with local rank 0 meters (its whole node), only global rank 0 logs
  (:mod:`wattlens.tracking.ranks`): no N-fold counting under torchrun/Slurm/MPI;
* **the store record** — at the end (or at interpreter exit after a crash, marked ``interrupted``) a run of
  kind ``training`` with the training arguments that matter and the train window's full record, which
  ``wattlens breakeven --training-run RUN_ID`` reads;
* **never in the way** — a failure inside the meter is logged once as a warning and metering stops; the
  user's training goes on. Bad configuration raises at construction, naming what is allowed.

>>> meter = TrainingMeter(framework="demo", sources=["estimator"], db=False, step_every=1)
>>> meter.start({"model": "demo"})
>>> for step in range(3):
...     meter.step_begin(step)
...     _ = sum(range(20_000))
...     meter.step_end(step)
>>> logs = meter.log_metrics(step=3)
>>> sorted(k for k in logs if k.startswith("energy/step"))[:3]
['energy/step_co2e_g', 'energy/step_co2e_high_g', 'energy/step_co2e_low_g']
>>> meter.finish({"global_step": 3}) is None  # db=False: nothing stored
True
"""

from __future__ import annotations

import atexit
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from wattlens._logging import get_logger
from wattlens.carbon.settings import CarbonSettings
from wattlens.integrations.errors import IntegrationError
from wattlens.meters.base import SOURCE_RANK, UNAVAILABLE, ComponentEnergy
from wattlens.stats import median
from wattlens.tracking.ranks import RankInfo, detect_rank
from wattlens.tracking.result import Measurement

logger = get_logger(__name__)

STEP_COST_BUDGET = 0.005  # auto cadence: our cost per step <= 0.5 % of the step time
CALIBRATION_STEPS = 6  # metered steps (after the first, which warms caches) before choosing N
RECALIBRATE_STEPS = 32  # then N is chosen again from every block of this many metered steps
_cpu_time = time.thread_time  # our cost is the CPU time of our code, not the wall time other tenants add
MAX_STEP_EVERY = 100_000
DEFAULT_PREFIX = "energy/"
ATTRIBUTIONS = ("machine", "process")
RUN_KIND = "training"
T = TypeVar("T")


# --- figures ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowFigures:
    """One window (or the mean of several step windows) as logged: energy with its interval and CO2e.

    ``kind`` is ``train`` (cumulative so far), ``epoch``, ``eval`` or ``step`` (mean of ``windows`` metered
    steps). Values are ``None`` when unknown, never 0.
    """

    kind: str
    index: int | None
    duration_s: float
    energy_j: float | None
    low_j: float | None
    high_j: float | None
    co2e_g: float | None
    co2e_low_g: float | None
    co2e_high_g: float | None
    source: str
    windows: int = 1

    @property
    def power_w(self) -> float | None:
        if self.energy_j is None or self.duration_s <= 0:
            return None
        return self.energy_j / self.duration_s

    def metrics(self, prefix: str = DEFAULT_PREFIX) -> dict[str, float]:
        """Numeric metrics named ``<prefix><kind>_<quantity>`` (e.g. ``energy/train_j``); unknown ones left out."""
        values = {
            "j": self.energy_j,
            "low_j": self.low_j,
            "high_j": self.high_j,
            "power_w": self.power_w,
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
        }
        return {f"{prefix}{self.kind}_{k}": float(v) for k, v in values.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "power_w": self.power_w}


class _Sum:
    """Running sums of window energies (a chain of train segments, or the metered steps)."""

    __slots__ = ("count", "duration_s", "energy_j", "high_j", "low_j", "source", "unavailable")

    def __init__(self) -> None:
        self.count = 0
        self.unavailable = 0
        self.duration_s = 0.0
        self.energy_j = 0.0
        self.low_j = 0.0
        self.high_j = 0.0
        self.source = ""

    def add(self, m: Measurement) -> None:
        self.add_values(m.duration_s, m.energy_j, m.low_j, m.high_j, m.source)

    def add_values(
        self, duration_s: float, energy: float | None, low: float | None, high: float | None, src: str
    ) -> None:
        self.count += 1
        self.duration_s += duration_s
        if energy is None:
            self.unavailable += 1
            return
        self.energy_j += energy
        self.low_j += low if low is not None else energy
        self.high_j += high if high is not None else energy
        if not self.source or SOURCE_RANK.get(src, 0) < SOURCE_RANK.get(self.source, 0):
            self.source = src

    def figures(self, kind: str, index: int | None, carbon: CarbonSettings, mean: bool = False) -> WindowFigures:
        """The sums (or, with ``mean``, the per-window means) with their footprint."""
        known = self.count - self.unavailable
        if known <= 0:
            return WindowFigures(kind, index, self.duration_s, None, None, None, None, None, None, UNAVAILABLE, 0)
        div = float(known) if mean else 1.0
        energy, low, high = self.energy_j / div, self.low_j / div, self.high_j / div
        duration = self.duration_s / self.count if mean else self.duration_s
        co2 = co2_low = co2_high = None
        try:
            fp = carbon.footprint_of(energy, low, high)
            co2, co2_low, co2_high = fp.co2e_g, fp.co2e_low_g, fp.co2e_high_g
        except Exception:  # a non-finite reading: energy is still logged, carbon is left unknown (not 0)
            pass
        return WindowFigures(kind, index, duration, energy, low, high, co2, co2_low, co2_high, self.source, known)


def merge_measurements(name: str, parts: list[Measurement]) -> Measurement:
    """One Measurement for consecutive windows: components of the same domain, device, source and method summed.

    >>> a = Measurement("s1", 0.0, 1.0, [ComponentEnergy("cpu", 2.0, "estimated", "m", 1.0, 3.0)])
    >>> b = Measurement("s2", 1.0, 1.0, [ComponentEnergy("cpu", 4.0, "estimated", "m", 3.0, 5.0)])
    >>> m = merge_measurements("train", [a, b])
    >>> m.duration_s, m.energy_j, m.low_j, m.high_j
    (2.0, 6.0, 4.0, 8.0)
    """
    merged: dict[tuple[str, str, str, str], list[Any]] = {}
    unavailable: dict[tuple[str, str, str], ComponentEnergy] = {}
    notes: list[str] = []
    for part in parts:
        for c in part.components:
            if c.energy_j is None:
                unavailable.setdefault((c.domain, c.device, c.method), c)
                continue
            key = (c.domain, c.device, c.source, c.method)
            acc = merged.setdefault(key, [0.0, 0.0, 0.0, c.note])
            acc[0] += c.energy_j
            acc[1] += c.low_j if c.low_j is not None else c.energy_j
            acc[2] += c.high_j if c.high_j is not None else c.energy_j
        notes.extend(n for n in part.notes if n not in notes)
    comps = [ComponentEnergy(d, e, s, m, lo, hi, dev, note) for (d, dev, s, m), (e, lo, hi, note) in merged.items()]
    known = {(c.domain, c.device) for c in comps}
    comps += [c for (d, dev, _m), c in unavailable.items() if (d, dev) not in known]
    first = parts[0] if parts else None
    return Measurement(
        name,
        first.start_unix_s if first else time.time(),
        sum(p.duration_s for p in parts),
        comps,
        first.attribution if first else "machine",
        first.idle if first else None,
        notes,
    )


@dataclass(frozen=True)
class MlflowRun:
    """An MLflow run named by a framework's own logger: its id and the tracking store that holds it."""

    run_id: str
    tracking_uri: str | None = None


# --- configuration ------------------------------------------------------------------------------------


SETTINGS = (
    "country",
    "region",
    "intensity_g_per_kwh",
    "pue",
    "price_per_kwh",
    "currency",
    "sources",
    "attribution",
    "cpu_tdp_w",
    "step_every",
    "db",
    "prefix",
    "mlflow",
    "rank",
)


def meter_for(framework: str, settings: Mapping[str, Any]) -> TrainingMeter:
    """The callbacks' meter from their keyword arguments; an unknown one is an error naming the allowed ones."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise IntegrationError(f"EnergyCallback: unknown option {unknown[0]!r}; allowed: {', '.join(SETTINGS)}")
    return TrainingMeter(framework=framework, **settings)


class MeteredCallback:
    """What both callbacks expose: their meter, and the store run and record of the last training."""

    meter: TrainingMeter

    @property
    def run_id(self) -> str | None:
        """The wattlens store run of the last training (``None`` before the end, or where nothing was stored)."""
        return self.meter.run_id

    @property
    def record(self) -> dict[str, Any] | None:
        """The full energy record of the last training on this process (``None`` where it did not meter)."""
        return self.meter.record


def _check_step_every(value: Any) -> int | None:
    """``"auto"`` -> None (calibrate); a whole number 0..MAX -> itself (0: no step windows)."""
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STEP_EVERY:
        raise IntegrationError(
            f"step_every={value!r}: allowed are 'auto' (meter every Nth step, N chosen so the callback costs "
            f"<= {STEP_COST_BUDGET:.1%} of a step), a whole number 1..{MAX_STEP_EVERY} (every Nth step) "
            "or 0 (no step windows)"
        )
    return value


def _check_db(value: Any) -> str | bool | None:
    if value is None or value is False:
        return value
    if isinstance(value, (str, os.PathLike)) and str(value).strip():
        return os.fspath(value)
    raise IntegrationError(
        f"db={value!r}: allowed are None (the default store: $WATTLENS_DB or ./wattlens.sqlite), "
        "a store URL or .sqlite path, or False (no store record)"
    )


def _check_sources(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    if isinstance(value, (list, tuple)) and value and all(isinstance(s, str) and s for s in value):
        return list(value)
    raise IntegrationError(
        f"sources={value!r}: allowed are None (discover) or source names such as ['rapl', 'nvml', 'estimator']"
    )


# --- the meter ----------------------------------------------------------------------------------------


class TrainingMeter:
    """Energy windows for one training run; see the module docstring.

    Args:
        framework: ``transformers``, ``lightning``... (stored with the record).
        country, region, intensity_g_per_kwh, pue, price_per_kwh, currency: as for ``wattlens.measure``.
        sources, attribution, cpu_tdp_w: the Monitor's (``attribution`` ``machine`` or ``process``).
        step_every: ``"auto"`` (default), N >= 1, or 0 for no step windows.
        db: ``None`` = the default store, a URL/path, or ``False`` for no store record.
        prefix: the metric name prefix (default ``energy/``).
        mlflow: also log the canonical MLflow metrics and provenance tags (``wattlens[mlflow]``).
        rank: a :class:`RankInfo` to use instead of :func:`detect_rank` (read at ``start``).
    """

    def __init__(
        self,
        *,
        framework: str,
        country: str | None = None,
        region: str | None = None,
        intensity_g_per_kwh: float | None = None,
        pue: float | str | None = None,
        price_per_kwh: float | None = None,
        currency: str | None = None,
        sources: list[str] | str | None = None,
        attribution: str = "machine",
        cpu_tdp_w: float | None = None,
        step_every: int | str = "auto",
        db: str | bool | None = None,
        prefix: str = DEFAULT_PREFIX,
        mlflow: bool = False,
        rank: RankInfo | None = None,
    ) -> None:
        if attribution not in ATTRIBUTIONS:
            raise IntegrationError(f"attribution={attribution!r}: allowed are {', '.join(ATTRIBUTIONS)}")
        if not isinstance(prefix, str):
            raise IntegrationError(f"prefix={prefix!r}: a string such as 'energy/' (may be empty)")
        if cpu_tdp_w is not None and not (isinstance(cpu_tdp_w, (int, float)) and 0 < cpu_tdp_w < 10_000):
            raise IntegrationError(f"cpu_tdp_w={cpu_tdp_w!r}: allowed is a number of watts in (0, 10000)")
        self.framework = framework
        self.carbon = CarbonSettings(country, region, intensity_g_per_kwh, pue, price_per_kwh, currency)
        self.sources = _check_sources(sources)
        self.attribution = attribution
        self.cpu_tdp_w = cpu_tdp_w
        self._fixed_every = _check_step_every(step_every)
        self.db = _check_db(db)
        self.prefix = prefix
        self.mlflow = bool(mlflow)
        self._given_rank = rank
        self._reset()

    def _reset(self) -> None:
        self.rank: RankInfo | None = None
        self.run_id: str | None = None
        self.record: dict[str, Any] | None = None
        self.step_every: int = self._fixed_every if self._fixed_every is not None else 1
        self._mon: Any = None
        self._broken: str | None = None
        self._training: dict[str, Any] = {}
        self._segments: list[Measurement] = []
        self._seg = 0
        self._train = _Sum()
        self._steps_since_log = _Sum()
        self._steps_total = _Sum()
        self._steps_seen = 0
        self._step_open = False
        # Step results not yet added up: a GPU source reads its edges in the background, and reading a result
        # right at step_end would wait for that reading (~4 ms on an H200). A step is added at the next step's
        # end (its reading long done) or when the figures are wanted.
        self._steps_waiting: list[Measurement] = []
        self._block: list[tuple[float, float]] = []  # (our CPU cost, step duration) per metered step
        self._first_block = True
        self.calibration: tuple[float, float] | None = None  # the (cost, step) medians N was last chosen from
        self._cost_s = 0.0  # our time inside the step hooks, all metered steps
        self._begin_cost_s = 0.0
        self._epoch: int | None = None
        self._eval_index = 0
        self._eval_open = False
        self._eval_partial = False
        self._pending: list[WindowFigures] = []
        self._epochs: list[WindowFigures] = []
        self._evals: list[WindowFigures] = []
        self._final: WindowFigures | None = None
        self._mlflow_logger: Any = None
        self._mlflow_run: MlflowRun | None = None
        self._mlflow_tags_sent = False

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def metering(self) -> bool:
        """Whether this process is metering now (started, local rank 0, no internal failure)."""
        return self._mon is not None and self._broken is None

    @property
    def logging(self) -> bool:
        """Whether this process puts figures into the experiment logs (metering and global rank 0)."""
        return self.metering and self.rank is not None and self.rank.logs

    @property
    def auto_cadence(self) -> bool:
        return self._fixed_every is None

    def _guard(self, what: str, fn: Callable[[], T], default: T) -> T:
        """Run one hook body; a failure stops metering with one warning, never reaches the training loop."""
        try:
            return fn()
        except Exception as exc:
            self._fail(what, exc)
            return default

    def _fail(self, what: str, exc: BaseException) -> None:
        self._broken = f"{what}: {type(exc).__name__}: {exc}"
        logger.warning("energy metering stopped (%s); training continues unmetered", self._broken)
        self._close_monitor()

    # ---- lifecycle -----------------------------------------------------------------------------------
    def start(self, training: Mapping[str, Any], mlflow_run: MlflowRun | None = None) -> None:
        """Training begins: decide this process's role, open the monitor and the train window.

        ``mlflow_run``: with ``mlflow=True``, the MLflow run to log into (a framework logger's own run);
        ``None``: the active run (see :class:`wattlens.integrations.mlflow.RunLogger`).
        """
        if self._mon is not None:  # a second train() on the same callback: close the first one cleanly
            self.finish({})
        self._reset()
        self._mlflow_run = mlflow_run
        self.rank = self._given_rank or detect_rank()
        self._training = {k: v for k, v in training.items() if v is not None}
        if not self.rank.meters_node:
            logger.info(
                "rank %d (local rank %d) does not meter: local rank 0 meters this node",
                self.rank.rank,
                self.rank.local_rank,
            )
            return
        self._guard("start", self._open, None)

    def _open(self) -> None:
        from wattlens.tracking.monitor import Monitor

        sources = tuple(self.sources) if self.sources is not None else None
        self._mon = Monitor(sources, self.attribution, cpu_tdp_w=self.cpu_tdp_w)
        self._mon.begin(self._segment_name())
        atexit.register(self._at_exit)
        if self.mlflow and self.rank is not None and self.rank.logs:
            from wattlens.integrations.mlflow import RunLogger

            run = self._mlflow_run
            self._mlflow_logger = RunLogger() if run is None else RunLogger(run.run_id, run.tracking_uri)
        logger.info("%s", self.describe())

    def describe(self) -> str:
        """One line: what is metered, how, where, and which windows."""
        loc = self.carbon.location
        names = [getattr(s, "name", type(s).__name__) for s in (self._mon.sources if self._mon else ())]
        cadence = "auto" if self.auto_cadence else ("off" if self.step_every == 0 else f"every {self.step_every}")
        rank = self.rank.scope if self.rank else "not started"
        where = (
            f"{loc.key} {loc.g_co2e_per_kwh:g} g/kWh ({loc.basis}{', stated default' if loc.stated_default else ''})"
        )
        return (
            f"metering {rank} with {', '.join(names) or 'no source'} (attribution {self.attribution}); "
            f"carbon at {where}, PUE {self.carbon.pue.value:g} ({self.carbon.pue.origin}); step windows {cadence}"
        )

    def _segment_name(self) -> str:
        self._seg += 1
        return f"train#{self._seg}"

    def _roll_segment(self) -> None:
        """End the current train segment and begin the next: the cumulative figure without closing the train."""
        m = self._mon.end(f"train#{self._seg}")
        self._mon.begin(self._segment_name())
        self._segments.append(m)
        self._train.add(m)

    # ---- epochs, evaluation --------------------------------------------------------------------------
    def epoch_begin(self, index: int) -> None:
        if self.metering:
            self._guard("epoch_begin", lambda: self._epoch_begin(index), None)

    def _epoch_begin(self, index: int) -> None:
        if self._epoch is not None:
            self._epoch_end()
        self._mon.begin("epoch")
        self._epoch = int(index)

    def epoch_end(self) -> None:
        if self.metering and self._epoch is not None:
            self._guard("epoch_end", self._epoch_end, None)

    def _epoch_end(self) -> None:
        fig = self._close("epoch", self._epoch)
        self._epoch = None
        self._epochs.append(fig)
        self._pending.append(fig)

    def eval_begin(self, partial: bool = False) -> None:
        """An evaluation begins; ``partial`` when it is detected late (after its first batch), which is noted."""
        if self.metering and not self._eval_open:
            self._guard("eval_begin", lambda: self._eval_begin(partial), None)

    def _eval_begin(self, partial: bool) -> None:
        self._mon.begin("eval")
        self._eval_open = True
        self._eval_partial = partial

    def eval_end(self) -> None:
        if self.metering and self._eval_open:
            self._guard("eval_end", self._eval_end, None)

    def _eval_end(self) -> None:
        fig = self._close("eval", self._eval_index)
        self._eval_open = False
        self._eval_index += 1
        self._evals.append(fig)
        self._pending.append(fig)

    @property
    def eval_open(self) -> bool:
        return self._eval_open

    def _close(self, window: str, index: int | None) -> WindowFigures:
        s = _Sum()
        s.add(self._mon.end(window))
        return s.figures(window, index, self.carbon)

    # ---- steps (the hot path) ------------------------------------------------------------------------
    def step_begin(self, step: int) -> None:
        """A step begins; metered when it is one of every ``step_every`` (cost: a counter when it is not)."""
        if self._mon is None or self._broken is not None or self.step_every == 0:
            return
        self._steps_seen += 1
        if (self._steps_seen - 1) % self.step_every:
            return
        t0 = _cpu_time()
        try:
            self._mon.begin("step")
            self._step_open = True
        except Exception as exc:  # e.g. a window left open by a framework that skipped step_end
            self._fail("step_begin", exc)
        self._begin_cost_s = _cpu_time() - t0

    def step_end(self, step: int) -> None:
        if not self._step_open:
            return
        t0 = _cpu_time()
        self._step_open = False
        try:
            m = self._mon.end("step")
        except Exception as exc:
            self._fail("step_end", exc)
            return
        self._steps_waiting.append(m)
        if len(self._steps_waiting) > 1:
            self._add_steps(keep_last=True)
        cost = self._begin_cost_s + _cpu_time() - t0
        self._cost_s += cost
        if self._fixed_every is None:
            self._calibrate(cost, m.duration_s)

    def _add_steps(self, keep_last: bool = False) -> None:
        """Add the waiting step results to the sums (all, or all but the latest)."""
        waiting = self._steps_waiting
        done = waiting[:-1] if keep_last else waiting
        for m in done:
            values = (m.duration_s, m.energy_j, m.low_j, m.high_j, m.source)  # each property walks the components
            self._steps_since_log.add_values(*values)
            self._steps_total.add_values(*values)
        del waiting[: len(done)]

    def _calibrate(self, cost_s: float, step_s: float) -> None:
        """Collect (CPU cost, step duration) per metered step; after each block, choose N so that
        cost / N <= budget x step (the first block: CALIBRATION_STEPS after a warm-up step; then every
        RECALIBRATE_STEPS, so that N follows steps that change length or a machine that gets busier)."""
        self._block.append((cost_s, step_s))
        size = CALIBRATION_STEPS + 1 if self._first_block else RECALIBRATE_STEPS
        if len(self._block) < size:
            return
        rows = self._block[1:] if self._first_block else self._block
        self._block, self._first_block = [], False
        cost = median([c for c, _ in rows])  # our CPU time in both hooks of one metered step
        step = median([d for _, d in rows])
        self.calibration = (cost, step)
        every = (
            MAX_STEP_EVERY if step <= 0 else min(MAX_STEP_EVERY, max(1, math.ceil(cost / (STEP_COST_BUDGET * step))))
        )
        if every != self.step_every or len(rows) == CALIBRATION_STEPS:
            logger.info(
                "step windows every %d step(s) (window cost %.1f us CPU, step %.2f ms, budget %.1f%%)",
                every,
                cost * 1e6,
                step * 1e3,
                STEP_COST_BUDGET * 100,
            )
        self.step_every = every

    @property
    def overhead_s(self) -> float:
        """CPU seconds this meter spent inside the step hooks so far (for the overhead benchmark)."""
        return self._cost_s

    # ---- logging -------------------------------------------------------------------------------------
    def log_metrics(self, step: int | None = None) -> dict[str, float]:
        """The figures to put into the framework's log now: train so far, mean step, closed epochs/evals.

        Empty on processes that do not log (not global rank 0, not metering).
        """
        if not self.metering:
            return {}
        return self._guard("log", lambda: self._log_metrics(step), {})

    def _log_metrics(self, step: int | None) -> dict[str, float]:
        if self._final is None:
            self._roll_segment()
        pending, self._pending = self._pending, []
        self._add_steps()
        steps, self._steps_since_log = self._steps_since_log, _Sum()
        if not self.logging:
            return {}
        train = self._final or self._train.figures("train", None, self.carbon)
        figures = [train]
        if steps.count:
            figures.append(steps.figures("step", None, self.carbon, mean=True))
        figures.extend(pending)
        out: dict[str, float] = {}
        for fig in figures:
            out.update(fig.metrics(self.prefix))
        if self._mlflow_logger is not None:
            self._log_mlflow(figures, step)
        return out

    def _log_mlflow(self, figures: list[WindowFigures], step: int | None) -> None:
        from wattlens.integrations.mlflow import metrics_of

        metrics: dict[str, float] = {}
        for fig in figures:
            metrics.update(metrics_of(fig, prefix="" if fig.kind == "train" else f"{fig.kind}_"))
        tags = None if self._mlflow_tags_sent else self._tags()
        if self._mlflow_logger.log(metrics, step=step, tags=tags):
            self._mlflow_tags_sent = True

    def _tags(self) -> dict[str, str]:
        from wattlens.integrations.mlflow import tags_of

        m = merge_measurements("train", self._segments) if self._segments else None
        record = self._record_of(m) if m is not None else {}
        return tags_of(record)

    # ---- the end -------------------------------------------------------------------------------------
    def train_end(self) -> dict[str, float]:
        """Close every window; the final train figures for the last log (empty where this rank does not log)."""
        if not self.metering:
            return {}
        if self._final is None:
            self._guard("train_end", self._train_end, None)
        return self.log_metrics()

    def _train_end(self) -> None:
        if self._step_open:
            self._mon.cancel("step")  # a step cut short by the end of training is not a step
            self._step_open = False
        if self._eval_open:
            self._eval_end()
        if self._epoch is not None:
            self._epoch_end()
        m = self._mon.end(f"train#{self._seg}")
        self._segments.append(m)
        self._train.add(m)
        self._final = self._train.figures("train", None, self.carbon)

    def finish(self, training: Mapping[str, Any], status: str = "ok") -> str | None:
        """Training is over (``status`` ok, failed or interrupted): write the store record, release the monitor.

        Returns the store run id (``None`` where this process does not meter or ``db=False``).
        """
        try:
            atexit.unregister(self._at_exit)
        except Exception:  # unregistering is best effort
            pass
        if not self.metering:
            self._close_monitor()
            return None
        self._training.update({k: v for k, v in training.items() if v is not None})
        if self._final is None:
            self._guard("train_end", self._train_end, None)
        if self._final is not None and self._segments:
            self.record = self._record_of(merge_measurements("train", self._segments), status)
            if self.db is not False:
                self.run_id = self._save(self.record, status)
        self._close_monitor()
        return self.run_id

    def _at_exit(self) -> None:
        """The interpreter exits with the training unfinished (a crash, Ctrl-C): keep what was measured."""
        if self._mon is not None:
            self.finish({}, status="interrupted")

    def _close_monitor(self) -> None:
        mon, self._mon = self._mon, None
        if mon is not None:
            try:
                mon.close()
            except Exception:  # closing is best effort; nothing of ours keeps running either way
                pass

    def _record_of(self, m: Measurement, status: str = "ok") -> dict[str, Any]:
        from wattlens.tracking.summary import build_record

        rank = self.rank or detect_rank()
        self._add_steps()
        steps = self._steps_total.figures("step", None, self.carbon, mean=True)
        extra = {
            "kind": RUN_KIND,
            "status": status,
            "framework": self.framework,
            "training": dict(self._training),
            "rank": rank.to_dict(),
            "scope": rank.scope,
            "epochs": [f.to_dict() for f in self._epochs],
            "evaluations": [f.to_dict() for f in self._evals],
            "steps": {
                **steps.to_dict(),
                "policy": "auto" if self.auto_cadence else "fixed",
                "every": self.step_every,
                "steps_seen": self._steps_seen,
                "hook_time_s": self._cost_s,
            },
            "meter": self.describe(),
        }
        m.name = "train"
        return build_record(m, self.carbon.footprint(m), extra)

    def _config(self) -> dict[str, Any]:
        """The run's config: the arguments every node agrees on (so that all nodes land in one run)."""
        static = (
            *("model", "model_class", "parameters", "max_steps", "epochs", "per_device_batch_size"),
            *("gradient_accumulation_steps", "effective_batch_size", "world_size", "precision"),
        )
        return {"framework": self.framework, **{k: self._training.get(k) for k in static if k in self._training}}

    def _shared_run_id(self) -> str | None:
        """Several nodes of one job write one run (a cell per node), named after the job's id."""
        rank = self.rank
        if rank is None or not rank.nodes or rank.nodes <= 1:
            return None
        for var in ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID", "OMPI_MCA_ess_base_jobid"):
            job = os.environ.get(var, "").strip()
            if job and job != "none":
                return f"{RUN_KIND}-{job}"
        return None

    def _save(self, record: dict[str, Any], status: str) -> str | None:
        from wattlens.store import open_store

        rank = self.rank or detect_rank()
        cell = "train" if not rank.nodes or rank.nodes <= 1 else f"train/node-{rank.node_rank}"
        try:
            store = open_store(None if self.db is None else str(self.db))
        except Exception as exc:
            logger.warning("the training record could not be stored (%s): %s", type(exc).__name__, exc)
            return None
        try:
            run_id = store.create_run(RUN_KIND, self._config(), run_id=self._shared_run_id())
            store.save_cell(run_id, cell, status, record)
            store.set_run_status(run_id, "done" if status == "ok" else status)
            logger.info(
                "training energy stored as run %s in %s (wattlens breakeven --training-run %s)",
                run_id,
                store.url,
                run_id,
            )
            return run_id
        except Exception as exc:
            logger.warning("the training record could not be stored (%s): %s", type(exc).__name__, exc)
            return None
        finally:
            store.close()


def model_facts(model: Any) -> dict[str, Any]:
    """Name, class and parameter count of a PyTorch model (duck-typed: no torch import here)."""
    facts: dict[str, Any] = {"model_class": type(model).__name__}
    config = getattr(model, "config", None)
    name = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    facts["model"] = name or getattr(config, "model_type", None) or type(model).__name__
    try:
        facts["parameters"] = int(sum(p.numel() for p in model.parameters()))
    except Exception:  # not a torch module: the count is left out, not guessed
        pass
    return facts


__all__ = [
    "CALIBRATION_STEPS",
    "DEFAULT_PREFIX",
    "RECALIBRATE_STEPS",
    "SETTINGS",
    "STEP_COST_BUDGET",
    "MeteredCallback",
    "MlflowRun",
    "TrainingMeter",
    "WindowFigures",
    "merge_measurements",
    "meter_for",
    "model_facts",
]
