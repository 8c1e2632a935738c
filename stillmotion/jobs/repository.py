"""The three repositories the service, workers and callback sender use, as protocols.

`store.Database` implements them on SQLite and PostgreSQL (one SQLAlchemy Core data path);
`jobs.memory.MemoryDatabase` implements them in memory for fast unit tests. One contract
suite (tests/jobs/test_contract.py) runs against all three backends.

Rules every implementation keeps:
- a job is stored with its charge (and idempotency record) in one transaction;
- each transition is one guarded write that refuses an unexpected state, and writes its
  refund (at most one per job) and its outbox rows (from `deliveries_for(job, event)`) with it;
- `worker_id` is the claim's token, stored as the job's `lease_owner`: only the claim holding
  the lease may move a running job. Workers pass a fresh token per claim (`<worker id>~<random>`),
  so a run whose lease was taken over (a pause, a cut link, a reap) is refused every write, even
  after its own worker process claimed the job again (fenced leases).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from .policy import ClaimRules, RetryPolicy
from .records import Delivery, Job, JobFilter, KeyRecord, LedgerLine, NewJob, ReapResult, UpstreamTask, WorkerRecord
from .states import FailureCode, JobStatus


class JobRepository(Protocol):
    def create(self, new: NewJob) -> Job:
        """Store the job and debit its owner; a repeated Idempotency-Key returns the earlier job.
        Raises CreditInsufficient, or Conflict (key reused for another request)."""

    def find_idempotent(self, owner: str, key: str, request_hash: str) -> Job | None: ...

    def get(self, job_id: str) -> Job | None: ...

    def status(self, job_id: str) -> JobStatus | None:
        """The cheap read a running job's cancel watch repeats."""

    def watch(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """Many jobs in one read (live event streams share it)."""

    def list(self, owner: str | None, filters: JobFilter, limit: int) -> list[Job]:
        """Newest first."""

    def position(self, job: Job) -> int | None:
        """Queued jobs of the same engine a claim would take first; None unless queued."""

    def claim(self, worker_id: str, lease_s: float, engines: Sequence[str], rules: ClaimRules) -> Job | None:
        """Lease the next runnable job (attempts + 1); queues its `start` callback."""

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, progress: int, eta: int | None) -> bool:
        """Extend the lease; False: the job is no longer this worker's. Queues `progress`
        callbacks at each 10 % step."""

    def finish(self, job_id: str, worker_id: str, result: dict[str, Any], metadata: dict[str, Any]) -> bool: ...

    def fail(
        self, job_id: str, worker_id: str | None, code: FailureCode, message: str,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Fail and refund; with `worker_id` None, any open job (service, admin)."""

    def retry(self, job_id: str, worker_id: str, delay_s: float, note: str) -> bool:
        """Back to the queue after a retryable failure, runnable after `delay_s`."""

    def release(self, job_id: str, worker_id: str) -> bool:
        """Back to the queue without counting the run (stopped, not failed)."""

    def cancel(self, job_id: str) -> Job | None:
        """Cancel and refund an open job; None when unknown or already final."""

    def reap(self, policy: RetryPolicy) -> ReapResult:
        """Jobs whose lease expired: requeued or failed, as the policy decides."""

    def expire_off_peak(self, max_age_s: float) -> list[str]: ...

    def purge_candidates(self, retention_s: float, limit: int = 500) -> list[str]: ...

    def mark_purged(self, job_id: str) -> bool: ...

    def forget_idempotency_keys(self) -> int: ...

    def oldest_due(self, engines: Sequence[str]) -> datetime | None:
        """Since when the longest-waiting runnable job has waited (stall detection)."""

    def stats(self) -> dict[str, int]:
        """Jobs per status (all present) and `depth` (queued)."""

    def recent_run_seconds(self, n: int = 50) -> list[float]: ...


class AccountRepository(Protocol):
    def add_key(self, name: str, key_hash: str, **settings: Any) -> str: ...

    def find_key(self, key_hash: str) -> KeyRecord | None: ...

    def get_key(self, key_id: str) -> KeyRecord | None: ...

    def list_keys(self) -> list[KeyRecord]: ...

    def revoke_key(self, key_id: str) -> bool: ...

    def update_key(self, key_id: str, **settings: Any) -> bool: ...

    def count_keys(self) -> int: ...

    def balance(self, owner: str) -> Decimal | None: ...

    def ledger(self, owner: str, limit: int | None = None) -> list[LedgerLine]: ...

    def ledger_total(self, owner: str) -> Decimal: ...


class OutboxRepository(Protocol):
    def claim(self, worker_id: str, lease_s: float) -> Delivery | None: ...

    def record(
        self, delivery_id: int, ok: bool, status_code: int | None, error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool: ...

    def for_job(self, job_id: str) -> list[Delivery]: ...

    def postpone(self, delivery_id: int, worker_id: str, until: datetime) -> bool: ...


class WorkerRepository(Protocol):
    """Who works (several hosts on one database), and which host runs each round of upkeep."""

    def beat(self, records: Sequence[WorkerRecord]) -> None:
        """Register or refresh these workers (`seen_at` is the database's now)."""

    def forget(self, worker_ids: Sequence[str]) -> None:
        """A clean stop: the workers leave the list at once."""

    def live(self, within_s: float) -> list[WorkerRecord]:
        """Workers seen within `within_s`, by host then id."""

    def prune(self, older_than_s: float) -> int:
        """Drop workers not seen for `older_than_s` (crashed processes)."""

    def claim_task(self, name: str, holder: str, every_s: float) -> bool:
        """True when nobody ran the task in the last `every_s` (the caller's own interval), for
        exactly one of the callers racing for it: that caller runs the task now."""


class UpstreamRepository(Protocol):
    """Upstream jobs (docs/upstream.md): the job row is held by `UPSTREAM_HOLDER` while its
    `UpstreamTask` moves; pollers lease due tasks like the callback outbox leases deliveries."""

    def start(self, rules: ClaimRules, provider_of: Any) -> UpstreamTask | None:
        """Claim the next queued upstream job and open its task, in one transaction.
        `provider_of(job)` -> (provider label, first idempotency token)."""

    def claim(self, worker_id: str, lease_s: float, limit: int) -> list[UpstreamTask]:
        """Lease up to `limit` active tasks that are due (expired leases included)."""

    def save(self, job_id: str, worker_id: str, public: dict[str, Any] | None = None,
             hold_s: float | None = None, **changes: Any) -> bool:
        """Write the task's changes and clear its lease (or, with `hold_s`, keep it that much
        longer); `public` replaces the job's `metadata.upstream`. False when the lease is no
        longer `worker_id`'s."""

    def get(self, job_id: str) -> UpstreamTask | None: ...

    def poke(self, job_id: str, hop: int) -> bool:
        """An upstream called back: the task (at that hop, created upstream) is due now."""

    def in_flight(self, provider: str) -> int:
        """Tasks of `provider` created upstream and not yet ended (submitted, polling, mirroring)."""

    def counts(self) -> dict[tuple[str, str], int]:
        """Active tasks per (provider, state), for metrics."""

    def to_local(self, job_id: str, worker_id: str, engine: str, route: dict[str, Any] | None,
                 public: dict[str, Any]) -> bool:
        """End the task as `local` and put its job back in the queue for a render engine."""

    def money(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Per upstream job: owner, amount (the client's price), refunded, provider (the last
        hop's), cost (the upstream's reported cost, `{amount, currency, items}`)."""


class Database(Protocol):
    jobs: JobRepository
    accounts: AccountRepository
    outbox: OutboxRepository
    workers: WorkerRepository
    upstream: UpstreamRepository
    backend: str

    def migrate(self) -> None: ...

    def close(self) -> None: ...
