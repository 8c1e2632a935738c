"""The SQL schema and its columns: migrations, money in micro-dollars, UTC times, restarts,
SQLite's WAL mode. SQL-only where the question only exists in SQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, text

from stillmotion.jobs import ClaimRules, Database, FailureCode, JobStatus
from stillmotion.store import Database as SqlDatabase
from stillmotion.store import from_micros, to_micros
from stillmotion.store.columns import UTCDateTime
from stillmotion.store.engine import MIGRATIONS_DIR, make_engine, write_tx
from stillmotion.store.tables import jobs, metadata
from tests.helpers import race

from .support import SQL_BACKENDS, must, new_job, only_on

sql_only = only_on(*SQL_BACKENDS)


def engine_of(db: Database) -> Engine:
    return db._engine  # type: ignore[attr-defined]


def upgrade_to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with write_tx(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_money_helpers() -> None:
    assert to_micros(Decimal("0.60")) == 600_000 and to_micros(3) == 3_000_000
    assert from_micros(600_000) == Decimal("0.6") and str(from_micros(600_000)) == "0.60"
    assert str(from_micros(32_000)) == "0.032" and str(from_micros(0)) == "0.00"
    assert str(from_micros(100_000_000)) == "100.00" and str(from_micros(Decimal(1))) == "0.000001"
    with pytest.raises(ValueError):
        to_micros(Decimal("0.0000001"))
    with pytest.raises(TypeError):
        to_micros(0.6)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_micros(True)
    with pytest.raises(ValueError):
        to_micros(Decimal("NaN"))


@sql_only
def test_migrations_create_exactly_the_tables(db: Database) -> None:
    engine = create_engine(engine_of(db).url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    finally:
        engine.dispose()
    assert diff == []
    assert {"route", "not_before", "purged_at", "webhook_events"} <= columns  # 0002 and 0003


@sql_only
def test_a_job_stored_before_0003_keeps_its_route_and_runs(open_db: Callable[..., Database]) -> None:
    """Revision 0003 moved `route` out of the public metadata; older rows keep it in `meta`."""
    db = open_db(migrate=False)
    upgrade_to(engine_of(db), "0002")
    now = datetime.now(UTC)
    with write_tx(engine_of(db)) as conn:
        conn.execute(insert(jobs).values(
            id="old", owner="o", model="m", dialect="job", engine="motion", status=JobStatus.QUEUED, progress=0,
            amount=Decimal("0.50"), refunded=False, args={}, spec={}, seed=1, off_peak=False, attempts=0,
            meta={"route": {"engine": "motion", "weights": "/w"}, "k": 1}, created_at=now,
        ))
    db.migrate()
    job = must(db.jobs.get("old"))
    assert job.route == {"engine": "motion", "weights": "/w"} and job.metadata == {"k": 1}
    claimed = must(db.jobs.claim("w", 30, ("motion",), ClaimRules()))  # not_before NULL: runnable
    assert claimed.id == "old" and claimed.route == job.route


def test_times_are_aware_utc(db: Database) -> None:
    job = db.jobs.create(new_job(callback_url="https://h/t"))
    db.jobs.claim("w", 30, ("motion",), ClaimRules())
    db.jobs.fail(job.id, "w", FailureCode.GENERATION_FAILURE, "x")
    done = must(db.jobs.get(job.id))
    [delivery] = db.outbox.for_job(job.id)
    key = must(db.accounts.get_key(db.accounts.add_key("k", "h")))
    stamps = [done.created_at, done.started_at, done.finished_at, delivery.created_at, delivery.next_attempt_at,
              key.created_at, *(ln.created_at for ln in db.accounts.ledger(job.owner))]
    for stamp in stamps:
        assert stamp is not None and stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)


@sql_only
def test_utc_column_reads_back_any_zone_as_utc(db: Database) -> None:
    """Aware times in another zone are stored as the same instant; naive ones are taken as UTC."""
    col = UTCDateTime()
    dialect = engine_of(db).dialect
    plus2 = datetime(2030, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = col.process_bind_param(plus2, dialect)
    back = col.process_result_value(stored, dialect)
    assert back == plus2 and back is not None and back.tzinfo == UTC and back.hour == 12
    naive = datetime(2030, 1, 1, 12, 0)
    assert col.process_result_value(col.process_bind_param(naive, dialect), dialect) == naive.replace(tzinfo=UTC)
    assert col.process_bind_param(None, dialect) is None and col.process_result_value(None, dialect) is None


@sql_only
def test_restart_keeps_every_job(db: Database, db_url: str) -> None:
    made = [db.jobs.create(new_job(owner="durable")) for _ in range(5)]
    rules = ClaimRules()
    running = must(db.jobs.claim("w1", 30, ("motion",), rules))
    done = must(db.jobs.claim("w1", 30, ("motion",), rules))
    assert db.jobs.finish(done.id, "w1", {"videos": []}, {"k": 1})
    assert db.jobs.fail(made[4].id, None, FailureCode.IMAGE_DOWNLOAD_FAILURE, "404")
    db.accounts.add_key("k", "h")
    before = {j.id: db.jobs.get(j.id) for j in made}
    ledger = db.accounts.ledger("durable")
    db.close()
    with SqlDatabase(db_url) as reopened:
        reopened.migrate()
        assert {j.id: reopened.jobs.get(j.id) for j in made} == before
        assert reopened.accounts.ledger("durable") == ledger
        assert reopened.accounts.find_key("h") is not None
        assert must(reopened.jobs.get(running.id)).status is JobStatus.PROCESSING


def test_migrate_is_idempotent(db: Database) -> None:
    job = db.jobs.create(new_job())
    db.migrate()
    db.migrate()
    assert db.jobs.get(job.id) == job


@sql_only
def test_migrate_concurrently_on_a_fresh_database(open_db: Callable[..., Database]) -> None:
    dbs = [open_db(migrate=False) for _ in range(4)]
    assert race(len(dbs), lambda i: dbs[i].migrate()) == []
    assert dbs[0].accounts.count_keys() == 0 and dbs[1].jobs.stats()["depth"] == 0


@only_on("sqlite")
def test_sqlite_runs_in_wal_mode(db: Database, db_url: str) -> None:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_in_memory_sqlite_database_is_refused() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ValueError):
            SqlDatabase(url)
    with pytest.raises(ValueError):
        SqlDatabase("mysql://u@h/db")


def test_a_connection_switching_a_new_sqlite_file_to_wal_waits_for_a_writer(tmp_path: Path) -> None:
    """Changing the journal mode does not wait in SQLite's busy handler: while another
    connection held a write lock on a brand-new file, opening the database failed at once with
    "database is locked" (seen when workers started or migrated together)."""
    path = tmp_path / "new.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE t (x)")
    release = threading.Timer(0.3, holder.execute, args=("COMMIT",))
    release.start()
    engine = make_engine(f"sqlite:///{path}", 2)
    try:
        start = time.monotonic()
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert time.monotonic() - start >= 0.2  # it waited for the writer
    finally:
        release.join()
        holder.close()
        engine.dispose()
