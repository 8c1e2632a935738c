"""Wire dialects, one module each: parse requests, present jobs and errors, build callbacks.

Nothing outside this package speaks a wire format: the service, store and engines see
`CreateRequest`s and `Job`s. A job's `dialect` names the module whose callback body it gets.
"""

from __future__ import annotations

from typing import Any

from stillmotion.jobs import Job

from . import async_task, job, native, openai_videos, vidu
from .common import Signer

BY_NAME = {m.NAME: m for m in (job, async_task, native, openai_videos, vidu)}


def callback_body(
    kind: str, job_: Job, sign: Signer, ttl_s: int, event: str = "completed", snapshot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a callback POSTs, in the body of the dialect that asked for it."""
    return BY_NAME[kind].callback_body(job_, sign, ttl_s, event, snapshot)


def callback_headers(kind: str, url: str, secret: str, body: bytes) -> dict[str, str]:
    """Extra signature headers of a dialect that signs its own way (Vidu's HMAC); {} otherwise."""
    sign = getattr(BY_NAME.get(kind), "callback_headers", None)
    return sign(url, secret, body) if sign is not None else {}
