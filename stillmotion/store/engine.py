"""Engines and transactions for the two supported backends, and schema migration.

SQLite: WAL so readers never block the writer, a busy timeout so writers queue instead of
failing, and `BEGIN IMMEDIATE` for every write transaction so the write lock is taken up
front (a deferred transaction that upgrades to a writer fails at once with SQLITE_BUSY, with
no busy wait). That makes each write transaction, including the claim, run alone.
PostgreSQL: ordinary READ COMMITTED transactions; claims rely on `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "stillmotion_read_only"  # execution option: this transaction only reads
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed number; serialises concurrent `migrate()` calls on one PostgreSQL database.
_MIGRATE_LOCK_KEY = 0x5717_1D0E


def make_engine(url: str, pool_size: int) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, pool_size)
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            # compat: plain postgresql:// would pick psycopg2, which is not a dependency.
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=pool_size, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database URL {parsed!r}: use sqlite:/// or postgresql+psycopg://"
    )


def _sqlite_engine(url: URL, pool_size: int) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        # Each pooled connection would get its own empty database.
        raise ValueError("the job store needs a SQLite file, not an in-memory database")
    if not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver; `_on_begin` emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        # WAL + NORMAL: commits survive a crash of the process (what workers and tests
        # exercise); only an OS crash or power loss can drop the last commits. Far faster.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL (once per database; a no-op after that).

    Changing the journal mode does not wait in SQLite's busy handler: on a brand-new file,
    connections opening at the same moment (several workers starting, or migrating together)
    get "database is locked" at once. Retry for up to the busy timeout instead."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# One write lock per engine, dropped with the engine (keyed weakly, so a new engine that
# reuses a dead one's id() never inherits its lock).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write: committed on success, rolled back on error.

    On SQLite, threads of one process take turns on a Python lock before BEGIN IMMEDIATE:
    SQLite's own busy handler sleeps with growing back-off (up to 100 ms a try), which under
    many concurrent submits costs far more than queueing on a lock. Other processes still
    meet the busy handler, as they must.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with _WRITE_LOCKS_GUARD:
            lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    with lock, engine.begin() as conn:
        yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads (on SQLite: a plain BEGIN, so it never waits for writers)."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


def migrate(engine: Engine) -> None:
    """Upgrade to the newest revision in one transaction; concurrent callers run one by one."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with write_tx(engine) as conn:  # on SQLite, BEGIN IMMEDIATE already excludes other writers
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
