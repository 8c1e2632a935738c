"""Contract: the callback outbox (claim, lease, retry, give up), on both backends."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stillmotion.store import Delivery, NewDelivery, NewJob, Store


def _finished_with_hooks(store: Store, make_job: Callable[..., NewJob], *urls: str) -> str:
    new = make_job()
    store.claim("w", 30)
    hooks = [NewDelivery(url, "job") for url in urls]
    assert store.finish(new.id, "w", {"videos": []}, {}, hooks)
    return new.id


def test_delivered_on_first_try(store: Store, make_job: Callable[..., NewJob]) -> None:
    job_id = _finished_with_hooks(store, make_job, "https://a/cb")
    delivery = store.claim_delivery("sender-1", 30)
    assert isinstance(delivery, Delivery)
    assert (delivery.job_id, delivery.url, delivery.kind) == (job_id, "https://a/cb", "job")
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at.tzinfo is not None and delivery.created_at.tzinfo is not None
    assert store.claim_delivery("sender-2", 30) is None  # leased to sender-1
    store.delivery_result(delivery.id, True, 200, None, None)
    [done] = store.deliveries(job_id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 200)
    assert store.claim_delivery("sender-1", 30) is None


def test_retry_then_give_up(store: Store, make_job: Callable[..., NewJob]) -> None:
    job_id = _finished_with_hooks(store, make_job, "https://a/cb")
    first = store.claim_delivery("s", 30)
    assert first is not None
    retry_at = datetime.now(UTC) + timedelta(seconds=0.2)
    store.delivery_result(first.id, False, 503, "Service Unavailable", retry_at)
    [pending] = store.deliveries(job_id)
    assert (pending.status, pending.attempts, pending.last_status_code) == ("pending", 1, 503)
    assert pending.last_error == "Service Unavailable"
    assert abs(pending.next_attempt_at - retry_at) < timedelta(milliseconds=1)
    assert store.claim_delivery("s", 30) is None  # not due yet
    time.sleep(0.3)
    second = store.claim_delivery("s", 30)
    assert second is not None and second.id == first.id and second.attempts == 1
    store.delivery_result(second.id, False, None, "connection refused", None)
    [failed] = store.deliveries(job_id)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.last_error == "connection refused"
    assert store.claim_delivery("s", 30) is None
    store.delivery_result(failed.id, True, 200, None, None)  # late answer: ignored
    assert store.deliveries(job_id)[0].status == "failed"


def test_expired_lease_makes_a_delivery_claimable_again(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    job_id = _finished_with_hooks(store, make_job, "https://a/cb", "https://b/cb")
    a = store.claim_delivery("dead-sender", 0.2)
    b = store.claim_delivery("dead-sender", 0.2)
    assert a and b and {a.url, b.url} == {"https://a/cb", "https://b/cb"}
    assert store.claim_delivery("live-sender", 30) is None
    time.sleep(0.3)
    again = [store.claim_delivery("live-sender", 30) for _ in range(3)]
    assert sorted(d.id for d in again if d) == sorted([a.id, b.id]) and again[2] is None
    assert len(store.deliveries(job_id)) == 2


def test_naive_retry_time_is_taken_as_utc(store: Store, make_job: Callable[..., NewJob]) -> None:
    job_id = _finished_with_hooks(store, make_job, "https://a/cb")
    d = store.claim_delivery("s", 30)
    assert d is not None
    naive = datetime(2030, 1, 2, 3, 4, 5, 600)
    store.delivery_result(d.id, False, 500, "x", naive)
    assert store.deliveries(job_id)[0].next_attempt_at == naive.replace(tzinfo=UTC)
