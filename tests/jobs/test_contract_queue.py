"""Contract: claims, leases, heartbeats and the run's transitions, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from stillmotion.jobs import ClaimRules, Database, FailureCode, Job, JobStatus, RetryPolicy
from tests.helpers import race

from .support import LEASE, Clock, must
from .support import new_job as _new

ANY = ClaimRules()
MOTION = ("motion",)
POLICY = RetryPolicy(max_attempts=3)


def claim(db: Database, worker: str = "w", lease_s: float = 30, engines: tuple[str, ...] | str = MOTION,
          rules: ClaimRules = ANY) -> Job | None:
    return db.jobs.claim(worker, lease_s, engines, rules)


def test_claim_leases_the_job(db: Database, make_job: Callable[..., Job]) -> None:
    made = make_job()
    job = must(claim(db, "w1"))
    assert job.id == made.id and job.lease_owner == "w1"
    assert job.status is JobStatus.PROCESSING and job.attempts == 1 and job.progress == 0
    assert isinstance(job.started_at, datetime) and job.started_at.tzinfo is not None
    assert job.started_at >= job.created_at
    assert must(db.jobs.get(made.id)) == job
    assert db.jobs.status(made.id) is JobStatus.PROCESSING
    assert claim(db, "w2") is None


def test_every_job_is_claimed_exactly_once_under_concurrency(
    db: Database, make_job: Callable[..., Job], open_db: Callable[..., Database]
) -> None:
    made = {make_job().id for _ in range(40)}
    workers = [open_db() for _ in range(6)]  # SQL: own engines, like processes; memory: threads
    claimed: list[list[Job]] = [[] for _ in workers]

    def work(i: int) -> None:
        while (job := claim(workers[i], f"w{i}")) is not None:
            claimed[i].append(job)

    assert race(len(workers), work) == []
    ids = [job.id for jobs in claimed for job in jobs]
    assert len(ids) == 40 and set(ids) == made
    assert all(job.attempts == 1 for jobs in claimed for job in jobs)
    for i, jobs in enumerate(claimed):  # each job is leased to the worker that got it
        for job in jobs:
            assert db.jobs.heartbeat(job.id, f"w{i}", 30, 1, None)
    assert db.jobs.stats()["processing"] == 40


def test_claim_order_is_created_at_then_id_with_off_peak_last(
    db: Database, make_job: Callable[..., Job]
) -> None:
    # ids sort against creation order, so only created_at can explain the claim order
    late = make_job(id="a-off-peak", off_peak=True)
    first = make_job(id="z-first")
    second = make_job(id="y-second")
    assert [must(claim(db)).id for _ in range(3)] == [first.id, second.id, late.id]


def test_claim_filters_by_engine(db: Database, make_job: Callable[..., Job]) -> None:
    gpu = make_job(engine="diffusers")
    assert claim(db) is None
    assert claim(db, engines=()) is None
    assert must(claim(db, engines="diffusers")).id == gpu.id  # a bare name is one engine
    cpu = make_job(engine="motion")
    assert must(claim(db, engines=("diffusers", "motion"))).id == cpu.id


def test_claims_take_only_jobs_routed_to_weights_the_claimer_holds(
    db: Database, make_job: Callable[..., Job],
) -> None:
    gpu = ("diffusers", "motion")
    wan = make_job(engine="diffusers", route={"engine": "diffusers", "path": "/w/wan", "kind": "wan2.1-i2v"})
    ltx = make_job(engine="diffusers", route={"engine": "diffusers", "path": "/w/ltx", "kind": "ltx-video"})
    other = make_job(engine="diffusers", route={"engine": "diffusers", "path": "/w/none-has-it", "kind": "ltx-video"})
    plain = make_job(engine="motion")
    holds_ltx = ClaimRules(weights=frozenset({"/w/ltx"}))
    holds_wan = ClaimRules(weights=frozenset({"/w/wan"}))
    assert must(claim(db, "a", engines=gpu, rules=holds_ltx)).id == ltx.id  # passes the older wan job by
    assert must(claim(db, "b", engines=gpu, rules=holds_wan)).id == wan.id
    assert must(claim(db, "a", engines=gpu, rules=holds_ltx)).id == plain.id  # no route: anyone's
    assert claim(db, "a", engines=gpu, rules=holds_ltx) is None
    assert claim(db, "b", engines=gpu, rules=ClaimRules(weights=frozenset())) is None
    assert db.jobs.status(other.id) is JobStatus.QUEUED  # waits for a host with its weights, never failed
    assert must(claim(db, "c", engines=gpu)).id == other.id  # a claimer that names no weights takes anything


def test_claims_prefer_jobs_on_the_warm_weights(db: Database, make_job: Callable[..., Job]) -> None:
    both = ClaimRules(weights=frozenset({"/w/wan", "/w/ltx"}), warm="/w/ltx")
    wan = make_job(engine="diffusers", route={"path": "/w/wan"})
    ltx = make_job(engine="diffusers", route={"path": "/w/ltx"})
    assert must(claim(db, engines="diffusers", rules=both)).id == ltx.id  # the warm model first
    assert must(claim(db, engines="diffusers", rules=both)).id == wan.id


def test_key_running_cap_and_default_cap(db: Database) -> None:
    capped = db.accounts.add_key("capped", "h-cap", max_running=1)
    a1 = db.jobs.create(_new(owner=capped))
    a2 = db.jobs.create(_new(owner=capped))
    b1 = db.jobs.create(_new(owner="other"))
    first, second = must(claim(db)), must(claim(db))
    assert (first.id, second.id) == (a1.id, b1.id)  # a2 waits: its key runs one already
    assert claim(db) is None
    assert db.jobs.cancel(a1.id) is not None
    assert must(claim(db)).id == a2.id
    # keys without their own max_running get the default cap; 0 means none
    for _ in range(3):
        db.jobs.create(_new(owner="env-x"))
    two = ClaimRules(default_cap=2)
    assert claim(db, rules=two) is not None and claim(db, rules=two) is not None
    assert claim(db, rules=two) is None
    assert claim(db, rules=ClaimRules(default_cap=0)) is not None


def test_a_key_cap_overrides_the_default_cap(db: Database) -> None:
    roomy = db.accounts.add_key("roomy", "h-roomy", max_running=3)
    for _ in range(3):
        db.jobs.create(_new(owner=roomy))
    one = ClaimRules(default_cap=1)
    assert [claim(db, rules=one) is not None for _ in range(4)] == [True, True, True, False]


def _window(clock: Clock, start_h: float, end_h: float) -> str:
    """An "HH:MM-HH:MM" UTC window from `start_h` to `end_h` hours around the backend's now."""
    now = clock.now()
    fmt = "%H:%M"
    return f"{(now + timedelta(hours=start_h)).strftime(fmt)}-{(now + timedelta(hours=end_h)).strftime(fmt)}"


def test_off_peak_jobs_start_only_inside_the_window(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    off = make_job(off_peak=True)
    closed = ClaimRules(off_peak_window=_window(clock, 1, 2))
    open_now = ClaimRules(off_peak_window=_window(clock, -1, 1))
    assert claim(db, rules=closed) is None
    normal = make_job()
    assert must(claim(db, rules=closed)).id == normal.id  # normal jobs ignore the window
    assert must(claim(db, rules=open_now)).id == off.id


def test_heartbeat_extends_the_lease_and_records_progress(
    db: Database, make_job: Callable[..., Job], clock: Clock
) -> None:
    made = make_job()
    claim(db, "w1", LEASE)
    assert db.jobs.heartbeat(made.id, "w1", 30, 40, 3) is True
    clock.wait_past(LEASE)  # past the first lease, well inside the extended one
    assert db.jobs.reap(POLICY).requeued == []
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.PROCESSING and job.progress == 40 and job.eta == 3
    assert db.jobs.heartbeat(made.id, "w2", 30, 50, 2) is False  # not the holder
    assert db.jobs.heartbeat("unknown", "w1", 30, 50, 2) is False
    assert db.jobs.heartbeat(made.id, "w1", 30, 250, 1) and must(db.jobs.get(made.id)).progress == 100  # clamped
    assert db.jobs.heartbeat(made.id, "w1", 30, -5, 1) and must(db.jobs.get(made.id)).progress == 0


def test_heartbeat_fails_once_the_lease_is_lost(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    made = make_job()
    claim(db, "w1", LEASE)
    clock.wait_past(LEASE)
    assert db.jobs.reap(POLICY).requeued == [made.id]
    assert db.jobs.heartbeat(made.id, "w1", 30, 10, None) is False
    assert db.jobs.finish(made.id, "w1", {}, {}) is False
    assert must(claim(db, "w2")).id == made.id
    assert db.jobs.heartbeat(made.id, "w1", 30, 10, None) is False
    assert db.jobs.heartbeat(made.id, "w2", 30, 10, None) is True


def test_late_work_is_accepted_until_the_reaper_takes_the_job(
    db: Database, make_job: Callable[..., Job], clock: Clock
) -> None:
    made = make_job()
    claim(db, "w1", LEASE)
    clock.wait_past(LEASE)  # expired, but nobody else can have it yet
    assert db.jobs.heartbeat(made.id, "w1", 30, 60, 1) is True
    assert db.jobs.reap(POLICY).requeued == []
    assert db.jobs.finish(made.id, "w1", {"video": "v"}, {}) is True


def test_expired_lease_is_requeued_and_the_next_claim_counts_an_attempt(
    db: Database, make_job: Callable[..., Job], clock: Clock
) -> None:
    made = make_job()
    claim(db, "w1", LEASE)
    db.jobs.heartbeat(made.id, "w1", LEASE, 55, 9)
    assert db.jobs.reap(POLICY).requeued == []  # lease still running
    clock.wait_past(LEASE)
    result = db.jobs.reap(POLICY)
    assert result.requeued == [made.id] and result.failed == []
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.progress == 0 and job.eta is None
    assert job.attempts == 1 and job.refunded is False and job.lease_owner is None
    again = must(claim(db, "w2"))
    assert again.id == made.id and again.attempts == 2
    assert again.started_at == job.started_at  # the first start is kept


def test_exhausted_attempts_fail_and_refund_once_with_racing_reapers(
    db: Database, make_job: Callable[..., Job], open_db: Callable[..., Database]
) -> None:
    made = [make_job(owner="racer", callback_url=f"https://hook/{i}") for i in range(6)]
    # Two runs die. A negative lease is already over, so no need to wait for it to lapse.
    while claim(db, lease_s=-1) is not None:
        pass
    policy = RetryPolicy(max_attempts=2)
    assert sorted(db.jobs.reap(policy).requeued) == sorted(j.id for j in made)
    while claim(db, lease_s=-1) is not None:
        pass
    reapers = [open_db() for _ in range(4)]
    results = []
    assert race(len(reapers), lambda i: results.append(reapers[i].jobs.reap(policy))) == []
    failed = [job_id for r in results for job_id in r.failed]
    assert sorted(failed) == sorted(j.id for j in made)  # each one once, by one reaper
    assert all(r.requeued == [] for r in results)
    for new in made:
        job = must(db.jobs.get(new.id))
        assert job.status is JobStatus.FAILED and job.error_code == FailureCode.ATTEMPTS_EXHAUSTED
        assert job.refunded is True and job.finished_at is not None and job.attempts == 2
        assert [(d.url, d.kind, d.event) for d in db.outbox.for_job(new.id)] == [
            (new.callback_url, "job", "completed")
        ]
    kinds = [line.kind for line in db.accounts.ledger("racer")]
    assert kinds.count("charge") == 6 and kinds.count("refund") == 6
    assert db.accounts.ledger_total("racer") == 0
    assert db.jobs.reap(policy).failed == []


def test_finish_is_guarded_merges_metadata_and_queues_the_callback(
    db: Database, make_job: Callable[..., Job]
) -> None:
    made = make_job(metadata={"from_submit": 1}, callback_url="https://a/cb")
    claim(db, "w1")
    assert db.jobs.finish(made.id, "w2", {"videos": []}, {}) is False
    result = {"videos": [{"url": "http://x/v.mp4", "duration": 5}]}
    assert db.jobs.finish(made.id, "w1", result, {"render_s": 1.5}) is True
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100 and job.eta == 0
    assert job.result == result and job.metadata == {"from_submit": 1, "render_s": 1.5}
    assert job.finished_at is not None and job.finished_at >= must(job.started_at)
    assert job.lease_owner is None and job.refunded is False
    assert [(d.url, d.kind, d.event, d.status) for d in db.outbox.for_job(made.id)] == [
        ("https://a/cb", "job", "completed", "pending")
    ]
    assert db.jobs.finish(made.id, "w1", {}, {}) is False
    assert db.jobs.fail(made.id, None, FailureCode.GENERATION_FAILURE, "late") is False
    assert db.jobs.cancel(made.id) is None
    assert [line.kind for line in db.accounts.ledger(made.owner)] == ["charge"]
    assert len(db.outbox.for_job(made.id)) == 1


def test_fail_is_guarded_and_refunds_once(db: Database, make_job: Callable[..., Job]) -> None:
    made = make_job(owner="f", amount=Decimal("0.12"), metadata={"a": 1})
    claim(db, "w1")
    assert db.jobs.fail(made.id, "w2", FailureCode.GENERATION_FAILURE, "nope") is False
    assert db.jobs.fail(made.id, "w1", FailureCode.GENERATION_FAILURE, "engine said no", {"step": 3})
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.FAILED and job.refunded is True and job.lease_owner is None
    assert (job.error_code, job.error_message) == ("GenerationFailure", "engine said no")
    assert job.metadata == {"a": 1, "step": 3} and job.finished_at is not None
    assert db.jobs.fail(made.id, None, FailureCode.GENERATION_FAILURE, "again") is False
    assert db.jobs.fail(made.id, "w1", FailureCode.GENERATION_FAILURE, "again") is False
    refunds = [ln for ln in db.accounts.ledger("f") if ln.kind == "refund"]
    assert [(r.job_id, str(r.amount)) for r in refunds] == [(made.id, "0.12")]
    # worker_id None also fails a job nobody has claimed yet
    queued = make_job(owner="f")
    assert db.jobs.fail(queued.id, None, FailureCode.IMAGE_DOWNLOAD_FAILURE, "404") is True
    assert must(db.jobs.get(queued.id)).status is JobStatus.FAILED
    assert db.accounts.ledger_total("f") == 0
    assert db.jobs.fail("unknown", None, FailureCode.GENERATION_FAILURE, "x") is False


def test_release_puts_the_job_back_without_counting_the_attempt(
    db: Database, make_job: Callable[..., Job]
) -> None:
    made = make_job()
    claim(db, "w1")
    db.jobs.heartbeat(made.id, "w1", 30, 70, 1)
    assert db.jobs.release(made.id, "w2") is False
    assert db.jobs.release(made.id, "w1") is True
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.progress == 0
    assert job.lease_owner is None and job.eta is None
    assert db.jobs.release(made.id, "w1") is False
    assert db.jobs.position(job) == 0
    assert must(claim(db, "w2")).attempts == 1


def test_retry_requeues_after_the_delay_and_notes_why(
    db: Database, make_job: Callable[..., Job], clock: Clock
) -> None:
    made = make_job(metadata={"keep": True})
    claim(db, "w1")
    db.jobs.heartbeat(made.id, "w1", 30, 30, 5)
    assert db.jobs.retry(made.id, "w2", LEASE, "not mine") is False
    assert db.jobs.retry(made.id, "w1", LEASE, "attempt 1: EngineCrashed: boom") is True
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 1 and job.refunded is False
    assert job.progress == 0 and job.eta is None and job.lease_owner is None
    assert job.metadata == {"keep": True, "retries": ["attempt 1: EngineCrashed: boom"]}
    assert db.jobs.retry(made.id, "w1", 0, "again") is False  # no longer held
    assert claim(db) is None  # not before the backoff
    clock.wait_past(LEASE)
    again = must(claim(db, "w2"))
    assert again.id == made.id and again.attempts == 2
    assert [line.kind for line in db.accounts.ledger(made.owner)] == ["charge"]


def test_retry_notes_keep_the_last_ten(db: Database, make_job: Callable[..., Job]) -> None:
    made = make_job()
    for i in range(12):
        must(claim(db, "w"))
        assert db.jobs.retry(made.id, "w", 0, f"n{i}")
    assert must(db.jobs.get(made.id)).metadata["retries"] == [f"n{i}" for i in range(2, 12)]


def test_cancel_queued_and_running(db: Database, make_job: Callable[..., Job]) -> None:
    running = make_job(owner="c", callback_url="https://a/run")
    assert must(claim(db, "w1")).id == running.id
    queued = make_job(owner="c", callback_url="https://a/queued")
    canceled = must(db.jobs.cancel(queued.id))
    assert canceled.status is JobStatus.CANCELED and canceled.refunded
    assert canceled.error_code == FailureCode.CANCELED and canceled.finished_at is not None
    assert canceled == db.jobs.get(queued.id)
    assert [d.event for d in db.outbox.for_job(queued.id)] == ["completed"]
    stopped = must(db.jobs.cancel(running.id))
    assert stopped.status is JobStatus.CANCELED and stopped.lease_owner is None
    assert [d.event for d in db.outbox.for_job(running.id)] == ["completed"]
    assert db.jobs.status(running.id) is JobStatus.CANCELED  # what the worker's cancel watch reads
    assert db.jobs.heartbeat(running.id, "w1", 30, 50, 1) is False
    assert db.jobs.finish(running.id, "w1", {}, {}) is False
    assert db.jobs.release(running.id, "w1") is False
    assert db.jobs.retry(running.id, "w1", 0, "x") is False
    assert db.jobs.cancel(running.id) is None and db.jobs.cancel("unknown") is None
    assert db.accounts.ledger_total("c") == 0 and len(db.accounts.ledger("c")) == 4


def test_position(db: Database, make_job: Callable[..., Job]) -> None:
    off = make_job(off_peak=True)
    a = make_job()
    b = make_job()
    other_engine = make_job(engine="diffusers")
    assert [db.jobs.position(j) for j in (a, b, off)] == [0, 1, 2]
    assert db.jobs.position(other_engine) == 0  # engines are claimed apart
    claim(db)
    assert db.jobs.position(must(db.jobs.get(a.id))) is None
    assert [db.jobs.position(j) for j in (b, off)] == [0, 1]


def test_position_of_a_job_claimed_since_it_was_read_is_none(db: Database, make_job: Callable[..., Job]) -> None:
    make_job()  # one job ahead
    read = make_job()  # a reader holds this copy, status queued ...
    assert db.jobs.position(read) == 1
    claim(db)
    claim(db)  # ... and meanwhile a worker took it
    assert db.jobs.position(read) is None


def test_status_and_watch(db: Database, make_job: Callable[..., Job]) -> None:
    a, b = make_job(), make_job()
    claim(db)
    assert db.jobs.status(a.id) is JobStatus.PROCESSING and db.jobs.status(b.id) is JobStatus.QUEUED
    assert db.jobs.status("unknown") is None
    seen = db.jobs.watch([a.id, b.id, "unknown"])
    assert set(seen) == {a.id, b.id}
    assert seen[a.id] == db.jobs.get(a.id) and seen[b.id].status is JobStatus.QUEUED
    assert db.jobs.watch([]) == {}


def test_progress_callbacks_at_each_ten_percent_step(db: Database, make_job: Callable[..., Job]) -> None:
    made = make_job(dialect="v1", callback_url="https://h/p", webhook_events=("start", "progress", "completed"))
    claim(db, "w")
    for progress, eta in ((5, 9), (25, 7), (29, 6), (30, 5), (30, 5), (100, 0)):
        assert db.jobs.heartbeat(made.id, "w", 30, progress, eta)
    assert db.jobs.finish(made.id, "w", {"video": "v"}, {})
    events = [(d.event, d.kind, d.payload) for d in db.outbox.for_job(made.id)]
    assert events == [
        ("start", "v1", None),
        ("progress", "v1", {"progress": 25, "eta": 7}),  # 10 and 20 crossed at once: one event
        ("progress", "v1", {"progress": 30, "eta": 5}),
        ("progress", "v1", {"progress": 100, "eta": 0}),
        ("completed", "v1", None),
    ]

