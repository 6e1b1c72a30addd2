"""``wattlens measure`` (wrap a command), ``wattlens sources`` (what can be read here), ``wattlens project``.

Examples::

    wattlens measure --country FR --pue 1.2 -- python train.py --epochs 1
    wattlens measure --json -- ./serve_batch.sh | jq .energy_j      # stdout: the JSON only
    wattlens measure --json-file run.json --db runs.sqlite --csv runs.csv -- ./job.sh
    wattlens sources
    wattlens project --j-per-query 12.5 --rate 10M/day --country DE
    wattlens measure --country FR --embodied --water -- python infer.py
    wattlens project --j-per-query 0.5 --rate 10M/day --hardware h100 --lifetime-years 5 --utilisation 0.6

Exit codes: ``measure`` returns the command's own exit code (128+N when it was killed by signal N; 130
after a Ctrl-C or any SIGINT, whatever the command then did; 127 when the command cannot be found, 126 when
it cannot be executed); 2 for bad wattlens arguments, found before the command starts (the --db store is
opened and the output paths checked first). Signals sent to the wrapper are passed on to the command like
a shell would, and the record is always printed and saved (see :mod:`wattlens.cli.child`). A record that
cannot be saved is kept in a retry file (:mod:`wattlens.store.pending`), never lost.

Cost: the wrapper adds the Python start-up, argument parsing and a ~2 ms ``Monitor()`` before the command
starts, and the footprint and printing after it ends (benchmarks/measure_overhead.py: "measure CLI wrapper").
Nothing is imported or computed while the command runs: the wrapper's own CPU time would otherwise be
charged to the command by the estimator (which counts this process tree) and compete with it for the cores.
Importing the after-run modules while the command runs was measured and ruled out: it would save ~15 ms of
the ~113 ms added (2-vCPU VM, 2026-12-05) and charge those 15 CPU-ms to the command's window.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Iterator

from wattlens.cli import options as opt
from wattlens.cli.child import EXIT_INTERRUPTED, ChildRunner
from wattlens.cli.lifecycle_opts import (
    ENV_EMBODIED,
    ENV_WATER,
    LifecycleOptions,
    add_lifecycle_args,
    fmt_grams,
    human_lines,
    measurement_fields,
    project_fields,
    resolve_lifecycle,
)
from wattlens.cli.options import UsageError  # one error class for bad input, every command
from wattlens.units import format_j

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from wattlens.store.db import Store

EXIT_USAGE = 2


# ---------------------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------------------
def _add_carbon_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("carbon and cost (offline tables; nothing given -> world average, stated)")
    g.add_argument("--country", type=opt.country, help="ISO code or name of the grid (FR, FRA, France)")
    g.add_argument(
        "--region", type=opt.region, help="cloud region as provider:region, e.g. aws:us-east-1, gcp:europe-west1"
    )
    g.add_argument("--intensity", type=opt.intensity, metavar="G_PER_KWH", help="your own carbon intensity, gCO2e/kWh")
    g.add_argument(
        "--pue", type=opt.pue, help="power usage effectiveness 1.0-3.0, or 'provider' with --region (default 1.0)"
    )
    g.add_argument(
        "--price-per-kwh", type=opt.price, metavar="PRICE", help="electricity price per kWh (cost shown only then)"
    )
    g.add_argument("--currency", type=opt.currency, help="currency of --price-per-kwh, e.g. EUR")
    g.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table on stderr")


def register(subparsers: argparse._SubParsersAction) -> None:
    m = subparsers.add_parser(
        "measure",
        help="run a command and measure its energy, carbon and cost",
        description="Run COMMAND (stdio inherited), measure it (its CPU time and its children's count), print "
        "energy per component with source and interval, carbon and cost, and exit with COMMAND's exit code. "
        "With --json, stdout carries the JSON record only: COMMAND's own stdout goes to stderr.",
    )
    _add_carbon_args(m)
    add_lifecycle_args(m)
    m.add_argument(
        "--json-file",
        metavar="FILE",
        type=opt.OutputPath("JSON file", create_folders=False),
        help="also write the JSON record to FILE (COMMAND's stdout is left alone)",
    )
    m.add_argument(
        "--idle-baseline",
        type=opt.Float(0, 3600, unit="s"),
        metavar="SECONDS",
        help="measure the idle baseline first (net = gross - idle)",
    )
    m.add_argument("--attribution", choices=("machine", "process"), default="machine", help="default: machine")
    m.add_argument("--sources", help="comma-separated sources to use (rapl,nvml,amd,apple,estimator); default: auto")
    m.add_argument(
        "--cpu-tdp-w",
        type=opt.Float(0, 2000, lo_open=True, unit="W"),
        metavar="W",
        help="your CPU's TDP for the estimator (labelled user-given)",
    )
    m.add_argument("--name", default=None, help="name of the measurement (default: the command)")
    m.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="label the record (repeatable, e.g. --tag nightly --tag team=search); `wattlens serve` groups its "
        "History page by tag",
    )
    m.add_argument(
        "--db",
        metavar="URL",
        type=opt.db_location,
        help="also save the record to this store (SQLite path or postgresql:// URL)",
    )
    m.add_argument(
        "--job",
        metavar="ID",
        help="this command is one rank/node of job ID (e.g. $SLURM_JOB_ID under srun): meter only this rank's share "
        "(node-level domains on local rank 0 only) and, with --db, write it under the job for `wattlens results "
        "--job ID`; default when launched by srun/mpirun/torchrun: the launcher's job id",
    )
    m.add_argument(
        "--csv",
        metavar="FILE",
        type=opt.OutputPath("CSV file", create_folders=False),
        help="also append the record as one CSV row to FILE",
    )
    m.add_argument(
        "--mlflow",
        action="store_true",
        help="also log the energy to MLflow: the run in $MLFLOW_RUN_ID, else a new run that the command's own "
        "mlflow.start_run() joins (needs wattlens[mlflow])",
    )
    m.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    m.set_defaults(func=run_measure)

    s = subparsers.add_parser("sources", help="show which energy sources work here, and why others do not")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument(
        "--cpu-tdp-w",
        type=opt.Float(0, 2000, lo_open=True, unit="W"),
        metavar="W",
        help="as for measure: show the estimator with this TDP",
    )
    s.set_defaults(func=run_sources)

    p = subparsers.add_parser(
        "project",
        help="yearly energy / CO2e / cost of a workload at a request rate",
        description="Project a year of requests: energy per query x rate, x PUE, x carbon intensity (and price).",
    )
    p.add_argument("--j-per-query", type=opt.Float(0), required=True, metavar="J", help="energy per query in joules")
    p.add_argument("--j-per-query-low", type=opt.Float(0), metavar="J", help="low end of the per-query interval")
    p.add_argument("--j-per-query-high", type=opt.Float(0), metavar="J", help="high end of the per-query interval")
    p.add_argument(
        "--rate", required=True, help="request rate: 10M/day, 500/s, 2k/min, 1e9/year (bare number: per day)"
    )
    _add_carbon_args(p)
    add_lifecycle_args(p, hardware=True)
    p.set_defaults(func=run_project)


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
def _error(cmd: str, msg: str) -> int:
    print(f"wattlens {cmd}: error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _pue_arg(raw: str | None) -> float | str | None:
    if raw is None:
        return None
    if raw.strip().casefold() == "provider":
        return "provider"
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"--pue must be a number in [1.0, 3.0] or 'provider', got {raw!r}") from None


_CARBON_ENV = ("WATTLENS_COUNTRY", "WATTLENS_REGION", "WATTLENS_PUE", "WATTLENS_PRICE_PER_KWH", "WATTLENS_CURRENCY")


_LIFECYCLE_OPTIONS = ("lifetime_years", "utilisation", "wue", "host", "host_share", "hardware")


def _lifecycle_asked(args: argparse.Namespace) -> bool:
    """Whether an embodied-carbon or water figure is asked for (options or environment)."""
    flags = getattr(args, "embodied", False) or getattr(args, "water", False)
    given = any(getattr(args, k, None) is not None for k in _LIFECYCLE_OPTIONS)
    return bool(flags or given or os.environ.get(ENV_EMBODIED) or os.environ.get(ENV_WATER))


def _carbon_asked(args: argparse.Namespace) -> bool:
    """Whether any carbon, cost or lifecycle input is given (options or environment): it must then be checked
    before the command runs. With none, the defaults cannot fail and are resolved after it (no import before)."""
    given = (args.country, args.region, args.intensity, args.pue, args.price_per_kwh, args.currency)
    return any(v is not None for v in given) or any(os.environ.get(k) for k in _CARBON_ENV) or _lifecycle_asked(args)


def _carbon_and_lifecycle(args: argparse.Namespace) -> tuple[Any, LifecycleOptions]:
    """Location/PUE/price and the lifecycle options, validated (a UsageError names the bad value)."""
    from wattlens.carbon import CarbonError

    carbon = _carbon(args)
    if not _lifecycle_asked(args):  # off: nothing to resolve, and the lifecycle modules stay unloaded
        return carbon, LifecycleOptions(False, False, None, None, None, 1.0)
    try:
        return carbon, resolve_lifecycle(args, carbon.location)
    except CarbonError as exc:
        raise UsageError(str(exc)) from None


def _carbon(args: argparse.Namespace) -> Any:
    """Resolve location/PUE/price: bad input fails (as a UsageError) before any command runs."""
    from wattlens.api import _Carbon
    from wattlens.carbon import CarbonError

    try:
        return _Carbon(args.country, args.region, args.intensity, _pue_arg(args.pue), args.price_per_kwh, args.currency)
    except CarbonError as exc:
        raise UsageError(str(exc)) from None


_fmt_j = format_j


_fmt_g = fmt_grams


def _human(rec: dict[str, Any]) -> str:
    rows = [f"wattlens: {rec['name']}  ({rec['duration_s']:.3f} s, attribution={rec['attribution']})"]
    rows.append(f"  {'component':<12}{'energy':>12}  {'interval':<27}{'source':<12}method")
    for c in rec["components"]:
        name = c["domain"] + (f":{c['device']}" if c.get("device") else "")
        if c["energy_j"] is None:
            rows.append(f"  {name:<12}{'unavailable':>12}  {'':<27}{c['source']:<12}{c['method']}: {c['note']}")
        else:
            iv = f"[{_fmt_j(c['low_j'])}, {_fmt_j(c['high_j'])}]"
            rows.append(f"  {name:<12}{_fmt_j(c['energy_j']):>12}  {iv:<27}{c['source']:<12}{c['method']}")
    iv = f"[{_fmt_j(rec['low_j'])}, {_fmt_j(rec['high_j'])}]"
    rows.append(f"  {'node':<12}{_fmt_j(rec['energy_j']):>12}  {iv:<27}{rec['source']}")
    fiv = f"[{_fmt_j(rec['facility_low_j'])}, {_fmt_j(rec['facility_high_j'])}]"
    rows.append(
        f"  {'facility':<12}{_fmt_j(rec['facility_energy_j']):>12}  {fiv:<27}x PUE {rec['pue']:g} ({rec['pue_origin']})"
    )
    if rec.get("idle_j") is not None:
        rows.append(f"  idle baseline {_fmt_j(rec['idle_j'])}, net {_fmt_j(rec['net_j'])}")
    loc = rec.get("location") or {}
    if rec.get("co2e_g") is not None:
        default = " — world average, no location given" if loc.get("stated_default") else ""
        rows.append(
            f"  carbon      {_fmt_g(rec['co2e_g'])} CO2e "
            f"[{_fmt_g(rec['co2e_low_g'])}, {_fmt_g(rec['co2e_high_g'])}] at "
            f"{rec['carbon_intensity_g_per_kwh']:g} g/kWh ({loc.get('key')}, {rec.get('carbon_basis')}{default})"
        )
    cost = rec.get("cost")
    if cost and cost.get("amount") is not None:
        rows.append(f"  cost        {cost['amount']:.4g} {cost.get('currency') or ''} at {cost['price_per_kwh']:g}/kWh")
    else:
        rows.append(f"  cost        {rec.get('cost_note') or 'not set'}")
    seen: set[str] = set()
    for n in rec.get("notes", []):
        if n not in seen:
            seen.add(n)
            rows.append(f"  note: {n}")
    for c in rec["components"]:
        if c["energy_j"] is not None and c.get("note"):
            rows.append(f"  {c['domain']}: {c['note']}")
    rows.extend(human_lines(rec))
    if rec.get("exit_code") is not None:
        own = rec.get("command_exit_code")
        extra = f" (the command's own: {own})" if own is not None and own != rec["exit_code"] else ""
        rows.append(f"  command exit code {rec['exit_code']}{extra}")
    for sig in rec.get("signals") or []:
        how = "forwarded to the command" if sig["forwarded"] else "not forwarded (the command got it directly)"
        rows.append(f"  signal {sig['signal']} from the {sig['from']}: {how}")
    return "\n".join(rows)


def _csv_line(values: list[Any]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def append_csv(path: str, record: Mapping[str, Any]) -> None:
    """Append one flattened record to a CSV file, widening the header if new columns appear.

    Atomic: a row is appended with a single write that is undone (truncated away) if it fails, and a header
    change rewrites the file into a temporary copy that replaces it only once complete — a full disk leaves
    the file exactly as it was, never a truncated row. An advisory lock keeps concurrent writers apart.
    """
    import csv

    from wattlens.store.export import flatten
    from wattlens.store.pending import append_whole, lock, replace_file

    row = flatten(record)
    for _attempt in range(20):  # the file may be replaced (header widened) while we wait for its lock
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            lock(fd)
            if _replaced(path, fd):
                continue
            with os.fdopen(os.dup(fd), "r", newline="", encoding="utf-8") as f:
                text = f.read()
            if text and not text.endswith("\n"):  # a row cut short by an older, non-atomic writer: start anew
                text += "\n"
                append_whole(fd, b"\n")
            header = next(csv.reader([text.splitlines()[0]])) if text else []
            new_cols = [k for k in row if k not in header]
            if header and not new_cols:
                append_whole(fd, _csv_line([row.get(k) for k in header]).encode("utf-8"))
                return
            rows = list(csv.DictReader(text.splitlines())) if text else []
            header += new_cols
            body = _csv_line(header) + "".join(_csv_line([r.get(k) for k in header]) for r in [*rows, row])
            replace_file(path, body)
            return
        finally:
            os.close(fd)
    raise OSError(f"{path} kept being replaced by other writers; row not written")


def _replaced(path: str, fd: int) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(fd).st_ino
    except FileNotFoundError:
        return True


# ---------------------------------------------------------------------------------------------------
# measure
# ---------------------------------------------------------------------------------------------------
def _output_path(option: str, path: str) -> str:
    """An output file that can be written: not a directory, its folder exists and is writable."""
    if not path or not path.strip():
        raise UsageError(f"{option} needs a file path, got an empty string")
    full = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(full):
        raise UsageError(f"{option} {path!r} is a directory; give a file path")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: folder {folder!r} does not exist")
    target = full if os.path.exists(full) else folder
    if not os.access(target, os.W_OK):
        raise UsageError(f"{option} {path!r} is not writable")
    return full


def _open_db(url: str) -> Store:
    """Open the --db store before the command runs: a bad location or a store that cannot be reached or
    written is a usage error now, not a lost record after an hour-long command."""
    from wattlens.store import StoreError, open_store
    from wattlens.store.pending import mask_password

    try:
        return open_store(url)
    except StoreError as exc:
        raise UsageError(f"--db: {exc}") from None
    except Exception as exc:  # the driver's own errors (not a database file, read-only folder, ...)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise UsageError(f"--db {mask_password(url)}: cannot use this store ({reason})") from None


class _Outputs:
    """Where the record goes besides the terminal, all checked before the command starts."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.csv = _output_path("--csv", args.csv) if args.csv is not None else None
        self.json_file = _output_path("--json-file", args.json_file) if args.json_file is not None else None
        self.db_url: str | None = args.db
        self.store = _open_db(args.db) if args.db is not None else None

    def save(self, record: dict[str, Any]) -> list[str]:
        """Write the record everywhere asked; returns the problems (each record kept in the retry file)."""
        from wattlens.store.pending import save_or_keep

        problems = []
        if self.json_file is not None:
            from wattlens.store.pending import replace_file

            try:
                replace_file(self.json_file, json.dumps(record, default=str, allow_nan=False) + "\n")
            except OSError as exc:
                problems.append(f"could not write --json-file {self.json_file}: {exc.strerror or exc}")
        targets: list[tuple[str, Callable[[Mapping[str, Any]], object]]] = []
        if self.csv is not None:
            path = self.csv
            targets.append((f"csv:{path}", lambda rec: append_csv(path, rec)))
        if self.store is not None and self.db_url is not None:
            targets.append((self.db_url, self.store.save_measurement))
        for target, save in targets:
            outcome = save_or_keep(target, record, save)
            if not outcome.saved:
                problems.append(outcome.message(target))
        return problems

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def run_measure(args: argparse.Namespace) -> int:
    cmd = list(args.cmd or [])
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        return _error("measure", "no command given: wattlens measure [options] -- COMMAND [ARGS...]")
    if not cmd[0].strip():
        return _error("measure", "the command name after -- is empty; give a program, e.g. -- python train.py")
    if args.idle_baseline is not None and not (0 < args.idle_baseline <= 3600 and math.isfinite(args.idle_baseline)):
        return _error("measure", f"--idle-baseline must be in (0, 3600] seconds, got {args.idle_baseline!r}")
    from wattlens.meters.base import MeterError

    outputs = None
    try:
        carbon, lifecycle = _carbon_and_lifecycle(args) if _carbon_asked(args) else (None, None)
        outputs = _Outputs(args)
        sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
        args.rank_plan = _rank_plan(args) if sources is None else None
        if args.rank_plan is not None:  # one rank of a job: meter this rank's share only (wattlens.distributed)
            from wattlens.distributed.wrapper import rank_monitor

            mon = rank_monitor(args.rank_plan, args.cpu_tdp_w)
        else:
            from wattlens.tracking import Monitor

            mon = Monitor(sources, args.attribution, cpu_tdp_w=args.cpu_tdp_w)
    except (MeterError, UsageError) as exc:
        if outputs is not None:
            outputs.close()
        return _error("measure", str(exc))
    try:
        return _measure(args, cmd, mon, carbon, lifecycle, outputs)
    finally:
        outputs.close()


def _rank_plan(args: argparse.Namespace) -> Any:
    """The rank plan when this wrapper is one rank of a job (launcher variables or --job), else None."""
    if args.job is not None:
        from wattlens.distributed.jobs import JobError, check_job_id

        try:
            check_job_id(args.job)
        except JobError as exc:
            raise UsageError(f"--job: {exc}") from None
    from wattlens.distributed.wrapper import rank_plan

    return rank_plan(args.attribution, args.job)


def _save_job_part(args: argparse.Namespace, outputs: _Outputs, measurement: Any, record: dict[str, Any]) -> None:
    """A rank's part under its job id in the --db store (a failure is one line; the record is saved anyway)."""
    plan = getattr(args, "rank_plan", None)
    if plan is None or outputs.store is None:
        return
    from wattlens.distributed.wrapper import save_rank

    try:
        run_id = save_rank(outputs.store, plan, measurement, args.job, record.get("co2e_g"))
    except Exception as exc:  # the measurement record itself is saved by outputs.save
        print(f"wattlens measure: could not save the job part: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    if run_id is not None:
        record.setdefault("notes", []).append(
            f"job part saved as run {run_id}, cell node-{plan.node_key}/rank-{plan.rank}"
        )


def _measure(args: argparse.Namespace, cmd: list[str], mon: Any, carbon: Any, lifecycle: Any, outputs: _Outputs) -> int:
    name = args.name or " ".join(cmd)[:200]
    mlflow_run = None
    if args.mlflow:  # opened before the command starts, so that the command can join the run
        from wattlens.integrations.errors import IntegrationError
        from wattlens.integrations.mlflow import CommandRun

        try:
            mlflow_run = CommandRun.open(name, cmd)
        except IntegrationError as exc:
            mon.close()
            return _error("measure", str(exc))
    try:
        if args.idle_baseline:
            print(f"wattlens: measuring the idle baseline for {args.idle_baseline:g} s ...", file=sys.stderr)
            mon.measure_idle(args.idle_baseline)
    except KeyboardInterrupt:
        mon.close()
        print("wattlens measure: interrupted before the command started; nothing was run", file=sys.stderr)
        return EXIT_INTERRUPTED
    # From here to the end, signals are taken by the runner (never a KeyboardInterrupt): the command is never
    # orphaned and its record is always written.
    with ChildRunner() as runner:
        try:
            with _joining_mlflow_run(mlflow_run):
                outcome = runner.run(cmd, lambda: mon.begin(name), stdout_to_stderr=args.json)
            measurement = mon.end(name) if outcome.started else None
            if measurement is None:
                mon.cancel(name)
        finally:
            described = mon.describe()
            meter_sources = tuple(mon.sources)
            mon.close()
        if measurement is None:
            print(f"wattlens measure: {outcome.launch_error}", file=sys.stderr)
            if mlflow_run is not None:
                mlflow_run.abandon(outcome.launch_error or "the command did not start")
            return outcome.exit_code
        from wattlens.tracking.summary import build_record

        if outcome.interrupted:
            measurement.notes.append(
                f"interrupted by SIGINT: exit code {EXIT_INTERRUPTED}; the command itself ended with "
                f"{outcome.command_exit_code}"
            )
        if carbon is None:  # nothing asked: the world average and no lifecycle figures (nothing can fail)
            carbon, lifecycle = _carbon_and_lifecycle(args)
        fp = carbon.footprint(measurement)
        meter = {k: v for k, v in described.items() if k in ("sources", "statuses", "cpu_power_model")}
        extra: dict[str, Any] = {"command": cmd, **outcome.record_fields(), "meter": meter}
        if args.tag:
            extra["tags"] = list(dict.fromkeys(t.strip() for t in args.tag if t.strip()))
        record = build_record(measurement, fp, extra)
        if getattr(args, "rank_plan", None) is not None:
            from wattlens.distributed.wrapper import record_fields

            record.update(record_fields(args.rank_plan, measurement, args.job))
            _save_job_part(args, outputs, measurement, record)
        try:
            record.update(measurement_fields(lifecycle, measurement, meter_sources, fp, carbon.location))
        except Exception as exc:  # the command ran and was measured: a lifecycle problem is reported, not raised
            record["notes"].append(f"lifecycle figures unavailable: {type(exc).__name__}: {exc}")
        _print_record(record, args.json)
        for problem in outputs.save(record):
            print(f"wattlens measure: {problem}", file=sys.stderr)
        if mlflow_run is not None:  # MLflow failing is one warning; the record then goes to the store
            mlflow_run.finish(record, outcome.exit_code, args.db, saved=bool(args.db))
    return outcome.exit_code


@contextlib.contextmanager
def _joining_mlflow_run(mlflow_run: Any) -> Iterator[None]:
    """MLFLOW_RUN_ID of our run while the command starts (it inherits it and joins the run), then put back."""
    run_id = getattr(mlflow_run, "run_id", None)
    if not run_id:
        yield
        return
    before = os.environ.get("MLFLOW_RUN_ID")
    os.environ["MLFLOW_RUN_ID"] = run_id
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_RUN_ID", None)
        else:
            os.environ["MLFLOW_RUN_ID"] = before


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    try:
        if as_json:
            print(json.dumps(record, default=str, allow_nan=False), flush=True)
        else:
            print(_human(record), file=sys.stderr, flush=True)
    except BrokenPipeError:  # `... | head`: the reader left; the record is still saved where asked
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------------
def run_sources(args: argparse.Namespace) -> int:
    from wattlens.meters import cpu as cpu_tables
    from wattlens.meters.base import MeterError
    from wattlens.meters.discovery import probe_all

    try:
        statuses = probe_all(cpu_tdp_w=args.cpu_tdp_w)
    except MeterError as exc:
        return _error("sources", str(exc))
    info = cpu_tables.detect_cpu()
    if args.json:
        out = {
            "sources": [s.to_dict() for s in statuses],
            "cpu": {
                "raw_model": info.raw_model,
                "model": info.model,
                "logical_cpus": info.logical_cpus,
                "virtualised": info.virtualised,
                "from": info.source,
            },
        }
        print(json.dumps(out))
        return 0
    labels = {
        "rapl": "RAPL",
        "nvml": "NVIDIA (NVML)",
        "amd": "AMD (amdsmi)",
        "apple": "Apple",
        "estimator": "estimator",
    }
    print(
        f"CPU: {info.raw_model or 'unknown'} (normalised: {info.model or '-'}; {info.logical_cpus} logical CPUs"
        f"{', virtualised' if info.virtualised else ''})"
    )
    for s in statuses:
        mark = "found    " if s.available else "not found"
        doms = f" [{', '.join(s.domains)}; {s.source}]" if s.available and s.domains else ""
        print(f"  {labels.get(s.name, s.name) + ':':<15}{mark}{doms} {s.detail}")
    return 0


# ---------------------------------------------------------------------------------------------------
# project
# ---------------------------------------------------------------------------------------------------
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_PER_DAY = {
    "s": 86400.0,
    "sec": 86400.0,
    "second": 86400.0,
    "min": 1440.0,
    "minute": 1440.0,
    "h": 24.0,
    "hr": 24.0,
    "hour": 24.0,
    "d": 1.0,
    "day": 1.0,
    "week": 1 / 7,
    "wk": 1 / 7,
}
# per year; divided by the projection's own year (carbon.footprint.DAYS_PER_YEAR), so "1e9/year" projects 1e9
_PER_YEAR = {"month": 12.0, "year": 1.0, "yr": 1.0, "y": 1.0}
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmbgt]?)\s*(?:/\s*([a-z]+?)s?)?\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """Queries per day from '10M/day', '500/s', '2k/min', '1e9/year' or a bare number (per day).

    >>> parse_rate("10M/day"), parse_rate("1/s"), parse_rate("730/year")
    (10000000.0, 86400.0, 2.0)
    """
    m = _RATE.match(text or "")
    if not m:
        raise UsageError(f"--rate {text!r} not understood: write e.g. 10M/day, 500/s, 2k/min, 1e9/year")
    number, suffix, unit = float(m.group(1)), m.group(2).lower(), (m.group(3) or "day").lower()
    if unit in _PER_YEAR:
        from wattlens.carbon.footprint import DAYS_PER_YEAR  # lazy: `wattlens measure` stays light

        per_day = _PER_YEAR[unit] / DAYS_PER_YEAR
    elif unit in _PER_DAY:
        per_day = _PER_DAY[unit]
    else:
        raise UsageError(f"--rate unit {unit!r} not understood: use s, min, hour, day, week, month or year")
    value = number * _SUFFIX[suffix] * per_day
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--rate must be a finite number >= 0, got {text!r}")
    return value


def run_project(args: argparse.Namespace) -> int:
    from wattlens.carbon import CarbonError, project_yearly

    try:
        if not (math.isfinite(args.j_per_query) and args.j_per_query >= 0):
            raise UsageError(f"--j-per-query must be a finite number >= 0, got {args.j_per_query!r}")
        qpd = parse_rate(args.rate)
        carbon = _carbon(args)
        lifecycle = resolve_lifecycle(args, carbon.location)
        y = project_yearly(
            args.j_per_query,
            qpd,
            carbon.location,
            pue=carbon.pue,
            price_per_kwh=args.price_per_kwh,
            currency=args.currency,
            j_per_query_low=args.j_per_query_low,
            j_per_query_high=args.j_per_query_high,
        )
        y.update(project_fields(lifecycle, args, y, carbon.location))
    except (CarbonError, UsageError) as exc:
        return _error("project", str(exc))
    if args.json:
        print(json.dumps(y, default=str))
        return 0
    fp = y["footprint"]
    loc = fp["location"]

    def iv(key: str, fmt: str = "{:.4g}") -> str:
        lo, hi = y.get(f"{key}_low"), y.get(f"{key}_high")
        return f" [{fmt.format(lo)}, {fmt.format(hi)}]" if lo is not None and hi is not None and lo != hi else ""

    print(
        f"{args.j_per_query:g} J/query x {y['queries_per_day']:.4g} queries/day = "
        f"{y['queries_per_year']:.4g} queries/year"
    )
    print(f"  energy   {y['kwh_per_year']:.4g} kWh/year{iv('kwh_per_year')} (facility, PUE {y['pue']:g})")
    print(
        f"  carbon   {y['tco2e_per_year']:.4g} tCO2e/year{iv('tco2e_per_year')} "
        f"at {y['carbon_intensity_g_per_kwh']:g} g/kWh "
        f"({loc['key']}, {y['basis']}{', world average: no location given' if loc.get('stated_default') else ''})"
    )
    cost = y.get("cost_per_year")
    if cost and cost.get("amount") is not None:
        print(f"  cost     {cost['amount']:.4g} {cost.get('currency') or ''}/year at {cost['price_per_kwh']:g}/kWh")
    else:
        print(f"  cost     {y.get('cost_note') or 'not set'}")
    _print_project_lifecycle(y)
    for n in fp.get("notes", []):
        print(f"  note: {n}")
    return 0


def _print_project_lifecycle(y: dict[str, Any]) -> None:
    if "embodied" in y:
        print(f"  hardware {y['hardware']}: {y['device_seconds_basis']}")
    for line in human_lines(y, unit="/year"):
        print(line)
    if y.get("co2e_embodied_g_per_query") is not None:
        print(f"  per query: embodied {y['co2e_embodied_g_per_query']:.4g} g CO2e")
    if y.get("water_l_per_query") is not None:
        print(f"  per query: water {y['water_l_per_query'] * 1000:.4g} mL")
