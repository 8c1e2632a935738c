"""The sqlite3 fast path for one job gives exactly what the SQLAlchemy path gives, in every state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from stillmotion.domain import Job, JobStatus
from stillmotion.store import NewJob, Store
from stillmotion.store.engine import read_tx
from stillmotion.store.records import job_from_row
from stillmotion.store.sqlstore import _SELECT_JOB


def general_read(store: Store, job_id: str):
    with read_tx(store._engine) as conn:
        row = conn.execute(_SELECT_JOB, {"job_id": job_id}).first()
    return None if row is None else job_from_row(row)


def test_fast_read_equals_the_general_read(store: Store, make_job: Callable[..., NewJob]) -> None:
    if store.backend != "sqlite":
        pytest.skip("the fast path is SQLite's")
    assert store._fast is not None
    queued = make_job(amount=Decimal("0.032"), args={"prompt": "ünïcode ✓", "duration": 1},
                      callback_url="https://example.com/hook", metadata={"route": {"engine": "motion"}})
    running = make_job(off_peak=True)
    done = make_job(amount=Decimal("2.048"))
    failed = make_job()
    assert store.claim("w1", 30).id == queued.id  # type: ignore[union-attr]
    store.heartbeat(queued.id, "w1", 30, 42, 7)
    claimed = {store.claim("w2", 30).id, store.claim("w2", 30).id}  # type: ignore[union-attr]
    assert claimed == {done.id, failed.id}  # the off-peak job waits while normal ones do
    assert store.finish(done.id, "w2", {"video": "outputs/x/video.mp4", "frames": 24}, {"render_s": 1.5}, [])
    store.fail(failed.id, "w2", "GenerationFailure", "engine said no", [])
    states = [store.get_job(n.id).status.name for n in (queued, running, done, failed)]  # type: ignore[union-attr]
    assert states == ["PROCESSING", "QUEUED", "SUCCEEDED", "FAILED"]
    for new in (queued, running, done, failed):
        fast = store._fast.get_job(new.id)
        assert fast == general_read(store, new.id), new.id
        assert fast is not None and fast.created_at.tzinfo is not None
        assert {k: type(v) for k, v in vars(fast).items()} == {
            k: type(v) for k, v in vars(general_read(store, new.id)).items()}
        assert str(fast.amount) == str(general_read(store, new.id).amount)  # type: ignore[union-attr]
        # The copy a queued job's eta goes into is `dataclasses.replace`'s.
        assert fast.with_eta(42) == dataclasses.replace(fast, eta=42) and fast.eta != 42
        assert vars(fast.with_eta(None)) == vars(dataclasses.replace(fast, eta=None))
    assert store._fast.get_job("no-such-job") is None
    with pytest.raises(TypeError):  # the fast paths' constructor takes every field or none
        Job.from_fields(**{k: v for k, v in vars(fast).items() if k != "eta"})
    assert store.get_job(done.id).result == {"video": "outputs/x/video.mp4", "frames": 24}  # type: ignore[union-attr]
    assert store.get_job(failed.id).refunded is True  # type: ignore[union-attr]


def test_fast_positions_equal_the_general_ones(store: Store, make_job: Callable[..., NewJob]) -> None:
    """Queue positions straight through sqlite3 (with the job, and alone) are the SQLAlchemy counts:
    ties on created_at broken by id, off-peak jobs behind every normal one, engines apart."""
    if store.backend != "sqlite":
        pytest.skip("the fast path is SQLite's")
    from datetime import UTC, datetime

    from sqlalchemy import update

    from stillmotion.store.engine import write_tx
    from stillmotion.store.tables import jobs

    made = [make_job(off_peak=i % 3 == 0, engine="diffusers" if i % 4 == 1 else "motion") for i in range(12)]
    tie = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with write_tx(store._engine) as conn:  # three jobs created in the same microsecond
        conn.execute(update(jobs).where(jobs.c.id.in_([made[i].id for i in (2, 5, 8)])).values(created_at=tie))
    assert store.claim("w", 30) is not None  # one running: not queued, not counted
    assert store._fast is not None
    positions = []
    for new in [*made, NewJob(**{**made[0].__dict__, "id": "missing"})]:
        fast = store._fast.get_job_placed(new.id)
        assert fast == store._get_job_placed(new.id, True), new.id
        assert fast[1] == store.queue_position(new.id)
        if fast[0] is not None and fast[0].status == JobStatus.QUEUED:
            assert store._fast.position_of(fast[0]) == store._position_of(fast[0]) == fast[1]
            positions.append((fast[0].engine, fast[1]))
        else:
            assert fast[1] is None
    for engine in ("motion", "diffusers"):  # each engine's queue numbered 0..n-1
        ranks = sorted(p for e, p in positions if e == engine)
        assert ranks == list(range(len(ranks)))


def test_snapshot_keys_rank_as_the_database_does(store: Store, make_job: Callable[..., NewJob]) -> None:
    """`Store.queue_keys` (raw keys on SQLite) come sorted as the claim sorts, and a job's place
    among them (bisect) is its exact position, as with `queued_order`'s datetime keys."""
    import bisect
    from datetime import UTC, datetime

    from sqlalchemy import update

    from stillmotion.store.engine import write_tx
    from stillmotion.store.sqlstore import _queue_key
    from stillmotion.store.tables import jobs

    made = [make_job(off_peak=i % 4 == 0) for i in range(9)]
    made += [make_job(id=job_id) for job_id in ("job-Zz", "job-é", "job-\u00e9a", "job-ÿ", "job-ā")]
    tie = datetime(2030, 1, 1, 12, 0, 0, 5, tzinfo=UTC)
    with write_tx(store._engine) as conn:  # ties broken by id, non-ASCII ids among them
        ids = [made[i].id for i in (1, 3, 9, 10, 11, 12, 13)]
        conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(created_at=tie))
    keys, key_of = store.queue_keys("motion")
    general = store.queued_order("motion")
    assert len(keys) == len(general) == len(made) and [k[2] for k in keys] == [g[2] for g in general]
    assert keys == sorted(keys) and general == sorted(general)
    for new in made:
        job = store.get_job(new.id)
        assert job is not None
        exact = store.queue_position(job.id)
        assert bisect.bisect_left(keys, key_of(job)) == bisect.bisect_left(general, _queue_key(job)) == exact
