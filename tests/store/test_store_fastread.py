"""The sqlite3 fast path for one job gives exactly what the SQLAlchemy path gives, in every state."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

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
    assert store._fast.get_job("no-such-job") is None
    assert store.get_job(done.id).result == {"video": "outputs/x/video.mp4", "frames": 24}  # type: ignore[union-attr]
    assert store.get_job(failed.id).refunded is True  # type: ignore[union-attr]
