"""The async-task dialect's endpoints: /v3/async/<model> and /v3/async/task-result."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import dialect_mount, json_body, json_response, owner, owner_async, runtime
from stillmotion.dialects import async_task as dialect


def submit_route(model_id: str) -> Route:
    async def submit(request: Request) -> Response:
        who = await owner_async(request)
        req = dialect.parse_create(model_id, await json_body(request), request.headers.get("idempotency-key"))
        done = await runtime(request).service.submit(who, req)
        return json_response(dialect.created_body(done.job))

    return Route(f"/{model_id}", submit, methods=["POST"], name=f"async:{model_id}")


def task_result(request: Request) -> Response:
    rt = runtime(request)
    job = rt.service.get(owner(request), request.query_params.get("task_id"), field="task_id")
    return json_response(dialect.task_result_body(job, rt.artifacts.sign, rt.artifacts.ttl_s))


mount = dialect_mount(
    "/v3/async",
    [Route("/task-result", task_result, methods=["GET"]), *(submit_route(m) for m in sorted(dialect.MODELS))],
    dialect.shape_error,
)
