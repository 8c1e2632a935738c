"""What every dialect's bodies share: how a signed URL is made, and a job's error object."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
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


def page_cursor(job: Job) -> str:
    """An opaque keyset cursor after `job` (its creation time and id), for any dialect's paging."""
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page_cursor(value: str) -> tuple[datetime, str]:
    """The (created_at, id) a `page_cursor` holds; ValueError for anything else (the dialect names
    its own field), including NUL bytes and times without a zone that the database would refuse."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, job_id = raw.split("|", 1)
        parsed = datetime.fromisoformat(at)
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
        raise ValueError(value) from None
    if "\x00" in job_id or parsed.tzinfo is None:
        raise ValueError(value)
    try:
        return parsed.astimezone(UTC), job_id
    except OverflowError:
        raise ValueError(value) from None


def parse_int(value: str | None, field: str, default: int, low: int, high: int) -> int:
    """A query parameter holding an integer in [low, high] (ASCII digits only); `default` when absent."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise FieldInvalid(f"must be an integer {low}-{high}, got {value!r}", field=field)
    return int(value)
