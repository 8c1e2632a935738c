"""The job dialect (seeds 000-002): /api/v1/job/create and /api/v1/job/query."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_body, json_response, owner, runtime, with_errors
from stillmotion.catalog import format_amount
from stillmotion.errors import FieldInvalid, StillmotionError
from stillmotion.presenters import job_query_body


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    return {"code": exc.status, "message": exc.message, "data": None}


@with_errors(shape_error)
async def create(request: Request) -> Response:
    who = owner(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FieldInvalid("must be a JSON object", field="body")
    job = (await runtime(request).service.submit(
        who,
        body.get("model"),
        body.get("args"),
        dialect="job",
        callback_url=body.get("callback_url"),
        idempotency_key=request.headers.get("idempotency-key"),
    )).job
    data = {"amount": format_amount(job.amount), "job_id": job.id}
    # compat: the seeds' sample code reads job_id at the top level.
    return json_response({"code": 0, "message": "success", "data": data, "job_id": job.id})


@with_errors(shape_error)
async def query(request: Request) -> Response:
    who = owner(request)
    rt = runtime(request)
    job = rt.service.get(who, request.query_params.get("id"), field="id")
    return json_response(job_query_body(job, rt.artifacts.sign))


routes = [
    Route("/api/v1/job/create", create, methods=["POST"]),
    Route("/api/v1/job/query", query, methods=["GET"]),
]
