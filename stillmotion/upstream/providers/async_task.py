"""novita's (and highway's) async-task API (stillmotion's async dialect, dialects/async_task.py).

Create: `POST /v3/async/<model>` with the args as the body and `Idempotency-Key`; answer
`{task_id}`. Query: `GET /v3/async/task-result?task_id=` -> `task.status` TASK_STATUS_QUEUED /
PROCESSING / SUCCEED / FAILED, `task.reason`, `videos[0].video_url`. The answers carry no cost
and there is no cancel endpoint (docs/upstream.md)."""

from __future__ import annotations

from typing import Any

from .base import MB, Created, Request, Status, UpstreamRefused, field_of

STATES = {
    "TASK_STATUS_QUEUED": "queued",
    "TASK_STATUS_PROCESSING": "running",
    "TASK_STATUS_SUCCEED": "succeeded",
    "TASK_STATUS_FAILED": "failed",
}


class AsyncTaskProvider:
    name = "novita"
    max_inline_bytes = 10 * MB
    idempotent_create = True
    can_cancel = False

    def create(self, model: str, args: dict[str, Any], token: str, callback_url: str | None = None,
               spec: dict[str, Any] | None = None) -> Request:
        body = {**args, "extra": {"webhook": {"url": callback_url}}} if callback_url else args
        return Request("POST", f"/v3/async/{model}", json=body, headers={"Idempotency-Key": token})

    def created(self, body: Any) -> Created:
        task_id = body.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise ValueError("no task_id in the create answer")
        return Created(task_id, None)

    def query(self, upstream_id: str) -> Request:
        return Request("GET", "/v3/async/task-result", params={"task_id": upstream_id})

    def status(self, body: Any) -> Status:
        task = body.get("task") or {}
        state = STATES.get(task.get("status"))
        if state is None:
            raise ValueError(f"unknown task status {task.get('status')!r}")
        videos = body.get("videos") or [{}]
        if state == "failed" and task.get("reason") == "canceled":
            state = "canceled"
        return Status(state, videos[0].get("video_url"), None, task.get("reason") or None,
                      task.get("progress_percent"))

    def cancel(self, upstream_id: str) -> Request | None:
        return None

    def refusal(self, status: int, body: Any) -> UpstreamRefused:
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("reason") or body)
        else:
            message = str(body)[:500]
        return UpstreamRefused(status, message, field_of(message))


PROVIDER = AsyncTaskProvider()
