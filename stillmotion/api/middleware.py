"""Per-request context: a request id (taken from X-Request-Id or made), echoed in the response
and carried by every log line of the request; one access line per request (method, path, status,
milliseconds, key name, job id); request counts and latency for /metrics."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from stillmotion.observability import HTTP_REQUESTS, HTTP_SECONDS, REQUEST_FACTS, REQUEST_ID

access = logging.getLogger("stillmotion.access")

# Metric children by label values, kept so a request skips the registry's label lookup; the
# labels are route templates, so they hold exactly the label sets the registry itself keeps.
_COUNTERS: dict[tuple[str, str, int], Any] = {}
_TIMERS: dict[str, Any] = {}


def route_label(scope: dict[str, Any]) -> str:
    """The matched route's template ("/v1/jobs/{job_id}"), read from the scope Starlette filled
    in while routing; "other" when nothing matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "other"
    return f"{scope.get('root_path', '')}{path}" or "/"


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            return value.decode()
    return secrets.token_hex(8)


class RequestContext:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = REQUEST_ID.set(rid)
        facts: dict[str, str] = {}
        facts_token = REQUEST_FACTS.set(facts)
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
            route = route_label(scope)
            counter = _COUNTERS.get((scope["method"], route, status))
            if counter is None:  # label lookups cost more than the increments; keep the children
                counter = _COUNTERS[(scope["method"], route, status)] = HTTP_REQUESTS.labels(
                    scope["method"], route, str(status)
                )
            timer = _TIMERS.get(route)
            if timer is None:
                timer = _TIMERS[route] = HTTP_SECONDS.labels(route)
            seconds = time.perf_counter() - started
            counter.inc()
            timer.observe(seconds)
            path = scope["path"]
            ms = round(seconds * 1000, 1)
            access.info("%s %s %d %.1f ms%s%s", scope["method"], path, status, ms,
                        f" key={facts['key']}" if "key" in facts else "",
                        f" job={facts['job_id']}" if "job_id" in facts else "",
                        extra={"method": scope["method"], "path": path, "status": status, "ms": ms, **facts})
            REQUEST_FACTS.reset(facts_token)
            REQUEST_ID.reset(token)
