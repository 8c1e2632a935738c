"""shortapi's job API (stillmotion's job dialect, dialects/job.py): /api/v1/job/create + /query.

Create: `{model, args}` with `Idempotency-Key`; answer `{code, message, data: {job_id, amount}}`.
Query: `GET /api/v1/job/query?id=` -> `data.status` 0 queued, 1 processing, 2 succeeded,
3 failed, 4 canceled; `data.result.videos[0].url`, `cover_url`; `data.amount`, `data.refunded`.
No cancel endpoint: a cancel ends the job locally (docs/upstream.md)."""

from __future__ import annotations

from typing import Any

from .base import MB, Created, Request, Status, UpstreamRefused, field_of

STATES = {0: "queued", 1: "running", 2: "succeeded", 3: "failed", 4: "canceled"}


class JobProvider:
    name = "shortapi"
    max_inline_bytes = 10 * MB
    idempotent_create = True
    can_cancel = False

    def create(self, model: str, args: dict[str, Any], token: str, callback_url: str | None = None,
               spec: dict[str, Any] | None = None) -> Request:
        body: dict[str, Any] = {"model": model, "args": args}
        if callback_url:
            body["callback_url"] = callback_url
        return Request("POST", "/api/v1/job/create", json=body, headers={"Idempotency-Key": token})

    def created(self, body: Any) -> Created:
        data = body.get("data") or {}
        job_id = data.get("job_id") or body.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("no job_id in the create answer")
        return Created(job_id, _cost(data))

    def query(self, upstream_id: str) -> Request:
        return Request("GET", "/api/v1/job/query", params={"id": upstream_id})

    def status(self, body: Any) -> Status:
        data = body.get("data") or {}
        state = STATES.get(data.get("status"))
        if state is None:
            raise ValueError(f"unknown job status {data.get('status')!r}")
        videos = ((data.get("result") or {}).get("videos") or [{}])
        error = data.get("error") or {}
        message = f"{error.get('code')}: {error.get('message')}" if error else None
        cost = _cost(data)
        if cost is not None and data.get("refunded"):
            cost = {**cost, "refunded": True}
        return Status(state, videos[0].get("url"), videos[0].get("cover_url"), message, data.get("progress"), cost)

    def cancel(self, upstream_id: str) -> Request | None:
        return None

    def refusal(self, status: int, body: Any) -> UpstreamRefused:
        message = str(body.get("message") or body) if isinstance(body, dict) else str(body)[:500]
        return UpstreamRefused(status, message, field_of(message))


def _cost(data: dict[str, Any]) -> dict[str, Any] | None:
    amount = data.get("amount")
    return {"amount": str(amount), "currency": "USD"} if amount is not None else None


PROVIDER = JobProvider()
