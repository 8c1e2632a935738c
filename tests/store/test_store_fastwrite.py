"""Group-commit creates (`Store.create_jobs`; on SQLite through `store.fastwrite`) store exactly what
`Store.create_job` (the SQLAlchemy path) stores, refuse what it refuses, and return what a read gives."""

from __future__ import annotations

import math
import sqlite3
from decimal import Decimal
from typing import Any
from uuid import uuid4

import orjson
import pytest

from stillmotion.errors import Conflict, CreditInsufficient
from stillmotion.store import NewJob, Store
from stillmotion.store.columns import sqlite_time
from tests.store.test_store_fastread import general_read

JSON_COLUMNS = {"args", "spec", "meta", "webhook_events", "result"}


def new_job(owner: str, **extra: Any) -> NewJob:
    fields: dict[str, Any] = {
        "id": f"job-{uuid4().hex[:12]}", "owner": owner, "model": "vidu-q3-turbo-i2v", "dialect": "v1",
        "engine": "motion", "amount": Decimal("0.10"), "args": {"prompt": "a cat", "duration": 1},
        "spec": {"num_frames": 24, "audio": {"kind": "none", "voice_id": None}, "watermark": None},
        "seed": 7,
    }
    fields.update(extra)
    return NewJob(**fields)


def twin(new: NewJob) -> NewJob:
    """The same request under another id."""
    return NewJob(**{**new.__dict__, "id": f"job-{uuid4().hex[:12]}"})


def stored_rows(store: Store, job_id: str) -> dict[str, Any]:
    """The raw rows a job left (jobs and ledger), as sqlite3 sees them, with their SQLite types."""
    path = store._fast.path  # type: ignore[union-attr]
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        job = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        types = conn.execute(
            "SELECT " + ", ".join(f"typeof({k})" for k in job.keys()) + " FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        ledger = [dict(r) for r in conn.execute("SELECT * FROM ledger WHERE job_id = ? ORDER BY id", (job_id,))]
    row = {k: orjson.loads(job[k]) if k in JSON_COLUMNS and job[k] is not None else job[k] for k in job.keys()}
    row["types"] = tuple(types)
    for line in ledger:
        line.pop("id")
    return {"job": row, "ledger": ledger}


CASES = [
    {},
    {"amount": Decimal("0.0320"), "off_peak": True, "callback_url": "https://example.com/hook",
     "webhook_events": ("start", "completed"), "metadata": {"ignored_fields": ["x"], "route": {"engine": "diffusers",
     "steps": 8, "guidance": 3.5}}, "args": {"prompt": "ünïcode ✓ \"quoted\" \\ NaN", "images": ["data...(9 chars)"]}},
    {"webhook_events": (), "dialect": "job", "model": "vidu/vidu-q3/image-to-video", "seed": 2_147_483_647},
    {"amount": Decimal("0"), "args": {}, "metadata": {}},
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_batch_create_stores_what_a_single_create_stores(
    store: Store, case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = store.add_key("metered", f"hash-{case}", balance=Decimal("5"))
    fast_new = new_job(owner, **CASES[case])
    slow_new = twin(fast_new)
    with monkeypatch.context() as patch:
        if store.backend == "sqlite":  # the fast path must take these, not fall back
            patch.setattr(store, "_insert_job", lambda *a: pytest.fail("took the general path"))
        [fast] = store.create_jobs([fast_new])
    slow = store.create_job(slow_new)
    # The job handed back is the job a read gives (every field), and like the general path's.
    assert fast == store.get_job(fast_new.id) == general_read(store, fast_new.id)
    assert fast == general_read(store, fast_new.id)
    assert {**fast.__dict__, "id": "", "created_at": None} == {**slow.__dict__, "id": "", "created_at": None}
    assert str(fast.amount) == str(slow.amount) and fast.created_at.tzinfo is not None
    assert store.balance(owner) == Decimal("5") - 2 * fast_new.amount
    assert [line.kind for line in store.ledger(owner)] == ["charge", "charge"]
    if store.backend == "sqlite":
        a, b = stored_rows(store, fast_new.id), stored_rows(store, slow_new.id)
        for rows in (a, b):
            rows["job"].pop("id")
            assert rows["job"].pop("created_at") == sqlite_time(fast.created_at if rows is a else slow.created_at)
            for line in rows["ledger"]:
                line.pop("job_id")
                line.pop("created_at")
        assert a == b


def test_batch_refuses_per_request_and_stores_the_rest(store: Store) -> None:
    owner = store.add_key("metered", "hash-x", balance=Decimal("0.25"))
    batch = [new_job(owner), new_job(owner), new_job(owner), new_job("unlimited-owner", amount=Decimal("9"))]
    results = store.create_jobs(batch)
    assert [type(r).__name__ for r in results] == ["Job", "Job", "CreditInsufficient", "Job"]
    with pytest.raises(CreditInsufficient) as slow_refusal:
        store.create_job(new_job(owner))
    assert str(results[2]) == str(slow_refusal.value)
    assert store.get_job(batch[2].id) is None and store.balance(owner) == Decimal("0.05")
    assert len(store.ledger(owner)) == 2 and len(store.ledger("unlimited-owner")) == 1
    bad = new_job(owner, amount=Decimal("-1"))
    assert isinstance(store.create_jobs([bad])[0], ValueError) and store.get_job(bad.id) is None


def test_batch_idempotency_replays_and_conflicts(store: Store) -> None:
    first = new_job("o", idempotency_key="k", request_hash="h")
    again = new_job("o", idempotency_key="k", request_hash="h")
    other = new_job("o", idempotency_key="k", request_hash="different")
    results = store.create_jobs([first, again, other])
    assert results[0].id == first.id and results[1] == results[0]  # type: ignore[union-attr]
    assert isinstance(results[2], Conflict)
    assert len(store.ledger("o")) == 1 and store.find_idempotent("o", "k", "h") == results[0]


def test_values_json_does_not_carry_take_the_general_path(store: Store) -> None:
    """Tuples, non-string keys (and on SQLite NaN/inf, which PostgreSQL's json refuses): stored and
    handed back exactly as `create_job` does."""
    odd = [new_job("o", args={"pair": (1, 2)}), new_job("o", spec={1: "integer key"})]
    if store.backend == "sqlite":
        odd.append(new_job("o", metadata={"route": {"guidance": math.inf}}))
    singles = [store.create_job(twin(n)) for n in odd]
    for new, job, single in zip(odd, store.create_jobs(odd), singles):
        assert not isinstance(job, Exception)
        assert {**job.__dict__, "id": "", "created_at": None} == {**single.__dict__, "id": "", "created_at": None}
        assert job == general_read(store, new.id)
    assert store.get_job(odd[0].id).args == {"pair": [1, 2]}  # type: ignore[union-attr]
    assert store.get_job(odd[1].id).spec == {"1": "integer key"}  # type: ignore[union-attr]


def test_a_failing_batch_is_stored_one_by_one(store: Store) -> None:
    """An error after rows were written (here a duplicate id) rolls the batch back; each request
    then gets its own outcome, as if it had come alone."""
    first = new_job("o")
    results = store.create_jobs([first, new_job("o"), NewJob(**first.__dict__)])
    assert results[0].id == first.id and results[1].id != first.id  # type: ignore[union-attr]
    assert isinstance(results[2], Conflict)
    assert len(store.ledger("o")) == 2
