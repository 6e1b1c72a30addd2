"""The HTML of the page: one shell per page (navigation, title, where its data comes from), and the error pages.

The shell carries no figure: ``static/app.js`` fetches the page's ``/api/...`` answer and draws the tables and
charts from it (so the page shows exactly what the API says). Everything that comes from the request or the store
is HTML-escaped here; the script writes data only as text (``textContent``), never as markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from wattlens.records import Record

NAV = (
    ("leaderboard", "/", "Leaderboard"),
    ("runs", "/runs", "Runs"),
    ("compare", "/compare", "Compare"),
    ("optimize", "/optimize", "Optimize"),
    ("analyze", "/analyze", "Analyze"),
    ("history", "/history", "History"),
    ("api", "/api/", "API"),
)


@dataclass(frozen=True)
class Endpoint(Record):
    """One route of the JSON API: its path, its query parameters, what it answers with and what for."""

    path: str
    params: tuple[str, ...]
    returns: str
    description: str


ENDPOINTS = (
    Endpoint("/api/", (), "ApiIndex", "this list"),
    Endpoint("/api/runs", ("kind",), "RunsResponse", "every run of the store, newest first (optionally of one kind)"),
    Endpoint(
        "/api/leaderboard",
        ("run", "task", "device", "precision", "batch", "engine", "status", "offset", "limit"),
        "LeaderboardResponse",
        "one task of a bench run (default: the latest run, its first task), filtered; one page of BenchRow rows "
        "cheapest first, and every point for the chart",
    ),
    Endpoint(
        "/api/run",
        ("id", "status", "offset", "limit"),
        "RunResponse",
        "one run: cells by status, gross/idle/net totals, a page of cells with validity reasons, cells with a timeline",
    ),
    Endpoint("/api/timeline", ("run", "cell"), "TimelineResponse", "the raw measured windows of one cell"),
    Endpoint(
        "/api/compare",
        ("a", "b", "machine_a", "machine_b", "task"),
        "CompareResponse",
        "two bench runs (a, b) or two machines (machine_a, machine_b) side by side: ratio B/A with its bounds, "
        "whether the intervals overlap",
    ),
    Endpoint("/api/optimize", ("run",), "OptimizeResponse", "an optimize run's result: Pareto front, hidden costs"),
    Endpoint("/api/analyze", ("run",), "AnalyzeResponse", "a stored analysis: energy by role and memory level, levers"),
    Endpoint("/api/history", ("tag", "limit"), "History", "every measure record over time (by tag), other runs"),
)


@dataclass(frozen=True)
class ApiIndex(Record):
    """``/api/``: what the API offers (docs/WEB.md documents every answer's fields)."""

    api: str = "wattlens results API (read-only)"
    store: str = ""
    docs: str = "docs/WEB.md; the answers' records: docs/CONTRACTS.md"
    endpoints: tuple[Endpoint, ...] = ENDPOINTS


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _nav(active: str) -> str:
    links = "".join(
        f'<a href="{href}"{" class=active" if key == active else ""}>{esc(text)}</a>' for key, href, text in NAV
    )
    return f'<nav><span class="brand">wattlens</span>{links}</nav>'


def _head(title: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · wattlens</title>"
        '<link rel=icon href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel=stylesheet href="/static/uplot.min.css"><link rel=stylesheet href="/static/app.css">'
        "</head>"
    )


def shell(page: str, title: str, api: str, params: Mapping[str, str], store: str) -> str:
    """A page's HTML: navigation, a title, and where ``app.js`` gets its data (``data-api`` with the query)."""
    query = urlencode({k: v for k, v in params.items() if v})
    api_url = f"{api}?{query}" if query else api
    return (
        _head(title)
        + f'<body data-page="{esc(page)}" data-api="{esc(api_url)}">'
        + _nav(page)
        + f"<header><h1 id=title>{esc(title)}</h1><p class=store>store: <code>{esc(store)}</code> · read-only</p>"
        + "</header>"
        + "<main id=app><p class=loading>Loading…</p><noscript>This page draws its tables and charts with the "
        + f'script shipped with wattlens; the same data is at <a href="{esc(api_url)}">{esc(api_url)}</a>.</noscript>'
        + "</main>"
        + '<script src="/static/uplot.iife.min.js"></script><script src="/static/app.js"></script>'
        + "</body></html>"
    )


def message_page(title: str, message: str, *, status_line: str = "", links: Sequence[tuple[str, str]] = ()) -> str:
    """A page that only says something (an unknown run, a bad parameter, an internal error): no script, no trace."""
    items = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in links)
    lines = "".join(f"<p>{esc(line)}</p>" for line in message.splitlines() if line.strip())
    return (
        _head(title)
        + '<body data-page="message">'
        + _nav("")
        + f"<header><h1 id=title>{esc(title)}</h1></header><main id=app class=message>"
        + (f"<p class=status>{esc(status_line)}</p>" if status_line else "")
        + lines
        + (f"<ul>{items}</ul>" if items else "")
        + "</main></body></html>"
    )
