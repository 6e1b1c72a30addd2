"""``wattlens bench`` and ``wattlens results``: the Power Hungry Processing study as a tool (``wattlens breakeven``
is :mod:`wattlens.cli.breakeven`).

Thin over :mod:`wattlens.bench`; heavy imports (torch via the workloads, rich, the report layer) happen
inside the command functions only.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wattlens.cli import options as opt
from wattlens.cli.lifecycle_opts import add_lifecycle_args

if TYPE_CHECKING:
    from wattlens.report.query import Leaderboard

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# --- argument helpers ------------------------------------------------------------------------------------


def _add_full(p: Any) -> None:
    p.add_argument(
        "--full",
        action="store_true",
        help="one table per task with config, weights, source, every reason and the rating bands "
        "(default: one compact table and one line on ratings)",
    )


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        type=opt.db_location,
        default=None,
        help="results database: a .sqlite path (default ./wattlens.sqlite or $WATTLENS_DB) or postgresql://...",
    )


def _add_carbon(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("carbon and cost (from wattlens.carbon; every default is stated)")
    g.add_argument(
        "--country",
        type=opt.country,
        help="ISO code or name for the grid carbon intensity (default: $WATTLENS_COUNTRY, else WORLD)",
    )
    g.add_argument("--region", type=opt.region, help="cloud region, e.g. aws:us-east-1")
    g.add_argument("--intensity", type=opt.intensity, metavar="G_PER_KWH", help="your own grid intensity, gCO2e/kWh")
    g.add_argument("--pue", type=opt.pue, help="PUE (number) or provider name; default 1.0 (node boundary), stated")
    g.add_argument("--price-per-kwh", type=opt.price, help="electricity price per kWh")
    g.add_argument("--currency", type=opt.currency, help="currency of the price, e.g. EUR")


def _carbon_settings(args: argparse.Namespace) -> dict[str, object]:
    import os

    d = {
        "country": args.country,
        "region": args.region,
        "intensity_g_per_kwh": args.intensity,
        "pue": args.pue,
        "price_per_kwh": args.price_per_kwh,
        "currency": args.currency,
    }
    if args.country is None and args.region is None and args.intensity is None:
        # freeze the environment's choice into the run, so `wattlens results` later gives the same CO2e
        d["region"] = os.environ.get("WATTLENS_REGION") or None
        d["country"] = None if d["region"] else (os.environ.get("WATTLENS_COUNTRY") or None)
    for key, env in (
        ("pue", "WATTLENS_PUE"),
        ("price_per_kwh", "WATTLENS_PRICE_PER_KWH"),
        ("currency", "WATTLENS_CURRENCY"),
    ):
        if d[key] is None and os.environ.get(env):
            d[key] = os.environ[env]
    d["lifecycle"] = _lifecycle_settings(args)
    return {k: v for k, v in d.items() if v is not None}


def _wue_value(wue: Any) -> str | float:
    return wue.provider or wue.wue_l_per_kwh


def _lifecycle_settings(args: argparse.Namespace) -> dict[str, object] | None:
    """--embodied/--water and their settings, validated now (exit 2 before any cell runs), frozen into the run."""
    from wattlens.carbon import resolve_location
    from wattlens.cli.lifecycle_opts import resolve_lifecycle

    opts = resolve_lifecycle(args, resolve_location(args.country, args.region, args.intensity))
    if not opts.enabled:
        return None
    life = opts.amortisation
    return {
        "embodied": opts.embodied,
        "water": opts.water,
        "lifetime_years": None if life is None or life.lifetime_origin == "default" else life.lifetime_years,
        "utilisation": None if life is None or life.utilisation_origin == "default" else life.utilisation,
        "wue": None if opts.wue is None or opts.wue.origin in ("default", "provider") else _wue_value(opts.wue),
        "host": opts.host,
        "host_share": opts.host_share,
    }


def register(subparsers: Any) -> None:
    from wattlens.cli import breakeven  # its own module: one command per job

    _register_bench(subparsers)
    _register_results(subparsers)
    breakeven.register(subparsers, add_db=_add_db, add_carbon=_add_carbon)


def _register_bench(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark models per task (the Power Hungry Processing study, on this machine)",
        description="Run a benchmark suite (TOML) or one task/model grid; every finished cell is committed to the "
        "store at once, so an interrupted run resumes with --resume RUN_ID.",
    )
    src = p.add_argument_group("what to run")
    src.add_argument(
        "--suite", type=opt.InputPath("suite TOML file", ("quick", "php")), help="quick | php | path/to/suite.toml"
    )
    src.add_argument("--task", help="one task instead of a suite (e.g. text-generation)")
    src.add_argument("--model", action="append", default=[], help="model id/path (repeatable; with --task)")
    src.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run (skips the stored cells)")
    src.add_argument("--retry-failed", action="store_true", help="with --resume: also re-run the failed cells")
    src.add_argument(
        "--trust-callables",
        action="store_true",
        help="with --resume: run the stored run's file.py:function models even when the file lies outside this "
        "directory tree (a model spec 'file.py:fn' imports and runs that file)",
    )
    src.add_argument("--run-id", help="id for a new run (default: generated)")
    src.add_argument(
        "--list-models",
        action="store_true",
        help="list the models --task knows (every task without --task) with their weights and size, and exit",
    )
    m = p.add_argument_group("method (override the suite's values)")
    m.add_argument("--queries", type=opt.Int(1), help="inputs per repeat")
    m.add_argument("--batch", type=opt.Int(1), action="append", help="batch size (repeatable)")
    m.add_argument("--precision", action="append", help="fp32 | bf16 | fp16 (repeatable)")
    m.add_argument(
        "--threads", type=opt.Int(0, 4096), action="append", help="intra-op threads, 0 = library default (repeatable)"
    )
    m.add_argument("--engine", action="append", help="pytorch | onnxruntime | callable (repeatable)")
    m.add_argument(
        "--device",
        action="append",
        help="cpu | cuda | cuda:N | mps | auto (cuda when available, else cpu) (repeatable); "
        "default: the suite's (cpu; php: auto)",
    )
    m.add_argument("--repeats", type=opt.Int(1), help="measured windows per cell (>= 5 for the method)")
    m.add_argument("--warmup", type=opt.Int(0), help="warm-up batches (excluded)")
    m.add_argument("--min-window-s", type=opt.Float(0), help="minimum duration of each measured window")
    m.add_argument("--idle-s", type=opt.Float(0), help="idle baseline duration before/after each cell")
    m.add_argument("--attribution", choices=("machine", "process"), help="energy attribution of the monitor")
    m.add_argument(
        "--max-power-w",
        type=opt.Float(0, lo_open=True),
        help="maximum draw of the boundary, W (enables the power <= max check)",
    )
    m.add_argument("--no-phases", action="store_true", help="skip the separate prefill/decode windows")
    m.add_argument("--no-quality", action="store_true", help="skip the quality metric")
    _add_db(p)
    _add_carbon(p)
    add_lifecycle_args(p)
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the cells as Ray tasks on the cluster at ADDRESS (auto: the one this machine joined; local: a "
        "one-machine Ray); workers write each cell to --db (PostgreSQL for a multi-node cluster). Needs wattlens[ray]",
    )
    out = p.add_argument_group("output")
    out.add_argument("--html", metavar="PATH", type=opt.OutputPath("HTML file"), help="also write the HTML report")
    out.add_argument("--json", action="store_true", help="print the result rows as JSON instead of the leaderboard")
    _add_full(out)
    out.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_bench)


def _register_results(subparsers: Any) -> None:
    p = subparsers.add_parser("results", help="leaderboard of a bench run: per task, per model, per config")
    p.add_argument("--run", metavar="RUN_ID", help="run to show (default: the latest bench run)")
    p.add_argument("--all", action="store_true", help="every bench run in the store")
    p.add_argument("--json", action="store_true", help="rows as JSON (the documented contract)")
    p.add_argument(
        "--html",
        metavar="PATH",
        type=opt.OutputPath("HTML file"),
        help="write the HTML report",
    )
    p.add_argument("--list", action="store_true", help="list the bench runs in the store")
    _add_full(p)
    p.add_argument(
        "--job",
        metavar="JOB_ID",
        help="a distributed job: per node (missing nodes shown), per rank, and the total of the nodes' integrals",
    )
    _add_db(p)
    add_lifecycle_args(p)
    p.set_defaults(func=cmd_results)


# --- progress -------------------------------------------------------------------------------------------------


def _progress(quiet: bool) -> Any:
    from wattlens.bench.execute import Progress

    if quiet:
        return Progress()
    if sys.stderr.isatty():
        try:
            return _rich_progress_class()()
        except ImportError:
            pass
    return _plain_progress_class()()


def _plain_progress_class() -> type:
    from wattlens.bench.execute import Progress

    class PlainProgress(Progress):
        """One line per event on stderr (logs, CI, pipes)."""

        def start(self, run_id: str, total: int, done: int) -> None:
            self.t0, self.total, self.done0 = time.time(), total, done
            self.n = done
            print(f"[bench] run {run_id}: {total} cells, {done} already stored", file=sys.stderr, flush=True)

        def cell_start(self, index: int, cell: Any) -> None:
            dev = "" if getattr(cell, "device", "cpu") == "cpu" else f" {cell.device}"
            print(
                f"[bench] {self.n + 1}/{self.total} {cell.task} {cell.model} b{cell.batch} {cell.precision} "
                f"{cell.engine}{dev}{self._eta()}",
                file=sys.stderr,
                flush=True,
            )

        def cell_done(self, index: int, cell: Any, status: str, line: str) -> None:
            self.n += 1
            print(f"[bench]   {status}: {line}", file=sys.stderr, flush=True)

        def finish(self, status: str) -> None:
            print(f"[bench] {status} after {time.time() - self.t0:.0f} s", file=sys.stderr, flush=True)

        def _eta(self) -> str:
            finished = self.n - self.done0
            if finished <= 0:
                return ""
            per = (time.time() - self.t0) / finished
            return f"  (ETA {per * (self.total - self.n):.0f} s)"

    return PlainProgress


def _rich_progress_class() -> type:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from wattlens.bench.execute import Progress as Base

    class RichProgress(Base):
        """A rich bar over cells with ETA, the current cell and step; results printed above the bar."""

        def start(self, run_id: str, total: int, done: int) -> None:
            self.console = Console(stderr=True)
            # auto_refresh=False: no render thread waking up inside a measured window (it would add CPU time
            # to the very process being measured); the bar is redrawn between windows instead.
            self.bar = Progress(
                TextColumn("[bold]bench"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=self.console,
                transient=False,
                auto_refresh=False,
            )
            self.bar.start()
            self.console.print(f"run [bold]{run_id}[/]: {total} cells, {done} already stored")
            self.task = self.bar.add_task("", total=total, completed=done)
            self.cell = ""

        def _describe(self, text: str) -> None:
            room = max(self.console.width - 60, 20)  # the bar, counts and times take ~60 columns
            self.bar.update(self.task, description=text if len(text) <= room else text[: room - 1] + "…")
            self.bar.refresh()

        def cell_start(self, index: int, cell: Any) -> None:
            self.cell = f"{cell.model} b{cell.batch}"  # the task is in the result line printed above the bar
            self._describe(self.cell)

        def step(self, text: str) -> None:
            self._describe(f"{self.cell}: {text}")

        def cell_done(self, index: int, cell: Any, status: str, line: str) -> None:
            colour = {"ok": "green", "contended": "yellow", "invalid": "yellow", "failed": "red"}.get(status, "white")
            self.console.print(
                f"[{colour}]{status:>7}[/] {cell.task} {cell.model} b{cell.batch}: {line}", markup=True, highlight=False
            )
            self.bar.advance(self.task)
            self.bar.refresh()

        def finish(self, status: str) -> None:
            self.bar.update(self.task, description=status)
            self.bar.refresh()
            self.bar.stop()

    return RichProgress


# --- bench ----------------------------------------------------------------------------------------------------


def _overrides(args: argparse.Namespace) -> dict[str, Any]:  # argparse values, checked by the suite schema
    d = {
        "queries": args.queries,
        "batch": args.batch,
        "precision": args.precision,
        "threads": args.threads,
        "engine": args.engine,
        "device": args.device,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "min_window_s": args.min_window_s,
        "idle_s": args.idle_s,
        "attribution": args.attribution,
        "max_power_w": args.max_power_w,
    }
    if args.no_phases:
        d["phases"] = False
    if args.no_quality:
        d["quality"] = False
    return {k: v for k, v in d.items() if v is not None}


def _build_suite(args: argparse.Namespace) -> Any:
    from wattlens.bench.suites import SUITE_KEYS, TASK_KEYS, load_suite, suite_from_args, validate

    over = _overrides(args)
    if args.task:
        return suite_from_args(args.task, args.model, **over)
    suite = load_suite(args.suite)
    if not over:
        return suite
    # command-line values override the file for every task: regroup, override, re-validate
    tasks = _tasks_of(suite)
    _apply_task_overrides(tasks, {k: v for k, v in over.items() if k in TASK_KEYS})
    # (an empty description is the default, not a value the file gave: re-validating it would reject it)
    settings = {k: v for k, v in suite.settings.items() if k in SUITE_KEYS and not (k == "description" and not v)}
    settings.update(over)
    return validate({"suite": settings, "task": tasks}, "", f"{suite.file} + command line")


def _tasks_of(suite: Any) -> list[dict[str, Any]]:
    """The suite's cells regrouped per (task, load options), so that overrides re-expand the grid."""
    out: dict[tuple, dict[str, Any]] = {}
    for c in suite.cells:
        t = out.setdefault(
            (c.task, c.options),
            {
                "name": c.task,
                "models": [],
                "queries": c.queries,
                "repeats": c.repeats,
                "warmup": c.warmup,
                "min_window_s": c.min_window_s,
                "batch": [],
                "precision": [],
                "threads": [],
                "engine": [],
                "device": [],
                "phases": c.phases,
                "quality": c.quality,
                "seed": c.seed,
            },
        )
        if c.options:
            t["options"] = dict(c.options)
        for key, val in (
            ("models", c.model),
            ("batch", c.batch),
            ("precision", c.precision),
            ("threads", c.threads),
            ("engine", c.engine),
            ("device", c.device),
        ):
            if val not in t[key]:
                t[key].append(val)
    return list(out.values())


def _apply_task_overrides(tasks: list[dict[str, Any]], over: dict[str, Any]) -> None:
    for t in tasks:
        for k, v in over.items():
            if k in t:
                t[k] = v


def _check_devices(suite: Any) -> str | None:
    """Why an explicitly requested device (cuda, cuda:N, mps) is unavailable here, or None. Checked before the
    run starts, so that a CPU-only machine gets one clear message instead of a run of failed cells (``auto``
    always resolves: cuda when available, else cpu)."""
    wanted = sorted({c.device for c in suite.cells if c.device not in ("cpu", "auto")})
    if not wanted:
        return None
    from wattlens.workloads import WorkloadError
    from wattlens.workloads.device import resolve_device

    for device in wanted:
        try:
            resolve_device(device)
        except WorkloadError as exc:
            return str(exc)
    return None


def _list_models(task: str | None) -> int:
    """``bench --list-models [--task T]``: the catalogue, one model a line (name, weights, size, description)."""
    from wattlens.workloads import TASKS, WorkloadError, available_models

    try:
        tasks = [task] if task else sorted(TASKS)
        listing = [(t, available_models(t)) for t in tasks]
    except (WorkloadError, KeyError) as exc:
        print(f"wattlens bench: error: --task: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for name, models in listing:
        print(f"{name}:")
        for m in models:
            print(f"  {m.name:<36} {m.weights:<7} {m.size:<6} {m.description}")
    print("also: a local model directory, an .onnx file, file.py:function, or a hub id already in the offline cache")
    return EXIT_OK


def _check_models(suite: Any) -> str | None:
    """Why a model of the suite cannot be loaded here (unknown name, missing path), or None: said before the run
    starts instead of a run of failed cells."""
    import wattlens.workloads as workloads

    for task, model in sorted({(c.task, c.model) for c in suite.cells}):
        try:
            workloads.check_model(task, model)
        except workloads.WorkloadError as exc:
            return f"--model: {exc}"
    return None


def _resume_hint(run_id: str, db: str | None) -> str:
    return f"wattlens bench --resume {run_id}" + (f" --db {db}" if db else "")


def _sigterm_to_interrupt() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not the main thread
        pass


def _untrusted_code(suite: Any, trusted: bool) -> str | None:
    """Why a stored run may not be resumed here: it would import code from outside this directory tree."""
    from wattlens.bench.trust import untrusted_callables

    untrusted = [] if trusted else untrusted_callables(suite.cells, root=Path.cwd())
    if not untrusted:
        return None
    return (
        f"the stored run would import and run code outside {str(Path.cwd())!r}: {', '.join(untrusted)}; "
        "check it, then add --trust-callables (or resume from the directory that holds it)"
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from wattlens.bench.execute import execute, start_run
    from wattlens.bench.suites import Suite, SuiteError
    from wattlens.cli.options import one_line
    from wattlens.store import StoreError, open_store

    if args.list_models:
        return _list_models(args.task)
    if not (args.suite or args.task or args.resume) and args.model:
        from wattlens.workloads.recipes import artefact_json

        # a `wattlens optimize --out DIR` artefact names its own task
        tasks = {str((artefact_json(m) or {}).get("task") or "") for m in args.model}
        if len(tasks) == 1 and "" not in tasks:
            args.task = tasks.pop()
    if not (args.suite or args.task or args.resume):
        print("wattlens bench: give --suite quick|php|FILE, or --task T --model M, or --resume RUN_ID", file=sys.stderr)
        return EXIT_USAGE
    if not args.resume:  # a new run's models and devices are checked before the store is opened (or created)
        try:
            problem = _check_devices(_build_suite(args)) or _check_models(_build_suite(args))
        except SuiteError as exc:
            problem = str(exc)
        if problem is not None:
            print(f"wattlens bench: {problem}", file=sys.stderr)
            return EXIT_USAGE
    store = open_store(args.db)
    try:
        if args.resume:
            run = store.get_run(args.resume)
            if run is None or run.get("kind") != "bench":
                print(f"wattlens bench: no bench run {args.resume!r} in {args.db or 'the store'}", file=sys.stderr)
                return EXIT_USAGE
            suite = Suite.from_dict(run["config"]["suite"])
            run_id = args.resume
            problem = _untrusted_code(suite, args.trust_callables)
            if problem is not None:
                print(f"wattlens bench: {problem}", file=sys.stderr)
                return EXIT_USAGE
        else:
            try:
                suite = _build_suite(args)
            except SuiteError as exc:
                print(f"wattlens bench: {exc}", file=sys.stderr)
                return EXIT_USAGE
            run_id = ""
        problem = _check_devices(suite)
        if problem is not None:
            print(f"wattlens bench: {problem}", file=sys.stderr)
            return EXIT_USAGE
        from wattlens.carbon import CarbonError

        try:
            carbon = {} if args.resume else _carbon_settings(args)
        except CarbonError as exc:
            print(f"wattlens bench: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.ray:
            problem = _ray_problem(args, store)
            if problem is not None:
                print(f"wattlens bench: {problem}", file=sys.stderr)
                return EXIT_USAGE
        from wattlens.tracking import Monitor

        monitor = Monitor(attribution=suite.attribution)
        try:
            if not args.resume:
                run_id = start_run(store, suite, carbon=carbon, monitor=monitor, run_id=args.run_id)
            _sigterm_to_interrupt()
            if args.ray:
                from wattlens.distributed.ray_sweep import execute_on_ray
                from wattlens.store.db import normalise_url

                summary = execute_on_ray(
                    store,
                    normalise_url(args.db),
                    run_id,
                    suite,
                    address=args.ray,
                    progress=_progress(args.quiet),
                    retry_failed=args.retry_failed,
                )
            else:
                summary = execute(
                    store,
                    run_id,
                    suite,
                    monitor=monitor,
                    progress=_progress(args.quiet),
                    retry_failed=args.retry_failed,
                )
        except StoreError as exc:  # locked past the retries, read-only, full: the cells committed before stay
            shown = one_line(str(exc))
            if not run_id:  # the run itself could not be created: nothing to continue
                print(f"wattlens bench: error: {shown}; nothing was stored", file=sys.stderr)
                return EXIT_USAGE
            hint = _resume_hint(run_id, args.db)
            print(f"wattlens bench: error: {shown}; stored cells are kept, continue with: {hint}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            if not run_id:
                print("\ninterrupted before the run started: nothing was stored", file=sys.stderr)
            else:
                hint = _resume_hint(run_id, args.db)
                print(f"\ninterrupted: finished cells are stored. Continue with:\n  {hint}", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            monitor.close()
        _show(
            store,
            run_id,
            args,
            header=f"run {run_id}: {summary.done}/{summary.total} cells "
            f"({', '.join(f'{n} {s}' for s, n in sorted(summary.counts.items())) or 'nothing new'}) "
            f"in {summary.duration_s:.0f} s",
        )
        if {c["status"] for c in store.cells(run_id)} == {"failed"}:  # not one cell of the run measured
            print(f"wattlens bench: every cell of run {run_id} failed (see the errors above)", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        store.close()


def _ray_problem(args: argparse.Namespace, store: Any) -> str | None:
    """Join the Ray cluster and check the store can be shared with it, before any run is created."""
    from wattlens.distributed.ray_sweep import RaySweepError, check_store, connect
    from wattlens.store.db import normalise_url

    try:
        check_store(normalise_url(args.db), connect(args.ray))
    except RaySweepError as exc:
        return str(exc)
    return None


# --- results ---------------------------------------------------------------------------------------------------


def _write_html(board: Leaderboard, path: str) -> None:
    try:
        from wattlens.report import write_bench_html
    except ImportError as exc:
        print(f"wattlens: HTML report unavailable ({exc})", file=sys.stderr)
        return
    run = board.run
    write_bench_html(board.rows, path, title="wattlens bench", run=None if run is None else run.to_dict())
    print(f"HTML report: {path}", file=sys.stderr)


def _show(
    store: Any,
    run_id: str | None,
    args: argparse.Namespace,
    header: str = "",
    all_runs: bool = False,
    lifecycle: Mapping[str, object] | None = None,
) -> None:
    from wattlens.report.query import leaderboard
    from wattlens.report.tables import leaderboard_summary_text, leaderboard_text

    board = leaderboard(store, run_id, all_runs=all_runs, lifecycle=lifecycle)
    if getattr(args, "json", False):
        print(json.dumps([r.to_dict() for r in board.rows], indent=2, default=str))
    elif getattr(args, "full", False):
        print(leaderboard_text(board, header=header))
    else:
        print(leaderboard_summary_text(board, header=header, more=_details_hint(board, args, all_runs)))
    if getattr(args, "html", None):
        _write_html(board, args.html)


def _details_hint(board: Any, args: argparse.Namespace, all_runs: bool) -> str:
    """Where the rest is: the command that prints the full tables of this run, and the HTML report."""
    run_id = None if board.run is None else board.run.run_id
    which = " --all" if all_runs else (f" --run {run_id}" if run_id else "")
    db = f" --db {args.db}" if getattr(args, "db", None) else ""
    html = "" if getattr(args, "html", None) else "; a page with every figure: add --html report.html"
    return f"Details (per-task tables, every reason, rating bands): wattlens results{which}{db} --full{html}"


def _list_runs(store: Any) -> None:
    from wattlens.report.query import list_runs

    for r in list_runs(store, "bench", count_cells=True):
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_unix_s or 0))
        print(f"{r.run_id}  {started}  {r.status:<11} {r.cells or 0:>3} cells  {r.name}")


def _lifecycle_settings_for_results(args: argparse.Namespace) -> dict[str, object] | None:
    """`results --embodied/--water`: lifecycle settings for rows of runs that did not ask for them."""
    for key in ("country", "region", "intensity"):
        setattr(args, key, None)  # the location stays the run's own
    return _lifecycle_settings(args)


def cmd_results(args: argparse.Namespace) -> int:
    from wattlens.report.query import UnknownRunError
    from wattlens.store import open_store

    store = open_store(args.db, read_only=True)  # reading never creates a store or a folder for a mistyped path
    try:
        if args.list:
            _list_runs(store)
            return EXIT_OK
        if args.job:
            return _show_job(store, args)
        try:
            lifecycle = _lifecycle_settings_for_results(args)
        except Exception as exc:  # CarbonError family: a bad lifecycle flag
            print(f"wattlens results: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            _show(store, args.run, args, all_runs=args.all, lifecycle=lifecycle)
        except UnknownRunError as exc:
            print(f"wattlens results: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    finally:
        store.close()


def _show_job(store: Any, args: argparse.Namespace) -> int:
    from wattlens.distributed.jobs import JobError, job_table, job_view

    try:
        view = job_view(store, args.job)
    except JobError as exc:
        print(f"wattlens results: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(view.to_dict(), indent=2) if args.json else job_table(view))
    return EXIT_OK


# --- breakeven ----------------------------------------------------------------------------------------------------
