"""Callback delivery from a durable outbox, with bounded retries and exponential backoff.

The outbox row is written in the same transaction as the job's final state, so a callback is
never promised for a state that was not stored, and a crash between the two loses nothing.
The body is built at send time from the stored job, exactly as the dialect's query returns it.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from stillmotion.errors import StillmotionError
from stillmotion.media.netguard import check_url
from stillmotion.presenters import callback_body
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.store import Delivery, Store

log = logging.getLogger("stillmotion.callbacks")


def backoff_s(attempt: int, base_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), with +-20% jitter."""
    jitter = (rng or random).uniform(0.8, 1.2)
    return base_s * (2 ** (attempt - 1)) * jitter


class CallbackDispatcher:
    def __init__(self, settings: Settings, store: Store, artifacts: ArtifactStore, wid: str) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.id = wid
        self.client = httpx.Client(timeout=settings.callback_timeout_s, follow_redirects=False, trust_env=False)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delivery = self.store.claim_delivery(self.id, self.settings.callback_timeout_s + 10)
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
        job = self.store.get_job(delivery.job_id)
        if job is None:
            self.store.delivery_result(delivery.id, False, None, "job no longer exists", None)
            return
        body = callback_body(delivery.kind, job, self.artifacts.sign, self.artifacts.ttl_s)
        status: int | None = None
        try:
            check_url(delivery.url, field="callback_url", settings=self.settings)
            response = self.client.post(
                delivery.url,
                content=orjson.dumps(body),
                headers={"content-type": "application/json", "user-agent": "stillmotion-callback"},
            )
            status = response.status_code
            if 200 <= status < 300:
                self.store.delivery_result(delivery.id, True, status, None, None)
                return
            error = f"HTTP {status}"
        except StillmotionError as exc:  # refused address: retrying will not help
            self.store.delivery_result(delivery.id, False, None, exc.message, None)
            return
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt = delivery.attempts + 1
        retry_at = None
        if attempt < self.settings.callback_max_attempts:
            delay = backoff_s(attempt, self.settings.callback_backoff_s)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        log.warning("callback %s for job %s failed (%s); retry at %s", delivery.id, job.id, error, retry_at)
        self.store.delivery_result(delivery.id, False, status, error, retry_at)
