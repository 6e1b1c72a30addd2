"""``wattlens report RUN_ID``: tables, figures and the self-contained HTML report of a stored run.

Works for both kinds of run in the store:

    wattlens report BENCH_RUN_ID --html bench.html --png figures/
    wattlens report OPT_RUN_ID --html opt.html
    wattlens report RUN_ID --json

Runs are read through the results-query layer (:mod:`wattlens.report.query`): bench runs as a leaderboard
(the ``wattlens results --json`` contract), optimize runs as their stored result (the run's ``result`` cell; a
text-generation run's own record).
Heavy imports (rich, matplotlib, the report layer) happen inside the command only. Exit codes: 0 ok
(a ``--png`` with nothing honest to draw only warns), 2 usage error (unknown run id, with the most recent
run ids on stderr; a run kind without a report; an optimize run without its result yet).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wattlens.cli import options as opt

if TYPE_CHECKING:
    from wattlens.optimize.results import OptimizeResult
    from wattlens.report.query import RunInfo

EXIT_OK, EXIT_USAGE = 0, 2
RECENT_RUNS = 10  # how many run ids the "unknown run" message lists


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="tables, figures and an HTML report of a stored bench or optimize run",
        description="Show a stored run (bench leaderboard or optimize summary); optionally write the "
        "self-contained HTML report (--html) and the figures as PNG files (--png DIR).",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run to report on (bench or optimize)")
    p.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="results database: a .sqlite path (default ./wattlens.sqlite or $WATTLENS_DB) or postgresql://...",
    )
    p.add_argument(
        "--html", metavar="FILE", type=opt.OutputPath("HTML file"), help="write the self-contained HTML report to FILE"
    )
    p.add_argument("--png", metavar="DIR", help="write the figures as PNG files into DIR (created)")
    p.add_argument("--json", action="store_true", help="print the rows (bench) or the result (optimize) as JSON")
    p.set_defaults(func=cmd_report)


def _err(msg: str) -> None:
    print(f"wattlens report: {msg}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    from wattlens.report.query import UnknownRunError, require_run
    from wattlens.store import open_store

    store = open_store(args.db, read_only=True)  # reading never creates a store or a folder
    try:
        try:
            run = require_run(store, args.run_id, RECENT_RUNS, where=args.db or "the store")
        except UnknownRunError as exc:
            _err(str(exc))
            return EXIT_USAGE
        if run.kind == "bench":
            return _report_bench(store, run, args)
        if run.kind == "optimize":
            return _report_optimize(store, run, args)
        _err(f"run {args.run_id!r} is a {run.kind!r} run; reports exist for bench and optimize runs")
        return EXIT_USAGE
    finally:
        store.close()


# --- bench ------------------------------------------------------------------------------------------------------


def _report_bench(store: Any, run: RunInfo, args: argparse.Namespace) -> int:
    from wattlens.report.query import leaderboard

    board = leaderboard(store, run.run_id)
    if args.json:
        print(json.dumps([r.to_dict() for r in board.rows], indent=2, default=str))
    else:
        from wattlens.report import leaderboard_table

        print(f"bench run {run.run_id} ({run.status}): {len(board.rows)} cells")
        print(leaderboard_table(board.rows))
    if args.html:
        from wattlens.report import write_bench_html

        path = write_bench_html(board.rows, args.html, title=f"wattlens bench {run.run_id}", run=run.to_dict())
        print(f"HTML report: {path}", file=sys.stderr)
    if args.png:
        from wattlens.report.figures import bench_figures, save_figures

        _report_pngs(save_figures(bench_figures(board.rows), args.png), args.png)
    return EXIT_OK


def _report_pngs(written: list[Path], directory: str) -> None:
    if not written:
        _err(f"warning: nothing to draw (no ok cell with an energy figure): no PNG written to {directory}")
    for path in written:
        print(f"figure: {path}", file=sys.stderr)


# --- optimize ---------------------------------------------------------------------------------------------------


def _optimize_headline(result: OptimizeResult) -> str:
    from wattlens.report import _fmt as f

    lines = []
    for role, p in (("baseline", result.baseline), ("recommended", result.recommended)):
        if p is None:
            lines.append(f"{role}: {f.NA}")
            continue
        lines.append(
            f"{role} {f.config_label(p.config)}: {f.sig(p.j_per_query, 4)} J/query, "
            f"quality {f.sig(p.quality, 4)}, p95 {f.sig(p.p95_ms)} ms"
        )
    saving = result.saving_factor
    lines.append("saving factor: " + (f"x{f.sig(saving)}" if saving is not None else f.NA))
    return "\n".join(lines)


def _report_optimize(store: Any, run: RunInfo, args: argparse.Namespace) -> int:
    from wattlens.report.query import generation_result, optimize_result

    gen = generation_result(store, run.run_id)
    if gen is not None:
        from wattlens.report import generation_summary

        print(json.dumps(gen.to_dict(), indent=2, default=str) if args.json else generation_summary(gen, explain=True))
        if args.html:
            from wattlens.report import write_generation_html

            path = write_generation_html(gen, args.html, title=f"wattlens optimize {run.run_id} (text generation)")
            print(f"HTML report: {path}", file=sys.stderr)
        if args.png:
            print("text-generation optimize runs have no PNG figures; see --html or --json", file=sys.stderr)
        return EXIT_OK
    result = optimize_result(store, run.run_id)
    if result is None:
        _err(f"optimize run {run.run_id!r} has no result yet (status {run.status!r}: unfinished or interrupted)")
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        from wattlens.report import optimize_table

        what = " ".join(v for v in (result.model, result.task) if v)
        print(f"optimize run {run.run_id}" + (f": {what}" if what else ""))
        print(_optimize_headline(result))
        print(optimize_table(result))
    if args.html:
        from wattlens.report import write_optimize_html

        path = write_optimize_html(result, args.html, title=f"wattlens optimize {run.run_id}")
        print(f"HTML report: {path}", file=sys.stderr)
    if args.png:
        from wattlens.report.figures import optimize_figures, save_figures

        _report_pngs(save_figures(optimize_figures(result), args.png), args.png)
    return EXIT_OK
