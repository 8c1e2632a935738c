"""Group commit for job creation: one thread stores waiting creates in one transaction.

SQLite has one writer at a time, so concurrent creates used to queue on the write lock and
each paid its own BEGIN IMMEDIATE ... COMMIT. The writer instead takes every create waiting at
that moment (up to `max_batch`) and stores them together (`Store.create_jobs`); each caller's
future resolves only after that transaction committed, so a create that was answered is on
disk exactly as before. Refusals (balance, idempotency conflict) stay per request.

Callers on an event loop use `submit_async`: their asyncio futures are settled by one callback
per loop and batch (one wake-up of the loop), not one thread-safe hand-over per request.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any, Union

log = logging.getLogger("stillmotion.store")

Batch = Callable[[Sequence[Any]], list[Any]]
Waiter = Union[Future, asyncio.Future]


def _settle(pairs: list[tuple[asyncio.Future, Any]]) -> None:
    """On the loop: hand each waiting request its outcome (unless it gave up waiting)."""
    for future, result in pairs:
        if future.done():  # cancelled: the client went away; the job is stored all the same
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class JobWriter:
    max_batch = 128

    def __init__(self, store_batch: Batch) -> None:
        self._store_batch = store_batch
        self._queue: queue.SimpleQueue[tuple[Any, Waiter] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="job-writer", daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Future:
        """A future of the stored job (or of the exception storing it raised)."""
        return self._put(item, Future())

    def submit_async(self, item: Any) -> asyncio.Future:
        """As `submit`, for a caller on the running event loop: await the returned future."""
        return self._put(item, asyncio.get_running_loop().create_future())

    def _put(self, item: Any, future: Waiter) -> Any:
        if self._closed:
            future.set_exception(RuntimeError("the job store is closed"))
        else:
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
            self._hand_out([future for _, future in batch], results)
        # Anything still queued after close: refuse rather than leave a caller waiting.
        rest: list[Waiter] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                rest.append(item[1])
        self._hand_out(rest, [RuntimeError("the job store is closed")] * len(rest))

    @staticmethod
    def _hand_out(futures: Sequence[Waiter], results: Sequence[Any]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for future, result in zip(futures, results):
            if isinstance(future, asyncio.Future):
                by_loop.setdefault(future.get_loop(), []).append((future, result))
                continue
            try:
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            except InvalidStateError:  # the caller cancelled its wait; the writer carries on
                pass
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, pairs)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                log.warning("event loop closed before %d stored jobs could be answered", len(pairs))
