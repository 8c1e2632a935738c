"""Contract: balances, idempotency, running caps, off-peak, webhook events, retention, listing,
identical on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import update

from stillmotion.domain import JobStatus
from stillmotion.errors import Conflict, CreditInsufficient
from stillmotion.store import NewDelivery, NewJob, Store
from stillmotion.store.engine import write_tx
from stillmotion.store.listing import JobFilter
from stillmotion.store.tables import idempotency, jobs
from tests.helpers import race


def new_job(owner: str, amount: str = "0.10", **extra: object) -> NewJob:
    fields: dict[str, object] = {
        "id": f"job-{uuid4().hex[:12]}", "owner": owner, "model": "vidu-q3-turbo-i2v", "dialect": "v1",
        "engine": "motion", "amount": Decimal(amount), "args": {}, "spec": {"num_frames": 24}, "seed": 1,
    }
    fields.update(extra)
    return NewJob(**fields)  # type: ignore[arg-type]


def test_metered_key_is_charged_and_refused_when_short(store: Store) -> None:
    key = store.add_key("metered", "h1", balance=Decimal("0.25"), webhook_secret="whsec_x")
    rec = store.get_key(key)
    assert rec is not None and rec.balance == Decimal("0.25") and rec.webhook_secret == "whsec_x"
    first = store.create_job(new_job(key, "0.20"))
    assert store.balance(key) == Decimal("0.05")
    with pytest.raises(CreditInsufficient):
        store.create_job(new_job(key, "0.10"))
    assert [j.id for j in store.list_jobs(key)] == [first.id]  # the refused job was not stored
    assert [ln.kind for ln in store.ledger(key)] == ["charge"]
    assert store.cancel(first.id) is not None
    assert store.balance(key) == Decimal("0.25")  # the refund went back onto the balance
    assert [ln.kind for ln in store.ledger(key)] == ["charge", "refund"]
    assert store.balance("env-unlimited") is None
    store.create_job(new_job("env-unlimited", "99.00"))  # no stored balance: unlimited


def test_concurrent_creates_never_overdraw(open_store: Callable[..., Store]) -> None:
    stores = [open_store() for _ in range(4)]  # like four API processes
    key = stores[0].add_key("small", "h2", balance=Decimal("1.00"))
    made: list[str] = []

    def submit(i: int) -> None:
        try:
            made.append(stores[i % 4].create_job(new_job(key, "0.15")).id)
        except CreditInsufficient:
            pass

    assert race(50, submit) == []
    assert len(made) == 6  # 6 * 0.15 = 0.90; a 7th would overdraw
    assert stores[0].balance(key) == Decimal("0.10")
    assert len(stores[0].ledger(key)) == 6


def test_idempotency_key_replays_and_conflicts(store: Store) -> None:
    first = store.create_job(new_job("o", idempotency_key="k1", request_hash="h"))
    again = store.create_job(new_job("o", idempotency_key="k1", request_hash="h"))
    assert again.id == first.id and len(store.ledger("o")) == 1
    assert store.find_idempotent("o", "k1", "h") == first
    with pytest.raises(Conflict) as err:
        store.create_job(new_job("o", idempotency_key="k1", request_hash="other"))
    assert err.value.field == "Idempotency-Key"
    other_owner = store.create_job(new_job("p", idempotency_key="k1", request_hash="h"))
    assert other_owner.id != first.id  # keys are per owner
    with write_tx(store._engine) as conn:  # the 24 h window passes
        conn.execute(update(idempotency).values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    assert store.find_idempotent("o", "k1", "h") is None
    fresh = store.create_job(new_job("o", idempotency_key="k1", request_hash="other"))
    assert fresh.id != first.id
    assert store.forget_idempotency_keys() == 1  # p's expired row; o's row is new


def test_concurrent_creates_with_one_key_make_one_job(open_store: Callable[..., Store]) -> None:
    stores = [open_store() for _ in range(4)]
    ids: list[str] = []
    errors = race(8, lambda i: ids.append(
        stores[i % 4].create_job(new_job("o", idempotency_key="same", request_hash="h")).id))
    assert errors == [] and len(set(ids)) == 1 and len(ids) == 8
    assert len(stores[0].list_jobs("o")) == 1 and len(stores[0].ledger("o")) == 1


def test_claim_honours_running_caps_and_off_peak(store: Store) -> None:
    capped = store.add_key("capped", "h3", max_running=1)
    a1 = store.create_job(new_job(capped))
    a2 = store.create_job(new_job(capped))
    b1 = store.create_job(new_job("other"))
    off = store.create_job(new_job("other", off_peak=True))
    first = store.claim("w", 30, default_cap=0)
    second = store.claim("w", 30, default_cap=0)
    assert first is not None and second is not None
    assert (first.id, second.id) == (a1.id, b1.id)  # a2 waits: its key runs one already
    assert store.claim("w", 30, off_peak=False, default_cap=0) is None  # outside the window
    third = store.claim("w", 30, default_cap=0)
    assert third is not None and third.id == off.id
    assert store.claim("w", 30, default_cap=0) is None
    assert store.cancel(a1.id) is not None
    last = store.claim("w", 30, default_cap=0)
    assert last is not None and last.id == a2.id
    assert store.job_status(a2.id) is JobStatus.PROCESSING


def test_default_cap_applies_to_keys_without_their_own(store: Store) -> None:
    for _ in range(3):
        store.create_job(new_job("env-x"))
    assert store.claim("w", 30, default_cap=2) is not None
    assert store.claim("w", 30, default_cap=2) is not None
    assert store.claim("w", 30, default_cap=2) is None


def test_native_webhook_events_follow_the_filter(store: Store) -> None:
    everything = store.create_job(new_job("o", callback_url="https://h/a",
                                          webhook_events=("start", "progress", "completed")))
    start_only = store.create_job(new_job("o", callback_url="https://h/b", webhook_events=("start",)))
    for job in (everything, start_only):
        assert store.claim("w", 30) is not None
        assert store.heartbeat(job.id, "w", 30, 5, 9)  # no 10 % step crossed
        assert store.heartbeat(job.id, "w", 30, 25, 7)  # crossed 10 and 20: one event
        assert store.finish(job.id, "w", {"video": "v"}, {}, [NewDelivery(job.callback_url or "", "v1")])
    events = [(d.event, d.payload) for d in store.deliveries(everything.id)]
    assert events == [("start", None), ("progress", {"progress": 25, "eta": 7}), ("completed", None)]
    assert [d.event for d in store.deliveries(start_only.id)] == ["start"]


def test_delivery_history_is_the_log(store: Store) -> None:
    job = store.create_job(new_job("o"))
    store.claim("w", 30)
    store.finish(job.id, "w", {}, {}, [NewDelivery("https://h/c", "job")])
    for status in (500, 502):
        d = store.claim_delivery("s", 30)
        assert d is not None
        store.delivery_result(d.id, False, status, f"HTTP {status}", datetime.now(UTC) - timedelta(seconds=1))
    d = store.claim_delivery("s", 30)
    assert d is not None
    store.delivery_result(d.id, True, 200, None, None)
    [done] = store.deliveries(job.id)
    assert done.status == "delivered" and done.attempts == 3
    assert [h["status_code"] for h in done.history] == [500, 502, 200]


def test_stale_off_peak_jobs_are_canceled_and_refunded(store: Store) -> None:
    old = store.create_job(new_job("o", off_peak=True, callback_url="https://h/d"))
    young = store.create_job(new_job("o", off_peak=True))
    normal = store.create_job(new_job("o"))
    with write_tx(store._engine) as conn:
        conn.execute(update(jobs).where(jobs.c.id.in_([old.id, normal.id]))
                     .values(created_at=datetime.now(UTC) - timedelta(hours=49)))
    hooks = lambda job: [NewDelivery(job.callback_url, job.dialect)] if job.callback_url else []  # noqa: E731
    assert store.expire_off_peak(48 * 3600, hooks) == [old.id]
    expired = store.get_job(old.id)
    assert expired is not None and expired.status is JobStatus.CANCELED and expired.refunded
    assert expired.error_code == "OffPeakExpired"
    assert [d.url for d in store.deliveries(old.id)] == ["https://h/d"]
    assert store.job_status(young.id) is JobStatus.QUEUED and store.job_status(normal.id) is JobStatus.QUEUED


def test_retention_marks_purged_jobs_and_keeps_them(store: Store) -> None:
    job = store.create_job(new_job("o"))
    store.claim("w", 30)
    store.finish(job.id, "w", {"video": "outputs/x/video.mp4"}, {"k": 1})
    assert store.purge_candidates(3600) == []
    assert store.purge_candidates(0) == [job.id]
    assert store.mark_purged(job.id) and not store.mark_purged(job.id)
    assert store.purge_candidates(0) == []
    kept = store.get_job(job.id)
    assert kept is not None and kept.status is JobStatus.SUCCEEDED
    assert kept.metadata["k"] == 1 and "files_deleted_at" in kept.metadata


def test_listing_filters_and_cursor(store: Store) -> None:
    made = [store.create_job(new_job("o", model="m-a" if i % 2 else "m-b")) for i in range(7)]
    store.create_job(new_job("someone-else"))
    newest_first = [j.id for j in reversed(made)]
    pages, after = [], None
    while True:
        page = store.list_jobs("o", limit=3, filters=JobFilter(after=after))
        if not page:
            break
        pages.append([j.id for j in page])
        after = (page[-1].created_at, page[-1].id)
    assert sum(pages, []) == newest_first and [len(p) for p in pages] == [3, 3, 1]
    only_a = store.list_jobs("o", filters=JobFilter(models=("m-a",)))
    assert {j.model for j in only_a} == {"m-a"} and len(only_a) == 3
    store.cancel(made[0].id)
    canceled = store.list_jobs("o", filters=JobFilter(statuses=(JobStatus.CANCELED,)))
    assert [j.id for j in canceled] == [made[0].id]
    later = store.list_jobs("o", filters=JobFilter(created_after=made[3].created_at))
    assert [j.id for j in later] == newest_first[:4]
    earlier = store.list_jobs("o", filters=JobFilter(created_before=made[3].created_at))
    assert [j.id for j in earlier] == newest_first[4:]


def test_key_settings_update(store: Store) -> None:
    key = store.add_key("k", "h9")
    assert store.update_key(key, balance=Decimal("5"), rate_per_min=10, max_running=2)
    rec = store.get_key(key)
    assert rec is not None and (rec.balance, rec.rate_per_min, rec.max_running) == (Decimal("5"), 10, 2)
    assert store.update_key(key, balance=None) and store.balance(key) is None
    assert not store.update_key("nope", balance=Decimal("1"))
