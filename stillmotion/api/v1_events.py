"""GET /v1/jobs/{id}/events: server-sent events from the job's first look to its end.

Each change is one event whose data is the v1 job object: `status` when the state changed,
`progress` when only progress, ETA or queue position moved; then `end` and the stream closes.
A comment line every `KEEPALIVE_S` keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from stillmotion.api.common import owner, runtime, with_errors
from stillmotion.errors import StillmotionError
from stillmotion.presenters import v1_job

POLL_S = 0.2
KEEPALIVE_S = 15.0


def _shape(exc: StillmotionError) -> dict[str, Any]:
    return {"error": {"code": exc.reason, "message": exc.message, "field": exc.field}}


def _frame(event: str, seq: int, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\nid: " + str(seq).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@with_errors(_shape)
async def events(request: Request) -> Response:
    who = owner(request)
    job_id = request.path_params["job_id"]
    rt = runtime(request)
    rt.service.locate(who, job_id)  # 404 (and 401) before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        seq, last, quiet_since = 0, None, time.monotonic()
        while True:
            job, position = rt.service.locate(who, job_id)
            body = v1_job(job, rt.artifacts.sign, position)
            state = (body["status"], body["progress"], body["eta"], body["queue_position"])
            if state != last:
                seq += 1
                kind = "status" if last is None or last[0] != state[0] else "progress"
                yield _frame(kind, seq, body)
                last, quiet_since = state, time.monotonic()
            if job.status.final:
                yield _frame("end", seq + 1, {"id": job.id, "status": body["status"]})
                return
            if time.monotonic() - quiet_since > KEEPALIVE_S:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(POLL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
