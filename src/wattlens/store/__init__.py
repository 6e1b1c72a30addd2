"""Results database: SQLite file by default, PostgreSQL by URL — one SQLAlchemy Core code path.

>>> from wattlens.store import open_store
>>> st = open_store(":memory:")  # or "results.sqlite", or "postgresql://user@host:5432/db"
>>> run_id = st.create_run("bench", {"suite": "quick"})
>>> st.save_cell(run_id, "distilgpt2|batch=1", "ok", {"j_per_query": 1.5})
>>> sorted(st.done_keys(run_id))
['distilgpt2|batch=1']
>>> st.close()

SQLAlchemy is imported only when a store is opened, so ``import wattlens`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wattlens.errors import WattlensError

if TYPE_CHECKING:  # pragma: no cover
    from wattlens.store.db import Store

ENV_DB = "WATTLENS_DB"


class StoreError(WattlensError, RuntimeError):
    """The results database cannot do what was asked; the message says why and what is allowed."""


def open_store(url: str | None = None, *, schema: str | None = None, read_only: bool = False) -> Store:
    """Open (and create if needed) the results database.

    ``url``: None -> ``WATTLENS_DB`` or the SQLite file ``./wattlens.sqlite``; a path ending
    ``.sqlite``/``.sqlite3``/``.db``; ``:memory:``; ``sqlite:///path``; ``postgresql://user@host:port/db``
    (run with psycopg 3). ``schema`` (PostgreSQL only) keeps the tables in their own schema.
    ``read_only``: never create, migrate or write (SQLite ``mode=ro``, PostgreSQL read-only transactions); a
    missing or empty database, or one that is not wattlens', is a :class:`StoreError` saying so, and one written
    by an older wattlens is read as it is.
    """
    from wattlens.store.db import Store  # lazy: sqlalchemy only when a store is used

    return Store.open(url, schema=schema, read_only=read_only)


def __getattr__(name: str) -> Any:
    if name == "Store":
        from wattlens.store.db import Store

        return Store
    if name in ("to_csv", "to_json", "export_measurements", "export_cells", "flatten"):
        from wattlens.store import export

        return getattr(export, name)
    raise AttributeError(f"module 'wattlens.store' has no attribute {name!r}")


__all__ = [
    "ENV_DB",
    "Store",
    "StoreError",
    "export_cells",
    "export_measurements",
    "flatten",
    "open_store",
    "to_csv",
    "to_json",
]
