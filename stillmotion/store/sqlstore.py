"""`Store`: the one door to the database for the service, the workers and the CLI.

Each public method is one short transaction. Clocks: "now" is the calling host's UTC clock,
as are the datetimes callers pass in (e.g. `next_attempt_at`); hosts sharing a PostgreSQL
database are expected to keep NTP time, which is far finer than any lease.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from sqlalchemy import bindparam, case, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from ..domain import Job, JobStatus
from ..errors import Conflict
from . import outbox, queue
from .columns import Money, to_micros, utcnow
from .engine import make_engine, migrate, read_tx, write_tx
from .records import (
    Delivery,
    KeyRecord,
    LedgerLine,
    NewDelivery,
    NewJob,
    ReapResult,
    job_from_row,
    key_from_row,
    ledger_from_row,
)
from .tables import api_keys, jobs, ledger

DeliveriesFor = Callable[[Job], Sequence[NewDelivery]]



_INSERT_JOB = insert(jobs).returning(*jobs.c)
_INSERT_LEDGER = insert(ledger)
_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"))

class Store:
    """Durable jobs, API keys, the money ledger and the callback outbox, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._engine = make_engine(url, pool_size)

    @property
    def backend(self) -> str:
        """The SQLAlchemy dialect name: sqlite or postgresql."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        migrate(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API keys ---------------------------------------------------------------------------

    def add_key(self, name: str, key_hash: str) -> str:
        key_id = uuid4().hex
        try:
            with write_tx(self._engine) as conn:
                conn.execute(
                    insert(api_keys).values(
                        id=key_id, name=name, key_hash=key_hash, created_at=utcnow()
                    )
                )
        except IntegrityError as exc:
            if not self._key_hash_exists(key_hash):
                raise
            raise Conflict("an API key with this hash is already stored") from exc
        return key_id

    def _key_hash_exists(self, key_hash: str) -> bool:
        with read_tx(self._engine) as conn:
            stmt = select(api_keys.c.id).where(api_keys.c.key_hash == key_hash)
            return conn.execute(stmt).first() is not None

    def find_key(self, key_hash: str) -> KeyRecord | None:
        stmt = select(api_keys).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        with read_tx(self._engine) as conn:
            row = conn.execute(stmt).first()
        return None if row is None else key_from_row(row)

    def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        with read_tx(self._engine) as conn:
            return [key_from_row(row) for row in conn.execute(stmt)]

    def revoke_key(self, key_id: str) -> bool:
        """False when the key is unknown or already revoked."""
        stmt = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        with write_tx(self._engine) as conn:
            return conn.execute(stmt).rowcount == 1

    def count_keys(self) -> int:
        """Keys that still authenticate (revoked ones are not counted)."""
        stmt = select(func.count()).where(api_keys.c.revoked_at.is_(None))
        with read_tx(self._engine) as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- Jobs -------------------------------------------------------------------------------

    def create_job(self, new: NewJob) -> Job:
        """Store the job and its charge together: a job is never unpaid, a charge never orphaned."""
        if to_micros(new.amount) < 0:
            raise ValueError("a job's amount cannot be negative")
        now = utcnow()
        values = {
            "id": new.id,
            "owner": new.owner,
            "model": new.model,
            "dialect": new.dialect,
            "engine": new.engine,
            "status": JobStatus.QUEUED,
            "progress": 0,
            "amount": new.amount,
            "refunded": False,
            "args": new.args,
            "spec": new.spec,
            "seed": new.seed,
            "callback_url": new.callback_url,
            "off_peak": new.off_peak,
            "meta": new.metadata,
            "attempts": 0,
            "created_at": now,
        }
        try:
            with write_tx(self._engine) as conn:
                # Statements built once with parameters passed apart: compiled once, cached.
                row = conn.execute(_INSERT_JOB, values).one()
                conn.execute(
                    _INSERT_LEDGER,
                    {"owner": new.owner, "job_id": new.id, "kind": "charge", "amount": new.amount, "created_at": now},
                )
        except IntegrityError as exc:
            if self.get_job(new.id) is None:
                raise
            raise Conflict(f"a job with id {new.id!r} already exists", field="id") from exc
        return job_from_row(row)

    def get_job(self, job_id: str) -> Job | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
        return None if row is None else job_from_row(row)

    def list_jobs(self, owner: str | None = None, *, limit: int = 100) -> list[Job]:
        """Newest first, optionally one owner's."""
        stmt = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if owner is not None:
            stmt = stmt.where(jobs.c.owner == owner)
        with read_tx(self._engine) as conn:
            return [job_from_row(row) for row in conn.execute(stmt)]

    def claim(
        self, worker_id: str, lease_s: float, engines: Sequence[str] = ("motion",)
    ) -> Job | None:
        if isinstance(engines, str):  # a bare "motion" would otherwise mean m, o, t, i, o, n
            engines = (engines,)
        with write_tx(self._engine) as conn:
            return queue.claim(conn, worker_id, lease_s, engines, utcnow())

    def heartbeat(
        self, job_id: str, worker_id: str, lease_s: float, progress: int, eta: int | None
    ) -> bool:
        """Extend the lease; False means the job is no longer this worker's: stop working on it."""
        until = queue.lease_until(utcnow(), lease_s)
        with write_tx(self._engine) as conn:
            return queue.heartbeat(conn, job_id, worker_id, until, progress, eta)

    def finish(
        self,
        job_id: str,
        worker_id: str,
        result: dict[str, Any],
        metadata: dict[str, Any],
        deliveries: Sequence[NewDelivery] = (),
    ) -> bool:
        """Succeed the job if this worker still holds it; `metadata` is merged into the job's."""
        now = utcnow()
        with write_tx(self._engine) as conn:
            if not queue.finish(conn, job_id, worker_id, result, metadata, now):
                return False
            queue.enqueue_deliveries(conn, job_id, deliveries, now)
            return True

    def fail(
        self,
        job_id: str,
        worker_id: str | None,
        code: str,
        message: str,
        deliveries: Sequence[NewDelivery] = (),
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Fail and refund. With a worker_id only while that worker holds the job; with None,
        any job not yet final (service, admin). A final job is left alone: no double refund."""
        guard = (
            queue.still_open(job_id) if worker_id is None else queue.held_by(job_id, worker_id)
        )
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.end_with_refund(
                conn, guard, JobStatus.FAILED, code, message, metadata, now
            )
            if job is None:
                return False
            queue.enqueue_deliveries(conn, job_id, deliveries, now)
            return True

    def cancel(self, job_id: str, deliveries: Sequence[NewDelivery] = ()) -> Job | None:
        """Cancel a queued or running job and refund it; None if unknown or already final.

        A running job's worker learns of it from its next heartbeat (False), and its finish
        or fail is then refused."""
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.end_with_refund(
                conn,
                queue.still_open(job_id),
                JobStatus.CANCELED,
                "Canceled",
                "the job was canceled",
                None,
                now,
            )
            if job is not None:
                queue.enqueue_deliveries(conn, job_id, deliveries, now)
            return job

    def release(self, job_id: str, worker_id: str) -> bool:
        with write_tx(self._engine) as conn:
            return queue.release(conn, job_id, worker_id)

    def reap(self, max_attempts: int, deliveries: DeliveriesFor | None = None) -> ReapResult:
        """Take back jobs whose lease expired: requeue them, or fail and refund those that used
        up `max_attempts`. `deliveries(job)` names the callbacks for a job failed here.

        Each job moves in its own guarded transaction, so racing reapers, or a worker whose
        heartbeat lands in between, never cause a double move or a double refund."""
        now = utcnow()
        with read_tx(self._engine) as conn:
            candidates = queue.expired(conn, now)
        result = ReapResult()
        for candidate in candidates:
            guard = queue.unchanged_since_read(candidate)
            with write_tx(self._engine) as conn:
                if candidate.attempts < max_attempts:
                    if queue.requeue(conn, guard):
                        result.requeued.append(candidate.id)
                    continue
                message = f"the job's worker stopped responding {candidate.attempts} times"
                job = queue.end_with_refund(
                    conn, guard, JobStatus.FAILED, "AttemptsExhausted", message, None, now
                )
                if job is not None:
                    hooks = deliveries(job) if deliveries else ()
                    queue.enqueue_deliveries(conn, job.id, hooks, now)
                    result.failed.append(job.id)
        return result

    def queue_position(self, job_id: str) -> int | None:
        with read_tx(self._engine) as conn:
            return queue.queue_position(conn, job_id)

    def queue_stats(self) -> dict[str, int]:
        """Jobs per status (lower-case names, all present) and `depth`: jobs waiting to run."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
            counts = {JobStatus(status): int(n) for status, n in rows}
        stats = {status.name.lower(): counts.get(status, 0) for status in JobStatus}
        stats["depth"] = stats["queued"]
        return stats

    # -- Money ------------------------------------------------------------------------------

    def ledger(self, owner: str) -> list[LedgerLine]:
        stmt = select(ledger).where(ledger.c.owner == owner).order_by(ledger.c.id)
        with read_tx(self._engine) as conn:
            return [ledger_from_row(row) for row in conn.execute(stmt)]

    def ledger_total(self, owner: str) -> Decimal:
        """Charges minus refunds, summed exactly in SQL."""
        signed = case((ledger.c.kind == "refund", -ledger.c.amount), else_=ledger.c.amount)
        total = type_coerce(func.coalesce(func.sum(signed), 0), Money())
        stmt = select(total).where(ledger.c.owner == owner)
        with read_tx(self._engine) as conn:
            return conn.execute(stmt).scalar_one()

    # -- Callback outbox --------------------------------------------------------------------

    def claim_delivery(self, worker_id: str, lease_s: float) -> Delivery | None:
        now = utcnow()
        with write_tx(self._engine) as conn:
            return outbox.claim(conn, worker_id, queue.lease_until(now, lease_s), now)

    def delivery_result(
        self,
        delivery_id: int,
        ok: bool,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """ok: delivered; not ok: retry at `next_attempt_at`, or failed for good when None."""
        with write_tx(self._engine) as conn:  # a naive next_attempt_at is taken as UTC
            outbox.record_result(conn, delivery_id, ok, status_code, error, next_attempt_at)

    def deliveries(self, job_id: str) -> list[Delivery]:
        with read_tx(self._engine) as conn:
            return outbox.for_job(conn, job_id)
