"""POST /upstream/hooks/{job_id}/{hop}/{mac}: an upstream says its task moved (docs/upstream.md)."""

from __future__ import annotations

import hmac

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime
from stillmotion.upstream.hooks import accept, mac


async def hook(request: Request) -> Response:
    rt = runtime(request)
    job_id, hop_text, given = (request.path_params[k] for k in ("job_id", "hop", "mac"))
    hop = int(hop_text) if hop_text.isascii() and hop_text.isdigit() and len(hop_text) < 4 else -1
    if hop < 0 or not given.isascii() or not hmac.compare_digest(mac(rt.artifacts.secret, job_id, hop), given):
        return json_response({"code": 404, "message": "not found", "data": None}, 404)
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    accepted = await anyio.to_thread.run_sync(accept, rt.db, job_id, hop, target, request.headers, body)
    if not accepted:
        return json_response({"code": 401, "message": "webhook signature invalid", "data": None}, 401)
    return Response(status_code=204)


routes = [Route("/upstream/hooks/{job_id}/{hop}/{mac}", hook, methods=["POST"])]
