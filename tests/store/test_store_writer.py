"""The group-commit writer hands every waiter its own outcome, on threads and on event loops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from stillmotion.store.writer import JobWriter


def doubling(batches: list[list[Any]]):
    def store_batch(items: Sequence[Any]) -> list[Any]:
        batches.append(list(items))
        return [ValueError(f"refused {i}") if i < 0 else i * 2 for i in items]

    return store_batch


def test_async_waiters_get_their_own_results_in_batches() -> None:
    batches: list[list[Any]] = []
    gate = threading.Event()
    writer = JobWriter(lambda items: (gate.wait(5), doubling(batches)(items))[1])

    async def main() -> list[Any]:
        futures = [writer.submit_async(i) for i in (1, 2, -3, 4)]
        cancelled = writer.submit_async(5)
        cancelled.cancel()  # the client went away: stored all the same, nobody answered
        gate.set()
        return await asyncio.gather(*futures, return_exceptions=True)

    try:
        results = asyncio.run(main())
        assert results[:2] == [2, 4] and results[3] == 8
        assert isinstance(results[2], ValueError) and str(results[2]) == "refused -3"
        assert sorted(i for batch in batches for i in batch) == [-3, 1, 2, 4, 5]
        assert writer.submit(6).result(5) == 12  # still running after a cancelled waiter
    finally:
        writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(7).result(5)


def test_a_failing_batch_fails_each_waiter_and_the_writer_goes_on() -> None:
    calls: list[int] = []

    def store_batch(items: Sequence[Any]) -> list[Any]:
        calls.append(len(items))
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return list(items)

    writer = JobWriter(store_batch)
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            writer.submit(1).result(5)
        cancelled = writer.submit(2)
        cancelled.cancel()
        assert writer.submit(3).result(5) == 3

        async def after_close() -> None:
            writer.close()
            with pytest.raises(RuntimeError, match="closed"):
                await writer.submit_async(4)

        asyncio.run(after_close())
    finally:
        writer.close()
