"""One module per upstream wire format; each exposes `PROVIDER` (see base.Provider).

Pure request builders and response readers: the poller does the I/O, the retries, the
error mapping and the bookkeeping, so a new provider (openai-videos, vidu) is one module."""

from __future__ import annotations

from importlib import import_module

from stillmotion.upstream.names import PROVIDERS

from .base import Created, Provider, Request, Status, UpstreamRefused


def get_provider(name: str) -> Provider:
    module, _ = PROVIDERS[name]
    return import_module(f"{__name__}.{module}").PROVIDER  # type: ignore[no-any-return]


__all__ = ["Created", "Provider", "Request", "Status", "UpstreamRefused", "get_provider"]
