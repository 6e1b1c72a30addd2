"""The page in a real browser: Debian's Chromium (scripts/chromium.sh installs it) driven by Playwright's Python
package pointed at /usr/bin/chromium (never a browser Playwright downloads).

Every page loads with no console error, its charts have their points (as many as the API has), the filters change
the table, a model named as markup shows as text and runs nothing, zoom and the log scale work, and a screenshot of
each page is kept (the folder is printed at the end of the test session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from benchmarks.chromium import CHROMIUM, browser_context

from tests.web.conftest import Live
from tests.web.seed import EVIL, Seeded

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(
    os.environ.get("WATTLENS_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "web")
)
READY = "body[data-ready='1']"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: scripts/chromium.sh installs it (make test runs it)")
        pytest.skip(f"{CHROMIUM} is missing (scripts/chromium.sh installs Debian's chromium)")
    pytest.importorskip("playwright.sync_api")
    with browser_context(viewport={"width": 1400, "height": 1000}) as context:
        yield context


class Page:
    """One tab, collecting console errors and page errors; ``open`` waits until the page has drawn."""

    def __init__(self, context: object, live: Live) -> None:
        self.page = context.new_page()  # type: ignore[attr-defined]
        self.live = live
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def open(self, path: str) -> None:
        self.page.goto(self.live.url.rstrip("/") + path)
        self.page.wait_for_selector(READY, state="attached", timeout=30_000)

    def charts(self) -> dict:
        return self.page.evaluate("window.wattlens.charts")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def error_box(self) -> str:
        return self.page.evaluate("document.body.dataset.error || ''")


@pytest.fixture
def tab(browser: object, live: Live) -> Iterator[Page]:
    page = Page(browser, live)
    yield page
    page.page.close()


def _pages(seeded: Seeded) -> list[tuple[str, str, dict[str, str]]]:
    """(screenshot name, path, chart -> the API figure its point count must equal)."""
    return [
        ("leaderboard", f"/?run={seeded.synth_a}&task=fill-mask", {}),
        ("runs", "/runs", {}),
        ("run", f"/run?id={seeded.real_run}", {}),
        ("compare", f"/compare?a={seeded.synth_a}&b={seeded.synth_b}", {}),
        ("optimize", "/optimize", {}),
        ("optimize-generation", f"/optimize?run={seeded.generation_run}", {}),
        ("analyze", "/analyze", {}),
        ("history", "/history", {}),
    ]


def test_every_page_draws_without_console_errors_and_is_screenshot(tab: Page, live: Live, seeded: Seeded) -> None:
    shots = []
    for name, path, _ in _pages(seeded):
        tab.open(path)
        assert tab.error_box() == "", (path, tab.error_box())
        assert tab.errors == [], (path, tab.errors)
        shots.append(tab.shot(name))
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_charts_have_their_points(tab: Page, live: Live, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=fill-mask")
    board = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=fill-mask")
    c = tab.charts()["leaderboard"]
    assert c["points"] == len(board["points"]["j_per_query"]) > 10 and c["log"] is True
    tab.open(f"/run?id={seeded.real_run}")
    run = live.api(f"/api/run?id={seeded.real_run}")
    timeline = live.api(f"/api/timeline?run={seeded.real_run}&cell={quote(run['timeline_cells'][0])}")
    drawable = [w for w in timeline["windows"] if w["energy_j"] is not None and w["duration_s"] > 0]
    assert tab.charts()["timeline"]["points"] == len(drawable)
    tab.open(f"/compare?a={seeded.synth_a}&b={seeded.synth_b}")
    compared = live.api(f"/api/compare?a={seeded.synth_a}&b={seeded.synth_b}")
    assert tab.charts()["compare"]["points"] == 2 * len(compared["points"]["rank"]) > 2 * compared["limit"]
    assert tab.page.locator("table.data tbody tr").count() == compared["limit"]  # one page of the pairs
    tab.open("/optimize")
    result = live.api("/api/optimize")["result"]
    drawn = len(result["pareto"]) + len(result["rejected"]) + 2 + len(result.get("trials") or [])
    assert tab.charts()["pareto-quality"]["points"] == drawn
    tab.open(f"/optimize?run={seeded.generation_run}")
    assert "unfinished" not in tab.page.locator("main").inner_text()
    gen = live.api(f"/api/optimize?run={seeded.generation_run}")["generation"]
    with_agreement = [p for p in gen["points"] if p["agreement"] is not None]
    roles = sum(len(p["roles"]) for p in with_agreement)
    drawn = len(with_agreement) + roles  # every point once (probe, full or front), the baseline and the pick again
    assert tab.charts()["gen-agreement"]["points"] == drawn and tab.charts()["gen-latency"]["points"] == drawn
    assert tab.page.locator("table.data").first.locator("tbody tr").count() == len(gen["pareto"])
    tab.open("/analyze")
    roles = live.api("/api/analyze")["analysis"]["roles"]
    assert tab.charts()["roles"]["points"] == len(roles) and tab.charts()["levels"]["points"] >= 3
    tab.open("/history")
    charts = tab.charts()
    assert charts["history-energy"]["points"] == 2 and charts["history-carbon"]["points"] == 2


def test_the_chart_ticks_are_the_table_ranks(tab: Page, live: Live, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=fill-mask")
    ticks = tab.charts()["leaderboard"]["xTicks"]
    points = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=fill-mask")["points"]
    assert ticks and "0" not in ticks and all(1 <= int(t) <= max(points["rank"]) for t in ticks)
    first_rank = tab.page.locator("table.data tbody tr").first.locator("td").first.inner_text()
    assert first_rank == "1" == str(points["rank"][0])


def _until(tab: Page, selector: str, value: str, timeout_s: float = 30.0) -> None:
    """Wait until the page has drawn again with ``selector`` showing ``value`` (polled: the page's CSP forbids the
    string evaluation wait_for_function uses)."""
    import time

    check = (
        f"(() => {{ const s = document.querySelector({selector!r}); "
        f"return !!s && s.value === {value!r} && document.body.dataset.ready === '1'; }})()"
    )
    deadline = time.monotonic() + timeout_s
    while not tab.page.evaluate(check):
        assert time.monotonic() < deadline, f"{selector} never showed {value!r}"
        time.sleep(0.05)


def test_back_undoes_a_filter(tab: Page, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=text-classification&limit=200")
    rows = tab.page.locator("table.data tbody tr")
    before = rows.count()
    tab.page.select_option("select[name=precision]", "bf16")
    tab.page.wait_for_selector(READY, state="attached")
    tab.page.select_option("select[name=batch]", "8")
    tab.page.wait_for_selector(READY, state="attached")
    assert "batch=8" in tab.page.url and rows.count() < before
    tab.page.go_back()
    _until(tab, "select[name=batch]", "")
    assert "precision=bf16" in tab.page.url and "batch=8" not in tab.page.url
    assert tab.page.locator("select[name=precision]").input_value() == "bf16"
    tab.page.go_back()
    _until(tab, "select[name=precision]", "")
    assert "precision" not in tab.page.url and rows.count() == before
    tab.page.go_forward()
    _until(tab, "select[name=precision]", "bf16")
    assert tab.errors == []


def test_filters_change_the_table(tab: Page, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=text-classification&limit=200")
    rows = tab.page.locator("table.data tbody tr")
    before = rows.count()
    points = tab.charts()["leaderboard"]["points"]
    tab.page.select_option("select[name=precision]", "bf16")
    tab.page.wait_for_selector(READY, state="attached")
    configs = tab.page.locator("table.data tbody tr td:nth-child(3)").all_inner_texts()
    assert 0 < len(configs) < before and all("bf16" in c for c in configs)
    assert tab.charts()["leaderboard"]["points"] < points
    assert "precision=bf16" in tab.page.url
    tab.page.click("button[data-task='fill-mask']")
    tab.page.wait_for_selector(READY, state="attached")
    assert "task=fill-mask" in tab.page.url and tab.page.locator("button.active").inner_text().startswith("fill-mask")


def test_markup_in_a_model_name_is_text(tab: Page, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=text-classification&limit=1000")
    assert tab.page.evaluate("window.__pwned === undefined")
    assert tab.page.get_by_text(EVIL, exact=False).count() >= 1  # the name shows, as text
    assert tab.page.locator("table.data img").count() == 0 and tab.errors == []


def test_zoom_hover_and_log_scale(tab: Page, seeded: Seeded) -> None:
    tab.open(f"/?run={seeded.synth_a}&task=fill-mask")
    over = tab.page.locator("[data-chart=leaderboard] .u-over")
    box = over.bounding_box()
    assert box is not None
    tab.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = tab.page.locator("[data-chart=leaderboard] .tip")
    tip.wait_for(state="visible")
    assert "J/query" in tip.inner_text()  # hover shows the point's values
    full = tab.charts()["leaderboard"]
    tab.page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 5)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] - 5, steps=5)
    tab.page.mouse.up()
    zoomed = tab.charts()["leaderboard"]
    assert full["x"][0] < zoomed["x"][0] < zoomed["x"][1] < full["x"][1]  # dragging zoomed in on x
    tab.page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    assert tab.charts()["leaderboard"]["x"] == pytest.approx(full["x"])  # double-click: back to everything
    tab.page.uncheck("[data-chart=leaderboard] input[type=checkbox]")
    assert tab.charts()["leaderboard"]["log"] is False
    tab.page.check("[data-chart=leaderboard] input[type=checkbox]")
    assert tab.charts()["leaderboard"]["log"] is True
    assert tab.errors == []


def test_an_unknown_run_is_a_page_that_says_so(tab: Page, seeded: Seeded) -> None:
    tab.page.goto(tab.live.url + "run?id=nope")
    text = tab.page.locator("main").inner_text()
    assert "no run 'nope'" in text and seeded.real_run in text and "Traceback" not in text
    tab.shot("unknown-run")
