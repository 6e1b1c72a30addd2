"""SQLAlchemy Core store. The same statements run on SQLite and PostgreSQL; only the upsert
constructor is picked per dialect (both expose ``insert().on_conflict_do_update``).

Durability: every ``save_*`` runs in its own transaction and commits before returning. SQLite runs
in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the process being killed
(``kill -9``); only an OS crash / power cut can lose the last transactions, which is acceptable for
benchmark results that a resumed run re-measures.

JSON columns use ``sqlalchemy.JSON`` (``json`` on PostgreSQL, text on SQLite). JSON has no NaN or
infinity, so non-finite floats are stored as null (PostgreSQL would reject them otherwise).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from wattlens._logging import get_logger
from wattlens.store import ENV_DB, StoreError

_log = get_logger(__name__)

SCHEMA_VERSION = 2  # 2: measurements gained co2e_embodied_g and water_l (issue 15)
# Columns added after version 1, created on older databases by _migrate (ALTER TABLE ... ADD COLUMN).
_MEASUREMENT_NUMBERS = (
    "energy_j",
    "low_j",
    "high_j",
    "pue",
    "facility_energy_j",
    "co2e_g",
    "co2e_embodied_g",
    "water_l",
)
_ADDED_COLUMNS = {2: (("measurements", "co2e_embodied_g", "FLOAT"), ("measurements", "water_l", "FLOAT"))}
DEFAULT_SQLITE_PATH = "wattlens.sqlite"
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DONE_STATUSES = frozenset({"ok", "failed", "invalid", "contended"})  # a resumed run skips these cells
RUN_STATUS_INITIAL = "running"
_ADVISORY_LOCK_KEY = 0x77A771E5  # serialises concurrent schema creation on one PostgreSQL database
_SCHEMA_ATTEMPTS = 5  # SQLite: concurrent creators of a new file retry (see Store._create_schema)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
ALLOWED_LOCATIONS = (
    "a path ending .sqlite, .sqlite3 or .db; ':memory:'; sqlite:///path/to/file.sqlite; "
    "postgresql://user[:password]@host[:port]/database (psycopg 3)"
)

metadata = sa.MetaData()


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)  # Python None -> SQL NULL, not the JSON text 'null'


measurements_table = sa.Table(
    "measurements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_unix_s", sa.Float, nullable=False),
    sa.Column("name", sa.String),
    sa.Column("duration_s", sa.Float),
    sa.Column("energy_j", sa.Float),
    sa.Column("low_j", sa.Float),
    sa.Column("high_j", sa.Float),
    sa.Column("source", sa.String),
    sa.Column("attribution", sa.String),
    sa.Column("boundary", sa.String),
    sa.Column("pue", sa.Float),
    sa.Column("facility_energy_j", sa.Float),
    sa.Column("co2e_g", sa.Float),
    sa.Column("co2e_embodied_g", sa.Float),  # amortised embodied CO2e (--embodied); NULL when not asked
    sa.Column("water_l", sa.Float),  # water consumed on and off site (--water); NULL when not asked
    sa.Column("location_key", sa.String),
    sa.Column("components", _json()),
    sa.Column("record", _json()),
)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False, index=True),
    sa.Column("created_unix_s", sa.Float, nullable=False),
    sa.Column("updated_unix_s", sa.Float, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("config", _json()),
    sa.Column("environment", _json()),
)

cells_table = sa.Table(
    "cells",
    metadata,
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("cell_key", sa.String, primary_key=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("result", _json()),
    sa.Column("error", sa.Text),
    sa.Column("updated_unix_s", sa.Float, nullable=False),
)

timeline_table = sa.Table(
    "timeline",
    metadata,
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("cell_key", sa.String, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("row", _json()),
)

schema_version_table = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_unix_s", sa.Float, nullable=False),
)

_UPSERT_INSERT: dict[str, Callable[[sa.Table], sqlite_dialect.Insert | pg_dialect.Insert]] = {
    "sqlite": sqlite_dialect.insert,
    "postgresql": pg_dialect.insert,
}


# --- value cleaning -------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: dict keys as str, tuples/sets as lists, non-finite floats as None,
    ``to_dict()``/dataclass objects expanded, numpy-style scalars via ``.item()``, other objects as str."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if hasattr(value, "item") and callable(value.item):  # numpy scalars, 0-d arrays
        try:
            return jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _json_dumps(value: Any) -> str:
    return json.dumps(jsonable(value), allow_nan=False)


def _number(value: Any, column: str) -> float | None:
    """A float column value: finite number, or None for missing/non-finite (JSON keeps the record)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise StoreError(f"column {column!r} needs a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StoreError(f"column {column!r} needs a number, got {value!r}") from None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json_object(value: Any, what: str) -> dict[str, Any]:
    """A JSON-safe dict from a mapping or an object with ``to_dict()``; anything else is refused."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise StoreError(f"{what} must be a dict (or have to_dict()), got {type(value).__name__}")
    cleaned: dict[str, Any] = jsonable(value)  # a Mapping comes back a dict
    return cleaned


# --- URL handling ---------------------------------------------------------------------------------


def normalise_url(url: str | os.PathLike[str] | None) -> str:
    """The SQLAlchemy URL for a user's store location (see :data:`ALLOWED_LOCATIONS`).

    >>> normalise_url("postgresql://u@h:5432/db")
    'postgresql+psycopg://u@h:5432/db'
    """
    if url is None:
        url = os.environ.get(ENV_DB) or DEFAULT_SQLITE_PATH
    text = os.fspath(url).strip()
    if not text:
        raise StoreError(f"empty store location; allowed: {ALLOWED_LOCATIONS}")
    if "://" in text:
        scheme, rest = text.split("://", 1)
        scheme = scheme.lower()
        if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            return f"postgresql+psycopg://{rest}"
        if scheme in ("sqlite", "sqlite+pysqlite"):
            return f"sqlite://{rest}"
        shown = _hide_password(text)
        raise StoreError(f"unsupported database scheme {scheme!r} in {shown}; allowed: {ALLOWED_LOCATIONS}")
    if text == ":memory:":
        return "sqlite://"
    path = Path(text).expanduser()
    if path.suffix.lower() not in SQLITE_SUFFIXES:
        raise StoreError(f"unknown store location {text!r}; allowed: {ALLOWED_LOCATIONS}")
    return f"sqlite:///{path.resolve()}"


def _hide_password(text: str) -> str:
    try:
        return sa.engine.make_url(text).render_as_string(hide_password=True)
    except Exception:  # not parseable: show the scheme only, never a possible password
        return text.split("://", 1)[0] + "://..."


def _sqlite_read_only_url(database: str | None) -> str:
    """SQLite opened read-only by the driver itself (``mode=ro``): no file is created, nothing can be written."""
    if not database or database == ":memory:":
        raise StoreError("a read-only store needs a database file, not ':memory:'")
    path = Path(database)
    if not path.is_file():
        raise StoreError(f"no results database at {path}: nothing has been stored there yet")
    return f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"


def _hide_in(text: str, url: sa.engine.URL) -> str:
    """``text`` with the URL's password (if any) blanked: driver messages may quote the connection string."""
    password = url.password
    return text.replace(str(password), "***") if password else text


ENV_BUSY_TIMEOUT = "WATTLENS_DB_BUSY_TIMEOUT_S"
_BACKOFF_S = (0.25, 0.5, 1.0, 2.0)  # after SQLite's own busy timeout: retried writes, then a clear error


def _busy_timeout_ms() -> int:
    """SQLite's wait for another writer, ``$WATTLENS_DB_BUSY_TIMEOUT_S`` (default 10 s)."""
    try:
        seconds = float(os.environ.get(ENV_BUSY_TIMEOUT) or 10.0)
    except ValueError:
        seconds = 10.0
    return int(min(max(seconds, 0.0), 3600.0) * 1000) if math.isfinite(seconds) else 10_000


def _is_busy(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text or "could not obtain lock" in text


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")  # belt and braces beside mode=ro
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # First: switching a new file to WAL takes a lock that a second process opening it at the same moment
        # must wait for, not fail on ("database is locked").
        cursor.execute(f"PRAGMA busy_timeout={_busy_timeout_ms()}")  # wait for another writer, not fail at once
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; commits survive kill -9
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")  # same referential rules as PostgreSQL
    finally:
        cursor.close()


def _executing(statement: Any) -> Callable[[sa.Connection], Any]:
    return lambda conn: conn.execute(statement)


def _new_run_id(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def _canonical(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, allow_nan=False)


# --- the store ------------------------------------------------------------------------------------


class Store:
    """A results database. Create with :func:`wattlens.store.open_store`; usable as a context manager."""

    def __init__(self, engine: sa.engine.Engine, schema: str | None = None, *, read_only: bool = False):
        self._engine = engine
        self.schema = schema
        self.dialect: str = engine.dialect.name
        self.url: str = engine.url.render_as_string(hide_password=True)
        self.read_only = read_only
        self.found_version: int | None = None  # read-only: the schema version the database was written with
        self._measurement_columns: tuple[str, ...] | None = None  # read-only: the columns it has

    # -- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, url: str | os.PathLike[str] | None = None, *, schema: str | None = None, read_only: bool = False
    ) -> Store:
        sa_url = normalise_url(url)
        is_sqlite = sa_url.startswith("sqlite")
        if schema is not None and (is_sqlite or not _SCHEMA_RE.match(schema)):
            raise StoreError(f"schema={schema!r}: a PostgreSQL identifier (letters, digits, _), PostgreSQL only")
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
        if is_sqlite:
            database = sa.engine.make_url(sa_url).database
            if read_only:
                sa_url = _sqlite_read_only_url(database)
            elif database and database != ":memory:":  # a new file in a new folder is fine; say so by creating it
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            connect_args: dict[str, Any] = {"connect_timeout": 10}
            if read_only:  # every transaction of this engine refuses to write, whatever the code above asks
                connect_args["options"] = "-c default_transaction_read_only=on"
            kwargs.update(pool_pre_ping=True, connect_args=connect_args)
        try:
            engine = sa.create_engine(sa_url, **kwargs)
        except Exception as exc:  # bad URL syntax, missing driver
            shown = _hide_password(sa_url)
            raise StoreError(f"cannot open store {shown}: {exc}; allowed: {ALLOWED_LOCATIONS}") from exc
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
        store = cls(engine, schema, read_only=read_only)
        if is_sqlite and read_only:
            store.url = normalise_url(url)  # the file as the user knows it, not the driver's read-only URI
        try:
            if read_only:
                store._check_schema()
            else:
                store._create_schema()
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError(f"cannot connect to {store.url}: {_hide_in(str(exc.orig), engine.url)}") from exc
        except sa.exc.DBAPIError as exc:  # e.g. a file that is not a database
            engine.dispose()
            reason = _hide_in(str(exc.orig), engine.url)
            shown = f"cannot use {store.url} as a results store: {reason}"
            raise StoreError(f"{shown}; allowed: {ALLOWED_LOCATIONS}") from exc
        except BaseException:
            engine.dispose()
            raise
        return store

    def _check_schema(self) -> None:
        """Read-only opening: no DDL, no migration. Says what is wrong with a database it cannot read; remembers
        the version and the measurement columns of one written by an older wattlens (read as they are)."""
        if self.schema is not None:
            self._engine = self._engine.execution_options(schema_translate_map={None: self.schema})
        with self._engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names(schema=self.schema))
            if not tables:
                raise StoreError(f"{self.url} is empty: no wattlens results are stored there yet")
            missing = {"runs", "cells", "timeline", "measurements"} - tables
            if missing:
                raise StoreError(
                    f"{self.url} is not a wattlens results database (no {', '.join(sorted(missing))} table)"
                )
            found = None
            if "schema_version" in tables:
                found = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()
            self.found_version = int(found) if found is not None else 1
            if self.found_version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.url} has schema version {self.found_version}, written by a newer wattlens; "
                    f"this one knows {SCHEMA_VERSION}"
                )
            if self.found_version < SCHEMA_VERSION:
                columns = sa.inspect(conn).get_columns("measurements", schema=self.schema)
                self._measurement_columns = tuple(str(c["name"]) for c in columns)

    def _create_schema(self) -> None:
        if self.schema is not None:
            with self._engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            self._engine = self._engine.execution_options(schema_translate_map={None: self.schema})
        for attempt in range(_SCHEMA_ATTEMPTS):
            try:
                self._create_tables()
                return
            except sa.exc.OperationalError as exc:
                # SQLite has no advisory lock and runs CREATE TABLE outside a transaction: two processes creating
                # the schema of a new file at once both pass create_all's check, and the slower one gets "table
                # ... already exists". The tables are then there: check again (the check now sees them).
                if "already exists" not in str(exc.orig) or attempt == _SCHEMA_ATTEMPTS - 1:
                    raise

    def _create_tables(self) -> None:
        with self._engine.begin() as conn:
            if self.dialect == "postgresql":  # two processes creating tables at once would collide
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
            metadata.create_all(conn)
            found = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()
            if found is None:  # another process creating the same new store may insert it first: no conflict
                insert = _UPSERT_INSERT[self.dialect](schema_version_table)
                conn.execute(insert.values(version=SCHEMA_VERSION, applied_unix_s=time.time()).on_conflict_do_nothing())
            elif found > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.url} has schema version {found}, written by a newer wattlens; "
                    f"this one knows {SCHEMA_VERSION}"
                )
            elif found < SCHEMA_VERSION:
                self._migrate(conn, found)

    def _migrate(self, conn: sa.Connection, found: int) -> None:
        """Bring a database written by an older wattlens up to :data:`SCHEMA_VERSION` (columns only added)."""
        prefix = f'"{self.schema}".' if self.schema else ""
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for table, column, sql_type in _ADDED_COLUMNS.get(version, ()):
                present = {c["name"] for c in sa.inspect(conn).get_columns(table, schema=self.schema)}
                if column not in present:
                    conn.execute(sa.text(f"ALTER TABLE {prefix}{table} ADD COLUMN {column} {sql_type}"))
            conn.execute(schema_version_table.insert().values(version=version, applied_unix_s=time.time()))

    def schema_version(self) -> int:
        with self._engine.connect() as conn:
            version = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar()
        if version is None:
            raise StoreError(f"{self.url} has no schema version row (not created by wattlens?)")
        return int(version)

    def close(self) -> None:
        """Release every connection (the data are already committed)."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r}{', schema=' + repr(self.schema) if self.schema else ''})"

    # -- measurements -----------------------------------------------------------------------------
    def save_measurement(self, record: Mapping[str, Any] | Any) -> int:
        """Store one measurement record (``Measurement.to_dict()``, optionally with a ``footprint`` dict
        from :mod:`wattlens.carbon` nested or merged); committed before returning. Returns its id."""
        rec = _json_object(record, "a measurement record")
        nested = rec.get("footprint")
        fp: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}

        def pick(key: str) -> Any:
            return rec[key] if rec.get(key) is not None else fp.get(key)

        loc = pick("location")
        location_key = rec.get("location_key") or (loc.get("key") if isinstance(loc, Mapping) else loc)
        row = {
            "created_unix_s": time.time(),
            "name": _text(rec.get("name")),
            "duration_s": _number(rec.get("duration_s"), "duration_s"),
            "source": _text(rec.get("source")),
            "attribution": _text(rec.get("attribution")),
            "boundary": _text(pick("boundary")),
            "location_key": _text(location_key),
            "components": rec.get("components"),
            "record": rec,
        }
        for column in _MEASUREMENT_NUMBERS:
            row[column] = _number(pick(column), column)
        key = self._write(lambda conn: conn.execute(measurements_table.insert().values(**row)).inserted_primary_key)
        if key is None:  # pragma: no cover - SQLite and PostgreSQL always return the new id
            raise StoreError("the database returned no id for the new measurement")
        return int(key[0])

    def measurements(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored measurements, oldest first; with ``limit``, the most recent ``limit`` of them. A database from an
        older schema opened read-only gives None for the columns it does not have yet."""
        t = measurements_table
        present = self._measurement_columns
        columns = [c for c in t.c if present is None or c.name in present]
        query = sa.select(*columns).order_by(t.c.id.desc())
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise StoreError(f"limit must be a whole number >= 0 or None, got {limit!r}")
            query = query.limit(limit)
        with self._engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if present is not None:
            absent = [c.name for c in t.c if c.name not in present]
            rows = [{**r, **dict.fromkeys(absent)} for r in rows]
        return rows[::-1]

    def cell_counts(self) -> dict[str, int]:
        """How many cells each run has stored (runs without cells are absent), in one query."""
        t = cells_table
        query = sa.select(t.c.run_id, sa.func.count()).group_by(t.c.run_id)
        with self._engine.connect() as conn:
            return {str(run_id): int(n) for run_id, n in conn.execute(query)}

    def fingerprint(self) -> tuple[object, ...]:
        """What changes whenever anything is stored: run, cell and measurement counts and latest updates (a reader
        can keep what it computed until it changes)."""
        r, c, m = runs_table, cells_table, measurements_table
        with self._engine.connect() as conn:
            runs = conn.execute(sa.select(sa.func.count(), sa.func.max(r.c.updated_unix_s))).one()
            cells = conn.execute(sa.select(sa.func.count(), sa.func.max(c.c.updated_unix_s))).one()
            meas = conn.execute(sa.select(sa.func.count(), sa.func.max(m.c.id))).one()
        return (*runs, *cells, *meas)

    def change_marks(self) -> dict[str, Any]:
        """What changes when something is stored, per part of the store, in three queries: ``measurements``
        (count, latest id), ``runs`` ({run_id: (status, updated_unix_s)}) and ``cells`` ({run_id: (count, latest
        update)}). A reader compares two of them to learn *what* changed (a new measurement, one run's cells)
        and keeps everything else it computed."""
        r, c, m = runs_table, cells_table, measurements_table
        cells_query = sa.select(c.c.run_id, sa.func.count(), sa.func.max(c.c.updated_unix_s)).group_by(c.c.run_id)
        with self._engine.connect() as conn:
            meas = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(m.c.id))).one())
            runs = {str(k): (s, u) for k, s, u in conn.execute(sa.select(r.c.run_id, r.c.status, r.c.updated_unix_s))}
            cells = {str(k): (int(n), u) for k, n, u in conn.execute(cells_query)}
        return {"measurements": meas, "runs": runs, "cells": cells}

    def timeline_keys(self, run_id: str) -> list[str]:
        """The cells of a run that have a timeline stored."""
        t = timeline_table
        query = sa.select(t.c.cell_key).where(t.c.run_id == run_id).distinct().order_by(t.c.cell_key)
        with self._engine.connect() as conn:
            return [str(k) for k in conn.execute(query).scalars()]

    def cells_fingerprint(self, run_id: str) -> tuple[int, float | None]:
        """(cell count, latest cell update) of a run: changes whenever a cell is added or rewritten, so a reader
        can keep what it computed from the cells until then."""
        t = cells_table
        query = sa.select(sa.func.count(), sa.func.max(t.c.updated_unix_s)).where(t.c.run_id == run_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).one()
        return int(row[0]), None if row[1] is None else float(row[1])

    # -- runs -------------------------------------------------------------------------------------
    def create_run(
        self,
        kind: str,
        config: Mapping[str, Any],
        run_id: str | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a run and return its id (``bench-20261121-052233-ab12`` style when not given).

        Re-creating an existing ``run_id`` with the same kind and config returns it unchanged (resume);
        a different kind or config raises :class:`StoreError` instead of silently mixing results.
        """
        if not isinstance(kind, str) or not _NAME_RE.match(kind):
            raise StoreError(f"run kind {kind!r}: lower-case word such as 'bench' or 'optimize' (a-z, 0-9, _, -)")
        if run_id is not None and (not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 200):
            raise StoreError(f"run id {run_id!r}: a non-empty string of at most 200 characters")
        now = time.time()
        values = {
            "kind": kind,
            "created_unix_s": now,
            "updated_unix_s": now,
            "status": RUN_STATUS_INITIAL,
            "config": _json_object(config or {}, "config"),
            "environment": None if environment is None else _json_object(environment, "environment"),
        }
        for _attempt in range(5):  # generated ids collide only within one second and 1 in 65,536
            rid = run_id if run_id is not None else _new_run_id(kind)
            try:
                self._write(_executing(runs_table.insert().values(run_id=rid, **values)))
                return rid
            except sa.exc.IntegrityError:
                if run_id is not None:
                    return self._resume_existing(run_id, kind, config)
        raise StoreError("could not generate a unique run id; pass run_id=")  # pragma: no cover

    def _resume_existing(self, run_id: str, kind: str, config: Mapping[str, Any]) -> str:
        existing = self.get_run(run_id)
        if existing is None:  # pragma: no cover - a concurrent delete
            raise StoreError(f"run {run_id!r} could not be created")
        if existing["kind"] != kind or _canonical(existing["config"]) != _canonical(config or {}):
            raise StoreError(
                f"run {run_id!r} already exists with kind {existing['kind']!r} and a different config; "
                "use a new run id, or get_run()/done_keys() to resume it with its stored config"
            )
        return run_id

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The run's row (run_id, kind, created_unix_s, updated_unix_s, status, config, environment) or None."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.run_id == run_id)).first()
        return None if row is None else dict(row._mapping)

    def list_runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first, optionally of one kind."""
        t = runs_table
        query = sa.select(t).order_by(t.c.created_unix_s.desc(), t.c.run_id.desc())
        if kind is not None:
            query = query.where(t.c.kind == kind)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def set_run_status(self, run_id: str, status: str) -> None:
        """Set a run's status (e.g. ``running``, ``done``, ``failed``, ``interrupted``); committed at once."""
        status = self._status(status)
        result = self._write(
            lambda conn: conn.execute(
                runs_table.update()
                .where(runs_table.c.run_id == run_id)
                .values(status=status, updated_unix_s=time.time())
            )
        )
        if result.rowcount == 0:
            raise StoreError(f"unknown run {run_id!r}")

    @staticmethod
    def _status(status: Any) -> str:
        if not isinstance(status, str) or not status.strip() or len(status) > 32:
            raise StoreError(f"status {status!r}: a short non-empty string such as 'ok', 'failed', 'invalid'")
        return status.strip()

    # -- cells ------------------------------------------------------------------------------------
    def save_cell(
        self,
        run_id: str,
        cell_key: str,
        status: str,
        result: Mapping[str, Any] | None,
        error: str | BaseException | None = None,
        timeline: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert or replace one cell of a run; committed before returning (a crash right after keeps it).

        ``timeline``: the cell's raw timeline rows, replaced in the same transaction — a crash leaves the cell
        with its timeline or neither, never a cell without one."""
        status = self._status(status)
        if not isinstance(cell_key, str) or not cell_key:
            raise StoreError(f"cell key {cell_key!r}: a non-empty string")
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        values = {
            "run_id": run_id,
            "cell_key": cell_key,
            "status": status,
            "result": None if result is None else _json_object(result, "result"),
            "error": None if error is None else str(error),
            "updated_unix_s": time.time(),
        }
        insert = _UPSERT_INSERT[self.dialect](cells_table).values(**values)
        stmt = insert.on_conflict_do_update(
            index_elements=[cells_table.c.run_id, cells_table.c.cell_key],
            set_={k: insert.excluded[k] for k in ("status", "result", "error", "updated_unix_s")},
        )
        extra = [] if timeline is None else self._timeline_statements(run_id, cell_key, timeline)
        self._write_for_run(run_id, [*extra, stmt])

    def _write(self, work: Callable[[sa.Connection], Any]) -> Any:
        """Run ``work`` in one transaction. A database held by another writer past the busy timeout is retried
        with back-off (:data:`_BACKOFF_S`); a write that still fails (locked, read-only file, full disk, server
        gone) is a :class:`StoreError` saying why, never a driver traceback. Integrity errors pass through."""
        for delay in (*_BACKOFF_S, None):
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except sa.exc.IntegrityError:
                raise
            except sa.exc.DBAPIError as exc:
                if delay is not None and _is_busy(exc):
                    _log.warning("%s is busy (another writer); retrying in %.2g s", self.url, delay)
                    time.sleep(delay)
                    continue
                reason = _hide_in(str(exc.orig).strip().splitlines()[0], self._engine.url)
                held = " (held by another writer past the busy timeout and retries)" if _is_busy(exc) else ""
                raise StoreError(f"cannot write to {self.url}{held}: {reason}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_for_run(self, run_id: str, statements: Iterable[Any]) -> None:
        def work(conn: sa.Connection) -> None:
            for stmt in statements:
                if isinstance(stmt, tuple):
                    conn.execute(*stmt)
                else:
                    conn.execute(stmt)

        statements = list(statements)  # a retried transaction runs them again
        try:
            self._write(work)
        except sa.exc.IntegrityError as exc:  # the foreign key: no such run
            if self.get_run(run_id) is None:
                raise StoreError(f"unknown run {run_id!r}: create_run() first") from exc
            raise

    def cells(self, run_id: str) -> list[dict[str, Any]]:
        """All cells of a run (run_id, cell_key, status, result, error, updated_unix_s), in save order."""
        t = cells_table
        query = sa.select(t).where(t.c.run_id == run_id).order_by(t.c.updated_unix_s, t.c.cell_key)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def done_keys(self, run_id: str) -> set[str]:
        """Keys of cells that need no re-run: status ``ok``, ``failed`` or ``invalid``."""
        t = cells_table
        query = sa.select(t.c.cell_key).where(t.c.run_id == run_id, t.c.status.in_(sorted(DONE_STATUSES)))
        with self._engine.connect() as conn:
            return set(conn.execute(query).scalars())

    # -- timelines --------------------------------------------------------------------------------
    def save_timeline(self, run_id: str, cell_key: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Replace the raw timeline of one cell with ``rows`` (kept in order); returns how many were saved."""
        statements = self._timeline_statements(run_id, cell_key, rows)
        self._write_for_run(run_id, statements)
        return len(statements[1][1]) if len(statements) > 1 else 0

    @staticmethod
    def _timeline_statements(run_id: str, cell_key: str, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        data = [
            {"run_id": run_id, "cell_key": cell_key, "seq": i, "row": _json_object(r, "timeline row")}
            for i, r in enumerate(rows)
        ]
        t = timeline_table
        statements: list[Any] = [t.delete().where(t.c.run_id == run_id, t.c.cell_key == cell_key)]
        if data:
            statements.append((t.insert(), data))
        return statements

    def timeline(self, run_id: str, cell_key: str) -> list[dict[str, Any]]:
        """The timeline rows of one cell, in the order saved."""
        t = timeline_table
        query = sa.select(t.c.row).where(t.c.run_id == run_id, t.c.cell_key == cell_key).order_by(t.c.seq)
        with self._engine.connect() as conn:
            return [r if r is not None else {} for r in conn.execute(query).scalars()]
