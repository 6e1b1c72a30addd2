"""The Starlette application behind ``wattlens serve``: pages, the JSON API and the shipped static files.

Read-only by construction: the store is opened read-only (``open_store(read_only=True)``), and only GET/HEAD routes
exist (anything else is 405). Every answer carries a Content-Security-Policy that allows this server only (scripts,
styles, data), so the page never reaches the network. No traceback ever reaches the browser: an unknown run or a
bad parameter is a page (or a JSON ``error``) saying what is wrong and what exists; anything unexpected is logged
with its traceback on the server and answered with a one-line page.

Starlette is the ``web`` extra (``pip install 'wattlens[web]'``); this module is imported only by ``wattlens serve``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattlens._logging import get_logger
from wattlens.records import Record, to_json
from wattlens.web import pages, views
from wattlens.web.cache import ResultsCache

logger = get_logger(__name__)

SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
View = Callable[[ResultsCache, Any], Record]
Redact = Callable[[str], str]


def _clean(value: object) -> object:
    """JSON has no NaN or infinity: they go out as null (as the store keeps them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def json_response(record: Record | dict[str, object], status: int = 200) -> Response:
    body = to_json(record.to_dict() if isinstance(record, Record) else record)
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:  # a NaN or an infinity somewhere: only then walk the whole answer
        text = json.dumps(_clean(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    return Response(text, status_code=status, media_type="application/json")


class SecurityHeaders:
    """Adds the security headers to every answer (pure ASGI: no per-request cost beyond the headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
                logger.debug(
                    "%s %s -> %s in %.1f ms",
                    scope.get("method"),
                    scope.get("path"),
                    message.get("status"),
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        await self.app(scope, receive, with_headers)


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("wattlens.web") / "static"
    out: dict[str, tuple[bytes, str]] = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in STATIC_TYPES:
            out[item.name] = (item.read_bytes(), STATIC_TYPES[suffix])
    return out


# (page key, path, title, API path, view that validates the request first)
PAGES: tuple[tuple[str, str, str, str, View | None], ...] = (
    ("leaderboard", "/", "Leaderboard", "/api/leaderboard", views.leaderboard_view),
    ("runs", "/runs", "Runs", "/api/runs", None),
    ("run", "/run", "Run", "/api/run", views.run_view),
    ("compare", "/compare", "Compare", "/api/compare", views.compare_view),
    ("optimize", "/optimize", "Optimize", "/api/optimize", views.optimize_view),
    ("analyze", "/analyze", "Analyze", "/api/analyze", views.analyze_view),
    ("history", "/history", "History", "/api/history", None),
)
API: tuple[tuple[str, View], ...] = (
    ("/api/runs", views.runs_view),
    ("/api/leaderboard", views.leaderboard_view),
    ("/api/run", views.run_view),
    ("/api/timeline", views.timeline_view),
    ("/api/compare", views.compare_view),
    ("/api/optimize", views.optimize_view),
    ("/api/analyze", views.analyze_view),
    ("/api/history", views.history_view),
)


def create_app(store: Any, *, redact: Redact = lambda text: text, cache: ResultsCache | None = None) -> ASGIApp:
    """The ASGI application over an open store (open it read-only). ``redact`` scrubs secrets (the database password)
    from anything the app logs or answers."""
    cache = cache or ResultsCache(store)
    static = _static_files()
    store_label = redact(str(store.url))

    def internal_error(exc: Exception) -> str:
        logger.error("internal error: %s", redact(f"{type(exc).__name__}: {exc}"), exc_info=True)
        return f"internal error ({type(exc).__name__}); the details are in the server's log"

    def api_route(view: View) -> Callable[[Request], Awaitable[Response]]:
        def answer(request: Request) -> Response:
            try:
                return json_response(view(cache, request.query_params))
            except views.WebError as exc:
                return json_response({"error": redact(str(exc)), "status": exc.status}, exc.status)
            except Exception as exc:
                return json_response({"error": internal_error(exc), "status": 500}, 500)

        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(answer, request)

        return endpoint

    def page_route(page: str, title: str, api: str, check: View | None) -> Callable[[Request], Awaitable[Response]]:
        def answer(request: Request) -> Response:
            params = request.query_params
            try:
                if check is not None:
                    result = check(cache, params)
                    redirect = _redirect_for(page, result)
                    if redirect:
                        return RedirectResponse(redirect, status_code=303)
            except views.WebError as exc:
                return _error_page(exc.status, redact(str(exc)))
            except Exception as exc:
                return _error_page(500, internal_error(exc))
            return HTMLResponse(pages.shell(page, title, api, dict(params), store_label))

        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(answer, request)

        return endpoint

    async def api_index(_request: Request) -> Response:
        return json_response(pages.ApiIndex(store=store_label))

    async def static_file(request: Request) -> Response:
        item = static.get(request.path_params["name"])
        if item is None:
            return Response("not found", status_code=404, media_type="text/plain")
        body, media_type = item
        return Response(body, media_type=media_type, headers={"cache-control": "max-age=300"})

    async def not_found(request: Request, _exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return json_response({"error": f"no API route {request.url.path}; see /api/", "status": 404}, 404)
        return _error_page(404, f"There is no page at {request.url.path}.")

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        return Response("read-only: only GET and HEAD are served\n", status_code=405, media_type="text/plain")

    routes = [Route(path, page_route(key, title, api, check)) for key, path, title, api, check in PAGES]
    routes += [Route(path, api_route(view)) for path, view in API]
    routes += [Route("/api/", api_index), Route("/api", api_index), Route("/static/{name}", static_file)]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    return SecurityHeaders(app)


def _redirect_for(page: str, result: Record) -> str | None:
    """The run page of an optimize or analyze run is that kind's own page."""
    if page == "run" and isinstance(result, views.RunResponse) and result.page != "run":
        from urllib.parse import quote

        return f"/{result.page}?run={quote(result.run.run_id)}"
    return None


def _error_page(status: int, message: str) -> Response:
    titles = {400: "Bad request", 404: "Not found", 500: "Something went wrong"}
    first, _, rest = message.partition("\n")
    body = pages.message_page(
        titles.get(status, "Error"),
        first + ("\n" + rest if rest else ""),
        status_line=f"HTTP {status}",
        links=(("/runs", "All runs of this store"), ("/", "Leaderboard")),
    )
    return HTMLResponse(body, status_code=status)
