"""`Store`: the one door to the database for the service, the workers and the CLI.

Each public method is one short transaction. Clocks: "now" is the calling host's UTC clock,
as are the datetimes callers pass in (e.g. `next_attempt_at`); hosts sharing a PostgreSQL
database are expected to keep NTP time, which is far finer than any lease.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import bindparam, case, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from ..domain import Job, JobStatus
from ..errors import Conflict, CreditInsufficient
from . import accounts, fastwrite, housekeeping, listing, outbox, queue
from .columns import Money, to_micros, utcnow
from .engine import make_engine, migrate, read_tx, write_tx
from .fastread import FastJobReader
from .listing import JobFilter
from .writer import JobWriter
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


def _check_amount(new: NewJob) -> None:
    if to_micros(new.amount) < 0:
        raise ValueError("a job's amount cannot be negative")



_INSERT_JOB = insert(jobs).returning(*jobs.c)
_INSERT_LEDGER = insert(ledger)
_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"))
_SELECT_PROGRESS = select(jobs.c.progress).where(jobs.c.id == bindparam("job_id"))
_SELECT_STATUS = select(jobs.c.status).where(jobs.c.id == bindparam("job_id"))


def _queue_key(job: Job) -> tuple[bool, datetime, str]:
    return (job.off_peak, job.created_at, job.id)


def _fast_reader(engine: Any) -> FastJobReader | None:
    """The sqlite3 fast path for single-job reads, on a SQLite file store."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or not database or database.startswith("file:"):
        return None
    return FastJobReader(str(Path(database).expanduser().resolve()))


class Store:
    """Durable jobs, API keys, the money ledger and the callback outbox, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._engine = make_engine(url, pool_size)
        self._writer: JobWriter | None = None
        self._fast = _fast_reader(self._engine)
        self._writer_lock = threading.Lock()

    @property
    def backend(self) -> str:
        """The SQLAlchemy dialect name: sqlite or postgresql."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        migrate(self._engine)

    def close(self) -> None:
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._fast is not None:
            self._fast.close()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API keys ---------------------------------------------------------------------------

    def add_key(self, name: str, key_hash: str, **settings: Any) -> str:
        """Store a key; `settings`: balance (Decimal, None = unlimited), webhook_secret,
        rate_per_min, max_running (None = the operator's default)."""
        key_id = uuid4().hex
        values = accounts.key_values(**settings)
        try:
            with write_tx(self._engine) as conn:
                conn.execute(
                    insert(api_keys).values(
                        id=key_id, name=name, key_hash=key_hash, created_at=utcnow(), **values
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

    def get_key(self, key_id: str) -> KeyRecord | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else key_from_row(row)

    def update_key(self, key_id: str, **settings: Any) -> bool:
        """Change a key's balance, limits or webhook secret; False when the key is unknown."""
        values = accounts.key_values(**settings)
        if not values:
            return self.get_key(key_id) is not None
        with write_tx(self._engine) as conn:
            stmt = update(api_keys).where(api_keys.c.id == key_id).values(**values)
            return conn.execute(stmt).rowcount == 1

    def count_keys(self) -> int:
        """Keys that still authenticate (revoked ones are not counted)."""
        stmt = select(func.count()).where(api_keys.c.revoked_at.is_(None))
        with read_tx(self._engine) as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- Jobs -------------------------------------------------------------------------------

    def create_job(self, new: NewJob) -> Job:
        """Store the job and its charge together: a job is never unpaid, a charge never orphaned."""
        _check_amount(new)
        try:
            with write_tx(self._engine) as conn:
                job = self._insert_job(conn, new, utcnow())
        except IntegrityError as exc:
            if new.idempotency_key:  # a concurrent create with this key committed first
                with write_tx(self._engine) as conn:
                    earlier = self._replay(conn, new, utcnow())
                if earlier is not None:
                    return earlier
            if self.get_job(new.id) is None:
                raise
            raise Conflict(f"a job with id {new.id!r} already exists", field="id") from exc
        return job

    def create_jobs(self, batch: Sequence[NewJob]) -> list[Job | Exception]:
        """`create_job` for many requests in one transaction (group commit): each entry is the
        job, or the exception its own `create_job` would have raised. A refusal found before any
        write of its job (balance, idempotency conflict) touches only that entry; any other error
        rolls the whole batch back and each request is then stored on its own."""
        results: list[Job | Exception] = []
        try:
            with write_tx(self._engine) as conn:
                # SQLite file stores write through the transaction's own sqlite3 connection
                # (store.fastwrite); the general path takes what that one does not.
                raw = conn.connection.driver_connection if self._fast is not None else None
                for new in batch:
                    try:
                        _check_amount(new)
                        results.append(self._insert_one(conn, raw, new, utcnow()))
                    except (CreditInsufficient, Conflict, ValueError) as exc:  # nothing written
                        results.append(exc)
        except Exception:  # noqa: BLE001 - retried one by one, each with its own outcome
            results = []
            for new in batch:
                try:
                    results.append(self.create_job(new))
                except Exception as exc:  # noqa: BLE001 - handed to that request's caller
                    results.append(exc)
        return results

    def job_writer(self) -> JobWriter:
        """The store's group-commit writer (started on first use, stopped by `close`)."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = JobWriter(self.create_jobs)
            return self._writer

    def _insert_one(self, conn: Any, raw: sqlite3.Connection | None, new: NewJob, now: datetime) -> Job:
        if raw is not None:
            try:
                return fastwrite.insert_job(raw, new, now)
            except fastwrite.NotEncodable:  # raised before anything was written
                pass
        return self._insert_job(conn, new, now)

    def _insert_job(self, conn: Any, new: NewJob, now: datetime) -> Job:
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
            "webhook_events": list(new.webhook_events) if new.webhook_events is not None else None,
        }
        if new.idempotency_key:
            earlier = self._replay(conn, new, now)
            if earlier is not None:
                return earlier
        accounts.debit(conn, new.owner, new.amount)
        # Statements built once with parameters passed apart: compiled once, cached.
        row = conn.execute(_INSERT_JOB, values).one()
        conn.execute(
            _INSERT_LEDGER,
            {"owner": new.owner, "job_id": new.id, "kind": "charge", "amount": new.amount, "created_at": now},
        )
        if new.idempotency_key:
            accounts.remember(conn, new.owner, new.idempotency_key, new.request_hash or "", new.id, now)
        return job_from_row(row)

    def _replay(self, conn: Any, new: NewJob, now: datetime) -> Job | None:
        job_id = accounts.find_idempotent(
            conn, new.owner, new.idempotency_key or "", new.request_hash or "", now
        )
        if job_id is None:
            return None
        return job_from_row(conn.execute(_SELECT_JOB, {"job_id": job_id}).one())

    def find_idempotent(self, owner: str, key: str, request_hash: str) -> Job | None:
        """The job an earlier request with this key made (Conflict if that request differed)."""
        with read_tx(self._engine) as conn:
            job_id = accounts.match(accounts.lookup(conn, owner, key), request_hash, utcnow())
            row = None if job_id is None else conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
        return None if row is None else job_from_row(row)

    def get_job(self, job_id: str) -> Job | None:
        if self._fast is not None:
            try:
                return self._fast.get_job(job_id)
            except sqlite3.Error:  # e.g. the file not created yet: the general path says why
                pass
        with read_tx(self._engine) as conn:
            row = conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
        return None if row is None else job_from_row(row)

    def list_jobs(
        self,
        owner: str | None = None,
        *,
        limit: int = 100,
        filters: JobFilter | None = None,
    ) -> list[Job]:
        """Newest first, optionally one owner's, narrowed by `filters` (cursor included)."""
        stmt = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if owner is not None:
            stmt = stmt.where(jobs.c.owner == owner)
        if filters is not None:
            stmt = stmt.where(*listing.conditions(filters))
        with read_tx(self._engine) as conn:
            return [job_from_row(row) for row in conn.execute(stmt)]

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        engines: Sequence[str] = ("motion",),
        *,
        off_peak: bool = True,
        default_cap: int = 0,
    ) -> Job | None:
        """Lease the next job. `off_peak`: whether off-peak jobs may run now; `default_cap`:
        running jobs per key for keys without their own `max_running` (0: no cap)."""
        if isinstance(engines, str):  # a bare "motion" would otherwise mean m, o, t, i, o, n
            engines = (engines,)
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.claim(
                conn, worker_id, lease_s, engines, now, off_peak=off_peak, default_cap=default_cap
            )
            if job is not None and job.callback_url:
                hook = queue.event_hook(conn, job.id, "start")
                queue.enqueue_deliveries(conn, job.id, [hook] if hook else [], now)
            return job

    def heartbeat(
        self, job_id: str, worker_id: str, lease_s: float, progress: int, eta: int | None
    ) -> bool:
        """Extend the lease; False means the job is no longer this worker's: stop working on it."""
        now = utcnow()
        until = queue.lease_until(now, lease_s)
        with write_tx(self._engine) as conn:
            before = conn.execute(_SELECT_PROGRESS, {"job_id": job_id}).scalar()
            if not queue.heartbeat(conn, job_id, worker_id, until, progress, eta):
                return False
            if before is not None and progress // 10 > before // 10:  # each 10 % step
                hook = queue.event_hook(conn, job_id, "progress")
                if hook is not None:
                    snapshot = NewDelivery(hook.url, hook.kind, hook.event, {"progress": progress, "eta": eta})
                    queue.enqueue_deliveries(conn, job_id, [snapshot], now)
            return True

    def job_status(self, job_id: str) -> JobStatus | None:
        """Only the status: the cheap read a running job's cancel watch repeats."""
        with read_tx(self._engine) as conn:
            status = conn.execute(_SELECT_STATUS, {"job_id": job_id}).scalar()
        return None if status is None else JobStatus(status)

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

    def get_job_placed(self, job_id: str, exact_position: bool = True) -> tuple[Job | None, int | None]:
        """A job, and (when it is queued and `exact_position`) its exact queue position, in one
        read."""
        if self._fast is not None:
            try:
                if exact_position:
                    return self._fast.get_job_placed(job_id)
                return self._fast.get_job(job_id), None
            except sqlite3.Error:  # the general path says why
                pass
        return self._get_job_placed(job_id, exact_position)

    def _get_job_placed(self, job_id: str, exact_position: bool) -> tuple[Job | None, int | None]:
        with read_tx(self._engine) as conn:
            row = conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
            if row is None:
                return None, None
            job = job_from_row(row)
            if job.status != JobStatus.QUEUED or not exact_position:
                return job, None
            return job, queue.position_of(conn, job.id, job.engine, job.off_peak, job.created_at)

    def position_of(self, job: Job) -> int:
        """The exact queue position of a job known to be queued (one read, no lookup)."""
        if self._fast is not None:
            try:
                return self._fast.position_of(job)
            except sqlite3.Error:  # the general path says why
                pass
        return self._position_of(job)

    def _position_of(self, job: Job) -> int:
        with read_tx(self._engine) as conn:
            return queue.position_of(conn, job.id, job.engine, job.off_peak, job.created_at)

    def queue_keys(self, engine: str) -> tuple[list[tuple[Any, ...]], Callable[[Job], tuple[Any, ...]]]:
        """The engine's queued jobs as sorted claim-order keys, and the function that gives a
        job's key to look it up among them (`bisect`): a job's position is the count of keys
        below its own. On SQLite the keys stay as stored (no datetime per row: a deep queue is
        thousands of rows, read every second); elsewhere they are `queued_order`'s."""
        if self._fast is not None:
            try:
                return self._fast.queue_keys(engine), self._fast.queue_key
            except sqlite3.Error:  # the general path says why
                pass
        return self.queued_order(engine), _queue_key

    def queued_order(self, engine: str) -> list[tuple[bool, datetime, str]]:
        """Claim-order keys (off_peak, created_at, id) of the engine's queued jobs, in order."""
        stmt = (
            select(jobs.c.off_peak, jobs.c.created_at, jobs.c.id)
            .where(jobs.c.status == JobStatus.QUEUED, jobs.c.engine == engine)
            .order_by(jobs.c.off_peak, jobs.c.created_at, jobs.c.id)
        )
        with read_tx(self._engine) as conn:
            return [(bool(o), c, i) for o, c, i in conn.execute(stmt)]

    def queue_stats(self) -> dict[str, int]:
        """Jobs per status (lower-case names, all present) and `depth`: jobs waiting to run."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
            counts = {JobStatus(status): int(n) for status, n in rows}
        stats = {status.name.lower(): counts.get(status, 0) for status in JobStatus}
        stats["depth"] = stats["queued"]
        return stats

    # -- Money ------------------------------------------------------------------------------

    def ledger(self, owner: str, *, limit: int | None = None) -> list[LedgerLine]:
        """Oldest first; with `limit`, the newest `limit` lines (still oldest first)."""
        stmt = select(ledger).where(ledger.c.owner == owner)
        if limit is not None:
            stmt = select(stmt.order_by(ledger.c.id.desc()).limit(limit).subquery())
        with read_tx(self._engine) as conn:
            rows = sorted(conn.execute(stmt), key=lambda row: row.id)
        return [ledger_from_row(row) for row in rows]

    def balance(self, owner: str) -> Decimal | None:
        """What a metered key has left to spend; None when unlimited (or not a stored key)."""
        with read_tx(self._engine) as conn:
            return conn.execute(accounts._BALANCE, {"owner": owner}).scalar()

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

    # -- Housekeeping -----------------------------------------------------------------------

    def expire_off_peak(self, max_age_s: float, deliveries: DeliveriesFor | None = None) -> list[str]:
        """Cancel and refund off-peak jobs still queued after `max_age_s`; their ids."""
        now = utcnow()
        with read_tx(self._engine) as conn:
            ids = housekeeping.stale_off_peak(conn, now, max_age_s)
        expired: list[str] = []
        for job_id in ids:
            with write_tx(self._engine) as conn:
                job = housekeeping.expire_one(conn, job_id, now)
                if job is not None:
                    queue.enqueue_deliveries(conn, job.id, deliveries(job) if deliveries else (), now)
                    expired.append(job.id)
        return expired

    def purge_candidates(self, retention_s: float, limit: int = 500) -> list[str]:
        """Final jobs older than the retention period whose files are still kept."""
        with read_tx(self._engine) as conn:
            return housekeeping.purge_candidates(conn, utcnow(), retention_s, limit)

    def mark_purged(self, job_id: str) -> bool:
        """Record that the job's result files are gone (the job itself stays)."""
        with write_tx(self._engine) as conn:
            return housekeeping.mark_purged(conn, job_id, utcnow())

    def forget_idempotency_keys(self) -> int:
        with write_tx(self._engine) as conn:
            return accounts.forget_expired(conn, utcnow())

    def recent_run_seconds(self, n: int = 50) -> list[float]:
        """Run times (start to finish) of the last `n` succeeded jobs, newest first."""
        with read_tx(self._engine) as conn:
            return housekeeping.recent_run_seconds(conn, n)
