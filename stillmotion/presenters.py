"""Wire bodies for each dialect, built from a stored Job.

These are pure functions shared by the HTTP handlers (query endpoints) and the callback
dispatcher (which must POST exactly what a query would return), so they live outside `api/`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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


def callback_body(kind: str, job: Job, sign: Signer, ttl_s: int) -> dict[str, Any]:
    """What a final-state callback POSTs, by the dialect that asked for it."""
    if kind == "async":
        return {"event_type": "ASYNC_TASK_RESULT", "payload": task_result_body(job, sign, ttl_s)}
    return job_query_body(job, sign)
