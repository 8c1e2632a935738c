"""Contract: fenced leases, on memory, SQLite and PostgreSQL.

Every write a run makes carries its claim's token (the `lease_owner` its claim stored; workers
make a fresh one per claim: `<worker id>~<random>`). Once the lease was taken over, every write
with the old token is refused and changes nothing, even when the same worker process claimed
the job again, and even after the new claim finished."""

from __future__ import annotations

from collections.abc import Callable

from stillmotion.jobs import (
    ClaimRules,
    Database,
    FailureCode,
    Job,
    JobStatus,
    RetryPolicy,
)

from .support import LEASE, Clock, must

POLICY = RetryPolicy(max_attempts=5)
OLD, NEW = "host-a-1-1~0badc0de", "host-a-1-1~5eed1e55"  # one worker process, two claims


def late_writes(db: Database, job_id: str, token: str) -> dict[str, bool]:
    return {
        "heartbeat": db.jobs.heartbeat(job_id, token, 30, 77, 1),
        "finish": db.jobs.finish(job_id, token, {"video": "outputs/zombie/video.mp4"}, {"zombie": True}),
        "fail": db.jobs.fail(job_id, token, FailureCode.GENERATION_FAILURE, "zombie says no"),
        "retry": db.jobs.retry(job_id, token, 0, "zombie retry"),
        "release": db.jobs.release(job_id, token),
    }


def test_a_taken_over_claim_can_write_nothing(db: Database, make_job: Callable[..., Job], clock: Clock) -> None:
    made = make_job()
    first = must(db.jobs.claim(OLD, LEASE, ("motion",), ClaimRules()))
    assert first.lease_owner == OLD and db.jobs.heartbeat(made.id, OLD, LEASE, 10, 5)
    clock.wait_past(LEASE)
    assert db.jobs.reap(POLICY).requeued == [made.id]
    second = must(db.jobs.claim(NEW, 30, ("motion",), ClaimRules()))
    assert second.lease_owner == NEW and second.attempts == 2
    assert db.jobs.heartbeat(made.id, NEW, 30, 40, 3)
    running = must(db.jobs.get(made.id))

    assert late_writes(db, made.id, OLD) == dict.fromkeys(("heartbeat", "finish", "fail", "retry", "release"), False)
    assert must(db.jobs.get(made.id)) == running  # nothing moved: progress, lease, attempts

    assert db.jobs.finish(made.id, NEW, {"video": "outputs/x/a2/video.mp4"}, {"winner": True})
    won = must(db.jobs.get(made.id))
    assert late_writes(db, made.id, OLD) == dict.fromkeys(("heartbeat", "finish", "fail", "retry", "release"), False)
    after = must(db.jobs.get(made.id))
    assert after == won and after.status is JobStatus.SUCCEEDED and after.result == {"video": "outputs/x/a2/video.mp4"}
    assert not after.refunded and "zombie" not in after.metadata
    lines = [ln.kind for ln in db.accounts.ledger(made.owner) if ln.job_id == made.id]
    assert lines == ["charge"]  # charged once, no refund from the zombie's fail


def test_a_lapsed_claim_still_writes_until_another_takes_it(
    db: Database, make_job: Callable[..., Job], clock: Clock
) -> None:
    """Fencing refuses a taken-over claim, not a slow one: a lapsed lease nobody reaped yet is
    still its holder's (the run finishes instead of being thrown away)."""
    made = make_job()
    must(db.jobs.claim(OLD, LEASE, ("motion",), ClaimRules()))
    clock.wait_past(LEASE)
    assert db.jobs.heartbeat(made.id, NEW, 30, 50, 1) is False  # another token: refused
    assert db.jobs.finish(made.id, OLD, {"video": "v"}, {})
    assert db.jobs.reap(POLICY).requeued == []


def test_a_released_claim_cannot_write_after_the_next_claim_by_the_same_worker(
    db: Database, make_job: Callable[..., Job]
) -> None:
    made = make_job()
    must(db.jobs.claim(OLD, 30, ("motion",), ClaimRules()))
    assert db.jobs.release(made.id, OLD)
    again = must(db.jobs.claim(NEW, 30, ("motion",), ClaimRules()))
    assert again.attempts == 1  # a release does not count the run
    assert late_writes(db, made.id, OLD) == dict.fromkeys(("heartbeat", "finish", "fail", "retry", "release"), False)
    assert db.jobs.finish(made.id, NEW, {"video": "v"}, {})
