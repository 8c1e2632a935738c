"""`SqlJobs`: the job repository on SQLite and PostgreSQL (one SQLAlchemy Core data path).

Each method is one short transaction built from the guarded statements in `queue.py`. Clocks:
"now" is the calling host's UTC clock; hosts sharing a PostgreSQL database keep NTP time, far
finer than any lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from ..jobs.policy import ClaimRules, RetryPolicy
from ..jobs.records import Job, JobFilter, NewJob, ReapResult
from ..jobs.states import FailureCode, JobStatus
from . import accounts, housekeeping, listing, queue
from .columns import to_micros, utcnow
from .engine import read_tx, write_tx
from .records import job_from_row
from .tables import jobs, ledger

_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"))
_SELECT_STATUS = select(jobs.c.status).where(jobs.c.id == bindparam("job_id"))
_SELECT_PROGRESS = select(jobs.c.progress).where(jobs.c.id == bindparam("job_id"))


class SqlJobs:
    """Implements `jobs.repository.JobRepository`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- create and read --------------------------------------------------------------------

    def create(self, new: NewJob) -> Job:
        """Store the job, its charge and its idempotency record together: a job is never
        unpaid, a charge never orphaned."""
        if to_micros(new.amount) < 0:
            raise ValueError("a job's amount cannot be negative")
        try:
            with write_tx(self._engine) as conn:
                return self._insert(conn, new)
        except IntegrityError as exc:
            if new.idempotency_key:  # a concurrent create with this key committed first
                with write_tx(self._engine) as conn:
                    earlier = self._replay(conn, new)
                if earlier is not None:
                    return earlier
            if self.get(new.id) is None:
                raise
            raise Conflict(f"a job with id {new.id!r} already exists", field="id") from exc

    def _insert(self, conn: Any, new: NewJob) -> Job:
        now = utcnow()
        if new.idempotency_key:
            earlier = self._replay(conn, new)
            if earlier is not None:
                return earlier
        accounts.debit(conn, new.owner, new.amount)
        row = conn.execute(
            insert(jobs).returning(*jobs.c),
            {
                "id": new.id, "owner": new.owner, "model": new.model, "dialect": new.dialect,
                "engine": new.engine, "status": JobStatus.QUEUED, "progress": 0, "amount": new.amount,
                "refunded": False, "args": new.args, "spec": new.spec, "seed": new.seed,
                "callback_url": new.callback_url, "off_peak": new.off_peak, "meta": new.metadata,
                "attempts": 0, "created_at": now, "route": new.route,
                "webhook_events": list(new.webhook_events) if new.webhook_events is not None else None,
            },
        ).one()
        conn.execute(
            insert(ledger),
            {"owner": new.owner, "job_id": new.id, "kind": "charge", "amount": new.amount, "created_at": now},
        )
        if new.idempotency_key:
            accounts.remember(conn, new.owner, new.idempotency_key, new.request_hash or "", new.id, now)
        return job_from_row(row)

    def _replay(self, conn: Any, new: NewJob) -> Job | None:
        job_id = accounts.find_idempotent(conn, new.owner, new.idempotency_key or "", new.request_hash or "", utcnow())
        if job_id is None:
            return None
        return job_from_row(conn.execute(_SELECT_JOB, {"job_id": job_id}).one())

    def find_idempotent(self, owner: str, key: str, request_hash: str) -> Job | None:
        """The job an earlier request with this key made (Conflict if that request differed)."""
        with read_tx(self._engine) as conn:
            job_id = accounts.match(accounts.lookup(conn, owner, key), request_hash, utcnow())
            row = None if job_id is None else conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
        return None if row is None else job_from_row(row)

    def get(self, job_id: str) -> Job | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
        return None if row is None else job_from_row(row)

    def status(self, job_id: str) -> JobStatus | None:
        with read_tx(self._engine) as conn:
            return conn.execute(_SELECT_STATUS, {"job_id": job_id}).scalar()

    def watch(self, job_ids: Sequence[str]) -> dict[str, Job]:
        if not job_ids:
            return {}
        with read_tx(self._engine) as conn:
            rows = conn.execute(select(jobs).where(jobs.c.id.in_(list(job_ids))))
            return {row.id: job_from_row(row) for row in rows}

    def list(self, owner: str | None, filters: JobFilter, limit: int) -> list[Job]:
        order = (jobs.c.created_at, jobs.c.id) if filters.oldest_first else (jobs.c.created_at.desc(), jobs.c.id.desc())
        stmt = select(jobs).order_by(*order).limit(limit)
        if owner is not None:
            stmt = stmt.where(jobs.c.owner == owner)
        stmt = stmt.where(*listing.conditions(filters))
        with read_tx(self._engine) as conn:
            return [job_from_row(row) for row in conn.execute(stmt)]

    def position(self, job: Job) -> int | None:
        """Read with the job's current row, so a copy read before its claim gets None."""
        if job.status != JobStatus.QUEUED:
            return None
        with read_tx(self._engine) as conn:
            return queue.queue_position(conn, job.id)

    # -- the run ----------------------------------------------------------------------------

    def claim(self, worker_id: str, lease_s: float, engines: Sequence[str], rules: ClaimRules) -> Job | None:
        if isinstance(engines, str):  # a bare "motion" would otherwise mean m, o, t, i, o, n
            engines = (engines,)
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.claim(conn, worker_id, lease_s, engines, now, rules)
            if job is not None:
                queue.enqueue(conn, job, "start", now)
            return job

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, progress: int, eta: int | None) -> bool:
        now = utcnow()
        with write_tx(self._engine) as conn:
            before = conn.execute(_SELECT_PROGRESS, {"job_id": job_id}).scalar()
            job = queue.heartbeat(conn, job_id, worker_id, queue.lease_until(now, lease_s), progress, eta)
            if job is None:
                return False
            if before is not None and job.progress // 10 > before // 10:  # each 10 % step
                queue.enqueue(conn, job, "progress", now, {"progress": job.progress, "eta": eta})
            return True

    def finish(self, job_id: str, worker_id: str, result: dict[str, Any], metadata: dict[str, Any]) -> bool:
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.finish(conn, job_id, worker_id, result, metadata, now)
            if job is None:
                return False
            queue.enqueue(conn, job, "completed", now)
            return True

    def fail(
        self, job_id: str, worker_id: str | None, code: FailureCode, message: str,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        guard = queue.still_open(job_id) if worker_id is None else queue.held_by(job_id, worker_id)
        return self._end(guard, JobStatus.FAILED, code, message, metadata) is not None

    def cancel(self, job_id: str) -> Job | None:
        """A running job's worker learns of it from its cancel watch, and its finish is refused."""
        return self._end(queue.still_open(job_id), JobStatus.CANCELED, FailureCode.CANCELED, "the job was canceled")

    def _end(
        self, guard: list[Any], status: JobStatus, code: FailureCode, message: str,
        metadata: dict[str, Any] | None = None,
    ) -> Job | None:
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.end_with_refund(conn, guard, status, code, message, metadata, now)
            if job is not None:
                queue.enqueue(conn, job, "completed", now)
            return job

    def retry(self, job_id: str, worker_id: str, delay_s: float, note: str) -> bool:
        with write_tx(self._engine) as conn:
            return queue.retry(conn, job_id, worker_id, utcnow() + timedelta(seconds=delay_s), note)

    def release(self, job_id: str, worker_id: str) -> bool:
        with write_tx(self._engine) as conn:
            return queue.release(conn, job_id, worker_id)

    # -- upkeep -----------------------------------------------------------------------------

    def reap(self, policy: RetryPolicy) -> ReapResult:
        """Each job moves in its own guarded transaction, so racing reapers, or a worker whose
        heartbeat lands in between, never cause a double move or a double refund."""
        with read_tx(self._engine) as conn:
            candidates = queue.expired(conn, utcnow())
        result = ReapResult()
        for candidate in candidates:
            guard = queue.unchanged_since_read(candidate)
            decision = policy.after_lease_lost(candidate.attempts)
            if decision.retry:
                with write_tx(self._engine) as conn:
                    if queue.requeue(conn, guard):
                        result.requeued.append(candidate.id)
            elif self._end(guard, JobStatus.FAILED, decision.code, decision.message) is not None:
                result.failed.append(candidate.id)
        return result

    def expire_off_peak(self, max_age_s: float) -> list[str]:
        now = utcnow()
        with read_tx(self._engine) as conn:
            ids = housekeeping.stale_off_peak(conn, now, max_age_s)
        expired: list[str] = []
        for job_id in ids:
            with write_tx(self._engine) as conn:
                job = housekeeping.expire_one(conn, job_id, now)
                if job is not None:
                    queue.enqueue(conn, job, "completed", now)
                    expired.append(job.id)
        return expired

    def purge_candidates(self, retention_s: float, limit: int = 500) -> list[str]:
        with read_tx(self._engine) as conn:
            return housekeeping.purge_candidates(conn, utcnow(), retention_s, limit)

    def mark_purged(self, job_id: str) -> bool:
        with write_tx(self._engine) as conn:
            return housekeeping.mark_purged(conn, job_id, utcnow())

    def forget_idempotency_keys(self) -> int:
        with write_tx(self._engine) as conn:
            return accounts.forget_expired(conn, utcnow())

    def oldest_due(self, engines: Sequence[str]) -> datetime | None:
        """Since when the longest-waiting job that could run now (queued for one of `engines`,
        not off-peak, past any retry backoff) has been waiting; None when there is none."""
        c, now = jobs.c, utcnow()
        base = [c.status == JobStatus.QUEUED, c.engine.in_(list(engines)), c.off_peak.is_(False)]
        with read_tx(self._engine) as conn:
            fresh = conn.execute(select(func.min(c.created_at)).where(*base, c.not_before.is_(None))).scalar()
            backed = conn.execute(select(func.min(c.not_before)).where(*base, c.not_before <= now)).scalar()
        return min((t for t in (fresh, backed) if t is not None), default=None)

    def stats(self) -> dict[str, int]:
        with read_tx(self._engine) as conn:
            counts = dict(conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all())
        stats = {status.value: int(counts.get(status, 0)) for status in JobStatus}
        stats["depth"] = stats["queued"]
        return stats

    def recent_run_seconds(self, n: int = 50) -> list[float]:
        with read_tx(self._engine) as conn:
            return housekeeping.recent_run_seconds(conn, n)
