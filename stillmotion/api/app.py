"""The ASGI application: one Mount per dialect (each with its own error handler) around one Runtime,
the playground at `/` and the offline API docs."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from stillmotion import __version__
from stillmotion.api import (
    async_dialect, docs_ui, files, job_dialect, openai_videos, ops, playground, upstream_hooks, v1, vidu,
)
from stillmotion.api.middleware import RequestContext
from stillmotion.api.openapi import openapi_document
from stillmotion.api.v1_events import JobWatch
from stillmotion.runtime import Runtime


def create_app(runtime: Runtime, *, workers: int = 0) -> FastAPI:
    """An app serving `runtime`; `workers` in-process workers start with the app and stop with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The threads behind plain `def` handlers and `to_thread` calls: as many as the pool has connections for.
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.api_threads
        runtime.start_background(workers)
        try:
            yield
        finally:
            await runtime.service.aclose()
            runtime.shutdown()

    # FastAPI's own /docs and /redoc load their assets from a CDN; docs_ui serves them offline.
    app = FastAPI(title="stillmotion", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.job_watch = JobWatch(runtime.service)
    app.router.routes.extend([
        job_dialect.mount, async_dialect.mount, *openai_videos.routes, v1.mount, vidu.mount, *files.routes, *ops.routes,
        *playground.routes, *docs_ui.routes, *upstream_hooks.routes,
    ])
    document = openapi_document()
    app.openapi = lambda: document  # type: ignore[method-assign]
    app.add_middleware(RequestContext)
    return app
