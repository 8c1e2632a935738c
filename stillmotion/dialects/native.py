"""The native REST API `/v1` (docs/api-v1.md): jobs of every dialect, money, live events.

Statuses are lower-case names, times ISO 8601 with microseconds, errors
`{"error": {code, message, field}}`; webhooks are Standard Webhooks `{type, timestamp, data}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stillmotion.catalog import format_amount
from stillmotion.errors import FieldInvalid, StillmotionError
from stillmotion.jobs import Delivery, Job, JobFilter, JobStatus, LedgerLine
from stillmotion.service import CreateRequest

from . import async_task, job
from .common import Signer, error_body, object_body, page_cursor, parse_int, read_page_cursor

NAME = "v1"
CREATE_FIELDS = ("model", "input", "webhook", "webhook_events_filter")
EVENT_TYPES = {"start": "job.started", "progress": "job.progress", "completed": "job.completed"}
MAX_PAGE = 100


def seed_dialect(model_id: str) -> str:
    """The seed endpoint family a model is sold on (`/v1/models` reports it); every dialect with a
    model field of its own (`/v1`, OpenAI, Vidu) takes every model."""
    return job.NAME if model_id in job.MODELS else async_task.NAME if model_id in async_task.MODELS else NAME


def timestamp(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts else None


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    return {"error": {"code": exc.reason, "message": exc.message, "field": exc.field}}


def parse_create(body: Any, idempotency_key: str | None) -> CreateRequest:
    body = object_body(body)
    unknown = [k for k in body if k not in CREATE_FIELDS]
    if unknown:
        raise FieldInvalid(f"unknown field; the body takes {', '.join(CREATE_FIELDS)}", field=str(unknown[0]))
    if "input" not in body:
        raise FieldInvalid("required: the model's arguments (see GET /v1/models)", field="input")
    return CreateRequest(
        model=body.get("model"), args=body.get("input"), args_field="input", dialect=NAME,
        callback_url=body.get("webhook"), callback_field="webhook", idempotency_key=idempotency_key,
        webhook_events=body.get("webhook_events_filter"), default_events=True,
    )


def output(job: Job, sign: Signer) -> dict[str, Any] | None:
    """The output object; URLs are null once retention deleted the files."""
    if job.status != JobStatus.SUCCEEDED or not job.result:
        return None
    r = job.result
    gone = job.purged
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


def job_body(job: Job, sign: Signer, queue_position: int | None = None) -> dict[str, Any]:
    """The job object, for jobs of every dialect."""
    return {
        "id": job.id,
        "object": "job",
        "model": job.model,
        "dialect": job.dialect,
        "status": job.status.value,
        "progress": job.progress,
        "eta": job.eta,
        "queue_position": queue_position if job.status == JobStatus.QUEUED else None,
        "amount": format_amount(job.amount),
        "refunded": job.refunded,
        "off_peak": job.off_peak,
        "seed": job.seed,
        "input": job.args,
        "output": output(job, sign),
        "error": error_body(job),
        "metadata": job.metadata,
        "created_at": timestamp(job.created_at),
        "started_at": timestamp(job.started_at),
        "finished_at": timestamp(job.finished_at),
    }


def callback_body(job: Job, sign: Signer, ttl_s: int, event: str, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """Progress events carry the progress they were queued with, not whatever the job shows when sent."""
    data = job_body(job, sign)
    if event != "completed":  # the job as it was at the event, even if it ended since
        data.update(status="processing", output=None, error=None, finished_at=None)
        data.update(snapshot or {"progress": 0, "eta": None})
    return {"type": EVENT_TYPES[event], "timestamp": timestamp(datetime.now(UTC)), "data": data}


def list_body(page: list[Job], more: bool, sign: Signer) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [job_body(job, sign) for job in page],
        "has_more": more,
        "next_cursor": page_cursor(page[-1]) if more and page else None,
    }


def delivery_body(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "webhook_id": f"msg_{d.job_id}_{d.id}",
        "url": d.url,
        "event": d.event,
        "dialect": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "next_attempt_at": timestamp(d.next_attempt_at) if d.status == "pending" else None,
        "created_at": timestamp(d.created_at),
        "history": d.history,
    }


def usage_body(lines: list[LedgerLine], total: Any, balance: Any) -> dict[str, Any]:
    return {
        "object": "usage",
        "balance": None if balance is None else format_amount(balance),
        "net_spent": format_amount(total),
        "ledger": [
            {"id": ln.id, "job_id": ln.job_id, "kind": ln.kind, "amount": format_amount(ln.amount),
             "created_at": timestamp(ln.created_at)}
            for ln in lines
        ],
    }


def model_body(entry: Any) -> dict[str, Any]:
    schema = entry.json_schema()
    defaults = {k: v["default"] for k, v in schema["properties"].items() if "default" in v}
    return {
        "id": entry.id,
        "object": "model",
        "title": entry.title,
        "dialect": seed_dialect(entry.id),
        "task_type": entry.task_type,
        "input_schema": schema,
        "defaults": defaults,
        "price": entry.price_table(),
    }


def quote_body(entry: Any, amount: Any, normal: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "quote",
        "model": entry.id,
        "amount": format_amount(amount),
        "currency": "USD",
        "off_peak": bool(normal.get("off_peak", False)),
        "input": normal,
    }


# -- query parsing -------------------------------------------------------------------------------


def parse_filters(q: Any) -> tuple[JobFilter, int]:
    """List filters and page size from the query string."""
    limit = parse_int(q.get("limit"), "limit", 20, 1, MAX_PAGE)
    filters = JobFilter(
        statuses=tuple(_status(s) for s in _csv(q.get("status"))),
        models=tuple(_model(m) for m in _csv(q.get("model"))),
        created_after=_time(q.get("created_after"), "created_after"),
        created_before=_time(q.get("created_before"), "created_before"),
        after=_cursor(q.get("cursor")),
    )
    return filters, limit


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _model(name: str) -> str:
    """A model filter: printable text of a sane length (a NUL byte would reach PostgreSQL)."""
    if len(name) > 200 or not name.isprintable():
        raise FieldInvalid("must be printable text of at most 200 characters", field="model")
    return name


def _status(name: str) -> JobStatus:
    try:
        return JobStatus(name)
    except ValueError:
        raise FieldInvalid(f"unknown status {name!r}; use {', '.join(JobStatus)}", field="status") from None


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise FieldInvalid(f"must be an ISO 8601 time, got {value!r}", field=field) from None


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        return read_page_cursor(value)
    except ValueError:
        raise FieldInvalid("invalid cursor; pass next_cursor from the previous page", field="cursor") from None
