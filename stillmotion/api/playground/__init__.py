"""Pages a person opens in a browser, served by the service itself with no CDN and no build
step: the playground at `/` (plain HTML, CSS and JavaScript under `static/`, which talk to
`/v1` with the key the user enters). The API docs pages are `stillmotion.api.docs_ui`."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# The page talks to its own origin only; the browser enforces it.
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; "
       "style-src 'self'; script-src 'self'")


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP})


routes: list[BaseRoute] = [
    Route("/", index, methods=["GET"]),
    Mount("/playground", app=StaticFiles(directory=STATIC), name="playground"),
]

