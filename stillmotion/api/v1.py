"""The native REST API `/v1` (docs/api-v1.md): jobs of every dialect, cancel, events, money.

Thin handlers: parse and present with `dialects.native`, call the JobService.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import dialect_mount, json_body, json_response, owner, owner_async, runtime
from stillmotion.api.v1_events import events
from stillmotion.audio.voices import VOICES
from stillmotion.dialects import native
from stillmotion.dialects.common import object_body


async def create_job(request: Request) -> Response:
    who = await owner_async(request)
    req = native.parse_create(await json_body(request), request.headers.get("idempotency-key"))
    rt = runtime(request)
    done = await rt.service.submit(who, req)
    headers = {"Location": f"/v1/jobs/{done.job.id}"}
    if done.replayed:
        headers["Idempotent-Replayed"] = "true"
    job, position = await anyio.to_thread.run_sync(rt.service.placed, done.job)
    return json_response(native.job_body(job, rt.artifacts.sign, position), 200 if done.replayed else 201, headers)


def get_job(request: Request) -> Response:
    rt = runtime(request)
    job, position = rt.service.locate(owner(request), request.path_params["job_id"])
    return json_response(native.job_body(job, rt.artifacts.sign, position))


def cancel_job(request: Request) -> Response:
    rt = runtime(request)
    job = rt.service.cancel(owner(request), request.path_params["job_id"])
    return json_response(native.job_body(job, rt.artifacts.sign))


def list_jobs(request: Request) -> Response:
    rt = runtime(request)
    who = owner(request)
    filters, limit = native.parse_filters(request.query_params)
    page = rt.service.list(who, filters, limit + 1)
    return json_response(native.list_body(page[:limit], len(page) > limit, rt.artifacts.sign))


def deliveries(request: Request) -> Response:
    rows = runtime(request).service.deliveries(owner(request), request.path_params["job_id"])
    return json_response({"object": "list", "data": [native.delivery_body(d) for d in rows]})


def models(request: Request) -> Response:
    owner(request)
    return json_response({"object": "list", "data": [native.model_body(e) for e in runtime(request).service.models()]})


async def quote(request: Request) -> Response:
    await owner_async(request)
    body = object_body(await json_body(request))
    entry, amount, normal = runtime(request).service.quote(body.get("model"), body.get("input"))
    return json_response(native.quote_body(entry, amount, normal))


def usage(request: Request) -> Response:
    who = owner(request)
    limit = native.parse_int(request.query_params.get("limit"), "limit", 100, 1, 1000)
    lines, total, balance = runtime(request).service.usage(who, limit)
    from stillmotion.upstream.money import margins

    body = native.usage_body(lines, total, balance)
    body["upstream"] = [{k: v for k, v in m.items() if k != "owner"}
                        for m in margins(runtime(request).db.upstream.money(who))]  # price, cost, margin
    return json_response(body)


def webhook_secret(request: Request) -> Response:
    who = owner(request)
    return json_response({"object": "webhook_secret", "secret": runtime(request).auth.webhook_secret(who)})


def voices(request: Request) -> Response:
    """The valid `voice_id` values (plain data: answering loads no speech library)."""
    owner(request)
    return json_response({"object": "list", "data": [v.to_dict() for v in VOICES]})


mount = dialect_mount(
    "/v1",
    [
        Route("/jobs", create_job, methods=["POST"]),
        Route("/jobs", list_jobs, methods=["GET"]),
        Route("/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
        Route("/jobs/{job_id}/events", events, methods=["GET"]),
        Route("/jobs/{job_id}/deliveries", deliveries, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/quote", quote, methods=["POST"]),
        Route("/usage", usage, methods=["GET"]),
        Route("/webhook-secret", webhook_secret, methods=["GET"]),
        Route("/voices", voices, methods=["GET"]),
    ],
    native.shape_error,
)
