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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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


class CallbackDispatcher:
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
        self.client = httpx.Client(timeout=settings.callback_timeout_s, follow_redirects=False, trust_env=False)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delivery = self.db.outbox.claim(self.id, self.settings.callback_timeout_s + 10)
            except Exception:
                log.exception("claiming a delivery failed")
                stop.wait(1.0)
                continue
            if delivery is None:
                stop.wait(self.settings.poll_interval_s)
                continue
            self.deliver(delivery)
        self.client.close()

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
        try:
            response = self._post(delivery, owner, body)
            status = response.status_code
            if 200 <= status < 300:
                observability.WEBHOOK_ATTEMPTS.labels(delivery.kind, "delivered").inc()
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
            error = f"{type(exc).__name__}: {exc}"
        observability.WEBHOOK_ATTEMPTS.labels(delivery.kind, "failed").inc()
        observability.WEBHOOK_FAILURES.labels(delivery.kind).inc()
        attempt = delivery.attempts + 1
        retry_at = None
        if attempt < self.settings.callback_max_attempts:
            delay = backoff_s(attempt, self.settings.callback_backoff_s)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        log.warning("webhook %s for job %s failed (%s); retry at %s", delivery.id, delivery.job_id, error, retry_at)
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

    def _post(self, delivery: Delivery, owner: str, body: bytes) -> httpx.Response:
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
            request = self.client.build_request("POST", request_url, content=body, headers=headers,
                                                extensions=extensions)
            try:
                return self.client.send(request, follow_redirects=False)
            except httpx.ConnectError as exc:
                last = exc
        assert last is not None
        raise last
