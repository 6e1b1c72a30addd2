"""How fast the results page is over 10,000 cells, on the user's path: ``wattlens serve`` started as a user starts it.

Prints, for a store of ``--cells`` cells (one bench run, the latest, plus a small older one; beside them
``--measurements`` measure records, a text-generation optimize run and an analysis; benchmarks/web_store.py writes
them through the real store):

* ready: seconds from launching ``wattlens serve`` to its "http://..." line (imports, opening the store, and the
  first page's leaderboard computed before the first request is accepted);
* first page: seconds from asking for ``/`` to the page drawn (table and chart) in Debian's Chromium, driven by
  Playwright (``--no-browser``: the HTTP requests the page makes, without drawing);
* API latency over ``--requests`` requests spread over the endpoints the pages call (other tasks, filters, pages of
  rows, a run, a timeline, compare, optimize, analyze, history, runs): p50, p95, max, per endpoint and in all;
* after a write to the store, while the server runs: the first request that sees it (the server looks at the store
  at most once a second), for a new ``measure`` record (the leaderboard, then History) and for a new cell of the big
  run (its leaderboard: answered from the previous one, marked stale, while the new one is computed in the
  background), and how long until the leaderboard is fresh again.

Targets (issue 13): first page <= 1 s, API p95 <= 100 ms. No anchor tool serves a page over its own results
(AI Energy Score's leaderboard is a hosted Gradio space, ML.ENERGY's a static site built offline): no ratio.

    python benchmarks/web_speed.py [--cells 10000] [--requests 300] [--db /tmp/wattlens-web-10k.sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python benchmarks/web_speed.py`: the repository's packages importable
    sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _reusable(db: Path, cells: int, measurements: int) -> str | None:
    """The big run's id when ``db`` already is the store asked for (and was not written to by an earlier run)."""
    from wattlens.store import open_store

    with open_store(str(db), read_only=True) as store:
        big = [r for r, n in store.cell_counts().items() if n == cells]
        complete = store.list_runs("optimize") and store.list_runs("analyze")
        if big and complete and len(store.measurements()) == measurements:
            return big[0]
    return None


def make_store(db: Path, cells: int, measurements: int) -> str:
    """The store (reused when it is already the one asked for); returns the big run's id."""
    from benchmarks.web_store import write_generation_run, write_measurements, write_run
    from wattlens.cli.main import main as cli
    from wattlens.store import open_store

    if db.exists():
        reused = _reusable(db, cells, measurements)
        if reused:
            return reused
        db.unlink()
    started = time.perf_counter()
    with open_store(str(db)) as store:
        write_run(store, 200, seed=7, name="older")
        write_measurements(store, measurements, seed=3)
        write_generation_run(store)
        run_id = write_run(store, cells, seed=11, name="big")
    analyze = ["analyze", "distilgpt2", "--hardware", "a100", "--phase", "decode", "--batch", "4", "--prompt", "64"]
    quiet = io.StringIO()  # the analysis' own report: not this benchmark's
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        assert cli([*analyze, "--new-tokens", "8", "--db", str(db)]) == 0
    print(
        f"store: {cells} cells, {measurements} measure records written in {time.perf_counter() - started:.1f} s -> {db}"
    )
    return run_id


def get(url: str) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        return r.status, time.perf_counter() - started, body


def start_server(db: Path) -> tuple[subprocess.Popen[str], str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattlens", "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    ready = time.perf_counter() - started
    match = re.search(r"(http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"wattlens serve did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(1), ready


def first_page_browser(url: str) -> float | None:
    from benchmarks.chromium import CHROMIUM, browser_context

    if not Path(CHROMIUM).exists():
        return None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    with browser_context() as ctx:
        page = ctx.new_page()
        page.goto("about:blank")
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
        elapsed = time.perf_counter() - started
        points = page.evaluate("window.wattlens.charts.leaderboard.points")
        rows = page.locator("table.data tbody tr").count()
    print(f"first page drawn: {rows} table rows, {points} chart points")
    return elapsed


def first_page_http(url: str) -> float:
    started = time.perf_counter()
    for path in ("", "static/uplot.iife.min.js", "static/app.js", "static/app.css", "api/leaderboard"):
        get(url + path)
    return time.perf_counter() - started


def get_json(url: str) -> dict[str, Any]:
    status, _elapsed, body = get(url)
    assert status == 200, (url, status)
    answer: dict[str, Any] = json.loads(body)
    return answer


def api_requests(url: str, run_id: str, n: int) -> dict[str, list[float]]:
    rng = random.Random(0)
    board = get_json(url + f"api/leaderboard?run={run_id}")
    tasks = [t["task"] for t in board["tasks"]]
    cells = get_json(url + f"api/run?id={run_id}")["timeline_cells"]
    tags = get_json(url + "api/history")["tags"]
    makers = {
        "leaderboard (task)": lambda: f"api/leaderboard?run={run_id}&task={rng.choice(tasks)}",
        "leaderboard (filtered)": lambda: (
            f"api/leaderboard?run={run_id}&task={rng.choice(tasks)}&precision={rng.choice(['fp32', 'bf16'])}"
            f"&batch={rng.choice([1, 4, 8, 32])}"
        ),
        "leaderboard (page)": lambda: (
            f"api/leaderboard?run={run_id}&task={rng.choice(tasks)}&offset={rng.randrange(0, 1000, 50)}"
        ),
        "run (page of cells)": lambda: f"api/run?id={run_id}&offset={rng.randrange(0, 9000, 50)}",
        "timeline": lambda: f"api/timeline?run={run_id}&cell={quote(rng.choice(cells))}",
        "runs": lambda: "api/runs",
        "compare (two latest)": lambda: "api/compare",
        "compare (one task)": lambda: f"api/compare?task={rng.choice(tasks)}",
        "optimize (generation)": lambda: "api/optimize",
        "analyze": lambda: "api/analyze",
        "history": lambda: "api/history",
        "history (tag)": lambda: f"api/history?tag={quote(rng.choice(tags))}",
    }
    times: dict[str, list[float]] = {k: [] for k in makers}
    names = list(makers)
    for i in range(n):
        name = names[i % len(names)]
        status, elapsed, _ = get(url + makers[name]())
        assert status == 200
        times[name].append(elapsed)
    return times


def _first_after_write(url: str, path: str, recheck_s: float = 1.1) -> tuple[float, dict[str, Any]]:
    """The first request that can see a write just made (the server looks at the store at most once a second)."""
    time.sleep(recheck_s)
    status, elapsed, body = get(url + path)
    assert status == 200, (path, status)
    return elapsed, json.loads(body)


def after_writes(db: Path, url: str, run_id: str) -> list[tuple[str, float, str]]:
    """(what, seconds, note) for the first requests after a new measure record and after a new cell of the big run,
    and the time until the big run's leaderboard is fresh again."""
    from benchmarks.web_store import cell_result, write_measurements
    from wattlens.store import open_store

    out: list[tuple[str, float, str]] = []
    before = len(get_json(url + "api/history")["measurements"])
    with open_store(str(db)) as store:
        write_measurements(store, 1, seed=99, t0=time.time())
    elapsed, board = _first_after_write(url, f"api/leaderboard?run={run_id}")
    out.append(("new measure record: /api/leaderboard", elapsed, "stale" if board["stale"] else "kept (fresh)"))
    elapsed, history = _first_after_write(url, "api/history", 0.0)
    note = f"{len(history['measurements']) - before} new record shown"
    out.append(("new measure record: /api/history", elapsed, note))
    task = board["task"]
    result = cell_result(random.Random(5), task, "late/model", 1, "fp32", 0.01)
    with open_store(str(db)) as store:
        store.save_cell(run_id, f"{task}|late/model|batch=1|fp32", "ok", result.to_dict())
    written = time.perf_counter()
    elapsed, board = _first_after_write(url, f"api/leaderboard?run={run_id}&task={task}")
    note = "previous board, marked stale" if board["stale"] else "recomputed in the request"
    out.append(("new cell of the big run: /api/leaderboard", elapsed, note))
    while board["stale"]:
        time.sleep(0.1)
        board = get_json(url + f"api/leaderboard?run={run_id}&task={task}")
    fresh = time.perf_counter() - written
    out.append(("new cell: until the leaderboard is fresh", fresh, f"{board['total']} rows of {task} (1 more)"))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=10_000)
    p.add_argument("--requests", type=int, default=550)
    p.add_argument("--measurements", type=int, default=500, help="measure records in the store")
    p.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "wattlens-web-10k.sqlite"))
    p.add_argument("--no-browser", action="store_true", help="time the first page's HTTP requests, not the drawing")
    args = p.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; load average {os.getloadavg()}")
    db = Path(args.db)
    run_id = make_store(db, args.cells, args.measurements)
    proc, url, ready = start_server(db)
    try:
        first = None if args.no_browser else first_page_browser(url)
        how = "Chromium, navigation to drawn" if first is not None else "HTTP: page, scripts, style, API answer"
        if first is None:
            first = first_page_http(url)
        times = api_requests(url, run_id, args.requests)
        writes = after_writes(db, url, run_id)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    everything = [t for ts in times.values() for t in ts]
    print(f"wattlens serve ready (imports + store + first page's leaderboard of {args.cells} cells): {ready:.2f} s")
    print(f"first page ({how}): {first:.3f} s   target <= 1 s   {'OK' if first <= 1 else 'MISSED'}")
    print(f"{'API endpoint':<26}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, ts in times.items():
        p50, p95_, top = statistics.median(ts) * 1000, pct(ts, 0.95) * 1000, max(ts) * 1000
        print(f"{name:<26}{len(ts):>5}{p50:>9.1f}{p95_:>9.1f}{top:>9.1f}")
    p95 = pct(everything, 0.95) * 1000
    print(
        f"{'all':<26}{len(everything):>5}{statistics.median(everything) * 1000:>9.1f}{p95:>9.1f}"
        f"{max(everything) * 1000:>9.1f}   target p95 <= 100 ms   {'OK' if p95 <= 100 else 'MISSED'}"
    )
    print("after a write to the store (the first request that sees it; target: a first page <= 1 s)")
    for what, seconds, note in writes:
        print(f"  {what:<44}{seconds * 1000:>9.1f} ms   {note}")
    print(f"load average after: {os.getloadavg()}")
    print(f"the store was written to: {db} is rebuilt at the next run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
