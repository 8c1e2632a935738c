"""The job dialect (seeds 000-002): /api/v1/job/create and /api/v1/job/query.

Statuses are numbers, times ISO 8601 to the second, errors `{code, message, data: null}`
with the HTTP status as `code`; the callback body is the query body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from stillmotion.catalog import format_amount
from stillmotion.errors import StillmotionError
from stillmotion.jobs import Job, JobStatus
from stillmotion.service import CreateRequest

from .common import Signer, error_body, object_body

NAME = "job"
# The models the seeds sell on this dialect (its create endpoint refuses the others, naming these).
MODELS = frozenset({"vidu/vidu-q3/image-to-video", "vidu/vidu-q2/image-to-video",
                    "vidu/vidu-q2/start-end-to-video"})
STATUS = {
    JobStatus.QUEUED: 0,
    JobStatus.PROCESSING: 1,
    JobStatus.SUCCEEDED: 2,
    JobStatus.FAILED: 3,
    JobStatus.CANCELED: 4,
}


def timestamp(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    return {"code": exc.status, "message": exc.message, "data": None}


def parse_create(body: Any, idempotency_key: str | None) -> CreateRequest:
    body = object_body(body)
    return CreateRequest(
        model=body.get("model"), args=body.get("args"), args_field="args", dialect=NAME, models=MODELS,
        callback_url=body.get("callback_url"), idempotency_key=idempotency_key,
    )


def created_body(job: Job) -> dict[str, Any]:
    """The create response as a parser reads it (`created_json` is how it is sent)."""
    # compat: the seeds' Python and JavaScript samples read job_id at the top level.
    data = {"amount": format_amount(job.amount), "job_id": job.id}
    return {"code": 0, "message": "success", "data": data, "job_id": job.id}


def created_json(job: Job) -> bytes:
    """`created_body` as sent: the top-level mirror's key is written `"job\\u005fid"`, which every
    JSON parser reads as `job_id` while the seeds' curl sample (`grep -o '"job_id": *"[^"]*"'`)
    matches only the one in `data`, so all three samples find exactly one id."""
    body = created_body(job)
    mirror = body.pop("job_id")
    return orjson.dumps(body)[:-1] + b',"job\\u005fid":' + orjson.dumps(mirror) + b"}"


def video_entry(job: Job, sign: Signer) -> dict[str, Any] | None:
    """The produced video as the job dialect lists it, or None before success."""
    if job.status != JobStatus.SUCCEEDED or not job.result:
        return None
    r = job.result
    return {
        "url": sign(r["video"]),
        "cover_url": sign(r["cover"]),
        "duration": r["duration"],
        "width": r["width"],
        "height": r["height"],
        "fps": r["fps"],
        "has_audio": r["has_audio"],
    }


def job_data(job: Job, sign: Signer) -> dict[str, Any]:
    """`data` of the query response (docs: API contract, section 1)."""
    video = video_entry(job, sign)
    result = None
    if video is not None:
        # compat: the seeds' pages read result.images[0].url, so it repeats the video URL.
        result = {"videos": [video], "images": [{"url": video["url"]}]}
    return {
        "job_id": job.id,
        "model": job.model,
        "status": STATUS[job.status],
        "progress": job.progress,
        "eta": job.eta,
        "amount": format_amount(job.amount),
        "refunded": job.refunded,
        "error": error_body(job),
        "result": result,
        "seed": job.seed,
        "created_at": timestamp(job.created_at),
        "started_at": timestamp(job.started_at),
        "finished_at": timestamp(job.finished_at),
    }


def query_body(job: Job, sign: Signer) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": job_data(job, sign)}


def callback_body(job: Job, sign: Signer, ttl_s: int, event: str, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    return query_body(job, sign)
