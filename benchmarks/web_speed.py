"""How fast the results page is over 10,000 cells, on the user's path: ``wattlens serve`` started as a user starts it.

Prints, for a store of ``--cells`` cells (one bench run, the latest, plus a small older one; benchmarks/web_store.py
writes them through the real store):

* ready: seconds from launching ``wattlens serve`` to its "http://..." line (imports, opening the store, and the
  first page's leaderboard computed before the first request is accepted);
* first page: seconds from asking for ``/`` to the page drawn (table and chart) in Debian's Chromium, driven by
  Playwright (``--no-browser``: the HTTP requests the page makes, without drawing);
* API latency over ``--requests`` requests spread over the endpoints the pages call (other tasks, filters, pages of
  rows, a run, a timeline, history, runs): p50, p95, max, per endpoint and in all.

Targets (issue 13): first page <= 1 s, API p95 <= 100 ms. No anchor tool serves a page over its own results
(AI Energy Score's leaderboard is a hosted Gradio space, ML.ENERGY's a static site built offline): no ratio.

    python benchmarks/web_speed.py [--cells 10000] [--requests 300] [--db /tmp/wattlens-web-10k.sqlite]
"""

from __future__ import annotations

import argparse
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


def make_store(db: Path, cells: int) -> str:
    """The store (reused when it already has a run of exactly ``cells`` cells); returns the big run's id."""
    from benchmarks.web_store import write_run
    from wattlens.store import open_store

    if db.exists():
        with open_store(str(db), read_only=True) as store:
            counts = store.cell_counts()
            big = [r for r, n in counts.items() if n == cells]
            if big:
                return big[0]
        db.unlink()
    started = time.perf_counter()
    with open_store(str(db)) as store:
        write_run(store, 200, seed=7, name="older")
        run_id = write_run(store, cells, seed=11, name="big")
    print(f"store: {cells} cells written in {time.perf_counter() - started:.1f} s -> {db}")
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


def api_requests(url: str, run_id: str, n: int) -> dict[str, list[float]]:
    rng = random.Random(0)
    runs = get(url + "api/runs")[2]
    board = __import__("json").loads(get(url + f"api/leaderboard?run={run_id}")[2])
    tasks = [t["task"] for t in board["tasks"]]
    run = __import__("json").loads(get(url + f"api/run?id={run_id}")[2])
    cells = run["timeline_cells"]
    del runs
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
        "history": lambda: "api/history",
    }
    times: dict[str, list[float]] = {k: [] for k in makers}
    names = list(makers)
    for i in range(n):
        name = names[i % len(names)]
        status, elapsed, _ = get(url + makers[name]())
        assert status == 200
        times[name].append(elapsed)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=10_000)
    p.add_argument("--requests", type=int, default=350)
    p.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "wattlens-web-10k.sqlite"))
    p.add_argument("--no-browser", action="store_true", help="time the first page's HTTP requests, not the drawing")
    args = p.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; load average {os.getloadavg()}")
    db = Path(args.db)
    run_id = make_store(db, args.cells)
    proc, url, ready = start_server(db)
    try:
        first = None if args.no_browser else first_page_browser(url)
        how = "Chromium, navigation to drawn" if first is not None else "HTTP: page, scripts, style, API answer"
        if first is None:
            first = first_page_http(url)
        times = api_requests(url, run_id, args.requests)
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
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
