"""Operator endpoints: /readyz (can this process take and keep jobs) and /metrics (Prometheus)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime
from stillmotion.health import readiness
from stillmotion.observability import render_metrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def readyz(request: Request) -> Response:
    checks = readiness(runtime(request))
    failing = {name: why for name, why in checks.items() if why != "ok"}
    body = {"status": "not ready" if failing else "ready", "checks": checks}
    if failing:
        body["reason"] = "; ".join(f"{name}: {why}" for name, why in failing.items())
    return json_response(body, 503 if failing else 200)


def metrics(request: Request) -> Response:
    body = render_metrics(runtime(request).service.queue_stats)
    return Response(body, media_type=PROMETHEUS_TEXT)


routes = [
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
