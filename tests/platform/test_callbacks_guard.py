"""Webhook delivery: the address is checked at send time and the connection pinned to it, so a
DNS answer that changes after submit (rebinding) cannot reach an internal service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from standardwebhooks import Webhook

from stillmotion import callbacks
from stillmotion.callbacks import CallbackDispatcher, backoff_s, sign
from stillmotion.settings import Settings
from stillmotion.storage import LocalArtifactStore
from stillmotion.jobs import ClaimRules, NewJob
from stillmotion.store import Database

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def parts(tmp_path):
    settings = Settings(data_dir=tmp_path, allow_private_urls=False, callback_backoff_s=1.0)
    store = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    artifacts = LocalArtifactStore(tmp_path, b"s", "http://127.0.0.1:1")
    yield settings, store, artifacts
    store.close()


def finished_job(store: Database, url: str) -> None:
    store.jobs.create(NewJob("j1", "o", "vidu-q3-turbo-i2v", "job", "motion", Decimal("0.1"), {}, {}, 1, callback_url=url))
    store.jobs.claim("w", 30, ("motion",), ClaimRules())
    result = {"video": "outputs/j1/video.mp4", "cover": "outputs/j1/cover.jpg", "duration": 1, "width": 720,
              "height": 540, "fps": 24, "has_audio": False}
    store.jobs.finish("j1", "w", result, {})


def dispatcher(parts, handler) -> CallbackDispatcher:
    d = CallbackDispatcher(*parts, "cb-test", lambda owner: SECRET)
    d.client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    return d


def test_rebinding_to_a_private_address_is_refused_at_send_time(parts, monkeypatch):
    settings, store, _ = parts
    finished_job(store, "https://hooks.example.com/cb")
    monkeypatch.setattr(callbacks, "resolve_host", lambda host, port: ["10.0.0.7"])
    monkeypatch.setattr("stillmotion.media.netguard.resolve_host", lambda host, port: ["93.184.216.34"])
    sent: list[httpx.Request] = []
    d = dispatcher(parts, lambda request: sent.append(request) or httpx.Response(200))
    delivery = store.outbox.claim("cb-test", 30)
    assert delivery is not None
    d.deliver(delivery)
    [row] = store.outbox.for_job("j1")
    assert sent == [] and row.status == "failed" and "10.0.0.7" in (row.last_error or "")


def test_connection_is_pinned_to_the_checked_address_and_signed(parts, monkeypatch):
    _, store, _ = parts
    finished_job(store, "https://hooks.example.com/cb?x=1")
    monkeypatch.setattr(callbacks, "resolve_host", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr("stillmotion.media.netguard.resolve_host", lambda host, port: ["93.184.216.34"])
    sent: list[httpx.Request] = []
    d = dispatcher(parts, lambda request: sent.append(request) or httpx.Response(204))
    delivery = store.outbox.claim("cb-test", 30)
    assert delivery is not None
    d.deliver(delivery)
    [request] = sent
    assert request.url.host == "93.184.216.34" and request.url.query == b"x=1"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    body = Webhook(SECRET).verify(request.content, dict(request.headers))
    assert body["data"]["job_id"] == "j1"
    assert store.outbox.for_job("j1")[0].status == "delivered"


def test_redirect_is_a_failure_and_retried_later(parts, monkeypatch):
    _, store, _ = parts
    finished_job(store, "https://hooks.example.com/cb")
    monkeypatch.setattr(callbacks, "resolve_host", lambda host, port: ["93.184.216.34"])
    monkeypatch.setattr("stillmotion.media.netguard.resolve_host", lambda host, port: ["93.184.216.34"])
    d = dispatcher(parts, lambda request: httpx.Response(302, headers={"location": "http://127.0.0.1/"}))
    delivery = store.outbox.claim("cb-test", 30)
    assert delivery is not None
    d.deliver(delivery)
    [row] = store.outbox.for_job("j1")
    assert row.status == "pending" and row.last_status_code == 302 and row.next_attempt_at > datetime.now(UTC)


def test_signature_matches_the_reference_and_backoff_spans_an_hour():
    ts = int(datetime.now(UTC).timestamp())
    header = sign(SECRET, "msg_1", ts, b'{"a":1}')
    assert Webhook(SECRET).verify(b'{"a":1}', {"webhook-id": "msg_1", "webhook-timestamp": str(ts),
                                                 "webhook-signature": header}) == {"a": 1}
    settings = Settings()
    total = sum(backoff_s(n, settings.callback_backoff_s, rng=_Mid()) for n in range(1, settings.callback_max_attempts))
    assert 45 * 60 <= total <= 75 * 60


class _Mid:
    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2
