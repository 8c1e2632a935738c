"""Operator endpoints: /readyz (can this process take and keep jobs) and /metrics (Prometheus)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime
from stillmotion.observability import render_metrics

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _checks(request: Request) -> dict[str, str]:
    rt = runtime(request)
    out: dict[str, str] = {}
    try:
        rt.service.queue_stats()
        out["database"] = "ok"
    except Exception as exc:  # reported, not raised: readiness is an answer, not an error
        out["database"] = f"error: {type(exc).__name__}"
    try:
        rt.artifacts.check()
        out["storage"] = "ok"
    except Exception as exc:  # a full disk, a read-only mount, an unreachable object store
        out["storage"] = f"error: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    return out


def readyz(request: Request) -> Response:
    checks = _checks(request)
    ready = all(v == "ok" for v in checks.values())
    return json_response({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)


def metrics(request: Request) -> Response:
    body = render_metrics(runtime(request).service.queue_stats)
    return Response(body, media_type=PROMETHEUS_TEXT)


routes = [
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
