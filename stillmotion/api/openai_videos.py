"""The OpenAI Videos dialect's endpoints, `/v1/videos` (docs/api-openai.md).

Thin handlers: bodies are read here (JSON, or multipart/form-data as the `openai` SDK sends it,
uploaded files turned into data URIs), parsed and presented by `dialects.openai_videos`, and
served by the JobService. Mounted before the native `/v1`, so `/v1/jobs` stays the native API's.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import anyio
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import (
    MAX_BODY_BYTES, DialectErrors, dialect_mount, json_body, json_response, owner, owner_async, runtime,
)
from stillmotion.api.files import artifact_response
from stillmotion.dialects import openai_videos as dialect
from stillmotion.dialects.common import object_body
from stillmotion.errors import FieldInvalid, PayloadTooLarge
from stillmotion.jobs import Job, JobFilter

_BRACKETED = re.compile(r"([A-Za-z_]+)\[([A-Za-z_]+)\]")  # input_reference[image_url], as the SDK flattens


def _data_uri(data: bytes) -> str:
    return "data:;base64," + base64.b64encode(data).decode()  # the image's own bytes say its format


async def create_body(request: Request, max_image_bytes: int) -> tuple[dict[str, Any], bool]:
    """The create body and whether it came as a form (whose values are all text)."""
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return object_body(await json_body(request)), False
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        form = await request.form(max_files=4, max_fields=64)
    except HTTPException as exc:
        raise FieldInvalid(f"unreadable form: {exc.detail}", field="body") from None
    body: dict[str, Any] = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(max_image_bytes + 1)
                if len(data) > max_image_bytes:
                    raise PayloadTooLarge(f"larger than {max_image_bytes} bytes", field=key)
                value = _data_uri(data)
            nested = _BRACKETED.fullmatch(key)
            if nested:
                outer = body.setdefault(nested[1], {})
                if not isinstance(outer, dict):
                    raise FieldInvalid("given both as a value and as an object", field=nested[1])
                outer[nested[2]] = value
            else:
                body[key] = value
    finally:
        await form.close()
    return body, True


def _video(request: Request, job: Job, status: int = 200) -> Response:
    rt = runtime(request)
    wait = dialect.poll_after_ms(job)
    headers = {"openai-poll-after-ms": str(wait)} if wait is not None else None
    return json_response(dialect.video_body(job, rt.settings.retention_s), status, headers)


async def create(request: Request) -> Response:
    who = await owner_async(request)
    rt = runtime(request)
    body, from_form = await create_body(request, rt.settings.max_image_bytes)
    key_webhook = await anyio.to_thread.run_sync(rt.auth.webhook_url, who)
    req = dialect.parse_create(
        body, catalog=rt.service.catalog, aliases=rt.settings.openai_aliases, from_form=from_form,
        idempotency_key=request.headers.get("idempotency-key"), key_webhook=key_webhook,
    )
    done = await rt.service.submit(who, req)
    job, _ = await anyio.to_thread.run_sync(rt.service.placed, done.job)
    return _video(request, job)


def retrieve(request: Request) -> Response:
    rt = runtime(request)
    job = rt.service.get(owner(request), request.path_params["video_id"], field="video_id")
    return _video(request, job)


def list_videos(request: Request) -> Response:
    rt = runtime(request)
    who = owner(request)
    limit, oldest_first, cursor = dialect.parse_list(
        request.query_params, lambda video_id: rt.service.get(who, video_id, field="after"))
    page = rt.service.list(who, JobFilter(after=cursor, oldest_first=oldest_first), limit + 1)
    return json_response(dialect.list_body(page[:limit], len(page) > limit, rt.settings.retention_s))


def delete(request: Request) -> Response:
    job = runtime(request).service.delete(owner(request), request.path_params["video_id"], field="video_id")
    return json_response(dialect.deleted_body(job))


async def content(request: Request) -> Response:
    rt = runtime(request)
    who = await owner_async(request)
    job = await anyio.to_thread.run_sync(
        lambda: rt.service.get(who, request.path_params["video_id"], field="video_id"))
    key, media_type = dialect.content_key(job, request.query_params.get("variant", "video"))
    if key == "spritesheet":
        key = await anyio.to_thread.run_sync(rt.service.spritesheet, job)
    response = await artifact_response(request, key, media_type) if key else None
    if response is None:
        raise dialect.NotFound(f"the files of video {job.id!r} are no longer kept", field="video_id")
    return response


async def remix(request: Request) -> Response:
    who = await owner_async(request)
    rt = runtime(request)
    body = object_body(await json_body(request))
    unknown = [k for k in body if k not in ("prompt", "webhook_url")]
    if unknown:
        raise dialect.UnknownParameter("unknown parameter; remix takes prompt (and webhook_url)", field=unknown[0])
    source = await anyio.to_thread.run_sync(
        lambda: rt.service.get(who, request.path_params["video_id"], field="video_id"))
    stored = await anyio.to_thread.run_sync(rt.service.stored_inputs, source)
    inputs = {name: _data_uri(data) for name, data in stored.items()}
    args = dialect.remix_body(source, rt.service.catalog.get(source.model), body.get("prompt"), inputs)
    key_webhook = await anyio.to_thread.run_sync(rt.auth.webhook_url, who)
    req = dialect.remix_request(source, args, key_webhook, request.headers.get("idempotency-key"),
                                body.get("webhook_url"))
    done = await rt.service.submit(who, req)
    job, _ = await anyio.to_thread.run_sync(rt.service.placed, done.job)
    return _video(request, job)


def not_offered(request: Request) -> Response:
    """The SDK's edit, extend and character calls: no stillmotion model does these."""
    owner(request)
    raise FieldInvalid(f"{request.method} {request.url.path} is not offered by stillmotion; it makes videos "
                       "from images (POST /v1/videos) and remixes them (POST /v1/videos/{id}/remix)", field=None)


_errors = [Middleware(DialectErrors, shape=dialect.shape_error)]
# The collection's own path is not under the Mount (a Mount matches only "/v1/videos/..."), so its
# two routes carry the dialect's error handler themselves. All of these go before the native `/v1`.
routes = [
    Route("/v1/videos", create, methods=["POST"], middleware=_errors),
    Route("/v1/videos", list_videos, methods=["GET"], middleware=_errors),
    dialect_mount("/v1/videos", [
        Route("/edits", not_offered, methods=["POST"]),
        Route("/extensions", not_offered, methods=["POST"]),
        Route("/characters", not_offered, methods=["POST"]),
        Route("/characters/{character_id}", not_offered, methods=["GET"]),
        Route("/{video_id}", retrieve, methods=["GET"]),
        Route("/{video_id}", delete, methods=["DELETE"]),
        Route("/{video_id}/content", content, methods=["GET"]),
        Route("/{video_id}/remix", remix, methods=["POST"]),
    ], dialect.shape_error),
]
