"""Contract: the worker registry and claimed upkeep rounds, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from stillmotion.jobs import Database, WorkerRecord
from tests.helpers import race

from .support import LEASE, Clock


def rec(wid: str, host: str = "h1", jobs: tuple[str, ...] = (), **caps: object) -> WorkerRecord:
    now = datetime.now(UTC)
    return WorkerRecord(wid, host, 42, ("motion",), dict(caps), jobs, now, now)


def test_workers_register_refresh_and_leave(db: Database, clock: Clock) -> None:
    db.workers.beat([rec("w-b-1", host="b"), rec("w-a-1", host="a", weights=["/m/wan"])])
    live = db.workers.live(60)
    assert [(w.id, w.host) for w in live] == [("w-a-1", "a"), ("w-b-1", "b")]
    assert live[0].capabilities == {"weights": ["/m/wan"]} and live[0].engines == ("motion",) and live[0].jobs == ()
    first_seen = live[0].seen_at
    clock.wait_past(0.01)
    db.workers.beat([rec("w-a-1", host="a", jobs=("job-1",))])
    again = {w.id: w for w in db.workers.live(60)}
    assert again["w-a-1"].jobs == ("job-1",) and again["w-a-1"].seen_at > first_seen
    assert again["w-a-1"].started_at == live[0].started_at  # registered once
    db.workers.forget(["w-b-1"])
    assert [w.id for w in db.workers.live(60)] == ["w-a-1"]


def test_a_worker_that_stops_beating_drops_out_and_is_pruned(db: Database, clock: Clock) -> None:
    db.workers.beat([rec("w-dead"), rec("w-alive")])
    clock.wait_past(LEASE)
    db.workers.beat([rec("w-alive")])
    assert [w.id for w in db.workers.live(LEASE)] == ["w-alive"]
    assert db.workers.prune(LEASE) == 1
    assert [w.id for w in db.workers.live(3600)] == ["w-alive"]


def test_each_upkeep_round_is_claimed_by_exactly_one_host(
    db: Database, clock: Clock, open_db: Callable[..., Database]
) -> None:
    others = [open_db() for _ in range(4)]  # own engines and pools: like other processes
    won: list[str] = []
    lock = threading.Lock()

    def host(i: int) -> None:
        if others[i % 4].workers.claim_task("reap", f"host-{i}", 30 * LEASE):
            with lock:
                won.append(f"host-{i}")

    assert race(8, host) == []
    assert len(won) == 1  # one round, one runner
    assert not db.workers.claim_task("reap", "late", 30 * LEASE)
    assert db.workers.claim_task("retention", "late", LEASE)  # another task is its own round
    clock.wait_past(30 * LEASE)
    assert db.workers.claim_task("reap", "next", LEASE) and not db.workers.claim_task("reap", "other", LEASE)


def test_each_host_keeps_its_own_interval(db: Database, clock: Clock) -> None:
    """A host that purges every second is not held back by one that purges every hour."""
    assert db.workers.claim_task("upkeep", "hourly-host", 3600)
    assert not db.workers.claim_task("upkeep", "eager-host", LEASE)  # ran just now
    clock.wait_past(LEASE)
    assert db.workers.claim_task("upkeep", "eager-host", LEASE)
    assert not db.workers.claim_task("upkeep", "hourly-host", 3600)
