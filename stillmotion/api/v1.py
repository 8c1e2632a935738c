"""The native REST API `/v1` (docs/api-v1.md): jobs of every dialect, cancel, events, money.

Thin handlers: parse, call the JobService, shape with `presenters.v1_*`. Errors read
`{"error": {"code", "message", "field"}}` with the HTTP status of the error.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_body, json_response, owner, runtime, with_errors
from stillmotion.api.v1_events import events
from stillmotion.catalog import format_amount
from stillmotion.errors import FieldInvalid, StillmotionError
from stillmotion.presenters import V1_STATUS, v1_job
from stillmotion.store.listing import JobFilter

CREATE_FIELDS = ("model", "input", "webhook", "webhook_events_filter")
STATUS_BY_NAME = {name: status for status, name in V1_STATUS.items()}
MAX_PAGE = 100


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    return {"error": {"code": exc.reason, "message": exc.message, "field": exc.field}}


def job_body(request: Request, job: Any, position: int | None = None) -> dict[str, Any]:
    return v1_job(job, runtime(request).artifacts.sign, position)


@with_errors(shape_error)
async def create_job(request: Request) -> Response:
    who = owner(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FieldInvalid("must be a JSON object", field="body")
    unknown = [k for k in body if k not in CREATE_FIELDS]
    if unknown:
        raise FieldInvalid(f"unknown field; the body takes {', '.join(CREATE_FIELDS)}", field=str(unknown[0]))
    if "input" not in body:
        raise FieldInvalid("required: the model's arguments (see GET /v1/models)", field="input")
    done = await runtime(request).service.submit(
        who,
        body.get("model"),
        body.get("input"),
        dialect="v1",
        callback_url=body.get("webhook"),
        callback_field="webhook",
        idempotency_key=request.headers.get("idempotency-key"),
        webhook_events=body.get("webhook_events_filter"),
    )
    headers = {"Location": f"/v1/jobs/{done.job.id}"}
    if done.replayed:
        headers["Idempotent-Replayed"] = "true"
    job, position = runtime(request).service.placed(done.job)
    return json_response(job_body(request, job, position), 200 if done.replayed else 201, headers)


@with_errors(shape_error)
async def get_job(request: Request) -> Response:
    job, position = runtime(request).service.locate(owner(request), request.path_params["job_id"])
    return json_response(job_body(request, job, position))


@with_errors(shape_error)
async def cancel_job(request: Request) -> Response:
    job = runtime(request).service.cancel(owner(request), request.path_params["job_id"])
    return json_response(job_body(request, job))


@with_errors(shape_error)
async def list_jobs(request: Request) -> Response:
    who = owner(request)
    q = request.query_params
    limit = _int(q.get("limit"), "limit", 20, 1, MAX_PAGE)
    filters = JobFilter(
        statuses=tuple(_status(s) for s in _csv(q.get("status"))),
        models=tuple(_csv(q.get("model"))),
        created_after=_time(q.get("created_after"), "created_after"),
        created_before=_time(q.get("created_before"), "created_before"),
        after=_cursor(q.get("cursor")),
    )
    page = runtime(request).service.list(who, filters, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    sign = runtime(request).artifacts.sign
    next_cursor = _encode_cursor(page[-1]) if more and page else None
    return json_response({
        "object": "list",
        "data": [v1_job(job, sign) for job in page],
        "has_more": more,
        "next_cursor": next_cursor,
    })


@with_errors(shape_error)
async def deliveries(request: Request) -> Response:
    rows = runtime(request).service.deliveries(owner(request), request.path_params["job_id"])
    return json_response({"object": "list", "data": [
        {
            "id": d.id,
            "webhook_id": f"msg_{d.job_id}_{d.id}",
            "url": d.url,
            "event": d.event,
            "dialect": d.kind,
            "status": d.status,
            "attempts": d.attempts,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None,
            "created_at": _iso(d.created_at),
            "history": d.history,
        }
        for d in rows
    ]})


@with_errors(shape_error)
async def models(request: Request) -> Response:
    owner(request)
    return json_response({"object": "list", "data": [model_body(e) for e in runtime(request).service.models()]})


def model_body(entry: Any) -> dict[str, Any]:
    schema = entry.json_schema()
    defaults = {k: v["default"] for k, v in schema["properties"].items() if "default" in v}
    return {
        "id": entry.id,
        "object": "model",
        "title": entry.title,
        "dialect": entry.dialect,
        "task_type": entry.task_type,
        "input_schema": schema,
        "defaults": defaults,
        "price": entry.price_table(),
    }


@with_errors(shape_error)
async def quote(request: Request) -> Response:
    owner(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FieldInvalid("must be a JSON object", field="body")
    entry, amount, normal = runtime(request).service.quote(body.get("model"), body.get("input"))
    return json_response({
        "object": "quote",
        "model": entry.id,
        "amount": format_amount(amount),
        "currency": "USD",
        "off_peak": bool(normal.get("off_peak", False)),
        "input": normal,
    })


@with_errors(shape_error)
async def usage(request: Request) -> Response:
    who = owner(request)
    limit = _int(request.query_params.get("limit"), "limit", 100, 1, 1000)
    lines, total, balance = runtime(request).service.usage(who, limit)
    return json_response({
        "object": "usage",
        "balance": None if balance is None else format_amount(balance),
        "net_spent": format_amount(total),
        "ledger": [
            {"id": ln.id, "job_id": ln.job_id, "kind": ln.kind, "amount": format_amount(ln.amount),
             "created_at": _iso(ln.created_at)}
            for ln in lines
        ],
    })


@with_errors(shape_error)
async def webhook_secret(request: Request) -> Response:
    who = owner(request)
    return json_response({"object": "webhook_secret", "secret": runtime(request).auth.webhook_secret(who)})


# -- query parsing -------------------------------------------------------------------------------


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _status(name: str) -> Any:
    if name not in STATUS_BY_NAME:
        raise FieldInvalid(f"unknown status {name!r}; use {', '.join(STATUS_BY_NAME)}", field="status")
    return STATUS_BY_NAME[name]


def _int(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise FieldInvalid(f"must be an integer {low}-{high}, got {value!r}", field=field)
    return int(value)


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FieldInvalid(f"must be an ISO 8601 time, got {value!r}", field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _encode_cursor(job: Any) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, job_id = raw.split("|", 1)
        return datetime.fromisoformat(at), job_id
    except (ValueError, UnicodeDecodeError):
        raise FieldInvalid("invalid cursor; pass next_cursor from the previous page", field="cursor") from None


def _iso(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts else None


routes = [
    Route("/v1/jobs", create_job, methods=["POST"]),
    Route("/v1/jobs", list_jobs, methods=["GET"]),
    Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/v1/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
    Route("/v1/jobs/{job_id}/events", events, methods=["GET"]),
    Route("/v1/jobs/{job_id}/deliveries", deliveries, methods=["GET"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/v1/quote", quote, methods=["POST"]),
    Route("/v1/usage", usage, methods=["GET"]),
    Route("/v1/webhook-secret", webhook_secret, methods=["GET"]),
]
