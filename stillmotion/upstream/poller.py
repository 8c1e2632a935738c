"""The upstream poller: moves upstream jobs' state machines, many at once, without render slots.

Each loop it opens tasks for newly queued upstream jobs (`UpstreamRepository.start`, one
transaction with the job's claim), leases the due ones (like the callback outbox) and hands
each to a thread for one step: create, poll, or mirror. A step ends by saving the next state
and when it is due, so a crash anywhere leaves a task that another poller takes over when the
lease lapses; the create carries an idempotency token derived from the job and hop, so the
create repeated after such a crash finds the task made before it (docs/upstream.md).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from stillmotion import observability
from stillmotion.errors import FieldInvalid, ImageDownloadFailure, PayloadTooLarge, StillmotionError
from stillmotion.jobs import (
    UPSTREAM_HOLDER, UPSTREAM_JOB_LEASE_S, ClaimRules, Database, FailureCode, Job, JobStatus, UpstreamTask,
)
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.worker import worker_id

from . import health
from .hooks import hook_url
from .hops import Hop, KeyMissing, chain, create_args, token
from .mirror import NotAVideo, download, mirror
from .providers import Created, Request, Status, UpstreamRefused

log = logging.getLogger("stillmotion.upstream")
MAX_ATTEMPTS_SHOWN = 50
MAX_BACKOFF_S = 60.0
USER_AGENT = "stillmotion-upstream"


class Retryable(Exception):
    """429, 5xx, a time-out or an unreadable answer: worth another try after a backoff."""

    def __init__(self, message: str, retry_after: float | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message, self.retry_after, self.status_code = message, retry_after, status_code


class Lost(Exception):
    """The upstream does not know the task it gave us (404 on query)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_after_s(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass
class Step:
    """One task's step: the task as claimed, its job and hop, and what the step changes."""

    task: UpstreamTask
    job: Job
    hops: list[Hop]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    cost: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.attempts = list(self.task.attempts)
        self.cost = self.task.cost

    @property
    def hop(self) -> Hop:
        return self.hops[self.task.hop]

    @property
    def label(self) -> str:
        return self.hop.label

    def note(self, action: str, outcome: str, **facts: Any) -> None:
        """One attempt and its outcome, kept in the task and shown in the job's metadata."""
        entry = {"at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z", "hop": self.task.hop,
                 "provider": self.label, "action": action, "outcome": outcome}
        entry.update({k: v for k, v in facts.items() if v is not None})
        self.attempts = [*self.attempts, entry][-MAX_ATTEMPTS_SHOWN:]

    def add_cost(self, upstream_id: str | None, reported: dict[str, Any] | None) -> None:
        """The upstream's reported cost of a task, replacing an earlier reading of the same task."""
        if not reported or not upstream_id:
            return
        items = [i for i in (self.cost or {}).get("items", []) if i.get("upstream_id") != upstream_id]
        items.append({"provider": self.label, "upstream_id": upstream_id, **reported})
        total = Decimal(0)
        for item in items:
            try:
                if not item.get("refunded"):
                    total += Decimal(str(item.get("amount", "0")))
            except InvalidOperation:
                continue
        self.cost = {"amount": str(total), "currency": "USD", "items": items}

    def public(self, state: str, hop: int | None = None, upstream_id: str | None = None,
               **extra: Any) -> dict[str, Any]:
        """`metadata.upstream` of the job: provider names and ids, never URLs or keys."""
        at = self.task.hop if hop is None else hop
        view = {"provider": self.hops[at].label, "hop": at, "state": state, "upstream_id": upstream_id,
                "attempts": self.attempts}
        if self.cost:
            view["cost"] = self.cost
        view.update(extra)
        return view


class Poller:
    def __init__(self, settings: Settings, db: Database, artifacts: ArtifactStore, catalog: Any,
                 wid: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.artifacts = artifacts
        self.catalog = catalog
        self.id = wid or worker_id("up")
        self.rules = ClaimRules(settings.off_peak_window, 0)  # waiting upstream takes no render slot
        self.lease_s = 2 * settings.upstream_request_timeout_s + 5  # one call, with room
        self.mirror_s = settings.upstream_download_timeout_s * 2 + 60  # two downloads and a decode
        self.breaker = health.Breaker(settings.upstream_breaker_failures, settings.upstream_breaker_cooldown_s)
        self.rate = health.RateLimit()
        self.client = httpx.Client(timeout=settings.upstream_request_timeout_s, follow_redirects=False,
                                   trust_env=False)
        self.pool = ThreadPoolExecutor(settings.upstream_pollers, thread_name_prefix="upstream")
        self._busy = 0
        self._creating: dict[str, int] = {}  # creates in progress per provider (max_in_flight)
        self._lock = threading.Lock()
        self._freed = threading.Event()  # a step ended: a thread is free

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        health.watch_in_flight(self.db.upstream.counts)
        log.info("upstream poller %s started", self.id)
        while not stop.is_set():
            try:
                worked = self.tick()
            except Exception:
                log.exception("upstream poller: claim failed")
                stop.wait(1.0)
                continue
            if worked:
                continue
            if self._busy >= self.settings.upstream_pollers:  # all threads busy: go on when one is free
                self._freed.wait(self.settings.poll_interval_s)
                self._freed.clear()
            else:  # nothing due: look again within a poll interval (the sooner of the two settings)
                stop.wait(max(0.02, min(self.settings.poll_interval_s, self.settings.upstream_poll_s)))
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def tick(self) -> bool:
        """Open tasks for new upstream jobs, then hand due tasks to free threads."""
        opened = 0
        while opened < 100 and self.db.upstream.start(self.rules, self._first) is not None:
            opened += 1
        with self._lock:
            free = self.settings.upstream_pollers - self._busy
        tasks = self.db.upstream.claim(self.id, self.lease_s, free) if free > 0 else []
        for task in tasks:
            with self._lock:
                self._busy += 1
            self.pool.submit(self._run_step, task)
        return bool(opened or tasks)

    def _first(self, job: Job) -> tuple[str, str]:
        return chain(job)[0].label, token(job.id, 0)

    def _run_step(self, task: UpstreamTask) -> None:
        ctx = observability.JOB_ID.set(task.job_id)
        try:
            self.step(task)
        except Exception:  # the lease gives the task back after lease_s
            log.exception("job %s: upstream step failed", task.job_id)
        finally:
            observability.JOB_ID.reset(ctx)
            with self._lock:
                self._busy -= 1
            self._freed.set()

    def step(self, task: UpstreamTask) -> None:
        """One move of one task: whatever its state calls for."""
        job = self.db.jobs.get(task.job_id)
        if job is None:
            return
        s = Step(task, job, chain(job))
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):  # a crash between the job's end and the task's
            self._save(s, state="done" if job.status == JobStatus.SUCCEEDED else "failed", quiet=True)
        elif job.status != JobStatus.PROCESSING or job.lease_owner != UPSTREAM_HOLDER:
            self._ended_here(s)
        elif s.hop.local:  # a route edited under a running job: hand it on
            self._advance(s, "the route now names a local engine", start=task.hop)
        elif task.state == "submitting":
            self._submit(s)
        else:
            self._poll(s)

    # -- create -----------------------------------------------------------------------------

    def _submit(self, s: Step) -> None:
        hop, task = s.hop, s.task
        if self.breaker.is_open(s.label) and task.hop < len(s.hops) - 1:
            s.note("create", "skipped: circuit open")
            self._advance(s, f"upstream {s.label} is cooling down after repeated failures")
            return
        if not self._reserve(s.label, hop.config.get("max_in_flight")):
            self._save(s, next_at=utcnow() + timedelta(seconds=max(0.5, self.settings.upstream_poll_s)))
            return
        try:
            self._create(s)
        finally:
            with self._lock:
                self._creating[s.label] -= 1

    def _reserve(self, label: str, limit: Any) -> bool:
        """Room under the provider's `max_in_flight`: tasks created upstream (the database, every
        process) plus the creates this process is making now (another process's creates in
        progress can overshoot by those, briefly)."""
        with self._lock:
            if limit and self.db.upstream.in_flight(label) + self._creating.get(label, 0) >= int(limit):
                return False
            self._creating[label] = self._creating.get(label, 0) + 1
            return True

    def _create(self, s: Step) -> None:
        hop, task = s.hop, s.task
        wait = self.rate.wait_s(s.label, hop.config.get("requests_per_minute"))
        if wait:
            self._save(s, next_at=utcnow() + timedelta(seconds=wait))
            return
        provider = hop.provider
        try:
            args = create_args(s.job, self.catalog, self.artifacts, provider, self.settings.public_url)
        except FieldInvalid as exc:
            s.note("create", "refused before sending", error=exc.message, field=exc.field)
            self._fail(s, FailureCode.FIELD_INVALID, exc.message, field=exc.field)
            return
        model = hop.config.get("upstream_model") or s.job.model
        lookup = not provider.idempotent_create and getattr(provider, "find", None) is not None
        try:
            if lookup and self._adopt(s):
                return
            request = provider.create(model, args, task.token, self._hook_url(s), spec=s.job.spec)
            body = self._call(hop, "create", request)
            created = provider.created(body)
        except UpstreamRefused as exc:
            self._refused(s, exc)
            return
        except (Retryable, Lost, KeyMissing, ValueError) as exc:
            self._retry(s, "create", exc)
            return
        if self.settings.upstream_test_kill_after_create:  # tests: the crash between create and save
            os.kill(os.getpid(), signal.SIGKILL)
        self._created(s, created, "created")

    def _adopt(self, s: Step) -> bool:
        """For a provider that ignores Idempotency-Key but can list its tasks (Vidu: `payload`):
        when an earlier create with this token may have been sent (a `sending` mark), look for its
        task and adopt it; otherwise leave the mark, held, before this create is sent."""
        hop, task = s.hop, s.task
        sent = any(a.get("hop") == task.hop and a.get("outcome") == "sending" and a.get("token") == task.token
                   for a in s.attempts)
        if sent:
            found = hop.provider.found(self._call(hop, "find", hop.provider.find(task.token)), task.token)
            if found is not None:
                self._created(s, found, "adopted")
                return True
        s.note("create", "sending", token=task.token)
        if not self.db.upstream.save(task.job_id, self.id, None, hold_s=self.lease_s, attempts=s.attempts):
            raise Retryable("the task's lease was lost")
        return False

    def _created(self, s: Step, created: Created, outcome: str) -> None:
        hop = s.hop
        s.note("create", outcome, upstream_id=created.upstream_id)
        s.add_cost(created.upstream_id, created.cost)
        now = utcnow()
        timeout = float(hop.config.get("timeout_s") or self.settings.upstream_timeout_s)
        log.info("job %s: upstream %s task %s %s", s.job.id, s.label, created.upstream_id, outcome)
        self._save(s, state="submitted", upstream_id=created.upstream_id, tries=0,
                   next_at=now + timedelta(seconds=self.settings.upstream_poll_s),
                   deadline=now + timedelta(seconds=timeout), public_state="submitted")

    def _hook_url(self, s: Step) -> str | None:
        """Where the upstream may call back (only with a public URL): a hint to poll at once."""
        if not self.settings.public_url:
            return None
        return hook_url(self.settings.public_url, self.artifacts.secret, s.job.id, s.task.hop)

    def _refused(self, s: Step, exc: UpstreamRefused) -> None:
        """A 4xx at create: the request itself is wrong (fail, refund, the upstream's words), or
        the operator's account or route is (401, 403, 404: the next fallback may serve it)."""
        health.REQUESTS.labels(s.label, "create", f"http_{exc.status}").inc()
        s.note("create", "refused", status_code=exc.status, error=exc.message, field=exc.field)
        if exc.status in (401, 403, 404):
            self.breaker.failure(s.label)
            self._advance(s, f"upstream {s.label} refused the operator's request (HTTP {exc.status})")
            return
        code = FailureCode.FIELD_INVALID if exc.status in (400, 413, 422) else FailureCode.GENERATION_FAILURE
        self._fail(s, code, f"upstream {s.label} refused the request: {exc.message}", field=exc.field)

    # -- poll and mirror --------------------------------------------------------------------

    def _poll(self, s: Step) -> None:
        task, hop = s.task, s.hop
        if task.deadline is not None and utcnow() > task.deadline:
            timeout = float(hop.config.get("timeout_s") or self.settings.upstream_timeout_s)
            s.note("poll", "timed out", upstream_id=task.upstream_id)
            self._hop_failed(s, f"upstream {s.label} task {task.upstream_id} gave no result within {timeout:g} s")
            return
        try:
            status = hop.provider.status(self._call(hop, "query", hop.provider.query(str(task.upstream_id))))
        except Lost:
            self._lost(s)
            return
        except (Retryable, KeyMissing, ValueError, UpstreamRefused) as exc:
            self._retry(s, "poll", exc)
            return
        s.add_cost(task.upstream_id, status.cost)
        if status.state in ("queued", "running"):
            if status.progress is not None and status.progress != s.job.progress:
                self.db.jobs.heartbeat(s.job.id, UPSTREAM_HOLDER, UPSTREAM_JOB_LEASE_S, min(99, int(status.progress)), None)
            changed = task.state != "polling" or task.tries or s.cost != task.cost
            self._save(s, state="polling", tries=0, public_state="polling", quiet=not changed,
                       next_at=utcnow() + timedelta(seconds=self._poll_after(task)))
        elif status.state == "succeeded" and status.video_url:
            self._mirror(s, status)
        else:
            s.note("poll", status.state, upstream_id=task.upstream_id, error=status.error)
            why = status.error or ("no video URL" if status.state == "succeeded" else status.state)
            self._hop_failed(s, f"upstream {s.label} task {task.upstream_id} {status.state}: {why}")

    def _mirror(self, s: Step, status: Status) -> None:
        task = s.task
        if not self.db.upstream.save(task.job_id, self.id, s.public("mirroring", upstream_id=task.upstream_id),
                                     hold_s=self.mirror_s, state="mirroring", attempts=s.attempts, cost=s.cost):
            return
        try:
            result, checked = mirror(f"outputs/{s.job.id}/{task.token}", s.job.spec, str(status.video_url),
                                     status.cover_url,
                                     self.settings, self.artifacts, self._fetcher(s.hop))
        except NotAVideo as exc:
            s.note("mirror", "not a video", upstream_id=task.upstream_id, error=str(exc))
            self._count_end(s, "failed")
            self._fail(s, FailureCode.GENERATION_FAILURE, f"upstream {s.label} task {task.upstream_id}: {exc}")
            return
        except StillmotionError as exc:
            self._retry(s, "mirror", Retryable(exc.message), exhausted=lambda message: self._fail(
                s, FailureCode.GENERATION_FAILURE, f"upstream {s.label} task {task.upstream_id}: {message}"))
            return
        s.note("mirror", "stored", upstream_id=task.upstream_id, **{k: checked[k] for k in ("codec", "bytes")})
        public = s.public("done", upstream_id=task.upstream_id)
        if not self.db.jobs.finish(s.job.id, UPSTREAM_HOLDER, result, {"upstream": public, "mirrored": checked}):
            self.artifacts.delete_prefix(f"outputs/{s.job.id}")  # canceled meanwhile
            s.note("mirror", "discarded: the job ended here")
            self._save(s, state="canceled", public_state="canceled")
            return
        self._count_end(s, "succeeded")
        if s.job.started_at is not None:
            health.LATENCY.labels(s.label).observe((utcnow() - s.job.started_at).total_seconds())
        log.info("job %s: upstream %s task %s mirrored (%s, %dx%d, %d bytes)", s.job.id, s.label,
                 task.upstream_id, checked["codec"], checked["width"], checked["height"], checked["bytes"])
        self._save(s, state="done")

    def _fetcher(self, hop: Hop) -> Callable[[str, int, str], bytes]:
        """Result downloads: a URL on the provider's own host ("/v1/videos/.../content") with its
        key, by this client; any other URL through the SSRF guard (mirror.download)."""

        def fetch(url: str, max_bytes: int, field: str) -> bytes:
            if not url.startswith("/"):
                return download(url, self.settings, max_bytes, field)
            headers = {"User-Agent": USER_AGENT}
            key = hop.key()
            if key:
                headers["Authorization"] = f"{getattr(hop.provider, 'auth_scheme', 'Bearer')} {key}"
            limit = self.settings.upstream_download_timeout_s
            deadline = time.monotonic() + limit
            try:
                with self.client.stream("GET", hop.base_url + url, headers=headers, timeout=limit) as response:
                    if response.status_code != 200:
                        raise ImageDownloadFailure(f"download failed: HTTP {response.status_code}", field=field)
                    chunks, total = [], 0
                    for chunk in response.iter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise PayloadTooLarge(f"larger than {max_bytes} bytes", field=field)
                        if time.monotonic() > deadline:
                            raise ImageDownloadFailure(f"download failed: timed out after {limit:g} s", field=field)
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.HTTPError as exc:
                raise ImageDownloadFailure(f"download failed: {type(exc).__name__}", field=field) from None

        return fetch

    def _lost(self, s: Step) -> None:
        """The upstream forgot the task: create it again (a new round, so a new token)."""
        task = s.task
        s.note("poll", "lost", upstream_id=task.upstream_id)
        tries = task.tries + 1
        if tries >= self.settings.upstream_max_tries:
            self._hop_failed(s, f"upstream {s.label} lost task {task.upstream_id}")
            return
        rounds = sum(1 for a in s.attempts if a.get("hop") == task.hop and a.get("outcome") == "lost")
        self._save(s, state="submitting", upstream_id=None, token=token(s.job.id, task.hop, rounds), tries=tries,
                   deadline=None, next_at=utcnow() + timedelta(seconds=self._backoff(tries)),
                   public_state="submitting")

    # -- failures ---------------------------------------------------------------------------

    def _retry(self, s: Step, action: str, exc: Exception,
               exhausted: Callable[[str], None] | None = None) -> None:
        """Try this step again after a backoff (at least `Retry-After`); after
        `upstream_max_tries` in a row, or past the hop's deadline, give up on the hop."""
        task = s.task
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        retry_after = getattr(exc, "retry_after", None)
        s.note(action, "error", upstream_id=task.upstream_id, error=message,
               status_code=getattr(exc, "status_code", None), retry_after_s=retry_after)
        self.breaker.failure(s.label)
        tries = task.tries + 1
        late = task.deadline is not None and utcnow() > task.deadline
        if tries >= self.settings.upstream_max_tries or late:
            why = f"upstream {s.label}: {message} ({tries} tries)"
            if exhausted is not None:
                exhausted(why)
            else:
                self._hop_failed(s, why)
            return
        delay = max(retry_after or 0.0, self._backoff(tries))
        self._save(s, tries=tries, next_at=utcnow() + timedelta(seconds=delay))

    def _poll_after(self, task: UpstreamTask) -> float:
        """Polls back off as a task runs long: every `upstream_poll_s` at first, then a tenth of
        the task's age, at most `upstream_max_poll_s` (a 10 min video is asked about every 30 s,
        a 20 s one every 2 s); an upstream callback makes it due at once anyway."""
        age = (utcnow() - task.created_at).total_seconds()
        return max(self.settings.upstream_poll_s, min(self.settings.upstream_max_poll_s, age / 10))

    def _backoff(self, tries: int) -> float:
        return min(MAX_BACKOFF_S, self.settings.upstream_backoff_s * 2 ** max(0, tries - 1))

    def _hop_failed(self, s: Step, message: str) -> None:
        """This hop will not give a result: cancel what it may still be doing, then fall back."""
        self._count_end(s, "failed")
        self._forward_cancel(s)
        self._advance(s, message)

    def _advance(self, s: Step, message: str, start: int | None = None) -> None:
        """The next hop of the chain (skipping providers whose circuit is open, unless last):
        another upstream, a local engine (the job goes back to the queue), or the end (fail)."""
        nxt = s.task.hop + 1 if start is None else start
        while nxt < len(s.hops) - 1 and not s.hops[nxt].local and self.breaker.is_open(s.hops[nxt].label):
            s.note("fallback", f"skipped {s.hops[nxt].label}: circuit open")
            nxt += 1
        if nxt >= len(s.hops):
            self._fail(s, FailureCode.GENERATION_FAILURE, message)
            return
        hop = s.hops[nxt]
        s.note("fallback", f"to {hop.label}", error=message)
        log.warning("job %s: %s; falling back to %s", s.job.id, message, hop.label)
        if hop.local:
            self.db.upstream.to_local(s.job.id, self.id, hop.engine, hop.local_route(), s.public("local", hop=nxt))
            return
        self._save(s, state="submitting", hop=nxt, provider=hop.label, token=token(s.job.id, nxt),
                   upstream_id=None, tries=0, deadline=None, next_at=utcnow(), public_state="submitting",
                   public_hop=nxt)

    def _fail(self, s: Step, code: FailureCode, message: str, field: str | None = None) -> None:
        """End the job failed and refunded, the message (and the field, when known) shown."""
        extra = {"field": field} if field else {}
        public = s.public("failed", upstream_id=s.task.upstream_id, **extra)
        self.db.jobs.fail(s.job.id, UPSTREAM_HOLDER, code, message, {"upstream": public})
        log.warning("job %s failed: %s", s.job.id, message)
        self._save(s, state="failed")

    def _ended_here(self, s: Step) -> None:
        """The job ended on this side (a cancel): forward the cancel where the provider can
        take one, else leave the upstream task to finish and discard its result; the cost the
        upstream reported stays recorded."""
        task = s.task
        if task.upstream_id and not s.hop.local and not s.hop.provider.can_cancel:
            s.note("cancel", "not forwardable: canceled here, the result will be discarded",
                   upstream_id=task.upstream_id)
        else:
            self._forward_cancel(s)
        self._save(s, state="canceled", public_state="canceled")

    def _forward_cancel(self, s: Step) -> None:
        task, hop = s.task, s.hop
        if not task.upstream_id or hop.local:
            return
        request = hop.provider.cancel(task.upstream_id)
        if request is None:
            return
        try:
            self._call(hop, "cancel", request)
            s.note("cancel", "forwarded", upstream_id=task.upstream_id)
        except (Retryable, Lost, UpstreamRefused, KeyMissing, ValueError) as exc:
            s.note("cancel", "failed", upstream_id=task.upstream_id, error=getattr(exc, "message", str(exc)))

    def _count_end(self, s: Step, outcome: str) -> None:
        health.JOBS.labels(s.label, outcome).inc()
        if outcome == "succeeded":
            self.breaker.success(s.label)

    # -- I/O --------------------------------------------------------------------------------

    def _save(self, s: Step, public_state: str | None = None, public_hop: int | None = None, quiet: bool = False,
              **changes: Any) -> None:
        """Write the step's changes with its attempts and cost; the job's metadata follows
        (`quiet`: nothing it shows changed, e.g. one more poll of a running task)."""
        public: dict[str, Any] | None = None  # done / failed: written with the job's final transition
        if quiet:
            pass
        elif public_state is not None:
            public = s.public(public_state, hop=public_hop,
                              upstream_id=changes.get("upstream_id", s.task.upstream_id))
        elif changes.get("state") not in ("done", "failed"):
            public = s.public(s.task.state, upstream_id=s.task.upstream_id)
        self.db.upstream.save(s.task.job_id, self.id, public, attempts=s.attempts, cost=s.cost, **changes)

    def _call(self, hop: Hop, action: str, request: Request) -> Any:
        """One HTTP call to the hop's provider; the answer's JSON, or Retryable / Lost /
        UpstreamRefused. The key goes in the Authorization header and nowhere else."""
        headers = {**request.headers, "User-Agent": USER_AGENT}
        key = hop.key()
        if key:
            headers["Authorization"] = f"{getattr(hop.provider, 'auth_scheme', 'Bearer')} {key}"
        started = time.monotonic()
        timeout = self.settings.upstream_request_timeout_s
        try:
            response = self.client.request(request.method, hop.base_url + request.path, json=request.json,
                                           params=request.params, headers=headers)
        except httpx.TimeoutException:
            health.REQUESTS.labels(hop.label, action, "timeout").inc()
            raise Retryable(f"{action}: no answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            health.REQUESTS.labels(hop.label, action, "error").inc()
            raise Retryable(f"{action}: {type(exc).__name__}") from None
        finally:
            health.REQUEST_SECONDS.labels(hop.label, action).observe(time.monotonic() - started)
        code = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        if code == 429 or code == 408 or code >= 500:
            health.REQUESTS.labels(hop.label, action, f"http_{code}").inc()
            raise Retryable(f"{action}: HTTP {code}", retry_after_s(response.headers.get("retry-after")), code)
        if code == 404 and action == "query":
            health.REQUESTS.labels(hop.label, action, "lost").inc()
            raise Lost()
        if code >= 400:
            raise hop.provider.refusal(code, body)
        health.REQUESTS.labels(hop.label, action, "ok").inc()
        if not isinstance(body, dict):
            raise Retryable(f"{action}: the answer is not a JSON object", status_code=code)
        return body
