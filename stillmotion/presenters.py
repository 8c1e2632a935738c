"""Wire bodies for each dialect, built from a stored Job.

These are pure functions shared by the HTTP handlers (query endpoints) and the callback
dispatcher (which must POST exactly what a query would return), so they live outside `api/`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stillmotion.catalog import format_amount, get_model
from stillmotion.domain import Job, JobStatus

Signer = Callable[[str], str]  # artifact key -> signed URL

ASYNC_STATUS = {
    JobStatus.QUEUED: "TASK_STATUS_QUEUED",
    JobStatus.PROCESSING: "TASK_STATUS_PROCESSING",
    JobStatus.SUCCEEDED: "TASK_STATUS_SUCCEED",
    JobStatus.FAILED: "TASK_STATUS_FAILED",
    JobStatus.CANCELED: "TASK_STATUS_FAILED",  # compat: the async dialect has no canceled state
}


def iso(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def epoch_ms(ts: datetime | None) -> int:
    return int(ts.timestamp() * 1000) if ts else 0


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


def error_body(job: Job) -> dict[str, str] | None:
    if job.status == JobStatus.CANCELED:
        return {"code": job.error_code or "Canceled", "message": job.error_message or "canceled"}
    if job.status != JobStatus.FAILED:
        return None
    return {"code": job.error_code or "GenerationFailure", "message": job.error_message or ""}


def job_data(job: Job, sign: Signer) -> dict[str, Any]:
    """`data` of the job dialect's query response (API.md section 1)."""
    video = video_entry(job, sign)
    result = None
    if video is not None:
        # compat: the seeds' pages read result.images[0].url, so it repeats the video URL.
        result = {"videos": [video], "images": [{"url": video["url"]}]}
    return {
        "job_id": job.id,
        "model": job.model,
        "status": int(job.status),
        "progress": job.progress,
        "eta": job.eta,
        "amount": format_amount(job.amount),
        "refunded": job.refunded,
        "error": error_body(job),
        "result": result,
        "seed": job.seed,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def job_query_body(job: Job, sign: Signer) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": job_data(job, sign)}


def task_result_body(job: Job, sign: Signer, ttl_s: int) -> dict[str, Any]:
    """The async dialect's task-result body; every field present with its type (strict SDKs)."""
    videos = []
    if job.status == JobStatus.SUCCEEDED and job.result:
        videos = [{"video_url": sign(job.result["video"]), "video_url_ttl": ttl_s, "video_type": "mp4"}]
    if job.status == JobStatus.CANCELED:
        reason = "canceled"
    elif job.status == JobStatus.FAILED:
        reason = f"{job.error_code}: {job.error_message}" if job.error_code else (job.error_message or "")
    else:
        reason = ""
    return {
        "task": {
            "task_id": job.id,
            "task_type": get_model(job.model).task_type,
            "status": ASYNC_STATUS[job.status],
            "reason": reason,
            "eta": int(job.eta or 0),
            "progress_percent": int(job.progress),
        },
        "images": [],
        "audios": [],
        "videos": videos,
        "extra": {
            "seed": int(job.seed),
            "debug_info": {
                "request_info": "",
                "submit_time_ms": epoch_ms(job.created_at),
                "execute_time_ms": epoch_ms(job.started_at),
                "complete_time_ms": epoch_ms(job.finished_at),
            },
        },
    }


V1_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.PROCESSING: "processing",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "canceled",
}
V1_EVENT_TYPES = {"start": "job.started", "progress": "job.progress", "completed": "job.completed"}


def v1_output(job: Job, sign: Signer) -> dict[str, Any] | None:
    """The native output object; URLs are null once retention deleted the files."""
    if job.status != JobStatus.SUCCEEDED or not job.result:
        return None
    r = job.result
    gone = "files_deleted_at" in job.metadata
    return {
        "video_url": None if gone else sign(r["video"]),
        "cover_url": None if gone else sign(r["cover"]),
        "duration": r["duration"],
        "width": r["width"],
        "height": r["height"],
        "fps": r["fps"],
        "has_audio": r["has_audio"],
        "files_deleted": gone,
    }


def v1_job(job: Job, sign: Signer, queue_position: int | None = None) -> dict[str, Any]:
    """The native API's job object (docs/api-v1.md), for jobs of every dialect."""
    return {
        "id": job.id,
        "object": "job",
        "model": job.model,
        "dialect": job.dialect,
        "status": V1_STATUS[job.status],
        "progress": job.progress,
        "eta": job.eta,
        "queue_position": queue_position if job.status == JobStatus.QUEUED else None,
        "amount": format_amount(job.amount),
        "refunded": job.refunded,
        "off_peak": job.off_peak,
        "seed": job.seed,
        "input": job.args,
        "output": v1_output(job, sign),
        "error": error_body(job),
        "metadata": job.metadata,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def v1_event(event: str, job: Job, sign: Signer, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """A native webhook body (Standard Webhooks' {type, timestamp, data} shape). Progress
    events carry the progress they were queued with, not whatever the job shows when sent."""
    data = v1_job(job, sign)
    if event != "completed":  # the job as it was at the event, even if it ended since
        data.update(status="processing", output=None, error=None, finished_at=None)
        data.update(snapshot or {"progress": 0, "eta": None})
    return {"type": V1_EVENT_TYPES[event], "timestamp": iso(datetime.now(UTC)), "data": data}


def callback_body(
    kind: str, job: Job, sign: Signer, ttl_s: int, event: str = "completed",
    snapshot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a callback POSTs, by the dialect that asked for it."""
    if kind == "v1":
        return v1_event(event, job, sign, snapshot)
    if kind == "async":
        return {"event_type": "ASYNC_TASK_RESULT", "payload": task_result_body(job, sign, ttl_s)}
    return job_query_body(job, sign)
