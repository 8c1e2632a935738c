"""What every dialect's bodies share: how a signed URL is made, and a job's error object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stillmotion.errors import FieldInvalid
from stillmotion.jobs import FailureCode, Job, JobStatus

Signer = Callable[[str], str]  # artifact key -> signed URL


def error_body(job: Job) -> dict[str, str] | None:
    """`{code, message}` of a job that ended without a video; None otherwise."""
    if job.status == JobStatus.CANCELED:
        return {"code": job.error_code or FailureCode.CANCELED, "message": job.error_message or "canceled"}
    if job.status != JobStatus.FAILED:
        return None
    return {"code": job.error_code or FailureCode.GENERATION_FAILURE, "message": job.error_message or ""}


def object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FieldInvalid("must be a JSON object", field="body")
    return body
