"""Per-request context: a request id (taken from X-Request-Id or made), echoed in the response
and carried by every log line of the request; request counts and latency for /metrics."""

from __future__ import annotations

import time
from typing import Any

from stillmotion.randomness import hex_id
from stillmotion.observability import HTTP_REQUESTS, HTTP_SECONDS, REQUEST_ID

_STATIC = {
    "/api/v1/job/create", "/api/v1/job/query", "/v3/async/task-result", "/v1/jobs", "/v1/models",
    "/v1/quote", "/v1/usage", "/v1/webhook-secret", "/v1/voices", "/healthz", "/readyz", "/livez", "/metrics",
    "/docs", "/openapi.json",
}


# Metric children by label values, kept so a request skips the registry's label lookup; they
# hold exactly the label sets the registry itself keeps (routes are folded to a few).
_COUNTERS: dict[tuple[str, str, int], Any] = {}
_TIMERS: dict[str, Any] = {}


def route_label(path: str) -> str:
    """A bounded label: known paths as they are, ids and file keys folded."""
    if path in _STATIC:
        return path
    if path.startswith("/v1/jobs/"):
        parts = path.split("/")
        return "/v1/jobs/{id}" + ("/" + parts[4] if len(parts) > 4 else "")
    if path.startswith("/v3/async/"):
        return "/v3/async/{model}"
    if path.startswith("/files/"):
        return "/files"
    return "other"


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            return value.decode()
    return hex_id(8)


class RequestContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = route_label(scope["path"])
            counter = _COUNTERS.get((scope["method"], route, status))
            if counter is None:  # label lookups cost more than the increments; keep the children
                counter = _COUNTERS[(scope["method"], route, status)] = HTTP_REQUESTS.labels(
                    scope["method"], route, str(status)
                )
            timer = _TIMERS.get(route)
            if timer is None:
                timer = _TIMERS[route] = HTTP_SECONDS.labels(route)
            counter.inc()
            timer.observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)
