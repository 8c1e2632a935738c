"""Contract: upstream jobs' state machines (start, lease, save, hand back) on memory, SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from stillmotion.jobs import UPSTREAM_HOLDER, ClaimRules, Database, FailureCode, Job, JobStatus, RetryPolicy
from tests.helpers import race

from .support import LEASE, Clock, must

ANY = ClaimRules()


def provider_of(job: Job) -> tuple[str, str]:
    return "shortapi", f"sm-{job.id}-0"


def test_start_claims_only_upstream_jobs_and_opens_their_task(db: Database, make_job: Callable[..., Job]) -> None:
    local = make_job()
    up = make_job(engine="upstream", route={"engine": "upstream", "provider": "shortapi"})
    task = must(db.upstream.start(ANY, provider_of))
    assert task.job_id == up.id and task.state == "submitting" and task.hop == 0
    assert task.provider == "shortapi" and task.token == f"sm-{up.id}-0" and task.upstream_id is None
    job = must(db.jobs.get(up.id))
    assert job.status is JobStatus.PROCESSING and job.lease_owner == UPSTREAM_HOLDER and job.attempts == 1
    assert db.upstream.start(ANY, provider_of) is None  # the local job is not the poller's
    assert must(db.jobs.get(local.id)).status is JobStatus.QUEUED
    # and a render worker never takes an upstream job
    assert db.jobs.claim("w", 30, ("motion",), ANY).id == local.id  # type: ignore[union-attr]


def test_upstream_jobs_take_no_render_slot(db: Database, make_job: Callable[..., Job]) -> None:
    for _ in range(3):
        make_job(engine="upstream")
    for _ in range(3):
        must(db.upstream.start(ClaimRules(default_cap=2), provider_of))  # no cap on waiting upstream
    local = make_job()
    assert must(db.jobs.claim("w", 30, ("motion",), ClaimRules(default_cap=1))).id == local.id


def test_the_reaper_leaves_upstream_jobs_alone(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    clock.wait_past(LEASE)
    result = db.jobs.reap(RetryPolicy())
    assert task.job_id not in result.requeued + result.failed
    assert must(db.jobs.get(task.job_id)).status is JobStatus.PROCESSING


def test_claim_leases_due_tasks_and_save_moves_them(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    got = db.upstream.claim("p1", 30, 10)
    assert [t.job_id for t in got] == [task.job_id] and got[0].lease_owner == "p1"
    assert db.upstream.claim("p2", 30, 10) == []  # leased
    later = clock.now() + timedelta(seconds=LEASE)
    public = {"provider": "shortapi", "upstream_id": "u-1", "state": "submitted"}
    assert not db.upstream.save(task.job_id, "p2", state="submitted")  # not its lease
    assert db.upstream.save(task.job_id, "p1", public, state="submitted", upstream_id="u-1", next_at=later,
                            attempts=[{"hop": 0, "outcome": "created"}], cost={"amount": "0.1"})
    saved = must(db.upstream.get(task.job_id))
    assert (saved.state, saved.upstream_id, saved.lease_owner) == ("submitted", "u-1", None)
    assert saved.attempts == [{"hop": 0, "outcome": "created"}] and saved.cost == {"amount": "0.1"}
    assert must(db.jobs.get(task.job_id)).metadata["upstream"] == public
    assert db.upstream.claim("p1", 30, 10) == []  # not due yet
    assert db.upstream.in_flight("shortapi") == 1 and db.upstream.in_flight("novita") == 0
    assert db.upstream.counts() == {("shortapi", "submitted"): 1}
    clock.wait_past(LEASE)
    assert [t.job_id for t in db.upstream.claim("p2", 30, 10)] == [task.job_id]


def test_an_expired_task_lease_is_taken_over(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    assert db.upstream.claim("dead", LEASE, 10)
    clock.wait_past(LEASE)
    taken = db.upstream.claim("alive", 30, 10)
    assert [t.job_id for t in taken] == [task.job_id]
    assert not db.upstream.save(task.job_id, "dead", state="polling")  # the dead one's write is refused
    assert db.upstream.save(task.job_id, "alive", state="polling")


def test_finish_through_the_holder_and_end_the_task(db: Database, make_job: Callable[..., Job]) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    db.upstream.claim("p", 30, 1)
    assert db.jobs.finish(task.job_id, UPSTREAM_HOLDER, {"video": "outputs/x/video.mp4"}, {"k": 1})
    assert db.upstream.save(task.job_id, "p", state="done")
    assert db.upstream.claim("p", 30, 10) == [] and db.upstream.counts() == {}
    assert must(db.jobs.get(task.job_id)).status is JobStatus.SUCCEEDED


def test_fail_refunds_once(db: Database, make_job: Callable[..., Job]) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    assert db.jobs.fail(task.job_id, UPSTREAM_HOLDER, FailureCode.FIELD_INVALID, "image: too big")
    assert not db.jobs.fail(task.job_id, UPSTREAM_HOLDER, FailureCode.FIELD_INVALID, "again")
    job = must(db.jobs.get(task.job_id))
    assert job.status is JobStatus.FAILED and job.refunded
    assert [line.kind for line in db.accounts.ledger(job.owner)].count("refund") == 1


def test_to_local_hands_the_job_to_render_workers(db: Database, make_job: Callable[..., Job]) -> None:
    make_job(engine="upstream", route={"engine": "upstream"})
    task = must(db.upstream.start(ANY, provider_of))
    db.upstream.claim("p", 30, 1)
    public = {"state": "local", "attempts": [{"hop": 0, "outcome": "failed"}]}
    assert db.upstream.to_local(task.job_id, "p", "motion", None, public)
    job = must(db.jobs.get(task.job_id))
    assert job.status is JobStatus.QUEUED and job.engine == "motion" and job.route is None and job.attempts == 0
    assert job.metadata["upstream"] == public
    assert must(db.upstream.get(task.job_id)).state == "local"
    assert db.upstream.start(ANY, provider_of) is None
    assert must(db.jobs.claim("w", 30, ("motion",), ANY)).id == task.job_id


def test_a_canceled_job_cannot_be_handed_on(db: Database, make_job: Callable[..., Job]) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    db.upstream.claim("p", 30, 1)
    assert db.jobs.cancel(task.job_id) is not None
    assert not db.upstream.to_local(task.job_id, "p", "motion", None, {})
    assert must(db.jobs.get(task.job_id)).status is JobStatus.CANCELED


def test_concurrent_pollers_claim_each_task_once(
    db: Database, make_job: Callable[..., Job], open_db: Callable[..., Database]
) -> None:
    for _ in range(12):
        make_job(engine="upstream")
    while db.upstream.start(ANY, provider_of) is not None:
        pass
    seen: list[str] = []
    dbs = [open_db() for _ in range(4)]
    errors = race(4, lambda i: seen.extend(t.job_id for t in dbs[i].upstream.claim(f"p{i}", 30, 5)))
    assert not errors and len(seen) == len(set(seen)) == 12


def test_save_can_hold_the_lease(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    db.upstream.claim("p", LEASE, 1)
    assert db.upstream.save(task.job_id, "p", hold_s=30, state="mirroring")
    clock.wait_past(LEASE)
    assert db.upstream.claim("q", 30, 10) == []  # still held
    assert db.upstream.save(task.job_id, "p", state="done")


def test_money_rows_join_job_price_and_upstream_cost(db: Database, make_job: Callable[..., Job]) -> None:
    made = make_job(engine="upstream", owner="k1")
    make_job(engine="upstream", owner="k2")
    task = must(db.upstream.start(ANY, provider_of))
    db.upstream.claim("p", 30, 1)
    item = {"provider": "shortapi", "upstream_id": "u", "amount": "0.3"}
    cost = {"amount": "0.3", "currency": "USD", "items": [item]}
    assert db.upstream.save(task.job_id, "p", cost=cost)
    rows = db.upstream.money("k1")
    assert rows == [{"owner": "k1", "amount": made.amount, "refunded": False, "provider": "shortapi", "cost": cost}]
    assert db.upstream.money("k2") == [] and len(db.upstream.money()) == 1


def test_poke_makes_a_created_task_due_now(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    make_job(engine="upstream")
    task = must(db.upstream.start(ANY, provider_of))
    assert not db.upstream.poke(task.job_id, 0)  # not created upstream yet
    db.upstream.claim("p", 30, 1)
    assert db.upstream.save(task.job_id, "p", state="polling", upstream_id="u", next_at=clock.now() + timedelta(hours=1))
    assert db.upstream.claim("p", 30, 10) == []
    assert not db.upstream.poke(task.job_id, 1)  # another hop's late call
    assert db.upstream.poke(task.job_id, 0)
    assert [t.job_id for t in db.upstream.claim("p", 30, 10)] == [task.job_id]
