"""Contract: jobs, money, keys and durability, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from stillmotion.domain import JobStatus
from stillmotion.errors import Conflict
from stillmotion.store import NewJob, Store, from_micros, to_micros
from stillmotion.store.tables import metadata
from tests.helpers import race


T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, which the test expects to be there."""
    assert value is not None
    return value


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_create_and_get_roundtrip(store: Store, make_job: Callable[..., NewJob]) -> None:
    args = {"prompt": "ünïcode ☃", "nested": {"list": [1, 2.5, None, True]}, "duration": "5"}
    new = make_job(
        amount=Decimal("0.032"),
        args=args,
        spec={"width": 1280, "audio": {"kind": "none"}},
        seed=2_147_483_647,
        callback_url="https://example.com/hook",
        off_peak=True,
        metadata={"seed_reported": 7},
    )
    before = datetime.now(UTC)
    job = must(store.get_job(new.id))
    assert job is not None
    assert job.id == new.id and job.owner == "owner-1" and job.dialect == "job"
    assert job.status is JobStatus.QUEUED and job.progress == 0 and job.attempts == 0
    assert job.amount == Decimal("0.032") and isinstance(job.amount, Decimal)
    assert str(job.amount) == "0.032"
    assert job.args == args and job.spec == {"width": 1280, "audio": {"kind": "none"}}
    assert job.metadata == {"seed_reported": 7} and job.result is None
    assert job.seed == 2_147_483_647 and job.off_peak is True and job.refunded is False
    assert job.callback_url == "https://example.com/hook"
    assert _is_utc(job.created_at) and job.created_at <= before
    assert job.started_at is None and job.finished_at is None
    assert store.get_job("no-such-job") is None


def test_create_returns_what_get_returns(store: Store) -> None:
    new = NewJob("j1", "o", "m", "async", "motion", Decimal("1"), {}, {}, 0, None, False, {})
    assert store.create_job(new) == must(store.get_job("j1"))
    assert str(must(store.get_job("j1")).amount) == "1.00"


def test_create_writes_exactly_one_charge(store: Store, make_job: Callable[..., NewJob]) -> None:
    new = make_job(owner="alice", amount=Decimal("0.60"))
    lines = store.ledger("alice")
    charge = (new.id, "charge", Decimal("0.60"))
    assert [(ln.job_id, ln.kind, ln.amount) for ln in lines] == [charge]
    assert _is_utc(lines[0].created_at)
    assert store.ledger("bob") == []


def test_duplicate_job_id_conflicts_and_charges_nothing(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job(owner="alice")
    with pytest.raises(Conflict):
        make_job(id=new.id, owner="alice")
    assert len(store.ledger("alice")) == 1


def test_money_is_exact_and_summed_in_sql(store: Store, make_job: Callable[..., NewJob]) -> None:
    for _ in range(10):
        make_job(owner="carol", amount=Decimal("0.1"))
    make_job(owner="carol", amount=Decimal("0.000001"))
    assert store.ledger_total("carol") == Decimal("1.000001")
    assert store.ledger_total("nobody") == Decimal("0")
    with pytest.raises(ValueError):
        make_job(amount=Decimal("0.0000001"))
    with pytest.raises(TypeError):
        make_job(amount=0.6)
    with pytest.raises(ValueError):
        make_job(amount=Decimal("-1"))


def test_money_helpers() -> None:
    assert to_micros(Decimal("0.60")) == 600_000
    assert from_micros(600_000) == Decimal("0.6") and str(from_micros(600_000)) == "0.60"
    assert str(from_micros(32_000)) == "0.032" and str(from_micros(0)) == "0.00"
    assert str(from_micros(100_000_000)) == "100.00"


def test_api_keys(store: Store) -> None:
    assert store.count_keys() == 0
    first = store.add_key("ci", "hash-1")
    second = store.add_key("ops", "hash-2")
    assert store.count_keys() == 2
    found = store.find_key("hash-1")
    assert found is not None and found.id == first and found.name == "ci"
    assert _is_utc(found.created_at) and found.revoked_at is None
    with pytest.raises(Conflict):
        store.add_key("again", "hash-1")
    assert store.revoke_key(first) is True
    assert store.revoke_key(first) is False
    assert store.revoke_key("unknown") is False
    assert store.find_key("hash-1") is None and store.find_key("nope") is None
    assert store.count_keys() == 1
    keys = {k.id: k for k in store.list_keys()}
    assert set(keys) == {first, second} and _is_utc(keys[first].revoked_at)


def test_list_jobs_and_stats(store: Store, make_job: Callable[..., NewJob]) -> None:
    a = make_job(owner="a")
    b = make_job(owner="b")
    c = make_job(owner="a")
    assert [j.id for j in store.list_jobs("a")] == [c.id, a.id]
    assert [j.id for j in store.list_jobs(limit=2)] == [c.id, b.id]
    store.claim("w", 30)
    assert store.fail(b.id, None, "X", "boom")
    assert store.queue_stats() == {
        "queued": 1, "processing": 1, "succeeded": 0, "failed": 1, "canceled": 0, "depth": 1,
    }


def test_restart_keeps_every_job(
    store: Store, make_job: Callable[..., NewJob], store_url: str
) -> None:
    made = [make_job(owner="durable") for _ in range(5)]
    running = store.claim("w1", 30)
    done = store.claim("w1", 30)
    assert running and done and store.finish(done.id, "w1", {"videos": []}, {"k": 1})
    store.fail(made[4].id, None, "ImageDownloadFailure", "404")
    store.add_key("k", "h")
    before = {new.id: must(store.get_job(new.id)) for new in made}
    ledger = store.ledger("durable")
    store.close()

    reopened = Store(store_url)
    try:
        reopened.migrate()
        assert {new.id: reopened.get_job(new.id) for new in made} == before
        assert reopened.ledger("durable") == ledger
        assert reopened.find_key("h") is not None
        assert must(reopened.get_job(running.id)).status is JobStatus.PROCESSING
    finally:
        reopened.close()


def test_migrate_is_idempotent(store: Store, make_job: Callable[..., NewJob]) -> None:
    new = make_job()
    store.migrate()
    store.migrate()
    assert store.get_job(new.id) is not None


def test_migrate_concurrently_on_a_fresh_database(open_store: Callable[..., Store]) -> None:
    stores = [open_store(migrate=False) for _ in range(4)]
    errors = race(len(stores), lambda i: stores[i].migrate())
    assert errors == []
    assert stores[0].count_keys() == 0


def test_migrations_create_exactly_the_tables(store: Store) -> None:
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(store: Store, store_url: str) -> None:
    if store.backend != "sqlite":
        pytest.skip("SQLite only")
    path = store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_memory_database_is_refused() -> None:
    with pytest.raises(ValueError):
        Store("sqlite://")


def test_a_connection_switching_a_new_sqlite_file_to_wal_waits_for_a_writer(tmp_path) -> None:
    """Changing the journal mode does not wait in SQLite's busy handler: while another
    connection held a write lock on a brand-new file, opening the store failed at once with
    "database is locked" (seen when workers started or migrated together)."""
    import sqlite3
    import time

    from sqlalchemy import text

    from stillmotion.store.engine import make_engine

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
