"""The callback outbox: rows written with a job's final state, sent later with retries.

Writing the delivery in the same transaction as the state change means a crash between the
two cannot lose a callback; a lease on each claimed row lets several senders share the
outbox, and an expired lease (a sender died mid-send) makes the row claimable again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, or_, select, update

from ..jobs.records import Delivery
from .columns import utcnow
from .engine import read_tx, write_tx
from .records import delivery_from_row
from .tables import deliveries

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_HISTORY = 50


def _claimable(now: datetime) -> list[object]:
    d = deliveries.c
    return [
        d.status == PENDING,
        d.next_attempt_at <= now,
        or_(d.lease_expires_at.is_(None), d.lease_expires_at < now),
    ]


def claim(
    conn: Connection, worker_id: str, lease_until: datetime, now: datetime
) -> Delivery | None:
    d = deliveries.c
    pick = (
        select(d.id)
        .where(*_claimable(now))
        .order_by(d.next_attempt_at, d.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(deliveries)
        .where(d.id == pick, *_claimable(now))
        .values(lease_owner=worker_id, lease_expires_at=lease_until)
        .returning(*deliveries.c)
    )
    row = conn.execute(stmt).first()
    return None if row is None else delivery_from_row(row)


def record_result(
    conn: Connection,
    delivery_id: int,
    ok: bool,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> bool:
    """Count the attempt and decide: delivered, retry at `next_attempt_at`, or give up.

    Each attempt is appended to the row's history, which is the delivery log users read."""
    d = deliveries.c
    prior = conn.execute(select(d.history).where(d.id == delivery_id, d.status == PENDING)).first()
    if prior is None:
        return False
    entry = {"at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "status_code": status_code, "error": error}
    history = [*(prior.history or [])[-(MAX_HISTORY - 1):], entry]
    values: dict[str, object] = {
        "history": history,
        "attempts": d.attempts + 1,
        "last_status_code": status_code,
        "last_error": error,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if ok:
        values["status"] = DELIVERED
    elif next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    else:
        values["status"] = FAILED
    stmt = update(deliveries).where(d.id == delivery_id, d.status == PENDING).values(**values)
    return conn.execute(stmt).rowcount == 1


def postpone(conn: Connection, delivery_id: int, worker_id: str, until: datetime) -> bool:
    """Give a claimed delivery back unsent, due again at `until` (its receiver is busy): no
    attempt is counted."""
    d = deliveries.c
    stmt = (
        update(deliveries)
        .where(d.id == delivery_id, d.status == PENDING, d.lease_owner == worker_id)
        .values(lease_owner=None, lease_expires_at=None, next_attempt_at=until)
    )
    return conn.execute(stmt).rowcount == 1


def for_job(conn: Connection, job_id: str) -> list[Delivery]:
    rows = conn.execute(
        select(deliveries).where(deliveries.c.job_id == job_id).order_by(deliveries.c.id)
    )
    return [delivery_from_row(row) for row in rows]


class SqlOutbox:
    """Implements `jobs.repository.OutboxRepository` for the callback sender."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, worker_id: str, lease_s: float) -> Delivery | None:
        now = utcnow()
        with write_tx(self._engine) as conn:
            return claim(conn, worker_id, now + timedelta(seconds=lease_s), now)

    def record(
        self, delivery_id: int, ok: bool, status_code: int | None, error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """ok: delivered; not ok: retry at `next_attempt_at`, or failed for good when None."""
        with write_tx(self._engine) as conn:
            return record_result(conn, delivery_id, ok, status_code, error, next_attempt_at)

    def postpone(self, delivery_id: int, worker_id: str, until: datetime) -> bool:
        with write_tx(self._engine) as conn:
            return postpone(conn, delivery_id, worker_id, until)

    def for_job(self, job_id: str) -> list[Delivery]:
        with read_tx(self._engine) as conn:
            return for_job(conn, job_id)
