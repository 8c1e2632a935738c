"""GET /v1/jobs/{id}/events: server-sent events from the job's first look to its end.

Each change is one event whose data is the v1 job object: `status` when the state changed,
`progress` when only progress, ETA or queue position moved; then `end` and the stream closes.
A comment line every `KEEPALIVE_S` keeps proxies from closing a quiet stream.

Each key may hold `max_streams_per_key` streams at once; one more is refused with 429 and
Retry-After (a thousand idle streams from one key would otherwise cost every client).

Streams do not poll: one `JobWatch` per process reads every watched job in one query per
`POLL_S` (in a worker thread, never on the event loop) and wakes the streams whose job changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from stillmotion.api.common import owner_async, runtime
from stillmotion.dialects import native
from stillmotion.errors import RateLimited
from stillmotion.jobs import Job
from stillmotion.service import JobService

POLL_S = 0.25
KEEPALIVE_S = 15.0
log = logging.getLogger("stillmotion.api")


@dataclass(eq=False)
class _Stream:
    owner: str
    job_id: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    latest: tuple[Job, int | None] | None = None


class JobWatch:
    """The shared reader behind every live event stream of one process."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self.streams: set[_Stream] = set()
        self.open_per_owner: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def reserve(self, owner: str, cap: int) -> None:
        """Count one more open stream for `owner`, or refuse it (RateLimited) at `cap`
        (0: no cap). Every reserve is paired with a `release`."""
        held = self.open_per_owner.get(owner, 0)
        if cap and held >= cap:
            raise RateLimited(f"{held} live event streams are open for this key, the most allowed; close one, "
                              "or poll GET /v1/jobs/{id}", retry_after=5)
        self.open_per_owner[owner] = held + 1

    def release(self, owner: str) -> None:
        left = self.open_per_owner.get(owner, 1) - 1
        if left > 0:
            self.open_per_owner[owner] = left
        else:
            self.open_per_owner.pop(owner, None)

    def subscribe(self, owner: str, job_id: str) -> _Stream:
        stream = _Stream(owner, job_id)
        self.streams.add(stream)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return stream

    def unsubscribe(self, stream: _Stream) -> None:
        self.streams.discard(stream)

    async def _run(self) -> None:
        while self.streams:
            try:
                await self._tick()
            except Exception:  # a database hiccup: streams wait for the next tick
                log.exception("reading watched jobs failed")
            await asyncio.sleep(POLL_S)

    async def _tick(self) -> None:
        ids = sorted({s.job_id for s in self.streams})
        seen = await anyio.to_thread.run_sync(self.service.watch, ids)
        for s in list(self.streams):
            placed = seen.get(s.job_id)
            if placed is not None and placed[0].owner == s.owner:
                s.latest = placed
                s.changed.set()


def _frame(event: str, seq: int, data: dict) -> bytes:
    return b"event: " + event.encode() + b"\nid: " + str(seq).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def events(request: Request) -> Response:
    rt = runtime(request)
    who = await owner_async(request)
    job_id = request.path_params["job_id"]
    first = await anyio.to_thread.run_sync(rt.service.locate, who, job_id)  # 404 before the stream
    watch: JobWatch = request.app.state.job_watch
    watch.reserve(who, rt.settings.max_streams_per_key)  # on the event loop: no race between streams

    async def stream() -> AsyncIterator[bytes]:
        sub = watch.subscribe(who, job_id)
        sub.latest = first
        seq, last = 0, None
        try:
            while True:
                assert sub.latest is not None
                job, position = sub.latest
                body = native.job_body(job, rt.artifacts.sign, position)
                state = (body["status"], body["progress"], body["eta"], body["queue_position"])
                if state != last:
                    seq += 1
                    kind = "status" if last is None or last[0] != state[0] else "progress"
                    yield _frame(kind, seq, body)
                    last = state
                if job.status.final:
                    yield _frame("end", seq + 1, {"id": job.id, "status": body["status"]})
                    return
                sub.changed.clear()
                try:
                    await asyncio.wait_for(sub.changed.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            watch.unsubscribe(sub)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return _Counted(stream(), lambda: watch.release(who), media_type="text/event-stream", headers=headers)


class _Counted(StreamingResponse):
    """A stream that gives its slot back however it ends (even if it never started)."""

    def __init__(self, content: Any, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
