"""The async-task dialect (seeds 003, 004): /v3/async/<model> and /v3/async/task-result."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_body, json_response, owner, runtime, with_errors
from stillmotion.errors import FieldInvalid, StillmotionError
from stillmotion.presenters import task_result_body

ASYNC_MODELS = ("vidu-q3-pro-i2v", "vidu-q3-turbo-i2v")


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


def submit_route(model_id: str) -> Route:
    @with_errors(shape_error)
    async def submit(request: Request) -> Response:
        who = owner(request)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise FieldInvalid("must be a JSON object", field="body")
        url = _webhook_url(body)
        job = (await runtime(request).service.submit(
            who, model_id, body, dialect="async", callback_url=url, callback_field="extra.webhook.url",
            idempotency_key=request.headers.get("idempotency-key"),
        )).job
        return json_response({"task_id": job.id})

    return Route(f"/v3/async/{model_id}", submit, methods=["POST"], name=f"async:{model_id}")


@with_errors(shape_error)
async def task_result(request: Request) -> Response:
    who = owner(request)
    rt = runtime(request)
    job = rt.service.get(who, request.query_params.get("task_id"), field="task_id")
    return json_response(task_result_body(job, rt.artifacts.sign, rt.artifacts.ttl_s))


routes = [submit_route(m) for m in ASYNC_MODELS] + [
    Route("/v3/async/task-result", task_result, methods=["GET"]),
]
