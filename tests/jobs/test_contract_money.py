"""Contract: creating jobs with their charge, idempotency, balances, keys and the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from stillmotion.errors import Conflict, CreditInsufficient
from stillmotion.jobs import ClaimRules, Database, FailureCode, JobFilter, JobStatus
from tests.helpers import race

from .support import Clock, must, new_job



def is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


def pass_idempotency_window(db: Database, clock: Clock) -> None:
    """Make every stored Idempotency-Key 25 h old (the window is 24 h)."""
    if db.backend == "memory":
        clock.fake.advance(25 * 3600)
        return
    from stillmotion.store.engine import write_tx
    from stillmotion.store.tables import idempotency

    with write_tx(db._engine) as conn:  # type: ignore[attr-defined]
        conn.execute(update(idempotency).values(created_at=datetime.now(UTC) - timedelta(hours=25)))


def test_create_and_get_roundtrip(db: Database) -> None:
    args: dict[str, Any] = {"prompt": "ünïcode ☃", "nested": {"list": [1, 2.5, None, True]}, "duration": "5"}
    new = new_job(
        amount=Decimal("0.032"), args=args, spec={"width": 1280, "audio": {"kind": "none"}}, seed=2_147_483_647,
        callback_url="https://example.com/hook", off_peak=True, metadata={"seed_reported": 7},
        route={"engine": "motion", "weights": "/w"}, webhook_events=("start", "completed"), dialect="v1",
    )
    created = db.jobs.create(new)
    job = must(db.jobs.get(new.id))
    assert created == job
    assert job.id == new.id and job.owner == "owner-1" and job.dialect == "v1" and job.engine == "motion"
    assert job.status is JobStatus.QUEUED and job.progress == 0 and job.attempts == 0 and job.eta is None
    assert job.amount == Decimal("0.032") and isinstance(job.amount, Decimal) and str(job.amount) == "0.032"
    assert job.args == args and job.spec == {"width": 1280, "audio": {"kind": "none"}}
    assert job.metadata == {"seed_reported": 7} and job.result is None
    assert job.route == {"engine": "motion", "weights": "/w"}  # kept apart from the public metadata
    assert job.webhook_events == ("start", "completed")
    assert job.seed == 2_147_483_647 and job.off_peak is True and job.refunded is False
    assert job.callback_url == "https://example.com/hook" and job.lease_owner is None and not job.purged
    assert job.error_code is None and job.error_message is None
    assert is_utc(job.created_at) and job.started_at is None and job.finished_at is None
    assert db.jobs.get("no-such-job") is None
    plain = db.jobs.create(new_job())
    assert plain.webhook_events is None and plain.route is None and plain.callback_url is None


def test_create_writes_exactly_one_charge(db: Database) -> None:
    job = db.jobs.create(new_job(owner="alice", amount=Decimal("0.60")))
    lines = db.accounts.ledger("alice")
    assert [(ln.job_id, ln.kind, ln.amount, ln.owner) for ln in lines] == [(job.id, "charge", Decimal("0.60"), "alice")]
    assert is_utc(lines[0].created_at)
    assert db.accounts.ledger("bob") == []


def test_duplicate_job_id_conflicts_and_charges_nothing(db: Database) -> None:
    job = db.jobs.create(new_job(owner="alice"))
    with pytest.raises(Conflict):
        db.jobs.create(new_job(id=job.id, owner="alice"))
    assert len(db.accounts.ledger("alice")) == 1


def test_money_is_exact_and_summed(db: Database) -> None:
    for _ in range(10):
        db.jobs.create(new_job(owner="carol", amount=Decimal("0.1")))
    db.jobs.create(new_job(owner="carol", amount=Decimal("0.000001")))
    assert db.accounts.ledger_total("carol") == Decimal("1.000001")
    assert db.accounts.ledger_total("nobody") == Decimal("0")
    with pytest.raises(ValueError):
        db.jobs.create(new_job(amount=Decimal("-1")))
    assert db.accounts.ledger("owner-1") == []


def test_amounts_are_whole_micro_dollars_written_with_two_places(db: Database) -> None:
    plain = db.jobs.create(new_job(owner="m", amount=Decimal("1")))
    assert str(plain.amount) == "1.00" and str(must(db.jobs.get(plain.id)).amount) == "1.00"
    assert str(db.accounts.ledger("m")[0].amount) == "1.00" and str(db.accounts.ledger_total("m")) == "1.00"
    with pytest.raises(ValueError):
        db.jobs.create(new_job(amount=Decimal("0.0000001")))
    with pytest.raises(TypeError):
        db.jobs.create(new_job(amount=0.6))
    assert db.accounts.ledger("owner-1") == []
    assert db.jobs.list(None, JobFilter(), 10) == [plain]


def test_metered_key_is_charged_and_refused_when_short(db: Database) -> None:
    key = db.accounts.add_key("metered", "h1", balance=Decimal("0.25"), webhook_secret="whsec_x")
    rec = must(db.accounts.get_key(key))
    assert rec.balance == Decimal("0.25") and rec.webhook_secret == "whsec_x"
    first = db.jobs.create(new_job(owner=key, amount=Decimal("0.20")))
    assert db.accounts.balance(key) == Decimal("0.05")
    with pytest.raises(CreditInsufficient):
        db.jobs.create(new_job(owner=key, amount=Decimal("0.10")))
    assert [j.id for j in db.jobs.list(key, JobFilter(), 10)] == [first.id]  # the refused job was not stored
    assert [ln.kind for ln in db.accounts.ledger(key)] == ["charge"]
    assert db.jobs.cancel(first.id) is not None
    assert db.accounts.balance(key) == Decimal("0.25")  # the refund went back onto the balance
    assert [ln.kind for ln in db.accounts.ledger(key)] == ["charge", "refund"]
    assert db.accounts.balance("env-unlimited") is None
    db.jobs.create(new_job(owner="env-unlimited", amount=Decimal("99.00")))  # no stored balance: unlimited
    exact = db.jobs.create(new_job(owner=key, amount=Decimal("0.25")))  # the whole balance may be spent
    assert db.accounts.balance(key) == Decimal("0") and exact.status is JobStatus.QUEUED


def test_a_failed_run_refunds_a_metered_key(db: Database) -> None:
    key = db.accounts.add_key("metered", "h1", balance=Decimal("1.00"))
    job = db.jobs.create(new_job(owner=key, amount=Decimal("0.40")))
    must(db.jobs.claim("w", 30, ("motion",), ClaimRules()))
    assert db.jobs.fail(job.id, "w", FailureCode.GENERATION_FAILURE, "no")
    assert db.accounts.balance(key) == Decimal("1.00")


def test_concurrent_creates_never_overdraw(open_db: Callable[..., Database]) -> None:
    dbs = [open_db() for _ in range(4)]  # like four API processes
    key = dbs[0].accounts.add_key("small", "h2", balance=Decimal("1.00"))
    made: list[str] = []

    def submit(i: int) -> None:
        try:
            made.append(dbs[i % 4].jobs.create(new_job(owner=key, amount=Decimal("0.15"))).id)
        except CreditInsufficient:
            pass

    assert race(30, submit) == []
    assert len(made) == 6  # 6 * 0.15 = 0.90; a 7th would overdraw
    assert dbs[0].accounts.balance(key) == Decimal("0.10")
    assert len(dbs[0].accounts.ledger(key)) == 6


def test_idempotency_key_replays_and_conflicts(db: Database) -> None:
    first = db.jobs.create(new_job(owner="o", idempotency_key="k1", request_hash="h"))
    again = db.jobs.create(new_job(owner="o", idempotency_key="k1", request_hash="h"))
    assert again == first and len(db.accounts.ledger("o")) == 1
    assert db.jobs.find_idempotent("o", "k1", "h") == first
    assert db.jobs.find_idempotent("o", "k2", "h") is None
    with pytest.raises(Conflict) as err:
        db.jobs.create(new_job(owner="o", idempotency_key="k1", request_hash="other"))
    assert err.value.field == "Idempotency-Key"
    with pytest.raises(Conflict):
        db.jobs.find_idempotent("o", "k1", "other")
    other_owner = db.jobs.create(new_job(owner="p", idempotency_key="k1", request_hash="h"))
    assert other_owner.id != first.id  # keys are per owner
    assert len(db.jobs.list(None, JobFilter(), 10)) == 2


def test_the_idempotency_window_closes_after_24_hours(db: Database, clock: Clock) -> None:
    first = db.jobs.create(new_job(owner="o", idempotency_key="k1", request_hash="h"))
    db.jobs.create(new_job(owner="p", idempotency_key="k1", request_hash="h"))
    assert db.jobs.forget_idempotency_keys() == 0
    pass_idempotency_window(db, clock)
    assert db.jobs.find_idempotent("o", "k1", "h") is None
    fresh = db.jobs.create(new_job(owner="o", idempotency_key="k1", request_hash="other"))
    assert fresh.id != first.id
    assert db.jobs.find_idempotent("o", "k1", "other") == fresh
    assert db.jobs.forget_idempotency_keys() == 1  # p's expired row; o's row is new
    assert db.jobs.forget_idempotency_keys() == 0
    assert db.jobs.get(first.id) is not None  # the job outlives its key


def test_concurrent_creates_with_one_key_make_one_job(open_db: Callable[..., Database]) -> None:
    dbs = [open_db() for _ in range(4)]
    ids: list[str] = []
    errors = race(8, lambda i: ids.append(
        dbs[i % 4].jobs.create(new_job(owner="o", idempotency_key="same", request_hash="h")).id))
    assert errors == [] and len(set(ids)) == 1 and len(ids) == 8
    assert len(dbs[0].jobs.list("o", JobFilter(), 10)) == 1 and len(dbs[0].accounts.ledger("o")) == 1


def test_api_keys(db: Database) -> None:
    assert db.accounts.count_keys() == 0 and db.accounts.list_keys() == []
    first = db.accounts.add_key("ci", "hash-1")
    second = db.accounts.add_key("ops", "hash-2", rate_per_min=7, max_running=2)
    assert db.accounts.count_keys() == 2
    found = must(db.accounts.find_key("hash-1"))
    assert found.id == first and found.name == "ci" and found.key_hash == "hash-1"
    assert is_utc(found.created_at) and found.revoked_at is None
    assert (found.balance, found.webhook_secret, found.rate_per_min, found.max_running) == (None, None, None, None)
    assert must(db.accounts.get_key(second)).rate_per_min == 7 and must(db.accounts.get_key(second)).max_running == 2
    with pytest.raises(Conflict):
        db.accounts.add_key("again", "hash-1")
    with pytest.raises(TypeError):
        db.accounts.add_key("bad", "hash-3", colour="red")
    assert db.accounts.revoke_key(first) is True
    assert db.accounts.revoke_key(first) is False
    assert db.accounts.revoke_key("unknown") is False
    assert db.accounts.find_key("hash-1") is None and db.accounts.find_key("nope") is None
    assert must(db.accounts.get_key(first)).revoked_at is not None  # get sees revoked keys
    assert db.accounts.get_key("unknown") is None
    assert db.accounts.count_keys() == 1
    keys = db.accounts.list_keys()
    assert [k.id for k in keys] == [first, second] and is_utc(keys[0].revoked_at)  # oldest first


def test_key_settings_update(db: Database) -> None:
    key = db.accounts.add_key("k", "h9")
    assert db.accounts.update_key(key, balance=Decimal("5"), rate_per_min=10, max_running=2)
    rec = must(db.accounts.get_key(key))
    assert (rec.balance, rec.rate_per_min, rec.max_running) == (Decimal("5"), 10, 2)
    assert db.accounts.update_key(key, rate_per_min=...)  # Ellipsis: leave as it is
    assert must(db.accounts.get_key(key)).rate_per_min == 10
    assert db.accounts.update_key(key, webhook_secret="whsec_new")
    assert must(db.accounts.get_key(key)).webhook_secret == "whsec_new"
    assert db.accounts.update_key(key, balance=None) and db.accounts.balance(key) is None
    assert db.accounts.update_key(key) is True  # nothing to change, but the key exists
    assert not db.accounts.update_key("nope", balance=Decimal("1"))
    assert not db.accounts.update_key("nope")
    with pytest.raises(TypeError):
        db.accounts.update_key(key, colour="red")


def test_ledger_is_oldest_first_and_limit_keeps_the_newest(db: Database) -> None:
    jobs = [db.jobs.create(new_job(owner="l", amount=Decimal(f"0.{i + 1}"))) for i in range(4)]
    db.jobs.cancel(jobs[1].id)
    lines = db.accounts.ledger("l")
    assert [(ln.job_id, ln.kind) for ln in lines] == [
        *((j.id, "charge") for j in jobs), (jobs[1].id, "refund"),
    ]
    assert [ln.id for ln in lines] == sorted(ln.id for ln in lines)
    assert db.accounts.ledger("l", limit=2) == lines[-2:]
    assert db.accounts.ledger("l", limit=10) == lines
    assert db.accounts.ledger("l", limit=1) == lines[-1:]
    assert db.accounts.ledger_total("l") == Decimal("0.8")  # 0.1 + 0.3 + 0.4
    assert str(db.accounts.ledger_total("nobody")) == "0.00"


def test_ledger_limit_zero_is_empty(db: Database) -> None:
    db.jobs.create(new_job(owner="z"))
    assert db.accounts.ledger("z", limit=0) == []


def test_list_filters_and_keyset_cursor(db: Database) -> None:
    made = [db.jobs.create(new_job(owner="o", model="m-a" if i % 2 else "m-b")) for i in range(7)]
    db.jobs.create(new_job(owner="someone-else"))
    newest_first = [j.id for j in reversed(made)]
    pages: list[list[str]] = []
    after = None
    while page := db.jobs.list("o", JobFilter(after=after), 3):
        pages.append([j.id for j in page])
        after = (page[-1].created_at, page[-1].id)
    assert sum(pages, []) == newest_first and [len(p) for p in pages] == [3, 3, 1]
    only_a = db.jobs.list("o", JobFilter(models=("m-a",)), 10)
    assert {j.model for j in only_a} == {"m-a"} and len(only_a) == 3
    db.jobs.cancel(made[0].id)
    canceled = db.jobs.list("o", JobFilter(statuses=(JobStatus.CANCELED,)), 10)
    assert [j.id for j in canceled] == [made[0].id]
    both = db.jobs.list("o", JobFilter(statuses=(JobStatus.CANCELED, JobStatus.QUEUED)), 10)
    assert len(both) == 7
    later = db.jobs.list("o", JobFilter(created_after=made[3].created_at), 10)  # inclusive
    assert [j.id for j in later] == newest_first[:4]
    earlier = db.jobs.list("o", JobFilter(created_before=made[3].created_at), 10)  # exclusive
    assert [j.id for j in earlier] == newest_first[4:]
    everyone = db.jobs.list(None, JobFilter(), 2)
    assert len(everyone) == 2 and everyone[1].id == made[-1].id


def test_list_cursor_breaks_created_at_ties_by_id(db: Database) -> None:
    made = [db.jobs.create(new_job(owner="t")) for _ in range(3)]
    last = made[1]
    page = db.jobs.list("t", JobFilter(after=(last.created_at, last.id)), 10)
    assert [j.id for j in page] == [made[0].id]
    tie = db.jobs.list("t", JobFilter(after=(last.created_at, "~")), 10)  # same time, a larger id
    assert [j.id for j in tie] == [last.id, made[0].id]
