"""Read deadlines for slow or hostile clients, which uvicorn lacks.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits forever for the
headers of a request that trickles in a byte at a time, and an app reading a body waits for
each chunk without a limit. Here:

- `guarded_h11(header_s)`: uvicorn's h11 protocol with a header deadline: a connection whose
  request line and headers are not complete `header_s` after their first byte (or after the
  connection opened) is closed. Headers are also capped in size by h11 (`h11_max_incomplete_event_size`).
- `BodyDeadline`: ASGI middleware giving the whole request body `body_s`; a body still
  arriving then is refused with 408 naming `body` (a chunked body also stops at the size
  limit, see api/common.json_body).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from stillmotion.errors import StillmotionError
from stillmotion.settings import Settings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("stillmotion.api")
MAX_HEADER_BYTES = 64 * 1024


class RequestTimeout(StillmotionError):
    status = 408
    reason = "RequestTimeout"


class _HeaderDeadline(H11Protocol):
    header_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._arm()  # the first byte of a request starts its clock
        super().data_received(data)
        if not self._between_requests():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            log.info("closed a connection: request headers incomplete after %.0f s", self.header_s,
                     extra={"reason": "HeaderTimeout"})
            self.transport.close()


def guarded_h11(header_s: float) -> type[H11Protocol]:
    """The h11 protocol class with a `header_s` header deadline (for `uvicorn.run(http=...)`)."""
    return type("GuardedH11Protocol", (_HeaderDeadline,), {"header_s": header_s})


class BodyDeadline:
    """Every request body must arrive whole within `seconds` of the request's start."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        whole = False

        async def timed() -> Message:
            nonlocal whole
            if whole:  # after the body, receive only waits for a disconnect: no limit
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise RequestTimeout(f"not received whole within {self.seconds:g} s", field="body") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                whole = True
            return message

        await self.app(scope, timed, send)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The read limits `stillmotion serve` passes to uvicorn."""
    return {
        "http": guarded_h11(settings.header_timeout_s),
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
