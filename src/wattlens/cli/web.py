"""``wattlens serve`` (the results page over a store) and ``wattlens export`` (results in other tools' layouts).

    wattlens serve                                   # http://127.0.0.1:8765 over ./wattlens.sqlite
    wattlens serve --db postgresql://user@host/db --port 8080
    wattlens export --aiesc RUN_ID out/              # AI Energy Score submission files, one folder per cell
    wattlens export --mlenergy RUN_ID out/           # ML.ENERGY-like JSON

Exit codes: 0 ok (serve: stopped with Ctrl-C), 2 for anything the user can fix (a store that is missing, empty or
unreadable, a port in use, an unknown run), each with one line saying what is wrong and what is allowed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wattlens.cli import options as opt
from wattlens.cli.bench import _add_db as add_db

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "serve",
        help="a read-only results page over the store: leaderboard, runs, compare, Pareto fronts, history",
        description="Serve the results page and its JSON API (/api/) over a results store, read-only. Binds "
        "127.0.0.1 unless --host says otherwise.",
    )
    add_db(s)
    s.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)")
    s.add_argument("--port", type=opt.Int(0, 65535), default=None, help="port (default 8765; 0 = any free port)")
    s.set_defaults(func=cmd_serve)

    e = subparsers.add_parser(
        "export",
        help="a stored bench run in another tool's layout (AI Energy Score, ML.ENERGY)",
        description="Write a stored bench run as AI Energy Score submission files (--aiesc: one folder per cell with "
        "benchmark_report.json, GPU_ENERGY_WH.txt, GPU_ENERGY_SUMMARY.json) or as ML.ENERGY-like JSON (--mlenergy).",
    )
    fmt = e.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--aiesc", action="store_true", help="AI Energy Score submission layout")
    fmt.add_argument("--mlenergy", action="store_true", help="ML.ENERGY-like JSON (runs with their figures)")
    e.add_argument("run_id", metavar="RUN_ID", help="the bench run to export")
    e.add_argument("out", metavar="OUT_DIR", help="folder to write (created)")
    add_db(e)
    e.set_defaults(func=cmd_export)


def _err(command: str, message: str) -> int:
    print(f"wattlens {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _needs_web_extra(exc: ImportError) -> int:
    return _err("serve", f"the page needs the web extra ({exc.name} is missing): pip install 'wattlens[web]'")


def cmd_serve(args: argparse.Namespace) -> int:
    from wattlens.store import StoreError, open_store
    from wattlens.web.server import DEFAULT_HOST, DEFAULT_PORT, ServeError, exposure_warning, redactor

    host = args.host or DEFAULT_HOST
    port = DEFAULT_PORT if args.port is None else args.port
    if not 0 <= port <= 65535:
        return _err("serve", f"--port must be in 0..65535, got {port}")
    redact = redactor(args.db)
    try:
        store = open_store(args.db, read_only=True)
    except StoreError as exc:
        hint = " (pass --db, or run `wattlens bench --db FILE` first)" if args.db is None else ""
        return _err("serve", redact(str(exc)) + hint)
    try:
        from wattlens.web.server import open_server

        server = open_server(store, host, port, raw_url=args.db)
    except ImportError as exc:
        store.close()
        return _needs_web_extra(exc)
    except ServeError as exc:
        store.close()
        return _err("serve", str(exc))
    warning = exposure_warning(host, port)
    if warning:
        print(f"wattlens serve: warning: {warning}", file=sys.stderr)
    version = f" (schema {store.found_version}, read as it is)" if store.found_version not in (None, 2) else ""
    print(f"wattlens serve: {server.url} over {redact(store.url)}{version}, read-only; Ctrl-C to stop", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.sock.close()
        store.close()
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from wattlens.report.query import UnknownRunError
    from wattlens.store import StoreError, open_store
    from wattlens.web.server import redactor

    redact = redactor(args.db)
    try:
        store = open_store(args.db, read_only=True)
    except StoreError as exc:
        return _err("export", redact(str(exc)))
    try:
        if args.aiesc:
            from wattlens.web.aiesc import export_aiesc

            written = export_aiesc(store, args.run_id, args.out)
        else:
            from wattlens.web.mlenergy import export_mlenergy

            written = export_mlenergy(store, args.run_id, args.out)
    except UnknownRunError as exc:
        return _err("export", str(exc))
    except OSError as exc:
        return _err("export", f"cannot write {args.out}: {exc.strerror or exc}")
    finally:
        store.close()
    for path in written.files:
        print(path)
    for note in written.notes:
        print(f"wattlens export: note: {note}", file=sys.stderr)
    return EXIT_OK
