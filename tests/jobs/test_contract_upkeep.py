"""Contract: callbacks queued with every final state, the outbox, upkeep (reaper, off-peak
expiry, retention), stats, and a random walk checked against TRANSITIONS and against memory."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stillmotion.jobs import ClaimRules, Database, FailureCode, Job, JobStatus, RetryPolicy
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.runtime import Runtime
from stillmotion.settings import Settings
from stillmotion.worker import Worker

from .support import LEASE, Clock, FakeClock, assert_moves, must, new_job

ANY = ClaimRules()
MOTION = ("motion",)


def claim(db: Database, worker: str = "w", lease_s: float = 30) -> Job | None:
    return db.jobs.claim(worker, lease_s, MOTION, ANY)


# -- a final callback with every final state ----------------------------------------------------

# (dialect, webhook_events, callback): each job made once per way of ending
HOOKED = [
    ("job", None, True),
    ("async", None, True),
    ("v1", None, True),  # no filter stored: the final event only
    ("v1", ("start", "completed"), True),
    ("v1", ("start", "progress"), True),  # asked for no final event
    ("job", None, False),  # no callback_url: nothing queued
]
CLAIMED_PATHS = {"finish", "fail_worker", "cancel_running", "reap_fail"}


def _end_all(db: Database, clock: Clock, path: str, jobs: list[Job]) -> None:
    """Bring every job to a final state along `path`, each move checked."""
    if path == "expire":
        clock.wait_past(LEASE)
        assert sorted(db.jobs.expire_off_peak(LEASE)) == sorted(j.id for j in jobs)
        return
    if path == "reap_fail":
        for job in jobs:
            assert must(claim(db, "dead", -1)).id == job.id
        assert sorted(db.jobs.reap(RetryPolicy(max_attempts=1)).failed) == sorted(j.id for j in jobs)
        return
    for job in jobs:
        if path in CLAIMED_PATHS:
            assert must(claim(db, "w")).id == job.id
        ok = {
            "finish": lambda: db.jobs.finish(job.id, "w", {"video": "v"}, {}),
            "fail_worker": lambda: db.jobs.fail(job.id, "w", FailureCode.GENERATION_FAILURE, "no"),
            "fail_service": lambda: db.jobs.fail(job.id, None, FailureCode.IMAGE_DOWNLOAD_FAILURE, "404"),
            "cancel_queued": lambda: db.jobs.cancel(job.id) is not None,
            "cancel_running": lambda: db.jobs.cancel(job.id) is not None,
        }[path]()
        assert ok


FINAL_OF = {
    "finish": JobStatus.SUCCEEDED, "fail_worker": JobStatus.FAILED, "fail_service": JobStatus.FAILED,
    "cancel_queued": JobStatus.CANCELED, "cancel_running": JobStatus.CANCELED, "reap_fail": JobStatus.FAILED,
    "expire": JobStatus.CANCELED,
}


@pytest.mark.parametrize("path", list(FINAL_OF))
def test_every_final_state_queues_the_callbacks_the_job_asked_for(db: Database, clock: Clock, path: str) -> None:
    jobs = [
        db.jobs.create(new_job(dialect=d, webhook_events=ev, callback_url=f"https://h/{i}" if hooked else None,
                               off_peak=path == "expire"))
        for i, (d, ev, hooked) in enumerate(HOOKED)
    ]
    _end_all(db, clock, path, jobs)
    claimed = path in CLAIMED_PATHS
    start = ["start"] if claimed else []
    expected = [["completed"], ["completed"], ["completed"], [*start, "completed"], start, []]
    for job, want in zip(jobs, expected, strict=True):
        final = must(db.jobs.get(job.id))
        assert final.status is FINAL_OF[path]
        assert final.refunded is (final.status is not JobStatus.SUCCEEDED)
        sent = db.outbox.for_job(job.id)
        assert [d.event for d in sent] == want, (job.dialect, job.webhook_events)
        assert all((d.url, d.kind, d.status) == (job.callback_url, job.dialect, "pending") for d in sent)


# -- the outbox ---------------------------------------------------------------------------------


def _finished_with_hook(db: Database, *urls: str) -> list[str]:
    ids = []
    for url in urls:
        job = db.jobs.create(new_job(callback_url=url))
        must(claim(db))
        assert db.jobs.finish(job.id, "w", {"videos": []}, {})
        ids.append(job.id)
    return ids


def test_delivered_on_first_try(db: Database) -> None:
    [job_id] = _finished_with_hook(db, "https://a/cb")
    delivery = must(db.outbox.claim("sender-1", 30))
    assert (delivery.job_id, delivery.url, delivery.kind, delivery.event) == (job_id, "https://a/cb", "job", "completed")
    assert delivery.status == "pending" and delivery.attempts == 0 and delivery.history == []
    assert delivery.payload is None and delivery.last_status_code is None and delivery.last_error is None
    assert delivery.next_attempt_at.tzinfo is not None and delivery.created_at.tzinfo is not None
    assert db.outbox.claim("sender-2", 30) is None  # leased to sender-1
    assert db.outbox.record(delivery.id, True, 200, None, None) is True
    [done] = db.outbox.for_job(job_id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 200)
    assert [h["status_code"] for h in done.history] == [200] and done.history[0]["at"].endswith("Z")
    assert db.outbox.claim("sender-1", 30) is None
    assert db.outbox.record(delivery.id, True, 200, None, None) is False  # already delivered
    assert db.outbox.record(10**9, True, 200, None, None) is False
    assert db.outbox.for_job("unknown") == []


def test_postponed_unsent_counts_no_attempt(db: Database, clock: Clock) -> None:
    [job_id] = _finished_with_hook(db, "https://a/cb")
    delivery = must(db.outbox.claim("s", 30))
    assert db.outbox.postpone(delivery.id, "other-sender", clock.now()) is False  # not its lease
    assert db.outbox.postpone(delivery.id, "s", clock.now() + timedelta(seconds=LEASE)) is True
    [waiting] = db.outbox.for_job(job_id)
    assert (waiting.status, waiting.attempts, waiting.history) == ("pending", 0, [])
    assert db.outbox.claim("s2", 30) is None  # not due yet, though its lease was given back
    clock.wait_past(LEASE)
    again = must(db.outbox.claim("s2", 30))
    assert again.id == delivery.id and again.attempts == 0


def test_retry_then_give_up(db: Database, clock: Clock) -> None:
    [job_id] = _finished_with_hook(db, "https://a/cb")
    first = must(db.outbox.claim("s", 30))
    retry_at = clock.now() + timedelta(seconds=LEASE)
    assert db.outbox.record(first.id, False, 503, "Service Unavailable", retry_at)
    [pending] = db.outbox.for_job(job_id)
    assert (pending.status, pending.attempts, pending.last_status_code) == ("pending", 1, 503)
    assert pending.last_error == "Service Unavailable"
    assert abs(pending.next_attempt_at - retry_at) < timedelta(milliseconds=1)
    assert db.outbox.claim("s", 30) is None  # not due yet
    clock.wait_past(LEASE)
    second = must(db.outbox.claim("s", 30))
    assert second.id == first.id and second.attempts == 1
    assert db.outbox.record(second.id, False, None, "connection refused", None)
    [failed] = db.outbox.for_job(job_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "connection refused")
    assert [(h["status_code"], h["error"]) for h in failed.history] == [
        (503, "Service Unavailable"), (None, "connection refused"),
    ]
    assert db.outbox.claim("s", 30) is None
    assert db.outbox.record(failed.id, True, 200, None, None) is False  # a late answer is ignored
    assert db.outbox.for_job(job_id)[0].status == "failed"


def test_delivery_history_is_the_log_and_keeps_the_last_fifty(db: Database, clock: Clock) -> None:
    [job_id] = _finished_with_hook(db, "https://h/c")
    d = must(db.outbox.claim("s", 30))
    past = clock.now() - timedelta(seconds=1)
    for i in range(52):
        assert db.outbox.record(d.id, False, 500 + i, f"HTTP {500 + i}", past)
    assert must(db.outbox.claim("s", 30)).id == d.id  # due again
    assert db.outbox.record(d.id, True, 200, None, None)
    [done] = db.outbox.for_job(job_id)
    assert done.status == "delivered" and done.attempts == 53
    assert len(done.history) == 50
    assert [h["status_code"] for h in done.history] == [*range(503, 552), 200]


def test_an_expired_lease_makes_a_delivery_claimable_again(db: Database, clock: Clock) -> None:
    ids = _finished_with_hook(db, "https://a/cb", "https://b/cb")
    a = must(db.outbox.claim("dead-sender", LEASE))
    b = must(db.outbox.claim("dead-sender", LEASE))
    assert {a.url, b.url} == {"https://a/cb", "https://b/cb"}
    assert db.outbox.claim("live-sender", 30) is None
    clock.wait_past(LEASE)
    again = [db.outbox.claim("live-sender", 30) for _ in range(3)]
    assert sorted(d.id for d in again if d) == sorted([a.id, b.id]) and again[2] is None
    assert [len(db.outbox.for_job(i)) for i in ids] == [1, 1]


def test_a_naive_retry_time_is_taken_as_utc(db: Database) -> None:
    [job_id] = _finished_with_hook(db, "https://a/cb")
    d = must(db.outbox.claim("s", 30))
    naive = datetime(2030, 1, 2, 3, 4, 5, 600)
    assert db.outbox.record(d.id, False, 500, "x", naive)
    assert db.outbox.for_job(job_id)[0].next_attempt_at == naive.replace(tzinfo=UTC)
    assert db.outbox.claim("s", 30) is None  # due in 2030


# -- upkeep -------------------------------------------------------------------------------------


def test_stale_off_peak_jobs_are_canceled_and_refunded(db: Database, clock: Clock) -> None:
    running = db.jobs.create(new_job(owner="o", off_peak=True))
    assert must(claim(db)).id == running.id  # a claim won: not expired
    old = db.jobs.create(new_job(owner="o", off_peak=True, callback_url="https://h/d", dialect="async"))
    normal = db.jobs.create(new_job(owner="o"))
    clock.wait_past(5 * LEASE)  # old is past the age below; young stays well inside it on a busy machine
    young = db.jobs.create(new_job(owner="o", off_peak=True))
    assert db.jobs.expire_off_peak(3 * LEASE) == [old.id]
    expired = must(db.jobs.get(old.id))
    assert expired.status is JobStatus.CANCELED and expired.refunded and expired.finished_at is not None
    assert expired.error_code == FailureCode.OFF_PEAK_EXPIRED and expired.error_message
    assert [(d.url, d.kind, d.event) for d in db.outbox.for_job(old.id)] == [("https://h/d", "async", "completed")]
    assert [db.jobs.status(j.id) for j in (running, normal, young)] == [
        JobStatus.PROCESSING, JobStatus.QUEUED, JobStatus.QUEUED,
    ]
    assert [ln.kind for ln in db.accounts.ledger("o") if ln.job_id == old.id] == ["charge", "refund"]
    assert db.jobs.expire_off_peak(3 * LEASE) == []


def test_retention_marks_purged_jobs_and_keeps_them(db: Database) -> None:
    job = db.jobs.create(new_job(owner="o"))
    queued = db.jobs.create(new_job(owner="o"))
    must(claim(db))
    assert db.jobs.finish(job.id, "w", {"video": "outputs/x/video.mp4"}, {"k": 1})
    canceled = must(db.jobs.cancel(queued.id))
    running = db.jobs.create(new_job(owner="o"))
    must(claim(db))
    assert db.jobs.purge_candidates(3600) == []
    assert db.jobs.purge_candidates(0) == [job.id, canceled.id]  # oldest finished first; never open jobs
    assert db.jobs.purge_candidates(0, limit=1) == [job.id]
    assert db.jobs.mark_purged(job.id) and not db.jobs.mark_purged(job.id)
    assert not db.jobs.mark_purged("unknown")
    assert db.jobs.purge_candidates(0) == [canceled.id]
    kept = must(db.jobs.get(job.id))
    assert kept.status is JobStatus.SUCCEEDED and kept.purged is True
    assert kept.result == {"video": "outputs/x/video.mp4"}
    assert kept.metadata["k"] == 1
    stamp = kept.metadata["files_deleted_at"]
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") > datetime(2020, 1, 1)
    assert must(db.jobs.get(running.id)).purged is False


def test_stats_count_every_status(db: Database) -> None:
    assert db.jobs.stats() == {"queued": 0, "processing": 0, "succeeded": 0, "failed": 0, "canceled": 0, "depth": 0}
    a, b, c, d = (db.jobs.create(new_job()) for _ in range(4))
    for _ in range(3):
        must(claim(db))
    assert db.jobs.finish(a.id, "w", {}, {})
    assert db.jobs.fail(b.id, None, FailureCode.GENERATION_FAILURE, "boom")
    db.jobs.create(new_job())
    assert db.jobs.stats() == {"queued": 2, "processing": 1, "succeeded": 1, "failed": 1, "canceled": 0, "depth": 2}
    assert db.jobs.cancel(d.id) is not None and db.jobs.cancel(c.id) is not None
    assert db.jobs.stats()["canceled"] == 2 and db.jobs.stats()["processing"] == 0


def test_recent_run_seconds_newest_first(db: Database, clock: Clock) -> None:
    slow, quick, failed, third = (db.jobs.create(new_job()) for _ in range(4))
    must(claim(db))
    clock.wait_past(LEASE)
    assert db.jobs.finish(slow.id, "w", {}, {})
    must(claim(db))
    assert db.jobs.finish(quick.id, "w", {}, {})
    must(claim(db))
    assert db.jobs.fail(failed.id, "w", FailureCode.GENERATION_FAILURE, "x")  # not a run time
    assert db.jobs.recent_run_seconds() == db.jobs.recent_run_seconds(50)
    quick_s, slow_s = db.jobs.recent_run_seconds()
    assert 0 <= quick_s < LEASE <= slow_s < 10
    must(claim(db))
    assert db.jobs.finish(third.id, "w", {}, {})
    assert len(db.jobs.recent_run_seconds(2)) == 2 and db.jobs.recent_run_seconds(2)[1] == quick_s


# -- a shutdown that cannot wait ----------------------------------------------------------------


def test_shutdown_releases_a_job_whose_render_did_not_stop(db: Database, tmp_path: Path) -> None:
    made = db.jobs.create(new_job())
    runtime = Runtime(Settings(data_dir=tmp_path / "rt", shutdown_grace_s=0.1), db=db)
    worker = Worker(runtime.settings, db, runtime.artifacts)
    assert db.jobs.claim(worker.id, 60, MOTION, ANY) is not None
    stuck = threading.Event()
    thread = threading.Thread(target=stuck.wait, daemon=True)  # a render that ignores the stop
    thread.start()
    worker.current = db.jobs.get(made.id)
    runtime.workers.append((worker, thread))
    runtime.threads.append(thread)
    try:
        runtime.shutdown(timeout=0.2)
    finally:
        stuck.set()
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 0  # a release, not a failed attempt


def test_shutdown_leaves_a_finished_worker_alone(db: Database, tmp_path: Path) -> None:
    made = db.jobs.create(new_job())
    runtime = Runtime(Settings(data_dir=tmp_path / "rt"), db=db)
    worker = Worker(runtime.settings, db, runtime.artifacts)
    assert db.jobs.claim(worker.id, 60, MOTION, ANY) is not None
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    worker.current = db.jobs.get(made.id)  # its thread ended: nothing to rescue
    runtime.workers.append((worker, done))
    runtime.shutdown(timeout=0.2)
    assert must(db.jobs.get(made.id)).status is JobStatus.PROCESSING


# -- a random walk: every move allowed, every backend the same as memory ------------------------

WORKERS = ("w0", "w1", "w2")


def _walk(db: Database, seed: int, steps: int) -> list[Any]:
    """Random operations on a few jobs; returns what each did and every job's state after it.
    Each status change is checked against TRANSITIONS, and final states never move."""
    rng = random.Random(seed)
    ids: list[str] = []
    policy = RetryPolicy(max_attempts=2)
    rules = ClaimRules(default_cap=2)
    trace: list[Any] = []
    for step in range(steps):
        job_id = rng.choice(ids) if ids else "none"
        worker = rng.choice(WORKERS)
        op = rng.choice(["create", "create", "claim", "claim", "claim", "heartbeat", "finish", "fail",
                         "fail_any", "retry", "release", "cancel", "cancel", "reap", "reap", "expire"])
        now = db.jobs.watch(ids)
        before = {i: j.status for i, j in now.items()}
        held = sorted((j.id, j.lease_owner) for j in now.values() if j.lease_owner)
        if op in ("heartbeat", "finish", "fail", "retry", "release") and held and rng.random() < 0.8:
            job_id, owner_of = rng.choice(held)  # mostly the holder: moves that can succeed
            worker = must(owner_of)
        if op == "create":
            job_id = f"r-{step:03d}"
            owner = rng.choice(["alice", "bob"])
            out: Any = db.jobs.create(new_job(id=job_id, owner=owner, off_peak=rng.random() < 0.3,
                                              callback_url="https://h/x", dialect=rng.choice(["job", "v1"]),
                                              webhook_events=("start", "progress", "completed"))).id
            ids.append(job_id)
        elif op == "claim":
            got = db.jobs.claim(worker, rng.choice([30, -1]), MOTION, rules)
            out = None if got is None else (got.id, got.attempts)
        elif op == "heartbeat":
            out = db.jobs.heartbeat(job_id, worker, 30, rng.randrange(0, 101), 5)
        elif op == "finish":
            out = db.jobs.finish(job_id, worker, {"video": "v"}, {"step": step})
        elif op == "fail":
            out = db.jobs.fail(job_id, worker, FailureCode.GENERATION_FAILURE, "no")
        elif op == "fail_any":
            out = db.jobs.fail(job_id, None, FailureCode.IMAGE_DOWNLOAD_FAILURE, "404")
        elif op == "retry":
            out = db.jobs.retry(job_id, worker, 0, f"step {step}")
        elif op == "release":
            out = db.jobs.release(job_id, worker)
        elif op == "cancel":
            out = db.jobs.cancel(job_id) is not None
        elif op == "reap":
            r = db.jobs.reap(policy)
            out = (sorted(r.requeued), sorted(r.failed))
        else:
            out = sorted(db.jobs.expire_off_peak(0))
        jobs = db.jobs.watch(ids)
        assert_moves(before, {i: j.status for i, j in jobs.items()})
        trace.append((op, job_id, worker, out, sorted(
            (i, j.status.value, j.attempts, j.refunded, j.progress, j.lease_owner) for i, j in jobs.items()
        )))
    for owner in ("alice", "bob"):
        trace.append((owner, [(ln.job_id, ln.kind, ln.amount) for ln in db.accounts.ledger(owner)]))
    trace.append([(i, [(d.event, d.kind, d.payload) for d in db.outbox.for_job(i)]) for i in ids])
    return trace


@pytest.mark.parametrize("seed", [15, 16, 17])
def test_a_random_walk_follows_transitions_and_matches_memory(db: Database, seed: int) -> None:
    """Memory is the reference: each SQL backend must answer every operation the same way."""
    seen = _walk(db, seed, steps=100)
    reference = _walk(MemoryDatabase(clock=FakeClock()), seed, steps=100)
    for got, want in zip(seen, reference, strict=True):
        assert got == want
    done = {step[0] for step in seen if len(step) == 5 and step[3] not in (None, False, [], ([], []))}
    assert len(done) >= 8, done  # most kinds of move happened (each seed differs)
