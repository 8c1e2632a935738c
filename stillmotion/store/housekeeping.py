"""Periodic upkeep, each step a guarded statement: off-peak expiry, retention, run times."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from ..jobs.records import Job
from ..jobs.states import FINAL, FailureCode, JobStatus
from .queue import end_with_refund
from .tables import jobs


def stale_off_peak(conn: Connection, now: datetime, max_age_s: float) -> list[str]:
    cutoff = now - timedelta(seconds=max_age_s)
    stmt = select(jobs.c.id).where(
        jobs.c.status == JobStatus.QUEUED, jobs.c.off_peak.is_(True), jobs.c.created_at < cutoff
    )
    return [row.id for row in conn.execute(stmt)]


def expire_one(conn: Connection, job_id: str, now: datetime) -> Job | None:
    """Cancel and refund one off-peak job that is still queued (a claim may have won)."""
    guard = [jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED]
    message = "the off-peak job found no idle time within 48 h; it was canceled and refunded"
    return end_with_refund(conn, guard, JobStatus.CANCELED, FailureCode.OFF_PEAK_EXPIRED, message, None, now)


def purge_candidates(conn: Connection, now: datetime, retention_s: float, limit: int) -> list[str]:
    cutoff = now - timedelta(seconds=retention_s)
    stmt = (
        select(jobs.c.id)
        .where(jobs.c.status.in_(list(FINAL)), jobs.c.finished_at < cutoff, jobs.c.purged_at.is_(None))
        .order_by(jobs.c.finished_at)
        .limit(limit)
    )
    return [row.id for row in conn.execute(stmt)]


def mark_purged(conn: Connection, job_id: str, now: datetime) -> bool:
    row = conn.execute(
        select(jobs.c.meta).where(jobs.c.id == job_id, jobs.c.purged_at.is_(None))
    ).first()
    if row is None:
        return False
    meta = {**dict(row.meta), "files_deleted_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    stmt = (
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.purged_at.is_(None))
        .values(purged_at=now, meta=meta)
    )
    return conn.execute(stmt).rowcount == 1


def recent_run_seconds(conn: Connection, n: int) -> list[float]:
    stmt = (
        select(jobs.c.started_at, jobs.c.finished_at)
        .where(jobs.c.status == JobStatus.SUCCEEDED, jobs.c.finished_at.is_not(None))
        .order_by(jobs.c.finished_at.desc())
        .limit(n)
    )
    return [
        (row.finished_at - row.started_at).total_seconds()
        for row in conn.execute(stmt)
        if row.started_at is not None
    ]
