"""Queue positions for the service: exact counts while a queue is short, snapshots once deep."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import Any

from stillmotion.domain import Job
from stillmotion.store import Store


class QueueRanker:
    """Queue positions without counting a deep queue on every read.

    While an engine's queue is short (under `deep` jobs) every position is an exact count, a
    few index entries. Once it is deep, a count would walk thousands of index entries on
    every query and create, so positions come from a sorted snapshot of the queue's claim
    order (a bisect), refreshed in the background at most every `ttl_s`: a position in a
    deep queue may then be up to `ttl_s` old (jobs claimed or created since not yet
    counted), which an estimate of thousands ahead can afford. `Store.queue_position` stays exact.
    """

    deep = 128
    ttl_s = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        # engine -> (read at, sorted keys, the function giving a job's key among them)
        self._snapshots: dict[str, tuple[float, list[tuple[Any, ...]], Callable[[Job], Any]]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def is_deep(self, _job_id: str) -> bool:
        """Whether any engine's queue was deep at its last look (the engine of a job not yet
        read is unknown, so one deep queue sends every queued read to the snapshots)."""
        return any(len(order) >= self.deep for _, order, _ in self._snapshots.values())

    def deepened(self, engine: str) -> None:
        self._refresh_soon(engine)

    def position(self, job: Job) -> int:
        snap = self._snapshots.get(job.engine)
        if snap is None or len(snap[1]) < self.deep:
            position = self.store.position_of(job)
            if position >= self.deep:
                self._refresh_soon(job.engine)
            return position
        if time.monotonic() - snap[0] > self.ttl_s:
            self._refresh_soon(job.engine)
        return bisect.bisect_left(snap[1], snap[2](job))

    def _refresh_soon(self, engine: str) -> None:
        with self._lock:
            if engine in self._refreshing:
                return
            self._refreshing.add(engine)
        threading.Thread(target=self._refresh, args=(engine,), name="queue-rank", daemon=True).start()

    def _refresh(self, engine: str) -> None:
        try:
            order, key = self.store.queue_keys(engine)
            self._snapshots[engine] = (time.monotonic(), order, key)
        except Exception:  # noqa: BLE001 - the next read tries again; counts stay exact meanwhile
            self._snapshots.pop(engine, None)
        finally:
            with self._lock:
                self._refreshing.discard(engine)
