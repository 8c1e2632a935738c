"""Contract: claims, leases, heartbeats, the reaper and final transitions, on both backends."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from stillmotion.domain import Job, JobStatus
from stillmotion.store import NewDelivery, NewJob, ReapResult, Store
from tests.helpers import race

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, which the test expects to be there."""
    assert value is not None
    return value


LEASE = 0.2  # seconds; tests wait a little longer than this for a lease to lapse


def _expire() -> None:
    time.sleep(LEASE + 0.1)


def test_claim_leases_the_job(store: Store, make_job: Callable[..., NewJob]) -> None:
    new = make_job()
    job = store.claim("w1", 30)
    assert job is not None and job.id == new.id
    assert job.status is JobStatus.PROCESSING and job.attempts == 1 and job.progress == 0
    assert isinstance(job.started_at, datetime) and job.started_at.tzinfo is not None
    assert job.started_at >= job.created_at
    assert must(store.get_job(new.id)) == job
    assert store.claim("w2", 30) is None


def test_every_job_is_claimed_exactly_once_under_concurrency(
    store: Store, make_job: Callable[..., NewJob], open_store: Callable[..., Store]
) -> None:
    made = {make_job().id for _ in range(50)}
    workers = [open_store() for _ in range(8)]
    claimed: list[list[Job]] = [[] for _ in workers]

    def work(i: int) -> None:
        while (job := workers[i].claim(f"w{i}", 30)) is not None:
            claimed[i].append(job)

    assert race(len(workers), work) == []
    ids = [job.id for jobs in claimed for job in jobs]
    assert len(ids) == 50 and set(ids) == made
    assert all(job.attempts == 1 for jobs in claimed for job in jobs)
    for i, jobs in enumerate(claimed):  # each job is leased to the worker that got it
        for job in jobs:
            assert store.heartbeat(job.id, f"w{i}", 30, 1, None)
    assert store.queue_stats()["processing"] == 50


def test_claim_order_is_created_at_with_off_peak_last(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    # ids sort against creation order, so only created_at can explain the claim order
    late = make_job(id="a-off-peak", off_peak=True)
    first = make_job(id="z-first")
    second = make_job(id="y-second")
    claimed = [must(store.claim("w", 30)).id for _ in range(3)]
    assert claimed == [first.id, second.id, late.id]


def test_claim_filters_by_engine(store: Store, make_job: Callable[..., NewJob]) -> None:
    gpu = make_job(engine="diffusers")
    assert store.claim("w", 30) is None
    assert store.claim("w", 30, engines=()) is None
    assert must(store.claim("w", 30, engines="diffusers")).id == gpu.id
    cpu = make_job(engine="motion")
    assert must(store.claim("w", 30, engines=["diffusers", "motion"])).id == cpu.id


def test_heartbeat_extends_the_lease_and_records_progress(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job()
    store.claim("w1", LEASE)
    assert store.heartbeat(new.id, "w1", 30, 40, 3) is True
    _expire()  # past the first lease, well inside the extended one
    assert store.reap(max_attempts=3).requeued == []
    job = must(store.get_job(new.id))
    assert job.status is JobStatus.PROCESSING and job.progress == 40 and job.eta == 3
    assert store.heartbeat(new.id, "w2", 30, 50, 2) is False  # not the holder
    assert store.heartbeat("unknown", "w1", 30, 50, 2) is False


def test_heartbeat_fails_once_the_lease_is_lost(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job()
    store.claim("w1", LEASE)
    _expire()
    assert store.reap(max_attempts=3).requeued == [new.id]
    assert store.heartbeat(new.id, "w1", 30, 10, None) is False
    assert store.finish(new.id, "w1", {}, {}) is False
    assert must(store.claim("w2", 30)).id == new.id
    assert store.heartbeat(new.id, "w1", 30, 10, None) is False


def test_expired_lease_is_requeued_and_next_claim_counts_an_attempt(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job()
    store.claim("w1", LEASE)
    store.heartbeat(new.id, "w1", LEASE, 55, 9)
    assert store.reap(max_attempts=3).requeued == []  # lease still running
    _expire()
    result = store.reap(max_attempts=3)
    assert result.requeued == [new.id] and result.failed == []
    job = must(store.get_job(new.id))
    assert job.status is JobStatus.QUEUED and job.progress == 0 and job.eta is None
    assert job.attempts == 1 and job.refunded is False
    again = store.claim("w2", 30)
    assert again is not None and again.id == new.id and again.attempts == 2
    assert again.started_at == job.started_at


def test_exhausted_attempts_fail_and_refund_once_with_racing_reapers(
    store: Store, make_job: Callable[..., NewJob], open_store: Callable[..., Store]
) -> None:
    made = [make_job(owner="racer", callback_url=f"https://hook/{i}") for i in range(6)]
    # Two runs die. A negative lease is already over, so no need to wait for it to lapse.
    while store.claim("w", -1) is not None:
        pass
    assert sorted(store.reap(max_attempts=2).requeued) == sorted(n.id for n in made)
    while store.claim("w", -1) is not None:
        pass
    reapers = [open_store() for _ in range(4)]
    results: list[ReapResult] = []

    def deliveries_for(job: Job) -> list[NewDelivery]:
        return [NewDelivery(job.callback_url, "job")] if job.callback_url else []

    def reap(i: int) -> None:
        results.append(reapers[i].reap(max_attempts=2, deliveries=deliveries_for))

    assert race(len(reapers), reap) == []
    failed = [job_id for r in results for job_id in r.failed]
    assert sorted(failed) == sorted(n.id for n in made)
    assert all(r.requeued == [] for r in results)
    for new in made:
        job = must(store.get_job(new.id))
        assert job.status is JobStatus.FAILED and job.error_code == "AttemptsExhausted"
        assert job.refunded is True and job.finished_at is not None
        assert [(d.url, d.kind) for d in store.deliveries(new.id)] == [(new.callback_url, "job")]
    kinds = [line.kind for line in store.ledger("racer")]
    assert kinds.count("charge") == 6 and kinds.count("refund") == 6
    assert store.ledger_total("racer") == 0
    assert store.reap(max_attempts=2).failed == []


def test_finish_is_guarded_by_the_lease_owner(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job(metadata={"from_submit": 1})
    store.claim("w1", 30)
    assert store.finish(new.id, "w2", {"videos": []}, {}) is False
    result = {"videos": [{"url": "http://x/v.mp4", "duration": 5}]}
    hooks = [NewDelivery("https://a/cb", "job"), NewDelivery("https://b/cb", "async")]
    assert store.finish(new.id, "w1", result, {"render_s": 1.5}, hooks) is True
    job = must(store.get_job(new.id))
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100
    assert job.result == result and job.metadata == {"from_submit": 1, "render_s": 1.5}
    assert job.finished_at is not None and job.finished_at >= job.started_at
    assert [(d.url, d.kind, d.status) for d in store.deliveries(new.id)] == [
        ("https://a/cb", "job", "pending"),
        ("https://b/cb", "async", "pending"),
    ]
    assert store.finish(new.id, "w1", {}, {}) is False
    assert store.fail(new.id, None, "X", "late") is False
    assert [line.kind for line in store.ledger(new.owner)] == ["charge"]


def test_fail_is_guarded_and_refunds_once(store: Store, make_job: Callable[..., NewJob]) -> None:
    new = make_job(owner="f", amount=Decimal("0.12"))
    store.claim("w1", 30)
    assert store.fail(new.id, "w2", "GenerationFailure", "nope") is False
    hook = [NewDelivery("https://a/cb", "job")]
    assert store.fail(new.id, "w1", "GenerationFailure", "engine crashed", hook, {"step": 3})
    job = must(store.get_job(new.id))
    assert job.status is JobStatus.FAILED and job.refunded is True
    assert (job.error_code, job.error_message) == ("GenerationFailure", "engine crashed")
    assert job.metadata == {"step": 3} and len(store.deliveries(new.id)) == 1
    assert store.fail(new.id, None, "X", "again") is False
    assert store.fail(new.id, "w1", "X", "again") is False
    refunds = [ln for ln in store.ledger("f") if ln.kind == "refund"]
    assert [(r.job_id, str(r.amount)) for r in refunds] == [(new.id, "0.12")]
    # worker_id None also fails a job nobody has claimed yet
    queued = make_job(owner="f")
    assert store.fail(queued.id, None, "ImageDownloadFailure", "404") is True
    assert must(store.get_job(queued.id)).status is JobStatus.FAILED
    assert store.ledger_total("f") == 0


def test_release_puts_the_job_back_without_counting_the_attempt(
    store: Store, make_job: Callable[..., NewJob]
) -> None:
    new = make_job()
    store.claim("w1", 30)
    store.heartbeat(new.id, "w1", 30, 70, 1)
    assert store.release(new.id, "w2") is False
    assert store.release(new.id, "w1") is True
    job = must(store.get_job(new.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.progress == 0
    assert store.release(new.id, "w1") is False
    assert store.queue_position(new.id) == 0
    assert must(store.claim("w2", 30)).attempts == 1


def test_cancel(store: Store, make_job: Callable[..., NewJob]) -> None:
    running = make_job(owner="c")
    assert must(store.claim("w1", 30)).id == running.id
    queued = make_job(owner="c")
    canceled = store.cancel(queued.id, [NewDelivery("https://a/cb", "job")])
    assert canceled is not None and canceled.status is JobStatus.CANCELED and canceled.refunded
    assert len(store.deliveries(queued.id)) == 1
    assert must(store.cancel(running.id)).status is JobStatus.CANCELED
    assert store.heartbeat(running.id, "w1", 30, 50, 1) is False
    assert store.finish(running.id, "w1", {}, {}) is False
    assert store.cancel(running.id) is None and store.cancel("unknown") is None
    assert store.ledger_total("c") == 0 and len(store.ledger("c")) == 4


def test_queue_position(store: Store, make_job: Callable[..., NewJob]) -> None:
    off = make_job(off_peak=True)
    a = make_job()
    b = make_job()
    other_engine = make_job(engine="diffusers")
    assert [store.queue_position(j.id) for j in (a, b, off)] == [0, 1, 2]
    assert store.queue_position(other_engine.id) == 0
    store.claim("w", 30)
    assert store.queue_position(a.id) is None
    assert [store.queue_position(j.id) for j in (b, off)] == [0, 1]
    assert store.queue_position("unknown") is None
