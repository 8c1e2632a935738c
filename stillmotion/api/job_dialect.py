"""The job dialect's endpoints: /api/v1/job/create and /api/v1/job/query."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import dialect_mount, json_body, json_response, owner, owner_async, runtime
from stillmotion.dialects import job as dialect


async def create(request: Request) -> Response:
    who = await owner_async(request)
    req = dialect.parse_create(await json_body(request), request.headers.get("idempotency-key"))
    done = await runtime(request).service.submit(who, req)
    return Response(dialect.created_json(done.job), media_type="application/json")


def query(request: Request) -> Response:
    rt = runtime(request)
    job = rt.service.get(owner(request), request.query_params.get("id"), field="id")
    return json_response(dialect.query_body(job, rt.artifacts.sign))


mount = dialect_mount(
    "/api/v1/job",
    [Route("/create", create, methods=["POST"]), Route("/query", query, methods=["GET"])],
    dialect.shape_error,
)
