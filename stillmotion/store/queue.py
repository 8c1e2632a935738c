"""Job state transitions, each one guarded UPDATE run inside the caller's transaction.

Every transition names the state it expects in its WHERE clause (status, and the lease
holder where one matters), so a transition that lost a race changes nothing and reports it,
instead of overwriting the winner. Refunds ride on such a transition, so none is written
twice (and the ledger's unique (job_id, kind) would refuse a second one anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    bindparam,
    Connection,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from ..jobs.policy import ClaimRules
from ..jobs.records import Job, deliveries_for
from ..jobs.states import OPEN, JobStatus
from .columns import UTCDateTime
from .records import job_from_row
from .tables import api_keys, deliveries, jobs, ledger

QUEUED, PROCESSING = JobStatus.QUEUED, JobStatus.PROCESSING
_LEASE_CLEARED: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
_BACK_IN_QUEUE: dict[str, Any] = {"status": QUEUED, "progress": 0, "eta": None, "not_before": None, **_LEASE_CLEARED}


def lease_until(now: datetime, lease_s: float) -> datetime:
    return now + timedelta(seconds=lease_s)


def held_by(job_id: str, worker_id: str) -> list[ColumnElement[bool]]:
    """The worker holds a job while it is PROCESSING under its name (expired or not: until the
    reaper takes it back, nobody else can have it, so late work is still accepted)."""
    return [jobs.c.id == job_id, jobs.c.status == PROCESSING, jobs.c.lease_owner == worker_id]


def still_open(job_id: str) -> list[ColumnElement[bool]]:
    return [jobs.c.id == job_id, jobs.c.status.in_(OPEN)]


def under_running_cap(default_cap: int) -> ColumnElement[bool]:
    """The job's owner runs fewer jobs than its key's `max_running` (or `default_cap`) on render
    engines (upstream jobs wait elsewhere and do not count); a cap of 0 or less means no cap.
    Owners at their cap wait; others pass them by."""
    running_jobs = jobs.alias("running_jobs")
    running = (
        select(func.count())
        .select_from(running_jobs)
        .where(running_jobs.c.owner == jobs.c.owner, running_jobs.c.status == PROCESSING,
               running_jobs.c.engine != "upstream")  # waiting on an upstream takes no render slot
        .correlate(jobs)
        .scalar_subquery()
    )
    key_cap = (
        select(api_keys.c.max_running)
        .where(api_keys.c.id == jobs.c.owner)
        .correlate(jobs)
        .scalar_subquery()
    )
    cap = func.coalesce(key_cap, default_cap)
    return or_(cap <= 0, running < cap)


def claim(
    conn: Connection,
    worker_id: str,
    lease_s: float,
    engines: Sequence[str],
    now: datetime,
    rules: ClaimRules,
) -> Job | None:
    """One statement: pick the next queued job and lease it. SKIP LOCKED (PostgreSQL; SQLite
    drops the clause and relies on BEGIN IMMEDIATE) lets concurrent claimers pass each other.

    Off-peak jobs sort last (they run only when no normal job waits) and are skipped entirely
    outside the operator's window. A claimer that names the weights it holds (`rules.weights`)
    takes only jobs without a route or with a route to those weights, those on its warm weights
    first. On PostgreSQL, claimers racing for one owner's last free slot may together exceed its
    running cap by one, briefly."""
    conditions = [
        jobs.c.status == QUEUED,
        jobs.c.engine.in_(list(engines)),
        or_(jobs.c.not_before.is_(None), jobs.c.not_before <= literal(now, UTCDateTime())),
        under_running_cap(rules.default_cap),
    ]
    if not rules.off_peak_open(now):
        conditions.append(jobs.c.off_peak.is_(False))
    weights = jobs.c.route["path"].as_string()
    if rules.weights is not None:
        conditions.append(or_(jobs.c.route.is_(None), weights.in_(sorted(rules.weights))))
    order = [jobs.c.off_peak, jobs.c.created_at, jobs.c.id]
    if rules.warm is not None:
        order.insert(1, case((weights == rules.warm, 0), else_=1))
    pick = (
        select(jobs.c.id)
        .where(*conditions)
        .order_by(*order)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(jobs)
        .where(jobs.c.id == pick, jobs.c.status == QUEUED)
        .values(
            status=PROCESSING,
            lease_owner=worker_id,
            lease_expires_at=lease_until(now, lease_s),
            attempts=jobs.c.attempts + 1,
            started_at=func.coalesce(jobs.c.started_at, literal(now, UTCDateTime())),
            progress=0,
            eta=None,
        )
        .returning(*jobs.c)
    )
    row = conn.execute(stmt).first()
    return None if row is None else job_from_row(row)


def heartbeat(
    conn: Connection,
    job_id: str,
    worker_id: str,
    lease_until_at: datetime,
    progress: int,
    eta: int | None,
) -> Job | None:
    stmt = (
        update(jobs)
        .where(*held_by(job_id, worker_id))
        .values(lease_expires_at=lease_until_at, progress=max(0, min(100, progress)), eta=eta)
        .returning(*jobs.c)
    )
    row = conn.execute(stmt).first()
    return None if row is None else job_from_row(row)


def _locked_meta(conn: Connection, guard: list[ColumnElement[bool]]) -> dict[str, Any] | None:
    """The job's metadata, row-locked on PostgreSQL, or None when the guard does not hold."""
    row = conn.execute(select(jobs.c.meta).where(*guard).with_for_update()).first()
    return None if row is None else dict(row.meta)


def finish(
    conn: Connection,
    job_id: str,
    worker_id: str,
    result: dict[str, Any],
    metadata: dict[str, Any],
    now: datetime,
) -> Job | None:
    guard = held_by(job_id, worker_id)
    meta = _locked_meta(conn, guard)
    if meta is None:
        return None
    stmt = (
        update(jobs)
        .where(*guard)
        .values(
            status=JobStatus.SUCCEEDED,
            progress=100,
            eta=0,
            result=result,
            meta={**meta, **metadata},
            finished_at=now,
            **_LEASE_CLEARED,
        )
        .returning(*jobs.c)
    )
    row = conn.execute(stmt).first()
    return None if row is None else job_from_row(row)


def end_with_refund(
    conn: Connection,
    guard: list[ColumnElement[bool]],
    status: JobStatus,
    code: str,
    message: str,
    metadata: dict[str, Any] | None,
    now: datetime,
) -> Job | None:
    """Move an open job to FAILED/CANCELED and refund it; None when the guard no longer holds."""
    values: dict[str, Any] = {
        "status": status,
        "error_code": code,
        "error_message": message,
        "refunded": True,
        "finished_at": now,
        "eta": None,
        **_LEASE_CLEARED,
    }
    if metadata:
        meta = _locked_meta(conn, guard)
        if meta is None:
            return None
        values["meta"] = {**meta, **metadata}
    stmt = (
        update(jobs)
        .where(*guard, jobs.c.refunded.is_(False))
        .values(**values)
        .returning(*jobs.c)
    )
    row = conn.execute(stmt).first()
    if row is None:
        return None
    conn.execute(
        insert(ledger).values(
            owner=row.owner, job_id=row.id, kind="refund", amount=row.amount, created_at=now
        )
    )
    credit(conn, row.owner, row.amount)
    return job_from_row(row)


def credit(conn: Connection, owner: str, amount: Any) -> None:
    """Give money back to a metered key (an unlimited key has no balance to change)."""
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == owner, api_keys.c.balance.is_not(None))
        .values(balance=api_keys.c.balance + literal(amount, api_keys.c.balance.type))
    )


def release(conn: Connection, job_id: str, worker_id: str) -> bool:
    """Back to the queue without counting the run: it was stopped, it did not fail."""
    stmt = (
        update(jobs)
        .where(*held_by(job_id, worker_id))
        .values(attempts=jobs.c.attempts - 1, **_BACK_IN_QUEUE)
    )
    return conn.execute(stmt).rowcount == 1


def retry(conn: Connection, job_id: str, worker_id: str, not_before: datetime, note: str) -> bool:
    """Back to the queue after a retryable failure; the attempt stays counted."""
    guard = held_by(job_id, worker_id)
    meta = _locked_meta(conn, guard)
    if meta is None:
        return False
    retries = [*meta.get("retries", []), note][-10:]
    stmt = update(jobs).where(*guard).values(**{**_BACK_IN_QUEUE, "not_before": not_before},
                                             meta={**meta, "retries": retries})
    return conn.execute(stmt).rowcount == 1


def expired(conn: Connection, now: datetime) -> list[Any]:
    stmt = (
        select(jobs.c.id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.lease_expires_at)
        .where(jobs.c.status == PROCESSING, jobs.c.lease_expires_at < now)
        .order_by(jobs.c.id)
    )
    return list(conn.execute(stmt))


def unchanged_since_read(candidate: Any) -> list[ColumnElement[bool]]:
    """Guard for the reaper: the job is exactly as it was read (no heartbeat, finish, re-claim)."""
    return [
        jobs.c.id == candidate.id,
        jobs.c.status == PROCESSING,
        jobs.c.lease_owner == candidate.lease_owner,
        jobs.c.lease_expires_at == candidate.lease_expires_at,
        jobs.c.attempts == candidate.attempts,
    ]


def requeue(conn: Connection, guard: list[ColumnElement[bool]]) -> bool:
    return conn.execute(update(jobs).where(*guard).values(**_BACK_IN_QUEUE)).rowcount == 1


_Q_ME = select(jobs.c.status, jobs.c.engine, jobs.c.off_peak, jobs.c.created_at).where(
    jobs.c.id == bindparam("job_id")
)


def _ahead_count(*conditions: ColumnElement[bool]) -> Any:
    return select(func.count()).where(
        jobs.c.status == QUEUED, jobs.c.engine == bindparam("engine"), *conditions
    ).scalar_subquery()


# Claim order is (off_peak, created_at, id). Written as index ranges on
# (status, engine, off_peak, created_at) rather than one row-value comparison, so each part is
# a covering-index count (a row-value `<` over three columns made SQLite walk the whole queue).
_Q_AHEAD = select(
    _ahead_count(jobs.c.off_peak == bindparam("off_peak"), jobs.c.created_at < bindparam("created_at", type_=UTCDateTime()))
    + _ahead_count(
        jobs.c.off_peak == bindparam("off_peak"),
        jobs.c.created_at == bindparam("created_at", type_=UTCDateTime()),
        jobs.c.id < bindparam("job_id"),
    )
)
_Q_NORMAL_AHEAD = select(_ahead_count(jobs.c.off_peak.is_(False)))


def queue_position(conn: Connection, job_id: str) -> int | None:
    """Queued jobs of the same engine that a claim would take first (engines are claimed
    separately, so jobs of other engines are not ahead)."""
    me = conn.execute(_Q_ME, {"job_id": job_id}).first()
    if me is None or me.status != QUEUED:
        return None
    return position_of(conn, job_id, me.engine, bool(me.off_peak), me.created_at)


def position_of(conn: Connection, job_id: str, engine: str, off_peak: bool, created_at: datetime) -> int:
    """The queue position of a queued job whose claim-order fields are known."""
    params = {"job_id": job_id, "engine": engine, "off_peak": off_peak, "created_at": created_at}
    ahead = int(conn.execute(_Q_AHEAD, params).scalar_one())
    if off_peak:  # every normal job of the engine goes first
        ahead += int(conn.execute(_Q_NORMAL_AHEAD, {"engine": engine}).scalar_one())
    return ahead


def enqueue(conn: Connection, job: Job, event: str, now: datetime, snapshot: dict[str, Any] | None = None) -> None:
    """Write the outbox rows the job's owner asked for on `event` (none when it asked for none)."""
    items = deliveries_for(job, event, snapshot)
    if not items:
        return
    conn.execute(
        insert(deliveries),
        [
            {
                "job_id": job.id,
                "url": item.url,
                "kind": item.kind,
                "event": item.event,
                "payload": item.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for item in items
        ],
    )
