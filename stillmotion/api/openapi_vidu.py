"""The OpenAPI paths and schemas of Vidu's official API (`/ent/v2`, docs/api-vidu.md), merged into
the document by stillmotion.api.openapi; tests/e2e/test_vidu_official.py checks real responses
against them."""

from __future__ import annotations

from typing import Any

from stillmotion.api import openapi_schemas as s
from stillmotion.api.openapi_schemas import BOOL, INT, STR, obj, ref
from stillmotion.dialects import vidu as dialect

TAG = "vidu official"
STATES = ["created", "queueing", "processing", "success", "failed"]
ERRORS = {
    400: ("FieldInvalid", "duration: must be an integer between 1 and 16, got 40", "A field is invalid; `reason` "
          "names why (FieldLacking, FieldInvalid, FieldItemCountOutOfRange, ImageFormatInvalid, "
          "ImageDownloadFailure, PageSizeOutOfRange, CreditInsufficient, BadRequest)"),
    401: ("Unauthorized", "Authorization: missing; send 'Authorization: Token <key>'", "Missing or invalid key"),
    404: ("TaskNotFound", "id: no job 'abc'", "No such task for this key (or an endpoint not served)"),
    409: ("Conflict", "Idempotency-Key: used with a different request", "Idempotency key reused"),
    413: ("BadRequest", "body: larger than 75497472 bytes", "Body too large"),
    429: ("TooManyRequests", "more than 6000 requests per minute for this key; retry in 1 s", "Rate limited"),
}
AUTH = [{"vidu_token": []}, {"bearer": []}]


def error_schema() -> dict[str, Any]:
    return obj(["code", "reason", "message", "metadata"], code={**INT, "description": "the HTTP status"},
               reason=STR, message=STR, metadata=obj(["trace_id"], trace_id=STR))


def create_schema(count: int, models: list[str]) -> dict[str, Any]:
    images = {"type": "array", "items": STR, "minItems": count, "maxItems": count,
              "description": "http(s) URLs or data URIs" + (" (start frame, end frame)" if count == 2 else "")}
    return obj(
        ["model", "images"],
        model={"enum": models}, images=images, prompt=STR, duration=INT, seed={**INT, "minimum": 0},
        resolution={"enum": ["540p", "720p", "1080p"]}, movement_amplitude={"enum": list(dialect.AMPLITUDES)},
        audio=BOOL, audio_type={"enum": list(dialect.AUDIO_TYPES)}, voice_id=STR, is_rec=BOOL, bgm=BOOL,
        off_peak=BOOL, watermark=BOOL, wm_position={"enum": [1, 2, 3, 4]}, wm_url=STR,
        payload={**STR, "maxLength": dialect.PAYLOAD_MAX}, meta_data={"type": ["string", "object"]},
        callback_url=STR, aspect_ratio=STR,
    )


def creation() -> dict[str, Any]:
    return obj(["id", "url", "cover_url", "watermarked_url"], id=STR, url=STR, cover_url=STR, watermarked_url=STR,
               video=obj(duration={"type": "number"}, fps=INT, resolution=obj(width=INT, height=INT)))


def common() -> dict[str, Any]:
    return {"id": STR, "state": {"enum": STATES}, "err_code": STR, "credits": INT, "payload": STR, "bgm": BOOL,
            "off_peak": BOOL, "meta_data": {"type": ["string", "object"]},
            "creations": {"type": "array", "items": ref("ViduCreation")}}


def schemas() -> dict[str, Any]:
    both = sorted({m for served in dialect.MODELS.values() for m in served})
    task = obj(["id", "task_id", "state", "model", "images", "credits", "creations", "created_at"], **common(),
               task_id=STR, type=STR, model=STR, prompt=STR, images={"type": "array", "items": STR},
               duration=INT, seed=INT, resolution=STR, aspect_ratio=STR, movement_amplitude=STR,
               watermark=BOOL, created_at=STR)
    created = obj(["task_id", "state", "model", "images", "credits", "created_at"], task_id=STR,
                  state={"const": "created"}, model={"enum": both}, prompt=STR,
                  images={"type": "array", "items": STR}, duration=INT, seed=INT, resolution=STR,
                  movement_amplitude=STR, audio=BOOL, audio_type=STR, voice_id=STR, is_rec=BOOL, bgm=BOOL,
                  payload=STR, off_peak=BOOL, credits=INT, watermark=BOOL, wm_position=INT, wm_url=STR,
                  aspect_ratio=STR, meta_data={"type": ["string", "object"]}, callback_url=STR, created_at=STR)
    return {
        "ViduImg2Video": create_schema(1, list(dialect.MODELS["img2video"])),
        "ViduStartEnd2Video": create_schema(2, list(dialect.MODELS["start-end2video"])),
        "ViduCreated": created,
        "ViduCreation": creation(),
        "ViduCreations": obj(["id", "state", "err_code", "credits", "payload", "creations"], **common()),
        "ViduTaskList": obj(["tasks", "next_page_token"], tasks={"type": "array", "items": task},
                            next_page_token=STR),
        "ViduCanceled": {"type": "object", "maxProperties": 0},
        "ViduError": error_schema(),
    }


def _ok(description: str, schema: str, example: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema), "example": example}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _ok(ERRORS[c][2], "ViduError", {"code": c, "reason": ERRORS[c][0], "message": ERRORS[c][1],
                                                    "metadata": {"trace_id": "0a77d4bf5103e121"}})
            for c in codes}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": [TAG], "security": AUTH, "responses": responses, **extra}


def _task_id() -> dict[str, Any]:
    return {"name": "task_id", "in": "path", "required": True, "schema": STR, "example": s.JOB_ID}


def _creation_example() -> dict[str, Any]:
    return {"id": s.JOB_ID, "url": s.VIDEO_URL, "cover_url": s.COVER_URL, "watermarked_url": "",
            "video": {"duration": 2, "fps": 24, "resolution": {"width": 960, "height": 540}}}


def paths() -> dict[str, Any]:
    image = s.example_image()
    out: dict[str, Any] = {}
    for endpoint, schema, model, images in (("img2video", "ViduImg2Video", "viduq3-turbo", [image]),
                                            ("start-end2video", "ViduStartEnd2Video", "viduq2-turbo",
                                             [image, image])):
        example = {"model": model, "images": images, "prompt": s.PROMPT, "duration": 2, "resolution": "540p",
                   "payload": "order-77", "callback_url": "https://hooks.example.com/vidu"}
        created = {"task_id": s.JOB_ID, "state": "created", "model": model, "prompt": s.PROMPT, "images": images,
                   "duration": 2, "seed": 1234, "resolution": "540p", "movement_amplitude": "auto",
                   "audio": False, "bgm": False, "payload": "order-77", "off_peak": False, "credits": 13,
                   "watermark": False, "created_at": "2026-12-07T06:39:15.708357Z",
                   "callback_url": "https://hooks.example.com/vidu"}
        out[f"/ent/v2/{endpoint}"] = {"post": _op(
            f"Vidu official: {endpoint}", {"200": _ok("Created", "ViduCreated", created), **_errors(400, 401, 409,
                                                                                                    413, 429)},
            requestBody={"required": True, "content": {"application/json": {"schema": ref(schema),
                                                                              "example": example}}},
            description="Vidu's own body (docs/api-vidu.md has the model and field maps). Fields with no effect "
                        "here are kept and listed in the job's `metadata.unsupported_fields`.")}
    for endpoint in dialect.UNSERVED_ENDPOINTS:
        out[f"/ent/v2/{endpoint}"] = {"post": _op(
            f"Vidu official: {endpoint} (not served)",
            {"404": _ok("Not served: stillmotion makes video from images", "ViduError",
                        {"code": 404, "reason": "NotFound", "message": f"endpoint /ent/v2/{endpoint} is not "
                         "served by this server (it makes video from images only); use /ent/v2/img2video or "
                         "/ent/v2/start-end2video", "metadata": {"trace_id": "0a77d4bf5103e121"}}),
             **_errors(401)})}
    done = {"id": s.JOB_ID, "state": "success", "err_code": "", "credits": 13, "payload": "order-77", "bgm": False,
            "off_peak": False, "creations": [_creation_example()]}
    out["/ent/v2/tasks/{task_id}/creations"] = {"get": _op(
        "Vidu official: a task and its creations", {"200": _ok("The task", "ViduCreations", done),
                                                    **_errors(401, 404)}, parameters=[_task_id()])}
    task = {**done, "task_id": s.JOB_ID, "type": "img2video", "model": "viduq3-turbo", "prompt": s.PROMPT,
            "images": [image], "duration": 2, "seed": 1234, "resolution": "540p", "aspect_ratio": "",
            "movement_amplitude": "auto", "watermark": False, "created_at": "2026-12-07T06:39:15.708357Z"}
    arr = {"type": "array", "items": STR}
    out["/ent/v2/tasks"] = {"get": _op(
        "Vidu official: list tasks, newest first",
        {"200": _ok("A page of tasks", "ViduTaskList", {"tasks": [task], "next_page_token": "MjAyNi0xMi0w"}),
         **_errors(400, 401)},
        parameters=[s.query("task_ids", "task ids (repeat or comma-separate)", arr, [s.JOB_ID]),
                    s.query("states", "created, queueing, processing, success, failed", arr, ["success"]),
                    s.query("model_versions", "Vidu model names, with or without `vidu`", arr, ["q2-pro"]),
                    s.query("resolutions", "540p, 720p, 1080p", arr, ["720p"]),
                    s.query("created_at.from", "ISO 8601 or Unix seconds, inclusive", STR, "2026-12-01T00:00:00Z"),
                    s.query("created_at.to", "ISO 8601 or Unix seconds, exclusive", STR, "2026-12-08T00:00:00Z"),
                    s.query("pager.pagesz", "page size 1-100 [10] (also `paper.pagesz`)", INT, 10),
                    s.query("pager.page", "page number from 0 (also `paper.page`); ignored with a token", INT, 0),
                    s.query("pager.page_token", "next_page_token of the previous page", STR, "MjAyNi0xMi0w")])}
    out["/ent/v2/tasks/{task_id}/cancel"] = {"post": _op(
        "Vidu official: cancel a queued or running task (refunded)",
        {"200": _ok("Canceled", "ViduCanceled", {}),
         **_errors(401, 404), "400": _ok("The task has ended", "ViduError", {
             "code": 400, "reason": "BadRequest", "message": "task state is success, can not cancel",
             "metadata": {"trace_id": "0a77d4bf5103e121"}})},
        parameters=[_task_id()])}
    return out
