"""`SqlUpstream`: upstream jobs' state machines on SQLite and PostgreSQL (docs/upstream.md).

The job row of an upstream job is claimed once by the ordinary claim (`queue.claim`) under the
holder name `UPSTREAM_HOLDER` with a lease far in the future (so the reaper never takes it);
from then on the task row's own lease is what pollers share and what a crash gives back, as
the callback outbox does for deliveries. Each move is one guarded transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from ..jobs.policy import ClaimRules
from ..jobs.records import (
    UPSTREAM_ACTIVE, UPSTREAM_ENDED, UPSTREAM_HOLDER, UPSTREAM_IN_FLIGHT, UPSTREAM_JOB_LEASE_S, Job, UpstreamTask,
)
from . import queue
from .columns import utcnow
from .engine import read_tx, write_tx
from .tables import jobs, upstream_tasks

T = upstream_tasks.c


def task_from_row(row: Any) -> UpstreamTask:
    m = row._mapping
    return UpstreamTask(
        job_id=m["job_id"], state=m["state"], hop=m["hop"], provider=m["provider"], token=m["token"],
        next_at=m["next_at"], created_at=m["created_at"], upstream_id=m["upstream_id"], tries=m["tries"],
        deadline=m["deadline"], attempts=list(m["attempts"] or []), cost=m["cost"], lease_owner=m["lease_owner"],
    )


def _due(now: datetime) -> list[Any]:
    return [T.state.in_(UPSTREAM_ACTIVE), T.next_at <= now,
            or_(T.lease_expires_at.is_(None), T.lease_expires_at < now)]


def set_public(conn: Connection, job_id: str, public: dict[str, Any]) -> None:
    """`metadata.upstream` of the job: what every dialect may show (never a key or base URL)."""
    row = conn.execute(select(jobs.c.meta).where(jobs.c.id == job_id).with_for_update()).first()
    if row is not None:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(meta={**dict(row.meta), "upstream": public}))


class SqlUpstream:
    """Implements `jobs.repository.UpstreamRepository`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self, rules: ClaimRules, provider_of: Callable[[Job], tuple[str, str]]) -> UpstreamTask | None:
        now = utcnow()
        with write_tx(self._engine) as conn:
            job = queue.claim(conn, UPSTREAM_HOLDER, UPSTREAM_JOB_LEASE_S, ("upstream",), now, rules)
            if job is None:
                return None
            queue.enqueue(conn, job, "start", now)
            existing = conn.execute(select(upstream_tasks).where(T.job_id == job.id)).first()
            if existing is not None:  # a job handed back to the queue earlier keeps its history
                row = conn.execute(
                    update(upstream_tasks).where(T.job_id == job.id)
                    .values(state="submitting", next_at=now, tries=0, lease_owner=None, lease_expires_at=None,
                            updated_at=now).returning(*upstream_tasks.c)
                ).one()
                return task_from_row(row)
            provider, token = provider_of(job)
            row = conn.execute(
                insert(upstream_tasks).returning(*upstream_tasks.c),
                {"job_id": job.id, "state": "submitting", "hop": 0, "provider": provider, "token": token,
                 "tries": 0, "next_at": now, "attempts": [], "created_at": now, "updated_at": now},
            ).one()
            return task_from_row(row)

    def claim(self, worker_id: str, lease_s: float, limit: int) -> list[UpstreamTask]:
        now = utcnow()
        with write_tx(self._engine) as conn:
            picks = (
                select(T.job_id).where(*_due(now)).order_by(T.next_at, T.job_id).limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = [r.job_id for r in conn.execute(picks)]
            if not ids:
                return []
            rows = conn.execute(
                update(upstream_tasks).where(T.job_id.in_(ids), *_due(now))
                .values(lease_owner=worker_id, lease_expires_at=now + timedelta(seconds=lease_s))
                .returning(*upstream_tasks.c)
            )
            return sorted((task_from_row(r) for r in rows), key=lambda t: (t.next_at, t.job_id))

    def save(self, job_id: str, worker_id: str, public: dict[str, Any] | None = None,
             hold_s: float | None = None, **changes: Any) -> bool:
        now = utcnow()
        lease = ({"lease_owner": None, "lease_expires_at": None} if hold_s is None
                 else {"lease_expires_at": now + timedelta(seconds=hold_s)})
        with write_tx(self._engine) as conn:
            done = conn.execute(
                update(upstream_tasks).where(T.job_id == job_id, T.lease_owner == worker_id)
                .values(**changes, **lease, updated_at=now)
            ).rowcount == 1
            if done and public is not None:
                set_public(conn, job_id, public)
            return done

    def poke(self, job_id: str, hop: int) -> bool:
        with write_tx(self._engine) as conn:
            return conn.execute(
                update(upstream_tasks).where(T.job_id == job_id, T.hop == hop, T.state.in_(UPSTREAM_IN_FLIGHT))
                .values(next_at=utcnow())
            ).rowcount == 1

    def get(self, job_id: str) -> UpstreamTask | None:
        with read_tx(self._engine) as conn:
            row = conn.execute(select(upstream_tasks).where(T.job_id == job_id)).first()
        return None if row is None else task_from_row(row)

    def in_flight(self, provider: str) -> int:
        with read_tx(self._engine) as conn:
            return int(conn.execute(
                select(func.count()).where(T.provider == provider, T.state.in_(UPSTREAM_IN_FLIGHT))
            ).scalar_one())

    def counts(self) -> dict[tuple[str, str], int]:
        with read_tx(self._engine) as conn:
            rows = conn.execute(
                select(T.provider, T.state, func.count()).where(T.state.in_(UPSTREAM_ACTIVE))
                .group_by(T.provider, T.state)
            )
            return {(r[0], r[1]): int(r[2]) for r in rows}

    def to_local(self, job_id: str, worker_id: str, engine: str, route: dict[str, Any] | None,
                 public: dict[str, Any]) -> bool:
        now = utcnow()
        with write_tx(self._engine) as conn:
            if conn.execute(
                update(upstream_tasks).where(T.job_id == job_id, T.lease_owner == worker_id,
                                             T.state.not_in(UPSTREAM_ENDED))
                .values(state="local", lease_owner=None, lease_expires_at=None, updated_at=now)
            ).rowcount != 1:
                return False
            moved = conn.execute(
                update(jobs).where(*queue.held_by(job_id, UPSTREAM_HOLDER))
                .values(engine=engine, route=route, attempts=jobs.c.attempts - 1, **queue._BACK_IN_QUEUE)
            ).rowcount == 1
            if not moved:  # the job ended meanwhile (a cancel): undo nothing, the task stays ended
                return False
            set_public(conn, job_id, public)
            return True

    def money(self, owner: str | None = None) -> list[dict[str, Any]]:
        with read_tx(self._engine) as conn:
            stmt = (select(jobs.c.owner, jobs.c.amount, jobs.c.refunded, T.provider, T.cost)
                    .select_from(upstream_tasks.join(jobs, jobs.c.id == T.job_id)))
            if owner is not None:
                stmt = stmt.where(jobs.c.owner == owner)
            return [{"owner": r.owner, "amount": r.amount, "refunded": bool(r.refunded), "provider": r.provider,
                     "cost": r.cost} for r in conn.execute(stmt)]
