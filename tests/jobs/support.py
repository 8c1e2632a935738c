"""Helpers shared by the job-core tests: a fake clock, backend-aware waits, transition checks."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import uuid4

import numpy as np
import pytest
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import BaseEngine, RenderContext
from stillmotion.jobs import TRANSITIONS, JobStatus, NewJob

BACKENDS = ("memory", "sqlite", "postgresql")
SQL_BACKENDS = ("sqlite", "postgresql")
LEASE = 0.2  # seconds: SQL tests wait a little past this for a lease to lapse

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, which the test expects to be there."""
    assert value is not None
    return value


class FakeClock:
    """A `MemoryDatabase` clock: starts at the real now, moves 1 µs per reading (so rows made
    one after another get distinct times, as on a real clock) and jumps on `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(microseconds=1)
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class Clock:
    """Time as one backend sees it: the fake clock for memory, the wall clock for SQL."""

    def __init__(self, backend: str, fake: FakeClock) -> None:
        self.backend = backend
        self.fake = fake

    def now(self) -> datetime:
        return self.fake() if self.backend == "memory" else datetime.now(UTC)

    def wait_past(self, seconds: float) -> None:
        """Let `seconds` pass (and a little more): a jump for memory, a sleep for SQL."""
        if self.backend == "memory":
            self.fake.advance(seconds + 0.001)
        else:
            time.sleep(seconds + 0.05)


def only_on(*backends: str) -> pytest.MarkDecorator:
    """Run a test on these backends only."""
    return pytest.mark.parametrize("backend", list(backends), indirect=True)


def assert_moves(before: Mapping[str, JobStatus], after: Mapping[str, JobStatus]) -> list[tuple[JobStatus, JobStatus]]:
    """Every status change between two snapshots is a move in TRANSITIONS; returns the moves."""
    moves = []
    for job_id, old in before.items():
        new = after.get(job_id)
        assert new is not None, f"job {job_id} disappeared"
        if new != old:
            assert new in TRANSITIONS[old], f"job {job_id}: {old} -> {new} is not an allowed move"
            moves.append((old, new))
    return moves


_ids = itertools.count()


def new_job(**overrides: Any) -> NewJob:
    """A valid NewJob; any field overridable."""
    fields: dict[str, Any] = {
        "id": f"job-{next(_ids):05d}-{uuid4().hex[:6]}",
        "owner": "owner-1",
        "model": "vidu/vidu-q3/image-to-video",
        "dialect": "job",
        "engine": "motion",
        "amount": Decimal("0.60"),
        "args": {"prompt": "a cat", "duration": 5},
        "spec": {"num_frames": 120},
        "seed": 1234,
    }
    fields.update(overrides)
    return NewJob(**fields)


class FakeEngine(BaseEngine):
    """Yields solid frames; or raises `error` on its first `failing_runs` runs; or hangs until
    told to stop; `frame_s` slows each frame."""

    name = "motion"

    def __init__(self, error: BaseException | None = None, failing_runs: int = 1, hang: bool = False,
                 frame_s: float = 0.0) -> None:
        self.error = error
        self.failing_runs = failing_runs
        self.hang = hang
        self.frame_s = frame_s
        self.runs = 0
        self.first_frame = threading.Event()

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        self.runs += 1
        if self.error is not None and self.runs <= self.failing_runs:
            raise self.error
        ctx.metadata["fake"] = {"run": self.runs}
        for i in range(spec.num_frames):
            if self.hang and i == 1:
                while not ctx.should_stop():
                    time.sleep(0.005)
                ctx.check()
            time.sleep(self.frame_s)
            yield np.full((spec.height, spec.width, 3), (i * 40) % 256, np.uint8)
            self.first_frame.set()


def png(side: int = 160) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 80, 40)).save(buf, format="PNG")
    return buf.getvalue()
