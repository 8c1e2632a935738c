"""POST /upstream/hooks/{job_id}/{hop}/{mac}: an upstream says its task moved (docs/upstream.md)."""

from __future__ import annotations

import hmac

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_response, runtime
from stillmotion.upstream.hooks import mac, signature_ok, vidu_signature_ok
from stillmotion.upstream.hops import chain


async def hook(request: Request) -> Response:
    rt = runtime(request)
    job_id, hop_text, given = (request.path_params[k] for k in ("job_id", "hop", "mac"))
    hop = int(hop_text) if hop_text.isascii() and hop_text.isdigit() and len(hop_text) < 4 else -1
    if hop < 0 or not given.isascii() or not hmac.compare_digest(mac(rt.artifacts.secret, job_id, hop), given):
        return json_response({"code": 404, "message": "not found", "data": None}, 404)
    body = await request.body()

    def poke() -> int:
        job = rt.db.jobs.get(job_id)
        if job is None or job.engine != "upstream":
            return 204  # handed on or gone: nothing to do
        hops = chain(job)
        config = hops[hop].config if hop < len(hops) else {}
        secret_env = config.get("webhook_secret_env")
        if secret_env:
            if config.get("provider") == "vidu":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                ok = vidu_signature_ok(secret_env, target, request.headers)
            else:
                ok = signature_ok(secret_env, request.headers, body)
            if not ok:
                return 401
        rt.db.upstream.poke(job_id, hop)
        return 204

    status = await anyio.to_thread.run_sync(poke)
    if status == 401:
        return json_response({"code": 401, "message": "webhook signature invalid", "data": None}, 401)
    return Response(status_code=204)


routes = [Route("/upstream/hooks/{job_id}/{hop}/{mac}", hook, methods=["POST"])]
