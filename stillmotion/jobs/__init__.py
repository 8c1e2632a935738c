"""The job core: states, failure codes, records, the repository protocols, the retry policy.

Implementations: `stillmotion.store.Database` (SQLite, PostgreSQL) and
`stillmotion.jobs.memory.MemoryDatabase` (unit tests). See docs/architecture.md.
"""

from .policy import Capability, ClaimRules, RetryDecision, RetryPolicy
from .records import (
    WEBHOOK_EVENTS,
    Delivery,
    Job,
    JobFilter,
    KeyRecord,
    LedgerLine,
    NewDelivery,
    NewJob,
    ReapResult,
    UPSTREAM_ACTIVE,
    UPSTREAM_ENDED,
    UPSTREAM_HOLDER,
    UPSTREAM_IN_FLIGHT,
    UPSTREAM_JOB_LEASE_S,
    UpstreamTask,
    WorkerRecord,
    deliveries_for,
)
from .repository import (
    AccountRepository, Database, JobRepository, OutboxRepository, UpstreamRepository, WorkerRepository,
)
from .states import FINAL, OPEN, TRANSITIONS, FailureCode, JobStatus

__all__ = [
    "FINAL", "OPEN", "TRANSITIONS", "WEBHOOK_EVENTS", "AccountRepository", "Capability", "ClaimRules", "Database", "Delivery",
    "FailureCode", "Job", "JobFilter", "JobRepository", "JobStatus", "KeyRecord", "LedgerLine", "NewDelivery",
    "NewJob", "OutboxRepository", "ReapResult", "RetryDecision", "RetryPolicy", "UPSTREAM_ACTIVE", "UPSTREAM_ENDED",
    "UPSTREAM_HOLDER", "UPSTREAM_IN_FLIGHT", "UPSTREAM_JOB_LEASE_S", "UpstreamRepository", "UpstreamTask", "WorkerRecord", "WorkerRepository", "deliveries_for",
]
