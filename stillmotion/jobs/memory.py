"""`MemoryDatabase`: the three repositories in memory, for fast unit tests.

It passes the same contract suite as SQLite and PostgreSQL (tests/jobs/test_contract.py), so
service, worker, reaper and callback tests can run in-process with a fake engine and a fake
clock (`clock`: a callable returning aware UTC datetimes). One lock stands in for the
database's transactions.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import uuid4

from ..errors import Conflict, CreditInsufficient
from .money import as_utc, from_micros, to_micros
from .policy import ClaimRules, RetryPolicy
from .records import (
    UPSTREAM_ACTIVE, UPSTREAM_ENDED, UPSTREAM_HOLDER, UPSTREAM_IN_FLIGHT, UPSTREAM_JOB_LEASE_S, Delivery, Job,
    JobFilter, KeyRecord, LedgerLine, NewJob,
    ReapResult, UpstreamTask, WorkerRecord, deliveries_for,
)
from .states import OPEN, FailureCode, JobStatus

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_HISTORY = 50
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class _Row:
    """A job with the columns `Job` does not show."""

    job: Job
    lease_until: datetime | None = None
    not_before: datetime | None = None
    purged_at: datetime | None = None


class _State:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.jobs: dict[str, _Row] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.ledger: list[LedgerLine] = []
        self.idempotency: dict[tuple[str, str], tuple[str, str, datetime]] = {}
        self.deliveries: dict[int, tuple[Delivery, str | None, datetime | None]] = {}
        self.upstream: dict[str, tuple[UpstreamTask, datetime | None]] = {}  # task, lease expiry
        self.ids = count(1)

    def put(self, row: _Row, **changes: Any) -> Job:
        row.job = dataclasses.replace(row.job, **changes)
        return row.job

    def enqueue(self, job: Job, event: str, snapshot: dict[str, Any] | None = None) -> None:
        now = self.clock()
        for item in deliveries_for(job, event, snapshot):
            did = next(self.ids)
            self.deliveries[did] = (
                Delivery(did, job.id, item.url, item.kind, 0, "pending", None, None, now, now, item.event, item.payload),
                None, None,
            )

    def credit(self, owner: str, amount: Decimal) -> None:
        key = self.keys.get(owner)
        if key is not None and key.balance is not None:
            self.keys[owner] = dataclasses.replace(key, balance=key.balance + amount)

    def line(self, owner: str, job_id: str, kind: str, amount: Decimal) -> None:
        if any(line.job_id == job_id and line.kind == kind for line in self.ledger):
            raise Conflict(f"a {kind} for job {job_id!r} is already recorded")  # the unique key
        self.ledger.append(LedgerLine(len(self.ledger) + 1, owner, job_id, kind, amount, self.clock()))


class MemoryJobs:
    def __init__(self, state: _State) -> None:
        self._s = state

    def create(self, new: NewJob) -> Job:
        s = self._s
        amount = from_micros(to_micros(new.amount))  # refused and written as SQL's Money column does
        if amount < 0:
            raise ValueError("a job's amount cannot be negative")
        new = dataclasses.replace(new, amount=amount)
        with s.lock:
            now = s.clock()
            if new.idempotency_key:
                earlier = self._replay(new.owner, new.idempotency_key, new.request_hash or "", now, drop=True)
                if earlier is not None:
                    return earlier
            if new.id in s.jobs:
                raise Conflict(f"a job with id {new.id!r} already exists", field="id")
            key = s.keys.get(new.owner)
            if key is not None and key.balance is not None:
                if key.balance < new.amount:
                    raise CreditInsufficient(
                        f"balance {key.balance} USD is less than the price {new.amount} USD; top up the key"
                    )
                s.keys[new.owner] = dataclasses.replace(key, balance=key.balance - new.amount)
            job = Job(
                id=new.id, owner=new.owner, model=new.model, dialect=new.dialect, status=JobStatus.QUEUED,
                progress=0, amount=new.amount, refunded=False, args=new.args, spec=new.spec, seed=new.seed,
                created_at=now, callback_url=new.callback_url, metadata=dict(new.metadata),
                off_peak=new.off_peak, engine=new.engine, webhook_events=new.webhook_events, route=new.route,
            )
            s.jobs[job.id] = _Row(job)
            s.line(new.owner, job.id, "charge", new.amount)
            if new.idempotency_key:
                s.idempotency[(new.owner, new.idempotency_key)] = (new.request_hash or "", job.id, now)
            return job

    def _replay(self, owner: str, key: str, request_hash: str, now: datetime, drop: bool) -> Job | None:
        entry = self._s.idempotency.get((owner, key))
        if entry is None:
            return None
        stored_hash, job_id, at = entry
        if at < now - IDEMPOTENCY_WINDOW:
            if drop:
                del self._s.idempotency[(owner, key)]
            return None
        if stored_hash != request_hash:
            raise Conflict(
                "this key was used within 24 h for a different request; use a new key", field="Idempotency-Key"
            )
        return self._s.jobs[job_id].job

    def find_idempotent(self, owner: str, key: str, request_hash: str) -> Job | None:
        with self._s.lock:
            return self._replay(owner, key, request_hash, self._s.clock(), drop=False)

    def get(self, job_id: str) -> Job | None:
        row = self._s.jobs.get(job_id)
        return None if row is None else row.job

    def status(self, job_id: str) -> JobStatus | None:
        job = self.get(job_id)
        return None if job is None else job.status

    def watch(self, job_ids: Sequence[str]) -> dict[str, Job]:
        with self._s.lock:
            return {i: self._s.jobs[i].job for i in job_ids if i in self._s.jobs}

    def list(self, owner: str | None, filters: JobFilter, limit: int) -> list[Job]:
        f = filters
        with self._s.lock:
            found = [
                r.job for r in self._s.jobs.values()
                if (owner is None or r.job.owner == owner)
                and (not f.statuses or r.job.status in f.statuses)
                and (not f.models or r.job.model in f.models)
                and (f.created_after is None or r.job.created_at >= f.created_after)
                and (f.created_before is None or r.job.created_at < f.created_before)
                and (f.after is None or ((r.job.created_at, r.job.id) > f.after if f.oldest_first
                                         else (r.job.created_at, r.job.id) < f.after))
            ]
        found.sort(key=lambda j: (j.created_at, j.id), reverse=not f.oldest_first)
        return found[:limit]

    def _queue(self, engine: str) -> list[Job]:
        queued = [r.job for r in self._s.jobs.values() if r.job.status == JobStatus.QUEUED and r.job.engine == engine]
        return sorted(queued, key=lambda j: (j.off_peak, j.created_at, j.id))

    def position(self, job: Job) -> int | None:
        if job.status != JobStatus.QUEUED:
            return None
        with self._s.lock:
            order = [j.id for j in self._queue(job.engine)]
        return order.index(job.id) if job.id in order else None

    def claim(self, worker_id: str, lease_s: float, engines: Sequence[str], rules: ClaimRules) -> Job | None:
        s = self._s
        if isinstance(engines, str):
            engines = (engines,)
        with s.lock:
            now = s.clock()
            off_peak_ok = rules.off_peak_open(now)
            running: dict[str, int] = {}
            for r in s.jobs.values():
                if r.job.status == JobStatus.PROCESSING and r.job.engine != "upstream":
                    running[r.job.owner] = running.get(r.job.owner, 0) + 1
            def path(job: Job) -> str | None:
                return None if job.route is None else str(job.route.get("path"))

            candidates = sorted(
                (r for r in s.jobs.values()
                 if r.job.status == JobStatus.QUEUED and r.job.engine in engines
                 and (rules.weights is None or r.job.route is None or path(r.job) in rules.weights)),
                key=lambda r: (r.job.off_peak, rules.warm is None or path(r.job) != rules.warm,
                               r.job.created_at, r.job.id),
            )
            for row in candidates:
                if row.job.off_peak and not off_peak_ok:
                    continue
                if row.not_before is not None and row.not_before > now:
                    continue
                key = s.keys.get(row.job.owner)
                cap = key.max_running if key is not None and key.max_running is not None else rules.default_cap
                if cap > 0 and running.get(row.job.owner, 0) >= cap:
                    continue
                row.lease_until = now + timedelta(seconds=lease_s)
                job = s.put(
                    row, status=JobStatus.PROCESSING, lease_owner=worker_id, attempts=row.job.attempts + 1,
                    started_at=row.job.started_at or now, progress=0, eta=None,
                )
                s.enqueue(job, "start")
                return job
            return None

    def _held(self, job_id: str, worker_id: str) -> _Row | None:
        row = self._s.jobs.get(job_id)
        if row is None or row.job.status != JobStatus.PROCESSING or row.job.lease_owner != worker_id:
            return None
        return row

    def heartbeat(self, job_id: str, worker_id: str, lease_s: float, progress: int, eta: int | None) -> bool:
        s = self._s
        with s.lock:
            row = self._held(job_id, worker_id)
            if row is None:
                return False
            before = row.job.progress
            row.lease_until = s.clock() + timedelta(seconds=lease_s)
            job = s.put(row, progress=max(0, min(100, progress)), eta=eta)
            if job.progress // 10 > before // 10:
                s.enqueue(job, "progress", {"progress": job.progress, "eta": eta})
            return True

    def finish(self, job_id: str, worker_id: str, result: dict[str, Any], metadata: dict[str, Any]) -> bool:
        s = self._s
        with s.lock:
            row = self._held(job_id, worker_id)
            if row is None:
                return False
            row.lease_until = None
            job = s.put(
                row, status=JobStatus.SUCCEEDED, progress=100, eta=0, result=result,
                metadata={**row.job.metadata, **metadata}, finished_at=s.clock(), lease_owner=None,
            )
            s.enqueue(job, "completed")
            return True

    def _end(
        self, row: _Row | None, status: JobStatus, code: FailureCode, message: str,
        metadata: dict[str, Any] | None = None,
    ) -> Job | None:
        s = self._s
        if row is None or row.job.status not in OPEN or row.job.refunded:
            return None
        row.lease_until = None
        job = s.put(
            row, status=status, error_code=str(code), error_message=message, refunded=True,
            finished_at=s.clock(), eta=None, lease_owner=None,
            metadata={**row.job.metadata, **(metadata or {})},
        )
        s.line(job.owner, job.id, "refund", job.amount)
        s.credit(job.owner, job.amount)
        s.enqueue(job, "completed")
        return job

    def fail(
        self, job_id: str, worker_id: str | None, code: FailureCode, message: str,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        with self._s.lock:
            row = self._s.jobs.get(job_id) if worker_id is None else self._held(job_id, worker_id)
            return self._end(row, JobStatus.FAILED, code, message, metadata) is not None

    def cancel(self, job_id: str) -> Job | None:
        with self._s.lock:
            return self._end(self._s.jobs.get(job_id), JobStatus.CANCELED, FailureCode.CANCELED, "the job was canceled")

    def _requeue(self, row: _Row, **changes: Any) -> None:
        row.lease_until = None
        row.not_before = None
        self._s.put(row, status=JobStatus.QUEUED, progress=0, eta=None, lease_owner=None, **changes)

    def retry(self, job_id: str, worker_id: str, delay_s: float, note: str) -> bool:
        with self._s.lock:
            row = self._held(job_id, worker_id)
            if row is None:
                return False
            retries = [*row.job.metadata.get("retries", []), note][-10:]
            self._requeue(row, metadata={**row.job.metadata, "retries": retries})
            row.not_before = self._s.clock() + timedelta(seconds=delay_s)
            return True

    def release(self, job_id: str, worker_id: str) -> bool:
        with self._s.lock:
            row = self._held(job_id, worker_id)
            if row is None:
                return False
            self._requeue(row, attempts=row.job.attempts - 1)
            return True

    def reap(self, policy: RetryPolicy) -> ReapResult:
        s = self._s
        result = ReapResult()
        with s.lock:
            now = s.clock()
            expired = sorted(
                (r for r in s.jobs.values()
                 if r.job.status == JobStatus.PROCESSING and r.lease_until is not None and r.lease_until < now),
                key=lambda r: r.job.id,
            )
            for row in expired:
                decision = policy.after_lease_lost(row.job.attempts)
                if decision.retry:
                    self._requeue(row)
                    result.requeued.append(row.job.id)
                elif self._end(row, JobStatus.FAILED, decision.code, decision.message) is not None:
                    result.failed.append(row.job.id)
        return result

    def expire_off_peak(self, max_age_s: float) -> list[str]:
        s = self._s
        message = "the off-peak job found no idle time within 48 h; it was canceled and refunded"
        with s.lock:
            cutoff = s.clock() - timedelta(seconds=max_age_s)
            stale = [r for r in s.jobs.values()
                     if r.job.status == JobStatus.QUEUED and r.job.off_peak and r.job.created_at < cutoff]
            return [job.id for r in stale
                    if (job := self._end(r, JobStatus.CANCELED, FailureCode.OFF_PEAK_EXPIRED, message))]

    def purge_candidates(self, retention_s: float, limit: int = 500) -> list[str]:
        s = self._s
        with s.lock:
            cutoff = s.clock() - timedelta(seconds=retention_s)
            rows = [r for r in s.jobs.values() if r.job.status.final and r.purged_at is None
                    and r.job.finished_at is not None and r.job.finished_at < cutoff]
            rows.sort(key=lambda r: r.job.finished_at or cutoff)
            return [r.job.id for r in rows[:limit]]

    def mark_purged(self, job_id: str) -> bool:
        s = self._s
        with s.lock:
            row = s.jobs.get(job_id)
            if row is None or row.purged_at is not None:
                return False
            row.purged_at = s.clock()
            stamp = row.purged_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            s.put(row, purged=True, metadata={**row.job.metadata, "files_deleted_at": stamp})
            return True

    def forget_idempotency_keys(self) -> int:
        s = self._s
        with s.lock:
            cutoff = s.clock() - IDEMPOTENCY_WINDOW
            old = [k for k, (_, _, at) in s.idempotency.items() if at < cutoff]
            for k in old:
                del s.idempotency[k]
            return len(old)

    def oldest_due(self, engines: Sequence[str]) -> datetime | None:
        with self._s.lock:
            now = self._s.clock()
            due = [r.not_before or r.job.created_at for r in self._s.jobs.values()
                   if r.job.status == JobStatus.QUEUED and r.job.engine in engines and not r.job.off_peak
                   and (r.not_before is None or r.not_before <= now)]
        return min(due, default=None)

    def stats(self) -> dict[str, int]:
        with self._s.lock:
            stats = {status.value: 0 for status in JobStatus}
            for r in self._s.jobs.values():
                stats[r.job.status.value] += 1
        stats["depth"] = stats["queued"]
        return stats

    def recent_run_seconds(self, n: int = 50) -> list[float]:
        with self._s.lock:
            done = [r.job for r in self._s.jobs.values()
                    if r.job.status == JobStatus.SUCCEEDED and r.job.finished_at and r.job.started_at]
        done.sort(key=lambda j: j.finished_at or j.created_at, reverse=True)
        return [((j.finished_at - j.started_at).total_seconds()) for j in done[:n]]  # type: ignore[operator]


class MemoryAccounts:
    def __init__(self, state: _State) -> None:
        self._s = state

    def add_key(self, name: str, key_hash: str, **settings: Any) -> str:
        allowed = {"balance", "rate_per_min", "max_running", "webhook_secret", "webhook_url"}
        if set(settings) - allowed:
            raise TypeError(f"unknown key settings: {', '.join(sorted(set(settings) - allowed))}")
        with self._s.lock:
            if any(k.key_hash == key_hash for k in self._s.keys.values()):
                raise Conflict("an API key with this hash is already stored")
            key_id = uuid4().hex
            values = {k: v for k, v in settings.items() if v is not ...}
            self._s.keys[key_id] = KeyRecord(key_id, name, key_hash, self._s.clock(), None, **values)
            return key_id

    def find_key(self, key_hash: str) -> KeyRecord | None:
        return next((k for k in self._s.keys.values() if k.key_hash == key_hash and k.revoked_at is None), None)

    def get_key(self, key_id: str) -> KeyRecord | None:
        return self._s.keys.get(key_id)

    def list_keys(self) -> list[KeyRecord]:
        return sorted(self._s.keys.values(), key=lambda k: (k.created_at, k.id))

    def revoke_key(self, key_id: str) -> bool:
        with self._s.lock:
            key = self._s.keys.get(key_id)
            if key is None or key.revoked_at is not None:
                return False
            self._s.keys[key_id] = dataclasses.replace(key, revoked_at=self._s.clock())
            return True

    def update_key(self, key_id: str, **settings: Any) -> bool:
        allowed = {"balance", "rate_per_min", "max_running", "webhook_secret", "webhook_url"}
        if set(settings) - allowed:
            raise TypeError(f"unknown key settings: {', '.join(sorted(set(settings) - allowed))}")
        with self._s.lock:
            key = self._s.keys.get(key_id)
            if key is None:
                return False
            self._s.keys[key_id] = dataclasses.replace(key, **{k: v for k, v in settings.items() if v is not ...})
            return True

    def count_keys(self) -> int:
        return sum(1 for k in self._s.keys.values() if k.revoked_at is None)

    def balance(self, owner: str) -> Decimal | None:
        key = self._s.keys.get(owner)
        return None if key is None else key.balance

    def ledger(self, owner: str, limit: int | None = None) -> list[LedgerLine]:
        lines = [line for line in self._s.ledger if line.owner == owner]
        return lines if limit is None else lines[len(lines) - min(limit, len(lines)):]

    def ledger_total(self, owner: str) -> Decimal:
        micros = sum(to_micros(l.amount) * (-1 if l.kind == "refund" else 1)
                     for l in self._s.ledger if l.owner == owner)
        return from_micros(micros)


class MemoryOutbox:
    def __init__(self, state: _State) -> None:
        self._s = state

    def claim(self, worker_id: str, lease_s: float) -> Delivery | None:
        s = self._s
        with s.lock:
            now = s.clock()
            ready = sorted(
                (d for d, _, until in s.deliveries.values()
                 if d.status == "pending" and d.next_attempt_at <= now and (until is None or until < now)),
                key=lambda d: (d.next_attempt_at, d.id),
            )
            if not ready:
                return None
            d = ready[0]
            s.deliveries[d.id] = (d, worker_id, now + timedelta(seconds=lease_s))
            return d

    def record(
        self, delivery_id: int, ok: bool, status_code: int | None, error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        s = self._s
        if next_attempt_at is not None:
            next_attempt_at = as_utc(next_attempt_at)
        with s.lock:
            entry = s.deliveries.get(delivery_id)
            if entry is None or entry[0].status != "pending":
                return False
            d = entry[0]
            at = s.clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            history = [*d.history[-(MAX_HISTORY - 1):], {"at": at, "status_code": status_code, "error": error}]
            status = "delivered" if ok else ("pending" if next_attempt_at is not None else "failed")
            d = dataclasses.replace(
                d, history=history, attempts=d.attempts + 1, last_status_code=status_code, last_error=error,
                status=status, next_attempt_at=next_attempt_at if not ok and next_attempt_at else d.next_attempt_at,
            )
            s.deliveries[delivery_id] = (d, None, None)
            return True

    def for_job(self, job_id: str) -> list[Delivery]:
        return sorted((d for d, _, _ in self._s.deliveries.values() if d.job_id == job_id), key=lambda d: d.id)

    def postpone(self, delivery_id: int, worker_id: str, until: datetime) -> bool:
        s = self._s
        with s.lock:
            entry = s.deliveries.get(delivery_id)
            if entry is None or entry[0].status != "pending" or entry[1] != worker_id:
                return False
            s.deliveries[delivery_id] = (dataclasses.replace(entry[0], next_attempt_at=as_utc(until)), None, None)
            return True


class MemoryWorkers:
    def __init__(self, state: _State) -> None:
        self._s = state
        self._workers: dict[str, WorkerRecord] = {}
        self._tasks: dict[str, tuple[str, datetime]] = {}

    def beat(self, records: Sequence[WorkerRecord]) -> None:
        with self._s.lock:
            now = self._s.clock()
            for rec in records:
                started = self._workers[rec.id].started_at if rec.id in self._workers else rec.started_at
                self._workers[rec.id] = dataclasses.replace(rec, started_at=started, seen_at=now)

    def forget(self, worker_ids: Sequence[str]) -> None:
        with self._s.lock:
            for wid in worker_ids:
                self._workers.pop(wid, None)

    def live(self, within_s: float) -> list[WorkerRecord]:
        since = self._s.clock() - timedelta(seconds=within_s)
        with self._s.lock:
            return sorted((w for w in self._workers.values() if w.seen_at >= since), key=lambda w: (w.host, w.id))

    def prune(self, older_than_s: float) -> int:
        before = self._s.clock() - timedelta(seconds=older_than_s)
        with self._s.lock:
            gone = [w.id for w in self._workers.values() if w.seen_at < before]
            for wid in gone:
                del self._workers[wid]
            return len(gone)

    def claim_task(self, name: str, holder: str, every_s: float) -> bool:
        with self._s.lock:
            now = self._s.clock()
            last = self._tasks.get(name)
            if last is not None and last[1] > now - timedelta(seconds=every_s):
                return False
            self._tasks[name] = (holder, now)
            return True




class MemoryUpstream:
    def __init__(self, state: _State, jobs: MemoryJobs) -> None:
        self._s = state
        self._jobs = jobs

    def start(self, rules: ClaimRules, provider_of: Callable[[Job], tuple[str, str]]) -> UpstreamTask | None:
        s = self._s
        with s.lock:
            job = self._jobs.claim(UPSTREAM_HOLDER, UPSTREAM_JOB_LEASE_S, ("upstream",), rules)
            if job is None:
                return None
            now = s.clock()
            if job.id in s.upstream:
                task = dataclasses.replace(s.upstream[job.id][0], state="submitting", next_at=now, tries=0,
                                           lease_owner=None)
            else:
                provider, token = provider_of(job)
                task = UpstreamTask(job.id, "submitting", 0, provider, token, now, now)
            s.upstream[job.id] = (task, None)
            return task

    def claim(self, worker_id: str, lease_s: float, limit: int) -> list[UpstreamTask]:
        s = self._s
        with s.lock:
            now = s.clock()
            due = sorted(
                (t for t, until in s.upstream.values()
                 if t.state in UPSTREAM_ACTIVE and t.next_at <= now and (until is None or until < now)),
                key=lambda t: (t.next_at, t.job_id),
            )[:limit]
            out = []
            for t in due:
                t = dataclasses.replace(t, lease_owner=worker_id)
                s.upstream[t.job_id] = (t, now + timedelta(seconds=lease_s))
                out.append(t)
            return out

    def _set_public(self, job_id: str, public: dict[str, Any]) -> None:
        row = self._s.jobs.get(job_id)
        if row is not None:
            self._s.put(row, metadata={**row.job.metadata, "upstream": public})

    def save(self, job_id: str, worker_id: str, public: dict[str, Any] | None = None,
             hold_s: float | None = None, **changes: Any) -> bool:
        s = self._s
        with s.lock:
            entry = s.upstream.get(job_id)
            if entry is None or entry[0].lease_owner != worker_id:
                return False
            for name in ("next_at", "deadline"):
                if changes.get(name) is not None:
                    changes[name] = as_utc(changes[name])
            if hold_s is None:
                s.upstream[job_id] = (dataclasses.replace(entry[0], **changes, lease_owner=None), None)
            else:
                s.upstream[job_id] = (dataclasses.replace(entry[0], **changes),
                                      s.clock() + timedelta(seconds=hold_s))
            if public is not None:
                self._set_public(job_id, public)
            return True

    def poke(self, job_id: str, hop: int) -> bool:
        with self._s.lock:
            entry = self._s.upstream.get(job_id)
            if entry is None or entry[0].hop != hop or entry[0].state not in UPSTREAM_IN_FLIGHT:
                return False
            self._s.upstream[job_id] = (dataclasses.replace(entry[0], next_at=self._s.clock()), entry[1])
            return True

    def get(self, job_id: str) -> UpstreamTask | None:
        entry = self._s.upstream.get(job_id)
        return None if entry is None else entry[0]

    def in_flight(self, provider: str) -> int:
        with self._s.lock:
            return sum(1 for t, _ in self._s.upstream.values() if t.provider == provider and t.state in UPSTREAM_IN_FLIGHT)

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        with self._s.lock:
            for t, _ in self._s.upstream.values():
                if t.state in UPSTREAM_ACTIVE:
                    out[(t.provider, t.state)] = out.get((t.provider, t.state), 0) + 1
        return out

    def to_local(self, job_id: str, worker_id: str, engine: str, route: dict[str, Any] | None,
                 public: dict[str, Any]) -> bool:
        s = self._s
        with s.lock:
            entry = s.upstream.get(job_id)
            if entry is None or entry[0].lease_owner != worker_id or entry[0].state in UPSTREAM_ENDED:
                return False
            s.upstream[job_id] = (dataclasses.replace(entry[0], state="local", lease_owner=None), None)
            row = self._jobs._held(job_id, UPSTREAM_HOLDER)
            if row is None:
                return False
            self._jobs._requeue(row, engine=engine, route=route, attempts=row.job.attempts - 1)
            self._set_public(job_id, public)
            return True


    def money(self, owner: str | None = None) -> list[dict[str, Any]]:
        out = []
        with self._s.lock:
            for t, _ in self._s.upstream.values():
                job = self._s.jobs[t.job_id].job
                if owner is None or job.owner == owner:
                    out.append({"owner": job.owner, "amount": job.amount, "refunded": job.refunded,
                                "provider": t.provider, "cost": t.cost})
        return out


class MemoryDatabase:
    """Implements `jobs.repository.Database` in memory; `clock` makes time a test's to move."""

    backend = "memory"

    def __init__(self, clock: Clock = system_clock) -> None:
        state = _State(clock)
        self.jobs = MemoryJobs(state)
        self.accounts = MemoryAccounts(state)
        self.outbox = MemoryOutbox(state)
        self.workers = MemoryWorkers(state)
        self.upstream = MemoryUpstream(state, self.jobs)

    def migrate(self) -> None:
        """Nothing to create: the schema is the dataclasses."""

    def close(self) -> None:
        """Nothing to release."""
