"""Frame-parallel rendering: several frames at once, each on its own thread, in order.

Every frame of a clip is a pure function of its time t (the plan, the warp, effect fields and
flows are fixed before the first frame), so frames can be rendered side by side. That beats
OpenCV's own threading, which splits each call across cores and waits at the end of each:
on two cores a 720p turbo frame is a dozen calls of 0.3-6 ms, and OpenCV's workers spent a
large share of the time waiting (CPU 3.6 s for 120 frames on two threads, 3.1 s on one).
With one OpenCV thread per frame and frames in parallel, the waiting goes away.

Renderers keep their full-resolution scratch buffers per thread (`Scratch`): fresh 4-8 MB
arrays every frame cost more in page faults than the arithmetic, and a shared buffer would
be overwritten by the other thread's frame.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from stillmotion.engines.cores import usable_cores

T = TypeVar("T")
R = TypeVar("R")

MAX_FRAME_WORKERS = 4  # beyond this the encoder, not the engine, sets the pace


def frame_workers() -> int:
    """Threads to render frames on: the cores this process may use, at most MAX_FRAME_WORKERS."""
    return max(1, min(MAX_FRAME_WORKERS, usable_cores()))


class Scratch(threading.local):
    """Named reusable arrays, one set per thread."""

    def get(self, name: str, shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
        """This thread's array `name` (allocated on first use, uninitialised), reused afterwards."""
        buf = self.__dict__.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.__dict__[name] = np.empty(shape, dtype)
        return buf


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """fn over items on `workers` threads, results in the order of `items`.

    At most `workers + 1` items are submitted ahead of the one being consumed, so memory stays
    bounded and a consumer that stops early (a cancel) waits for at most `workers` frames.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="motion-frame")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
