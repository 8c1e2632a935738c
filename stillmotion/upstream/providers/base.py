"""What a provider module gives the poller: requests to send and readings of the answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

MB = 1024 * 1024
_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]-]*): ")  # stillmotion's own "field: reason" messages


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # appended to the hop's base URL
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    upstream_id: str
    cost: dict[str, Any] | None = None  # what the upstream says the task costs (amount, credits, ...)


@dataclass(frozen=True)
class Status:
    """One poll's reading. `state`: queued | running | succeeded | failed | canceled. A result URL
    that starts with "/" is on the provider's own host and is fetched with its key."""

    state: str
    video_url: str | None = None
    cover_url: str | None = None
    error: str | None = None
    progress: int | None = None
    cost: dict[str, Any] | None = None


class UpstreamRefused(Exception):
    """The upstream's own words on a request it will never accept (a 4xx at create)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def field_of(message: str) -> str | None:
    match = _FIELD.match(message or "")
    return match.group(1) if match else None


class Provider(Protocol):
    name: str
    max_inline_bytes: int  # the largest image sent inline as a data URI
    idempotent_create: bool  # honours Idempotency-Key: a re-create returns the same task
    can_cancel: bool

    def create(self, model: str, args: dict[str, Any], token: str, callback_url: str | None = None,
               spec: dict[str, Any] | None = None) -> Request:
        """`callback_url`: where the upstream may tell stillmotion the task moved (a hint to poll now);
        `spec`: the job's output (width, height, duration) for wires that name a size."""

    def created(self, body: Any) -> Created: ...

    def query(self, upstream_id: str) -> Request: ...

    def status(self, body: Any) -> Status: ...

    def cancel(self, upstream_id: str) -> Request | None: ...

    def refusal(self, status: int, body: Any) -> UpstreamRefused:
        """An error body in the provider's shape, read into message and field."""
