"""The values the job core takes and returns: jobs, keys, ledger lines, callback deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .states import JobStatus

WEBHOOK_EVENTS = ("start", "progress", "completed")


@dataclass(frozen=True)
class Job:
    """A job as stored; dialects shape it into their own wire bodies.

    `route` is the operator's engine configuration chosen at submit (weights path, kind, ...):
    the worker reads it, no dialect ever shows it. `metadata` is public."""

    id: str
    owner: str
    model: str
    dialect: str
    status: JobStatus
    progress: int
    amount: Decimal
    refunded: bool
    args: dict[str, Any]
    spec: dict[str, Any]
    seed: int
    created_at: datetime
    attempts: int = 0
    eta: int | None = None
    callback_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    off_peak: bool = False
    engine: str = "motion"
    webhook_events: tuple[str, ...] | None = None  # native webhooks; None: the final event only
    route: dict[str, Any] | None = None
    lease_owner: str | None = None
    purged: bool = False  # result files deleted by retention


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
    webhook_events: tuple[str, ...] | None = None
    route: dict[str, Any] | None = None


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
    webhook_url: str | None = None  # where the OpenAI dialect sends this key's video.* events


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
    """A callback to send; `kind` is the dialect whose body it carries."""

    url: str
    kind: str
    event: str = "completed"  # completed | start | progress
    payload: dict[str, Any] | None = None  # a snapshot for non-final events


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


@dataclass(frozen=True)
class JobFilter:
    """Listing filters; `after` is the keyset cursor (created_at, id) of the last job seen."""

    statuses: tuple[JobStatus, ...] = ()
    models: tuple[str, ...] = ()
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    after: tuple[datetime, str] | None = None
    oldest_first: bool = False  # page oldest to newest; `after` then names the newest job seen


def deliveries_for(job: Job, event: str, snapshot: dict[str, Any] | None = None) -> list[NewDelivery]:
    """The callbacks a job's owner asked for on `event`, decided from the job row alone.

    Every transition calls this with the job it wrote, so no caller can forget the final
    callback. Native (v1) webhooks honour the job's event filter; Vidu's gets the start and the
    final callback; the other dialects only know the final callback and always get it."""
    if not job.callback_url:
        return []
    if job.dialect == "v1":
        wanted = job.webhook_events if job.webhook_events is not None else ("completed",)
        if event not in wanted:
            return []
    elif event != "completed" and not (job.dialect == "vidu" and event == "start"):
        return []  # Vidu's official API also calls back when a task starts processing
    return [NewDelivery(job.callback_url, job.dialect, event, snapshot)]


@dataclass(frozen=True)
class WorkerRecord:
    """A worker thread as its process last reported it (`stillmotion status`)."""

    id: str
    host: str
    pid: int
    engines: tuple[str, ...]
    capabilities: dict[str, Any]
    jobs: tuple[str, ...]
    started_at: datetime
    seen_at: datetime


# An upstream job's own states (docs/upstream.md); the job row stays PROCESSING throughout.
UPSTREAM_ACTIVE = ("submitting", "submitted", "polling", "mirroring")
UPSTREAM_ENDED = ("done", "failed", "canceled", "local")
UPSTREAM_HOLDER = "upstream"  # the lease owner of every upstream job row: any poller may move it
UPSTREAM_IN_FLIGHT = ("submitted", "polling", "mirroring")  # an upstream task exists upstream
UPSTREAM_JOB_LEASE_S = 100 * 86400.0  # the job row's lease while upstream: the task's lease is the live one


@dataclass(frozen=True)
class UpstreamTask:
    """One upstream job's durable state machine, beside its job row.

    `hop` indexes the route's chain (0 the route itself, then its fallbacks); `token` is the
    idempotency key of the current hop's create; `tries` counts consecutive retryable errors at
    this hop; `attempts` is the history shown in the job's metadata."""

    job_id: str
    state: str
    hop: int
    provider: str
    token: str
    next_at: datetime
    created_at: datetime
    upstream_id: str | None = None
    tries: int = 0
    deadline: datetime | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    cost: dict[str, Any] | None = None
    lease_owner: str | None = None
