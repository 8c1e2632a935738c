"""Group commit for job creation: one thread stores waiting creates in one transaction.

SQLite has one writer at a time, so concurrent creates used to queue on the write lock and
each paid its own BEGIN IMMEDIATE ... COMMIT. The writer instead takes every create waiting at
that moment (up to `max_batch`) and stores them together (`Store.create_jobs`); each caller's
future resolves only after that transaction committed, so a create that was answered is on
disk exactly as before. Refusals (balance, idempotency conflict) stay per request.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

log = logging.getLogger("stillmotion.store")

Batch = Callable[[Sequence[Any]], list[Any]]


class JobWriter:
    max_batch = 128

    def __init__(self, store_batch: Batch) -> None:
        self._store_batch = store_batch
        self._queue: queue.SimpleQueue[tuple[Any, Future] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="job-writer", daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Future:
        """A future of the stored job (or of the exception storing it raised)."""
        future: Future = Future()
        if self._closed:
            future.set_exception(RuntimeError("the job store is closed"))
            return future
        self._queue.put((item, future))
        return future

    def close(self, timeout: float = 30.0) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results = self._store_batch([item for item, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiter learns of it
                log.exception("storing a batch of %d jobs failed", len(batch))
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results):
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        # Anything still queued after close: refuse rather than leave a caller waiting.
        while True:
            try:
                rest = self._queue.get_nowait()
            except queue.Empty:
                return
            if rest is not None:
                rest[1].set_exception(RuntimeError("the job store is closed"))
