"""The async-task dialect (seeds 003, 004): /v3/async/<model> and /v3/async/task-result.

Statuses are `TASK_STATUS_*` names (no canceled state: canceled reads as failed), times are
epoch milliseconds, errors `{code, reason, message, metadata}`; the callback wraps the
task-result body in `{event_type: ASYNC_TASK_RESULT, payload}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stillmotion.catalog import get_model
from stillmotion.errors import FieldInvalid, StillmotionError
from stillmotion.jobs import Job, JobStatus
from stillmotion.service import CreateRequest

from .common import Signer, object_body

NAME = "async"
MODELS = frozenset({"vidu-q3-pro-i2v", "vidu-q3-turbo-i2v"})  # one submit path each
STATUS = {
    JobStatus.QUEUED: "TASK_STATUS_QUEUED",
    JobStatus.PROCESSING: "TASK_STATUS_PROCESSING",
    JobStatus.SUCCEEDED: "TASK_STATUS_SUCCEED",
    JobStatus.FAILED: "TASK_STATUS_FAILED",
    JobStatus.CANCELED: "TASK_STATUS_FAILED",  # compat: the async dialect has no canceled state
}


def timestamp(ts: datetime | None) -> int:
    return int(ts.timestamp() * 1000) if ts else 0


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    return {"code": exc.status, "reason": exc.reason, "message": exc.message, "metadata": {}}


def _webhook_url(body: dict[str, Any]) -> Any:
    """`extra.webhook.url`, checking each level's type so the error names the right field."""
    extra = body.pop("extra", None)
    if extra is None:
        return None
    if not isinstance(extra, dict):
        raise FieldInvalid("must be an object", field="extra")
    webhook = extra.get("webhook")
    if webhook is None:
        return None
    if not isinstance(webhook, dict):
        raise FieldInvalid("must be an object", field="extra.webhook")
    url = webhook.get("url")
    if url is None:
        raise FieldInvalid("required when extra.webhook is given", field="extra.webhook.url")
    return url


def parse_create(model_id: str, body: Any, idempotency_key: str | None) -> CreateRequest:
    body = dict(object_body(body))
    url = _webhook_url(body)
    return CreateRequest(
        model=model_id, args=body, args_field="body", dialect=NAME, models=MODELS, callback_url=url,
        callback_field="extra.webhook.url", idempotency_key=idempotency_key,
    )


def created_body(job: Job) -> dict[str, Any]:
    return {"task_id": job.id}


def task_result_body(job: Job, sign: Signer, ttl_s: int) -> dict[str, Any]:
    """The task-result body; every field present with its type (strict SDKs)."""
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
            "status": STATUS[job.status],
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
                "submit_time_ms": timestamp(job.created_at),
                "execute_time_ms": timestamp(job.started_at),
                "complete_time_ms": timestamp(job.finished_at),
            },
        },
    }


def callback_body(job: Job, sign: Signer, ttl_s: int, event: str, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    return {"event_type": "ASYNC_TASK_RESULT", "payload": task_result_body(job, sign, ttl_s)}
