"""Result files behind signed, expiring URLs (with HTTP Range support), and health checks.

A local store's file goes out with sendfile (Starlette's FileResponse handles Range); an
object store's is proxied in chunks, a single `Range` passed through to the store, so a player
can seek without the API host holding the clip."""

from __future__ import annotations

import re

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime
from stillmotion.storage import StorageUnavailable, media_type

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _error(code: int, message: str) -> Response:
    return json_response({"code": code, "message": message, "data": None}, code)


async def serve_file(request: Request) -> Response:
    key = request.path_params["key"]
    artifacts = runtime(request).artifacts
    expires = request.query_params.get("expires", "")
    sig = request.query_params.get("sig", "")
    # inputs/: stored images, signed for an upstream engine to fetch (docs/upstream.md)
    well_formed = expires.isascii() and expires.isdigit() and len(expires) <= 12 and sig.isascii() and sig.isalnum()
    if not key.startswith(("outputs/", "inputs/")) or not well_formed or not artifacts.verify(key, int(expires), sig):
        return _error(403, "link invalid or expired")
    try:
        response = await artifact_response(request, key)
    except ValueError:
        return _error(404, "not found")
    except StorageUnavailable:
        return _error(503, "the object store is unavailable; try again")
    return response or _error(404, "file no longer kept")


async def artifact_response(request: Request, key: str, media: str | None = None) -> Response | None:
    """The stored object as a response with Range support (sendfile from a local store, proxied
    from an object store), or None when it is no longer kept. Raises StorageUnavailable."""
    artifacts = runtime(request).artifacts
    path = artifacts.local_path(key)
    if path is not None:
        return FileResponse(path, media_type=media or media_type(key)) if path.is_file() else None
    size = await to_thread.run_sync(artifacts.size, key)
    return None if size is None else await _proxied(request, key, size, media)


async def _proxied(request: Request, key: str, size: int, media: str | None = None) -> Response:
    artifacts = runtime(request).artifacts
    headers = {"accept-ranges": "bytes", "content-type": media or media_type(key)}
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(request.headers.get("range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # a suffix: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start > end or start >= size:
            return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    headers["content-length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers)
    chunks = artifacts.read(key, start, end)

    async def body():  # type: ignore[no-untyped-def]
        while True:
            chunk = await to_thread.run_sync(next, chunks, None)
            if chunk is None:
                return
            yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers)


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
