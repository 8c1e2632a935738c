"""The ASGI application: the dialect routers mounted on one FastAPI app around one Runtime."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from stillmotion import __version__
from stillmotion.api import async_dialect, files, job_dialect, ops, v1, voices
from stillmotion.api.middleware import RequestContext
from stillmotion.api.openapi import openapi_document
from stillmotion.api.playground import install as install_pages
from stillmotion.runtime import Runtime


def create_app(runtime: Runtime, *, workers: int = 0) -> FastAPI:
    """An app serving `runtime`; `workers` in-process workers start with the app and stop with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime.start_background(workers)
        try:
            yield
        finally:
            await runtime.service.aclose()
            runtime.shutdown()

    app = FastAPI(title="stillmotion", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    for module in (job_dialect, async_dialect, files, v1, ops, voices):
        app.router.routes.extend(module.routes)
    document = openapi_document()
    app.openapi = lambda: document  # type: ignore[method-assign]
    install_pages(app)  # the playground at /, offline /docs and /redoc
    app.add_middleware(RequestContext)
    return app
