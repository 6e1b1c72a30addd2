"""``wattlens report RUN_ID``: tables, figures and the self-contained HTML report of a stored run.

Works for both kinds of run in the store:

    wattlens report BENCH_RUN_ID --html bench.html --png figures/
    wattlens report OPT_RUN_ID --html opt.html
    wattlens report RUN_ID --json

Bench runs are read through :func:`wattlens.bench.results.result_rows` (the ``wattlens results --json``
contract), optimize runs through :func:`wattlens.optimize.engine.load_result` (the run's ``result`` cell).
Heavy imports (rich, matplotlib, the report layer) happen inside the command only. Exit codes: 0 ok
(a ``--png`` with nothing honest to draw only warns), 2 usage error (unknown run id, with the most recent
run ids on stderr; a run kind without a report; an optimize run without its result yet).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report to FILE")
    p.add_argument("--png", metavar="DIR", help="write the figures as PNG files into DIR (created)")
    p.add_argument("--json", action="store_true", help="print the rows (bench) or the result (optimize) as JSON")
    p.set_defaults(func=cmd_report)


def _err(msg: str) -> None:
    print(f"wattlens report: {msg}", file=sys.stderr)


def _unknown_run(store: Any, run_id: str, db: str | None) -> int:
    recent = store.list_runs()[:RECENT_RUNS]
    where = db or "the store"
    if recent:
        listing = "\n".join(f"  {r['run_id']}  ({r.get('kind')}, {r.get('status')})" for r in recent)
        _err(f"no run {run_id!r} in {where}; most recent runs:\n{listing}")
    else:
        _err(f"no run {run_id!r} in {where}; the store holds no runs yet")
    return EXIT_USAGE


def cmd_report(args: argparse.Namespace) -> int:
    from wattlens.store import open_store

    store = open_store(args.db)
    try:
        run = store.get_run(args.run_id)
        if run is None:
            return _unknown_run(store, args.run_id, args.db)
        kind = run.get("kind")
        if kind == "bench":
            return _report_bench(store, run, args)
        if kind == "optimize":
            return _report_optimize(store, run, args)
        _err(f"run {args.run_id!r} is a {kind!r} run; reports exist for bench and optimize runs")
        return EXIT_USAGE
    finally:
        store.close()


# --- bench ------------------------------------------------------------------------------------------------------


def _report_bench(store: Any, run: dict[str, Any], args: argparse.Namespace) -> int:
    from wattlens.bench.results import result_rows

    run_id = run["run_id"]
    rows = result_rows(store, run_id)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        from wattlens.report import leaderboard_table

        print(f"bench run {run_id} ({run.get('status')}): {len(rows)} cells")
        print(leaderboard_table(rows))
    if args.html:
        from wattlens.report import write_bench_html

        path = write_bench_html(rows, args.html, title=f"wattlens bench {run_id}", run=run)
        print(f"HTML report: {path}", file=sys.stderr)
    if args.png:
        from wattlens.report.figures import bench_figures, save_figures

        _report_pngs(save_figures(bench_figures(rows), args.png), args.png)
    return EXIT_OK


def _report_pngs(written: list[Any], directory: str) -> None:
    if not written:
        _err(f"warning: nothing to draw (no ok cell with an energy figure): no PNG written to {directory}")
    for path in written:
        print(f"figure: {path}", file=sys.stderr)


# --- optimize ---------------------------------------------------------------------------------------------------


def _optimize_headline(result: dict[str, Any]) -> str:
    from wattlens.report import _fmt as f

    base, rec = result.get("baseline") or {}, result.get("recommended") or {}
    saving = f.num(result.get("saving_factor"))
    return (
        f"baseline {f.config_label(base.get('config'))}: {f.sig(base.get('j_per_query'), 4)} J/query, "
        f"quality {f.sig(base.get('quality'), 4)}, p95 {f.sig(base.get('p95_ms'))} ms\n"
        f"recommended {f.config_label(rec.get('config'))}: {f.sig(rec.get('j_per_query'), 4)} J/query, "
        f"quality {f.sig(rec.get('quality'), 4)}, p95 {f.sig(rec.get('p95_ms'))} ms\n"
        f"saving factor: " + (f"x{f.sig(saving)}" if saving is not None else f.NA)
    )


def _report_optimize(store: Any, run: dict[str, Any], args: argparse.Namespace) -> int:
    from wattlens.optimize.engine import load_result

    run_id = run["run_id"]
    result = load_result(run_id, args.db, store=store)
    if result is None:
        _err(f"optimize run {run_id!r} has no result yet (status {run.get('status')!r}: unfinished or interrupted)")
        return EXIT_USAGE
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        from wattlens.report import optimize_table

        what = " ".join(str(result[k]) for k in ("model", "task") if result.get(k))
        print(f"optimize run {run_id}" + (f": {what}" if what else ""))
        print(_optimize_headline(result))
        print(optimize_table(result))
    if args.html:
        from wattlens.report import write_optimize_html

        path = write_optimize_html(result, args.html, title=f"wattlens optimize {run_id}")
        print(f"HTML report: {path}", file=sys.stderr)
    if args.png:
        from wattlens.report.figures import optimize_figures, save_figures

        _report_pngs(save_figures(optimize_figures(result), args.png), args.png)
    return EXIT_OK
