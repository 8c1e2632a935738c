"""What every dialect's handlers share: JSON responses, body reading, auth, and the one error
handler per dialect (`DialectErrors`, a middleware on the dialect's Mount).

Handlers that touch the database are plain `def` functions, which Starlette runs in its
threadpool; `async def` handlers hand every blocking call to `anyio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import orjson
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stillmotion.errors import FieldInvalid, PayloadTooLarge, StillmotionError
from stillmotion.runtime import Runtime

log = logging.getLogger("stillmotion.api")

MAX_BODY_BYTES = 72 * 1024 * 1024  # a 50 MB image as base64 plus the rest of the body

ErrorShaper = Callable[[StillmotionError], dict[str, Any]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def owner(request: Request) -> str:
    """The key's owner id, once the key is valid and within its requests per minute (blocking:
    a key not seen lately is read from the database)."""
    auth = runtime(request).auth
    who = auth.owner(request.headers.get("authorization"))
    auth.check_rate(who)
    return who


async def owner_async(request: Request) -> str:
    return await anyio.to_thread.run_sync(owner, request)


async def json_body(request: Request) -> Any:
    """The request's JSON body, counted while it streams in (a chunked body stops at the limit),
    with size and syntax errors named as `body` errors."""
    length = request.headers.get("content-length")
    if length and length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"larger than {MAX_BODY_BYTES} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"larger than {MAX_BODY_BYTES} bytes", field="body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise FieldInvalid("empty; send a JSON object", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FieldInvalid(f"invalid JSON ({exc})", field="body") from None


class DialectErrors:
    """Errors raised by a dialect's handlers, in that dialect's error body: a StillmotionError
    with its status, anything else as a 500 that says nothing was stored."""

    def __init__(self, app: ASGIApp, shape: ErrorShaper) -> None:
        self.app = app
        self.shape = shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except HTTPException as exc:  # Starlette's own: no route under this mount, wrong method
            if started:
                raise
            error = StillmotionError(str(exc.detail), field="path")
            error.status = exc.status_code
            error.reason = "NotFound" if exc.status_code == 404 else "MethodNotAllowed"
            await json_response(self.shape(error), exc.status_code, exc.headers)(scope, receive, send)
        except StillmotionError as exc:
            if started:
                raise
            log.info("refused %d %s: %s", exc.status, exc.reason, exc.message, extra={"reason": exc.reason})
            retry_after = getattr(exc, "retry_after", None)  # RateLimited, Unavailable
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            await json_response(self.shape(exc), exc.status, headers)(scope, receive, send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error in %s", scope.get("path"))
            error = StillmotionError("internal error; the request was not stored")
            await json_response(self.shape(error), 500)(scope, receive, send)


def dialect_mount(prefix: str, routes: Sequence[BaseRoute], shape: ErrorShaper) -> Mount:
    """A dialect's routes under `prefix`, with its error handler around all of them."""
    return Mount(prefix, routes=list(routes), middleware=[Middleware(DialectErrors, shape=shape)])
