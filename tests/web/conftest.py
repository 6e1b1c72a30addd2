"""Fixtures of the web page's tests: a seeded store (see seed.py), a live server on 127.0.0.1, HTTP helpers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.web.seed import Seeded, seed
from wattlens.store import open_store


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("web"))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> dict:
        return json.loads(self.body)


def fetch(url: str, method: str = "GET") -> Answer:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


@dataclass
class Live:
    url: str

    def get(self, path: str, method: str = "GET") -> Answer:
        return fetch(self.url.rstrip("/") + path, method)

    def api(self, path: str) -> dict:
        answer = self.get(path)
        assert answer.status == 200, (path, answer.status, answer.text[:300])
        return answer.json()


def live_server(db: str) -> Iterator[Live]:
    from wattlens.web.server import open_server

    store = open_store(db, read_only=True)
    server = open_server(store, "127.0.0.1", 0, raw_url=db)
    with server:
        yield Live(server.url)
    store.close()


@pytest.fixture(scope="session")
def live(seeded: Seeded) -> Iterator[Live]:
    yield from live_server(seeded.db)


_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: object) -> None:
    """Say where the browser tests left their screenshots (one per page), when they ran in this session."""
    from tests.web.test_browser import SCREENSHOTS

    shots = [p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _STARTED] if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"web page screenshots ({len(shots)}): {SCREENSHOTS}")  # type: ignore[attr-defined]
