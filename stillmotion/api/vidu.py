"""Vidu's official API under /ent/v2 (docs/api-vidu.md): create, read, list and cancel tasks.

Thin handlers: parse and present with `dialects.vidu`, call the JobService. Vidu clients send
`Authorization: Token <key>`; here that header (or `Bearer <key>`) is read without changing
how the other dialects authenticate.
"""

from __future__ import annotations

from dataclasses import replace

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import dialect_mount, json_body, json_response, runtime
from stillmotion.dialects import vidu as dialect
from stillmotion.errors import Conflict, StillmotionError, Unauthorized
from stillmotion.jobs import Job

SCAN_BATCH = 200


def owner(request: Request) -> str:
    """The key's owner for `Token <key>` (Vidu's scheme) or `Bearer <key>`; blocking."""
    header = (request.headers.get("authorization") or "").strip()
    if not header:
        raise Unauthorized("Authorization: missing; send 'Authorization: Token <key>'")
    scheme, _, key = header.partition(" ")
    if scheme.lower() not in ("token", "bearer") or not key.strip():
        raise Unauthorized("Authorization: expected 'Token <key>'")
    auth = runtime(request).auth
    who = auth.owner("Bearer " + key.strip())
    auth.check_rate(who)
    return who


def create_route(endpoint: str) -> Route:
    async def create(request: Request) -> Response:
        who = await anyio.to_thread.run_sync(owner, request)
        body = await json_body(request)
        rt = runtime(request)
        per_usd = rt.settings.vidu_credits_per_usd
        req = dialect.parse_create(endpoint, body, request.headers.get("idempotency-key"), per_usd)
        try:
            done = await rt.service.submit(who, req)
        except StillmotionError as exc:
            raise dialect.renamed(exc) from None
        return json_response(dialect.created_body(done.job, body["images"], per_usd))

    return Route(f"/{endpoint}", create, methods=["POST"], name=f"vidu:{endpoint}")


def unserved_route(endpoint: str) -> Route:
    def unserved(request: Request) -> Response:
        owner(request)
        raise dialect.ViduError(
            404, "NotFound", f"endpoint /ent/v2/{endpoint} is not served by this server (it makes video from "
                             "images only); use /ent/v2/img2video or /ent/v2/start-end2video")

    return Route(f"/{endpoint}", unserved, methods=["POST"], name=f"vidu:{endpoint}")


def creations(request: Request) -> Response:
    rt = runtime(request)
    job = rt.service.get(owner(request), request.path_params["task_id"], field="id")
    return json_response(dialect.creations_body(job, rt.artifacts.sign, rt.settings.vidu_credits_per_usd))


def list_tasks(request: Request) -> Response:
    """Filters the store cannot (task ids, Vidu model names, resolutions) are matched here,
    scanning newest first in batches until the page and one more match are found."""
    rt = runtime(request)
    who = owner(request)
    q = dialect.parse_list(request.query_params)
    skip, filters = q.page * q.size, q.filters
    found: list[Job] = []
    while len(found) <= q.size:
        batch = rt.service.list(who, filters, SCAN_BATCH)
        for job in batch:
            if not q.matches(job):
                continue
            if skip:
                skip -= 1
                continue
            found.append(job)
            if len(found) > q.size:
                break
        if len(batch) < SCAN_BATCH:
            break
        filters = replace(filters, after=(batch[-1].created_at, batch[-1].id))
    body = dialect.list_body(found[:q.size], len(found) > q.size, rt.artifacts.sign, rt.settings.vidu_credits_per_usd)
    return json_response(body)


def cancel(request: Request) -> Response:
    """`{}` once canceled (and refunded); a task that has ended is Vidu's 400 BadRequest."""
    rt = runtime(request)
    who = owner(request)
    try:
        rt.service.cancel(who, request.path_params["task_id"])
    except Conflict:
        job = rt.service.get(who, request.path_params["task_id"])
        raise dialect.ViduError(400, "BadRequest", f"task state is {dialect.STATE[job.status]}, can not cancel") \
            from None
    return json_response({})


mount = dialect_mount(
    "/ent/v2",
    [
        *(create_route(e) for e in dialect.ENDPOINTS),
        *(unserved_route(e) for e in dialect.UNSERVED_ENDPOINTS),
        Route("/tasks", list_tasks, methods=["GET"]),
        Route("/tasks/{task_id}/creations", creations, methods=["GET"]),
        Route("/tasks/{task_id}/cancel", cancel, methods=["POST"]),
    ],
    dialect.shape_error,
)
