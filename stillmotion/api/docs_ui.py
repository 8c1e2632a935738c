"""/docs (Swagger UI) and /redoc (ReDoc), served offline: their assets come from the
`fastapi-offline` package (docs/decisions.md says why), mounted at /docs/assets."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/docs/assets"
TITLE = "stillmotion API"
# Nothing leaves the origin: ReDoc's sidebar would fetch its vendor's logo from a CDN, and the
# browser blocks that here before any request is made.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:")


def offline(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    return response


async def swagger(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    return offline(get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json", title=TITLE,
        swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js", swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{PREFIX}/favicon.png",
        # validatorUrl None: no badge fetched from the public validator; the rest is FastAPI's default.
        swagger_ui_parameters={"validatorUrl": None, "deepLinking": True, "persistAuthorization": True,
                               "tryItOutEnabled": True},
    ))


async def redoc(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    return offline(get_redoc_html(
        openapi_url=f"{root}/openapi.json", title=TITLE, redoc_js_url=f"{root}{PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{PREFIX}/favicon.png", with_google_fonts=False))


routes: list[BaseRoute] = [
    Route("/docs", swagger, methods=["GET"]),
    Route("/redoc", redoc, methods=["GET"]),
    Mount(PREFIX, app=StaticFiles(directory=ASSETS), name="docs-assets"),
]
