"""The page over the loopback PostgreSQL server (scripts/pg.sh), opened with a password in its URL: every page and
answer works, and the password appears nowhere (pages, API answers, error messages, the server's log)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.web.conftest import Live, live_server
from tests.web.seed import Seeded, copy_store
from wattlens.cli.main import main as cli

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PG_ENV = "WATTLENS_TEST_PG_URL"
SECRET = "Sekr3t-pw-for-web"


def _admin(url: str, sql: str) -> None:
    import sqlalchemy as sa

    from wattlens.store.db import normalise_url

    engine = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_url(seeded: Seeded) -> Iterator[str]:
    """A database of its own on the test server, holding a copy of the seeded store; its URL carries a password
    (the test server trusts loopback, so any password is accepted: what matters is where it shows)."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set on CI (scripts/pg.sh start)")
        pytest.skip(f"{PG_ENV} not set (scripts/pg.sh start, or make test)")
    name = f"wattlens_web_{uuid.uuid4().hex[:8]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    server = base.split("://", 1)[1].rsplit("/", 1)[0]  # user@host:port
    user, host = server.split("@", 1)
    url = f"postgresql://{user.split(':')[0]}:{SECRET}@{host}/{name}"
    try:
        copy_store(seeded.db, url)
        yield url
    finally:
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_live(pg_url: str) -> Iterator[Live]:
    yield from live_server(pg_url)


def test_pages_and_answers_over_postgres(pg_live: Live, seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wattlens")
    board = pg_live.api(f"/api/leaderboard?run={seeded.real_run}")
    assert {r["status"] for r in board["rows"]} == {"ok", "failed"}
    assert pg_live.api(f"/api/compare?a={seeded.synth_a}&b={seeded.synth_b}")["comparison"]["matched"] > 50
    assert len(pg_live.api("/api/history")["measurements"]) == 2
    assert pg_live.api("/api/analyze")["analysis"]["model"] == "distilgpt2"
    answers = [pg_live.get(p) for p in ("/", "/runs", "/history", "/api/", "/api/runs", "/run?id=nope", "/api/run")]
    assert [a.status for a in answers] == [200, 200, 200, 200, 200, 404, 400]
    for answer in answers:
        assert SECRET not in answer.text
    assert "***" in pg_live.api("/api/runs")["store"] or SECRET not in pg_live.api("/api/runs")["store"]
    assert SECRET not in caplog.text


def test_an_unreachable_server_says_so_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:1/nowhere"
    assert cli(["serve", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to" in err and SECRET not in err and "Traceback" not in err
    assert cli(["export", "--aiesc", "x", "/tmp/unused", "--db", url]) == 2
    assert SECRET not in capsys.readouterr().err
