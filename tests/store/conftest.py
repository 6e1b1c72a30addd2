"""Store fixtures: every test runs against a real SQLite file AND the real PostgreSQL server.

PostgreSQL comes from ``WATTLENS_TEST_PG_URL`` (``make test`` starts it with scripts/pg.sh). Without
it the postgres half is skipped locally, but FAILS when ``CI`` is set, so CI can never skip silently.
Each PostgreSQL test gets its own schema, dropped afterwards, so tests are independent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from wattlens.store import Store, open_store

PG_ENV = "WATTLENS_TEST_PG_URL"


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    from wattlens.store.db import normalise_url

    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_opener(request, tmp_path) -> Iterator[Callable[[], Store]]:
    """A function that opens (or re-opens) the same database; stores it opened are closed at teardown."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = str(tmp_path / "results.sqlite")

        def opener() -> Store:
            opened.append(open_store(path))
            return opened[-1]

        yield opener
    else:
        url = os.environ.get(PG_ENV)
        if not url:
            if os.environ.get("CI"):
                pytest.fail(f"{PG_ENV} is not set on CI: the PostgreSQL store tests must run (scripts/pg.sh start)")
            pytest.skip(f"{PG_ENV} not set (run scripts/pg.sh start, or make test)")
        schema = f"wl_test_{uuid.uuid4().hex[:12]}"

        def opener() -> Store:
            opened.append(open_store(url, schema=schema))
            return opened[-1]

        yield opener
        for st in opened:
            st.close()
        _drop_schema(url, schema)
    for st in opened:
        st.close()


@pytest.fixture
def store(store_opener) -> Store:
    return store_opener()
