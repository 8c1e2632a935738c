"""`SqlWorkers`: live workers and claimed upkeep rounds on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..jobs.records import WorkerRecord
from .columns import utcnow
from .engine import read_tx, write_tx
from .tables import tasks, workers

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on either backend (a row someone else made is kept)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def _record(row: Any) -> WorkerRecord:
    return WorkerRecord(row.id, row.host, row.pid, tuple(row.engines), dict(row.capabilities), tuple(row.jobs),
                        row.started_at, row.seen_at)


class SqlWorkers:
    """Implements `jobs.repository.WorkerRepository`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def beat(self, records: Sequence[WorkerRecord]) -> None:
        now = utcnow()
        with write_tx(self._engine) as conn:
            for rec in records:
                seen = {"host": rec.host, "pid": rec.pid, "engines": list(rec.engines),
                        "capabilities": rec.capabilities, "jobs": list(rec.jobs), "seen_at": now}
                insert_ignore(conn, workers, {"id": rec.id, "started_at": rec.started_at, **seen})
                conn.execute(update(workers).where(workers.c.id == rec.id).values(**seen))

    def forget(self, worker_ids: Sequence[str]) -> None:
        if worker_ids:
            with write_tx(self._engine) as conn:
                conn.execute(delete(workers).where(workers.c.id.in_(list(worker_ids))))

    def live(self, within_s: float) -> list[WorkerRecord]:
        since = utcnow() - timedelta(seconds=within_s)
        stmt = select(workers).where(workers.c.seen_at >= since).order_by(workers.c.host, workers.c.id)
        with read_tx(self._engine) as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def prune(self, older_than_s: float) -> int:
        before = utcnow() - timedelta(seconds=older_than_s)
        with write_tx(self._engine) as conn:
            return conn.execute(delete(workers).where(workers.c.seen_at < before)).rowcount

    def claim_task(self, name: str, holder: str, every_s: float) -> bool:
        """One guarded UPDATE: the caller that moves `last_at` (older than `every_s`) to now runs
        this round; racing callers see the moved value and lose."""
        now = utcnow()
        with write_tx(self._engine) as conn:
            insert_ignore(conn, tasks, {"name": name, "holder": None, "last_at": NEVER})
            moved = conn.execute(
                update(tasks)
                .where(tasks.c.name == name, tasks.c.last_at <= now - timedelta(seconds=every_s))
                .values(holder=holder, last_at=now)
            )
            return moved.rowcount == 1
