"""Values the store takes and returns besides `domain.Job`, and row -> value conversion."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from ..domain import Job, JobStatus


@dataclass(frozen=True)
class NewJob:
    """A validated, priced request, ready to be stored together with its charge."""

    id: str
    owner: str
    model: str
    dialect: str
    engine: str
    amount: Decimal
    args: dict[str, Any]
    spec: dict[str, Any]
    seed: int
    callback_url: str | None = None
    off_peak: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    # Idempotency-Key and a hash of the request: the same pair within the window finds this job.
    idempotency_key: str | None = None
    request_hash: str | None = None
    webhook_events: tuple[str, ...] | None = None  # native webhooks; None: final event only


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None
    balance: Decimal | None = None  # None: unlimited
    webhook_secret: str | None = None
    rate_per_min: int | None = None  # None: the operator's default
    max_running: int | None = None


@dataclass(frozen=True)
class LedgerLine:
    """One money movement; amounts are positive and `kind` gives the direction."""

    id: int
    owner: str
    job_id: str
    kind: str  # charge | refund
    amount: Decimal
    created_at: datetime


@dataclass(frozen=True)
class ReapResult:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NewDelivery:
    """A callback to send once the job's final state is stored; `kind` picks the body."""

    url: str
    kind: str  # e.g. "job", "async" or "v1": the body's dialect
    event: str = "completed"  # completed | start | progress
    payload: dict[str, Any] | None = None  # a snapshot for non-final events


def final_deliveries(job: Job) -> list[NewDelivery]:
    """The final-state callback a job asked for, in its own dialect's body."""
    return [NewDelivery(job.callback_url, job.dialect)] if job.callback_url else []


@dataclass(frozen=True)
class Delivery:
    id: int
    job_id: str
    url: str
    kind: str
    attempts: int
    status: str  # pending | delivered | failed
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    event: str = "completed"
    payload: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per attempt


def job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        owner=m["owner"],
        model=m["model"],
        dialect=m["dialect"],
        status=JobStatus(m["status"]),
        progress=m["progress"],
        amount=m["amount"],
        refunded=bool(m["refunded"]),
        args=m["args"],
        spec=m["spec"],
        seed=m["seed"],
        created_at=m["created_at"],
        attempts=m["attempts"],
        eta=m["eta"],
        callback_url=m["callback_url"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        result=m["result"],
        metadata=m["meta"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        off_peak=bool(m["off_peak"]),
        engine=m["engine"],
    )


def key_from_row(row: Row[Any]) -> KeyRecord:
    m = row._mapping
    return KeyRecord(
        m["id"], m["name"], m["key_hash"], m["created_at"], m["revoked_at"],
        m["balance"], m["webhook_secret"], m["rate_per_min"], m["max_running"],
    )


def ledger_from_row(row: Row[Any]) -> LedgerLine:
    m = row._mapping
    return LedgerLine(m["id"], m["owner"], m["job_id"], m["kind"], m["amount"], m["created_at"])


def delivery_from_row(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        job_id=m["job_id"],
        url=m["url"],
        kind=m["kind"],
        attempts=m["attempts"],
        status=m["status"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        event=m["event"],
        payload=m["payload"],
        history=list(m["history"] or []),
    )
