"""Helpers every dialect shares: JSON responses, body parsing, auth, error shaping."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from stillmotion.errors import FieldInvalid, PayloadTooLarge, RateLimited, StillmotionError
from stillmotion.runtime import Runtime

log = logging.getLogger("stillmotion.api")

MAX_BODY_BYTES = 72 * 1024 * 1024  # a 50 MB image as base64 plus the rest of the body

ErrorShaper = Callable[[StillmotionError], dict[str, Any]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def owner(request: Request) -> str:
    """The key's owner id, once the key is valid and within its requests per minute."""
    auth = runtime(request).auth
    who = auth.owner(request.headers.get("authorization"))
    auth.check_rate(who)
    return who


async def json_body(request: Request) -> Any:
    """The request's JSON body, with size and syntax errors named as `body` errors."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"larger than {MAX_BODY_BYTES} bytes", field="body")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"larger than {MAX_BODY_BYTES} bytes", field="body")
    if not raw:
        raise FieldInvalid("empty; send a JSON object", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FieldInvalid(f"invalid JSON ({exc})", field="body") from None


def with_errors(shape: ErrorShaper) -> Callable:
    """Turn StillmotionErrors (and surprises) raised by a handler into the dialect's error body."""

    def decorate(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except StillmotionError as exc:
                headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
                return json_response(shape(exc), exc.status, headers)
            except Exception:
                log.exception("unhandled error in %s", request.url.path)
                exc = StillmotionError("internal error; the request was not stored")
                return json_response(shape(exc), 500)

        return wrapped

    return decorate
