"""Webhook delivery from a durable outbox: signed, SSRF-guarded, retried with backoff.

The outbox row is written in the same transaction as the job's state change, so a callback is
never promised for a state that was not stored, and a crash between the two loses nothing.
The body is built at send time from the stored job, exactly as the dialect's query returns it
(native start/progress events carry the snapshot taken when they were queued).

Every POST is signed in the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`) with the job owner's
secret, whatever the dialect. The destination is resolved and checked at send time and the
connection goes to the checked address (DNS rebinding cannot reach an internal service);
redirects are not followed.

Receivers are isolated from each other: deliveries go out on a bounded pool of threads, at most
a few at once to one host, and each attempt has a total deadline (connect + headers + body)
enforced by a watchdog, so a receiver that answers one byte every few seconds holds only its
own slots for `callback_timeout_s`. Every attempt is logged and appended to the delivery log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from stillmotion import observability
from stillmotion.errors import StillmotionError
from stillmotion.media.netguard import check_url, is_public_address, resolve_host
from stillmotion.dialects import callback_body, callback_headers
from stillmotion.jobs import Database, Delivery
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

log = logging.getLogger("stillmotion.callbacks")
USER_AGENT = "stillmotion-webhook"
MAX_DELAY_S = 1800.0
QUEUED = "queued"
MAX_QUEUED_PER_JOB = 8  # deliveries held behind a job's one in flight; more are put back
SAME_JOB_WAIT_S = 0.2  # a job's next event waits this long for the one in flight, then is claimed again
MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer body, read and dropped


def backoff_s(attempt: int, base_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), with +-20% jitter,
    capped at half an hour."""
    jitter = (rng or random).uniform(0.8, 1.2)
    return min(MAX_DELAY_S, base_s * (2 ** (attempt - 1))) * jitter


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` value for one message."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def pinned_target(url: str, settings: Settings) -> tuple[httpx.URL, list[str] | None]:
    """The parsed URL and the checked addresses to connect to (None: connect by name, when
    private URLs are allowed). Raises FieldInvalid for a refused or unresolvable host."""
    check_url(url, field="webhook", settings=settings)  # scheme, host; DNS unless allowed
    parsed = httpx.URL(url)
    if settings.allow_private_urls:
        return parsed, None
    host = parsed.raw_host.decode("ascii")
    ips = resolve_host(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    bad = [ip for ip in ips if not is_public_address(ip)]
    if not ips or bad:
        raise StillmotionError(f"webhook: refused URL: host {host!r} resolves to {bad or 'nothing'}")
    return parsed, ips


class Deadline:
    """A total time limit on one attempt (connect, headers and body together).

    httpx's timeouts bound each read, so a receiver sending one header byte every few seconds
    never trips them. This watchdog shuts the attempt's socket down when the deadline passes,
    which wakes the blocked read at once; httpcore's `trace` hook hands it the socket."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith((".connect_tcp.complete", ".start_tls.complete")):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._sock = sock
                if self.expired:
                    self._shut()

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(max(0.0, self.remaining()), self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._sock = None

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HostSlots:
    """At most `per_host` attempts in flight to one host (scheme, host, port), so a slow or
    hostile receiver holds only its own slots, never another tenant's."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, host: str) -> bool:
        with self._lock:
            if self._busy.get(host, 0) >= self.per_host:
                return False
            self._busy[host] = self._busy.get(host, 0) + 1
            return True

    def give(self, host: str) -> None:
        with self._lock:
            left = self._busy.get(host, 1) - 1
            if left > 0:
                self._busy[host] = left
            else:
                self._busy.pop(host, None)


def host_key(url: str) -> str:
    """The receiver a delivery goes to, as the per-host limit counts it."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return f"{parsed.scheme}://{parsed.host.lower()}:{port}"
    except Exception:  # an unparsable URL is refused at send time; group it on its own
        return url[:200]


class CallbackDispatcher:
    """Sends claimed deliveries on a bounded pool of threads (`callback_concurrency`), at most
    `callback_per_host` at once to one receiver, each attempt within `callback_timeout_s` in
    total. A delivery's lease outlasts its attempt by a margin, so no other sender takes it
    while it is still being sent."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        artifacts: ArtifactStore,
        wid: str,
        secret_for: Callable[[str], str] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.artifacts = artifacts
        self.id = wid
        self.secret_for = secret_for
        self.deadline_s = settings.callback_timeout_s
        self.lease_s = lease_for(settings.callback_timeout_s)
        self.slots = HostSlots(settings.callback_per_host)
        self._jobs_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # job id -> its deliveries being sent now
        self._held_until: dict[str, datetime] = {}  # job id -> its deliveries wait until then
        self._queued: dict[str, list[tuple[Delivery, float]]] = {}  # job id -> claimed, sent next, in order
        self.client = httpx.Client(timeout=settings.callback_timeout_s, follow_redirects=False, trust_env=False)

    def run(self, stop: threading.Event) -> None:
        """Claim while a pool thread is free; hand each delivery to the pool. A delivery for a
        receiver already at its limit goes back to the outbox, due again shortly."""
        size = max(1, self.settings.callback_concurrency)
        free = threading.BoundedSemaphore(size)
        pool = ThreadPoolExecutor(size, thread_name_prefix="webhook")
        try:
            while not stop.is_set():
                if not free.acquire(timeout=self.settings.poll_interval_s):
                    continue
                delivery = self._claim(stop)
                if delivery is None:
                    free.release()
                    continue
                host = host_key(delivery.url)
                wait = self._must_wait(delivery, host)
                if wait is None:
                    pool.submit(self._attempt, delivery, host, free)
                    continue
                free.release()  # put back, or queued behind its job: no thread needed now
                if not isinstance(wait, str):  # QUEUED needs nothing more
                    self._postpone(delivery, wait)
        finally:
            pool.shutdown(wait=True)  # each attempt ends within its deadline
            self.client.close()

    def _claim(self, stop: threading.Event) -> Delivery | None:
        try:
            delivery = self.db.outbox.claim(self.id, self.lease_s)
        except Exception:
            log.exception("claiming a delivery failed")
            stop.wait(1.0)
            return None
        if delivery is None:
            stop.wait(self.settings.poll_interval_s)
        return delivery

    def _must_wait(self, delivery: Delivery, host: str) -> tuple[datetime, str] | str | None:
        """Until when (and why) a claimed delivery must wait; None: send it now (its host slot
        taken); QUEUED: it waits behind its job's delivery in flight, and the pool thread
        sending that one sends it next. A job's deliveries go out one at a time and in order; one
        that cannot queue (the queue is full, or an earlier one was put back) is put back too
        (the outbox claims by due time, then id, so equal due times keep their order)."""
        now = datetime.now(UTC)
        job = delivery.job_id
        with self._jobs_lock:
            if len(self._held_until) > 10_000:  # forget jobs whose wait has passed
                self._held_until = {j: t for j, t in self._held_until.items() if t > now}
            held = self._held_until.get(job)
            if held is not None and held <= now:
                del self._held_until[job]
                held = None
            queued = self._queued.setdefault(job, []) if job in self._in_flight else None
            if queued is not None and held is None and len(queued) < MAX_QUEUED_PER_JOB:
                queued.append((delivery, time.monotonic()))
                return QUEUED
            if job in self._in_flight:
                until, why = max(held or now, now + timedelta(seconds=SAME_JOB_WAIT_S)), "an earlier event of its job"
            elif held is not None:
                until, why = held, "an earlier event of its job"
            elif not self.slots.take(host):
                until, why = now + timedelta(seconds=min(self.deadline_s / 2, 2.0)), f"{host} is at its limit"
            else:
                self._in_flight[job] = self._in_flight.get(job, 0) + 1
                return None
            self._held_until[job] = until
            return until, why

    def _postpone(self, delivery: Delivery, wait: tuple[datetime, str]) -> None:
        until, why = wait
        try:
            self.db.outbox.postpone(delivery.id, self.id, until)
        except Exception:  # the lease runs out instead and the delivery is claimable again
            log.exception("postponing webhook %s failed", delivery.id)
        log.debug("webhook %s waits for %s", delivery.id, why)

    def _attempt(self, delivery: Delivery, host: str, free: threading.BoundedSemaphore) -> None:
        """Send `delivery`, then the deliveries of its job queued behind it, in order."""
        job = delivery.job_id
        current: Delivery | None = delivery
        try:
            while current is not None:
                try:
                    self.deliver(current)
                except Exception:  # a database error while recording: the lease returns the delivery
                    log.exception("webhook %s for job %s: attempt not recorded", current.id, job)
                current = self._next_of(job)
        finally:
            with self._jobs_lock:
                left = self._in_flight.pop(job, 1) - 1
                if left > 0:
                    self._in_flight[job] = left
                stranded = self._queued.pop(job, []) if left <= 0 else []
            for waiting, _ in stranded:  # only after an unexpected error: give them back in order
                self._postpone(waiting, (datetime.now(UTC), "its job's sender stopped"))
            self.slots.give(host)
            free.release()

    def _next_of(self, job: str) -> Delivery | None:
        """The next delivery queued behind `job`'s, if its lease still covers a whole attempt;
        one that waited too long is put back (due now, so its order holds)."""
        while True:
            with self._jobs_lock:
                queued = self._queued.get(job)
                if not queued:
                    self._queued.pop(job, None)
                    return None
                delivery, claimed = queued.pop(0)
            if time.monotonic() - claimed + self.deadline_s + 2.0 < self.lease_s:
                return delivery
            self._postpone(delivery, (datetime.now(UTC), "its lease would not cover the attempt"))

    def deliver(self, delivery: Delivery) -> None:
        job = self.db.jobs.get(delivery.job_id)
        if job is None:
            self.db.outbox.record(delivery.id, False, None, "job no longer exists", None)
            return
        token = observability.JOB_ID.set(job.id)
        try:
            body = orjson.dumps(
                callback_body(delivery.kind, job, self.artifacts.sign, self.artifacts.ttl_s,
                              delivery.event, delivery.payload)
            )
            self._send(delivery, job.owner, body)
        finally:
            observability.JOB_ID.reset(token)

    def _send(self, delivery: Delivery, owner: str, body: bytes) -> None:
        status: int | None = None
        started = time.monotonic()
        deadline = Deadline(self.deadline_s)
        try:
            with deadline:
                status = self._post(delivery, owner, body, deadline)
            if 200 <= status < 300:
                observability.WEBHOOK_ATTEMPTS.labels(delivery.kind, "delivered").inc()
                log.info("webhook %s attempt %d for job %s: HTTP %d in %.2f s", delivery.id, delivery.attempts + 1,
                         delivery.job_id, status, time.monotonic() - started)
                self.db.outbox.record(delivery.id, True, status, None, None)
                return
            error = f"HTTP {status}"
        except StillmotionError as exc:  # refused address: retrying will not help
            observability.WEBHOOK_ATTEMPTS.labels(delivery.kind, "refused").inc()
            observability.WEBHOOK_FAILURES.labels(delivery.kind).inc()
            log.warning("webhook %s refused: %s", delivery.id, exc.message)
            self.db.outbox.record(delivery.id, False, None, exc.message, None)
            return
        except (httpx.HTTPError, OSError) as exc:
            if deadline.expired or deadline.remaining() <= 0:
                error = f"deadline: no complete answer within {self.deadline_s:g} s"
            else:
                error = f"{type(exc).__name__}: {exc}"
        observability.WEBHOOK_ATTEMPTS.labels(delivery.kind, "failed").inc()
        observability.WEBHOOK_FAILURES.labels(delivery.kind).inc()
        attempt = delivery.attempts + 1
        retry_at = None
        if attempt < self.settings.callback_max_attempts:
            delay = backoff_s(attempt, self.settings.callback_backoff_s)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        log.warning("webhook %s attempt %d for job %s failed after %.2f s (%s); retry at %s", delivery.id, attempt,
                    delivery.job_id, time.monotonic() - started, error, retry_at)
        self.db.outbox.record(delivery.id, False, status, error, retry_at)

    def headers(self, delivery: Delivery, owner: str, body: bytes) -> dict[str, str]:
        msg_id = f"msg_{delivery.job_id}_{delivery.id}"  # the same on every retry
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
        }
        if self.secret_for is not None:
            secret = self.secret_for(owner)
            headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
            headers.update(callback_headers(delivery.kind, delivery.url, secret, body))  # e.g. Vidu's HMAC
        return headers

    def _post(self, delivery: Delivery, owner: str, body: bytes, deadline: Deadline) -> int:
        """POST once (to each checked address until one connects); the status code. The answer's
        body is read only up to MAX_ANSWER_BYTES and dropped."""
        url, ips = pinned_target(delivery.url, self.settings)
        headers = self.headers(delivery, owner, body)
        last: Exception | None = None
        for ip in ips or [None]:
            request_url, extensions = url, {}
            if ip is not None:  # connect to the checked address; the server sees its own name
                headers["host"] = url.netloc.decode("ascii")
                headers["connection"] = "close"  # no pooled connection reused across names
                request_url = url.copy_with(host=ip)
                if url.scheme == "https":
                    extensions = {"sni_hostname": url.raw_host.decode("ascii")}
            left = deadline.remaining()
            if left <= 0:
                raise httpx.TimeoutException("deadline passed before connecting")
            extensions = {**extensions, "trace": deadline.trace, "timeout": _timeouts(left)}
            request = self.client.build_request("POST", request_url, content=body, headers=headers,
                                                extensions=extensions)
            try:
                response = self.client.send(request, follow_redirects=False, stream=True)
            except httpx.ConnectError as exc:
                last = exc
                continue
            try:
                read = 0
                for chunk in ([] if response.is_stream_consumed else response.iter_raw()):
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES:
                        break
            finally:
                response.close()
            return response.status_code
        assert last is not None
        raise last


def _timeouts(seconds: float) -> dict[str, float]:
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


def lease_for(deadline_s: float) -> float:
    """A claimed delivery's lease: its attempt's deadline plus a margin for DNS, building the
    body and recording the result, so no other sender can take it mid-send."""
    return deadline_s + max(10.0, deadline_s)
