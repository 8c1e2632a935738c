"""`GET /v1/voices`: the valid `voice_id` values with what each sounds like.

Authenticated like the rest of /v1; the list is plain data (stillmotion.audio.voices), so
answering it loads no speech library.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stillmotion.api.common import json_response, owner, with_errors
from stillmotion.api.v1 import shape_error
from stillmotion.audio.voices import VOICES


@with_errors(shape_error)
async def list_voices(request: Request) -> Response:
    owner(request)
    return json_response({"object": "list", "data": [v.to_dict() for v in VOICES]})


routes = [Route("/v1/voices", list_voices, methods=["GET"])]
