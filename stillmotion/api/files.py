"""Result files behind signed, expiring URLs (with HTTP Range support), and health checks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime

MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".m4a": "audio/mp4"}


def serve_file(request: Request) -> Response:
    key = request.path_params["key"]
    artifacts = runtime(request).artifacts
    expires = request.query_params.get("expires", "")
    sig = request.query_params.get("sig", "")
    well_formed = expires.isascii() and expires.isdigit() and len(expires) <= 12 and sig.isascii() and sig.isalnum()
    if not key.startswith("outputs/") or not well_formed or not artifacts.verify(key, int(expires), sig):
        return json_response({"code": 403, "message": "link invalid or expired", "data": None}, 403)
    try:
        path = artifacts.path(key)
    except ValueError:
        return json_response({"code": 404, "message": "not found", "data": None}, 404)
    if not path.is_file():
        return json_response({"code": 404, "message": "file no longer kept", "data": None}, 404)
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


def healthz(request: Request) -> Response:
    runtime(request).service.queue_stats()  # raises (-> 500) if the database is unreachable
    return json_response({"status": "ok"})


async def livez(request: Request) -> Response:
    """Liveness only: no database, no auth (also the bare endpoint of the benchmark)."""
    return json_response({"status": "ok"})


routes = [
    Route("/livez", livez, methods=["GET"]),
    Route("/files/{key:path}", serve_file, methods=["GET", "HEAD"]),
    Route("/healthz", healthz, methods=["GET"]),
]
