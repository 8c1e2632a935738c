"""The OpenAI Videos dialect's part of the OpenAPI document: its paths and named schemas
(`Video` as the `openai` SDK types it, OpenAI's error envelope)."""

from __future__ import annotations

from typing import Any

from stillmotion.api.openapi_schemas import (
    BOOL, INT, JOB_ID, NULL_STR, PROMPT, STR, example_image, obj, op, query, ref,
)

TAG = "openai videos"
VIDEO_ID = {"name": "video_id", "in": "path", "required": True, "schema": STR, "example": JOB_ID}
NULL_INT = {"type": ["integer", "null"]}
ERROR_TEXT = {400: "A parameter is invalid (named in `param`)", 401: "Missing or invalid key",
              402: "Not enough balance", 404: "No such video for this key, or its files are gone",
              409: "Idempotency key reused with another body", 413: "Body or image too large",
              429: "Rate limited; see Retry-After"}
ERROR_EXAMPLES = {
    400: ("size: vidu-q3-pro-i2v does not make 1024x1792; allowed: 1280x720, 720x1280", "invalid_request_error",
          "size", "invalid_value"),
    401: ("Authorization: invalid API key", "invalid_request_error", None, "invalid_api_key"),
    402: ("balance 0.02 USD is less than the price 0.064 USD", "insufficient_quota", None, "insufficient_quota"),
    404: ("video_id: no job 'video_x'", "invalid_request_error", "video_id", "not_found"),
    409: ("Idempotency-Key: this key was used within 24 h for a different request", "invalid_request_error",
          "Idempotency-Key", "conflict"),
    413: ("input_reference: larger than 52428800 bytes", "invalid_request_error", "input_reference",
          "payload_too_large"),
    429: ("more than 6000 requests per minute for this key; retry in 1 s", "rate_limit_error", None,
          "rate_limit_exceeded"),
}


def example_video(**changes: Any) -> dict[str, Any]:
    video = {"id": JOB_ID, "object": "video", "model": "sora-2", "status": "completed", "progress": 100,
             "created_at": 1795255200, "completed_at": 1795255206, "expires_at": 1795860006, "seconds": "4",
             "size": "1280x720", "prompt": PROMPT, "remixed_from_video_id": None, "error": None}
    return {**video, **changes}


def _errors(*codes: int) -> dict[str, Any]:
    out = {}
    for code in codes:
        message, kind, param, error_code = ERROR_EXAMPLES[code]
        example = {"error": {"message": message, "type": kind, "param": param, "code": error_code}}
        out[str(code)] = {"description": ERROR_TEXT[code],
                          "content": {"application/json": {"schema": ref("OpenAIError"), "example": example}}}
    return out


def _ok(description: str, schema: dict[str, Any], example: Any, headers: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": schema, "example": example}}}
    if headers:
        response["headers"] = {"openai-poll-after-ms": {
            "description": "while queued or in progress: how long to wait before polling again",
            "schema": INT}}
    return response


def schemas() -> dict[str, Any]:
    reference = {"anyOf": [{**STR, "description": "image URL or data URL"},
                           obj(["image_url"], image_url={**STR, "description": "image URL or data URL"}),
                           {**STR, "format": "binary", "description": "an uploaded file (multipart)"}]}
    create = obj(
        ["prompt", "input_reference"], prompt=STR, input_reference=reference,
        model={**STR, "description": "a catalog id or an alias (sora-2, sora-2-pro by default)"},
        seconds={**STR, "pattern": "^[0-9]+$", "description": "the model's duration"},
        size={**STR, "pattern": "^[0-9]+x[0-9]+$", "description": "WIDTHxHEIGHT"},
        seed=INT, negative_prompt=STR, guidance_scale={"type": "number"}, num_inference_steps=INT, mode=STR, audio={"type": ["boolean", "string"]}, audio_type=STR,
        voice_id=STR, generate_audio=BOOL, watermark=BOOL, wm_position={"type": ["string", "integer"]},
        wm_url=STR, off_peak=BOOL, style=STR, is_rec=BOOL, input_reference_end=reference,
        webhook_url={**STR, "description": "this job's video.completed / video.failed events"},
    )
    create["additionalProperties"] = False
    video = obj(
        ["id", "object", "model", "status", "progress", "created_at", "seconds", "size"],
        id=STR, object={"const": "video"}, model=STR,
        status={"enum": ["queued", "in_progress", "completed", "failed"]},
        progress={**INT, "minimum": 0, "maximum": 100}, created_at=INT, completed_at=NULL_INT,
        expires_at=NULL_INT, seconds=STR, size={**STR, "pattern": "^[0-9]+x[0-9]+$"}, prompt=NULL_STR,
        remixed_from_video_id=NULL_STR,
        error={"oneOf": [{"type": "null"}, obj(["code", "message"], code=STR, message=STR)]},
    )
    return {
        "CreateVideo": create,
        "RemixVideo": obj(["prompt"], prompt=STR, webhook_url=STR),
        "Video": video,
        "VideoList": obj(["object", "data", "has_more"], object={"const": "list"},
                         data={"type": "array", "items": ref("Video")}, first_id=NULL_STR, last_id=NULL_STR,
                         has_more=BOOL),
        "VideoDeleted": obj(["id", "object", "deleted"], id=STR, object={"const": "video.deleted"},
                            deleted={"const": True}),
        "OpenAIError": obj(["error"], error=obj(["message", "type", "param", "code"], message=STR, type=STR,
                                               param=NULL_STR, code=NULL_STR)),
    }


def paths() -> dict[str, Any]:
    create_example = {"prompt": PROMPT, "model": "sora-2", "seconds": "4", "size": "1280x720",
                      "input_reference": {"image_url": example_image()}}
    form_example = {"prompt": PROMPT, "model": "sora-2", "seconds": "4", "size": "1280x720",
                    "input_reference": "(PNG, JPEG or WebP file)"}
    queued = example_video(status="queued", progress=0, completed_at=None, expires_at=None)
    binary = {"schema": {**STR, "format": "binary"}}
    not_offered = {"400": _errors(400)["400"]}
    return {
        "/v1/videos": {
            "post": op("Create a video from an image (OpenAI Videos API)", TAG, {
                "200": _ok("Queued", ref("Video"), queued, headers=True),
                **_errors(400, 401, 402, 409, 413, 429)},
                body={"application/json": {"schema": ref("CreateVideo"), "example": create_example},
                      "multipart/form-data": {"schema": ref("CreateVideo"), "example": form_example}},
                description="As the `openai` SDK's `client.videos.create` sends it (multipart), or JSON. "
                            "`seconds` and `size` map onto the model's duration and resolution (and "
                            "aspect ratio where it has one); see docs/api-openai.md."),
            "get": op("List videos (every dialect's jobs)", TAG, {
                "200": _ok("A page", ref("VideoList"), {"object": "list", "data": [example_video()],
                                                        "first_id": JOB_ID, "last_id": JOB_ID,
                                                        "has_more": False}),
                **_errors(400, 401, 429)}, params=[
                    query("after", "last_id of the previous page", STR, JOB_ID),
                    query("limit", "page size", {**INT, "minimum": 1, "maximum": 100, "default": 20}, 20),
                    query("order", "by creation time", {"enum": ["asc", "desc"], "default": "desc"}, "desc")]),
        },
        "/v1/videos/{video_id}": {
            "get": op("A video", TAG, {"200": _ok("The video", ref("Video"), example_video(), headers=True),
                                   **_errors(401, 404)}, params=[VIDEO_ID]),
            "delete": op("Delete a video: cancel (and refund) it if not ended, remove its files", TAG, {
                "200": _ok("Deleted", ref("VideoDeleted"), {"id": JOB_ID, "object": "video.deleted",
                                                            "deleted": True}),
                **_errors(401, 404)}, params=[VIDEO_ID]),
        },
        "/v1/videos/{video_id}/content": {"get": op("The video's bytes, thumbnail or spritesheet (Range supported)", TAG, {
            "200": {"description": "The file", "content": {"video/mp4": {**binary, "example": "(MP4 bytes)"},
                                                           "image/jpeg": {**binary, "example": "(JPEG bytes)"}}},
            **_errors(400, 401, 404)}, params=[
                VIDEO_ID, query("variant", "which file", {"enum": ["video", "thumbnail", "spritesheet"],
                                                           "default": "video"}, "video")])},
        "/v1/videos/{video_id}/remix": {"post": op("A new video from the same inputs with a new prompt", TAG, {
            "200": _ok("Queued", ref("Video"), {**queued, "remixed_from_video_id": JOB_ID}, headers=True),
            **_errors(400, 401, 404)}, params=[VIDEO_ID],
            body={"application/json": {"schema": ref("RemixVideo"), "example": {"prompt": "Zoom out instead."}}})},
        "/v1/videos/edits": {"post": op("Not offered (answers 400)", TAG, not_offered)},
        "/v1/videos/extensions": {"post": op("Not offered (answers 400)", TAG, not_offered)},
        "/v1/videos/characters": {"post": op("Not offered (answers 400)", TAG, not_offered)},
        "/v1/videos/characters/{character_id}": {"get": op("Not offered (answers 400)", TAG, not_offered, params=[
            {"name": "character_id", "in": "path", "required": True, "schema": STR, "example": "char_1"}])},
    }
