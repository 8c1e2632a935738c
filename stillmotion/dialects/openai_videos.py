"""The OpenAI Videos dialect `/v1/videos` (docs/api-openai.md), as the `openai` SDK's `client.videos`
calls it.

Video objects as the SDK types them (`openai.types.Video`): statuses queued / in_progress /
completed / failed (a canceled job reads as failed, error code `canceled`), Unix-second times,
`seconds` a string, `size` "WxH". Errors `{"error": {message, type, param, code}}` with OpenAI's
parameter names (a catalog error about `duration` names `seconds`); the callback is an OpenAI
webhook event, `video.completed` or `video.failed`, carrying the video id.

The request maps onto the chosen catalog model's own arguments: `seconds` -> duration, `size` ->
resolution (and aspect_ratio where the model has one), `input_reference` -> its image field;
stillmotion's extension fields pass through under the model's names.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from stillmotion.catalog import Catalog, ModelEntry, output_size
from stillmotion.catalog.fields import BoolField, IntField
from stillmotion.catalog.sizing import parse_aspect, short_side
from stillmotion.errors import FieldInvalid, NotFound, StillmotionError
from stillmotion.jobs import Job, JobStatus
from stillmotion.service import CreateRequest

from .common import Signer, error_body, object_body, parse_int

NAME = "openai"
DEFAULT_MODEL = "sora-2"  # what OpenAI uses when a request names no model
# Every catalog model is served here (CreateRequest.models None), by id or alias.
MAX_PAGE = 100

STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.PROCESSING: "in_progress",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",  # compat: OpenAI has no canceled state; error.code says canceled
}
CREATE_FIELDS = ("prompt", "input_reference", "model", "seconds", "size")
# stillmotion's extensions, passed to the model under the same name when it has that argument.
PASS_THROUGH = ("seed", "mode", "audio", "audio_type", "voice_id", "generate_audio", "watermark", "wm_position",
                "wm_url", "off_peak", "style", "is_rec")
# Sent by clients of other self-hosted servers (SGLang, vLLM-Omni): accepted and, where the model has no
# such argument, noted in the job's metadata.ignored_fields (stillmotion's steps belong to its routes).
LENIENT = ("negative_prompt", "guidance_scale", "num_inference_steps")
OWN = ("input_reference_end", "webhook_url")
KNOWN = (*CREATE_FIELDS, *PASS_THROUGH, *LENIENT, *OWN)
# Catalog argument -> the OpenAI parameter it came from, so errors name what the client sent.
PARAM_OF_ARG = {
    "duration": "seconds",
    "resolution": "size",
    "aspect_ratio": "size",
    "image": "input_reference",
    "images": "input_reference",
    "images[0]": "input_reference",
    "image_tail": "input_reference_end",
}
ERROR_TYPES = {401: "invalid_request_error", 402: "insufficient_quota", 429: "rate_limit_error"}
ERROR_CODES = {"Unauthorized": "invalid_api_key", "RateLimited": "rate_limit_exceeded",
               "CreditInsufficient": "insufficient_quota", "FieldInvalid": "invalid_value"}
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")


class UnknownParameter(FieldInvalid):
    reason = "UnknownParameter"


class MissingParameter(FieldInvalid):
    reason = "MissingRequiredParameter"


def epoch(ts: datetime | None) -> int | None:
    return int(ts.timestamp()) if ts else None


def _snake(reason: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", reason).lower()


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    """OpenAI's error envelope; `param` and the message's prefix in OpenAI's parameter names."""
    param = PARAM_OF_ARG.get(exc.field or "", exc.field)
    message = exc.message
    if exc.field and param != exc.field and message.startswith(f"{exc.field}: "):
        message = f"{param}: " + message[len(exc.field) + 2:]
    kind = "server_error" if exc.status >= 500 else ERROR_TYPES.get(exc.status, "invalid_request_error")
    code = None if exc.status >= 500 else ERROR_CODES.get(exc.reason, _snake(exc.reason))
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# -- create ----------------------------------------------------------------------------------------


def model_entry(requested: Any, catalog: Catalog, aliases: dict[str, str]) -> ModelEntry:
    """The catalog entry for a model id or an operator's alias (sora-2, sora-2-pro, ...)."""
    known = [*aliases, *(e.id for e in catalog.entries())]
    if not isinstance(requested, str) or not requested:
        raise FieldInvalid(f"must be a model id: {', '.join(known)}", field="model")
    try:
        return catalog.get(aliases.get(requested, requested))
    except FieldInvalid:
        if requested in aliases:  # the operator's alias names no catalog model: say whose mistake it is
            raise StillmotionError(f"model alias {requested!r} names {aliases[requested]!r}, which is not a "
                                   "catalog model (STILLMOTION_OPENAI_MODEL_ALIASES)") from None
        raise FieldInvalid(f"unknown model {requested!r}; use one of {', '.join(known)}", field="model") from None


def reference(value: Any, field: str) -> str | None:
    """An image reference: an uploaded file (already a data URI), a URL or data URL string, or
    `{"image_url": ...}`; `file_id` names OpenAI's file store, which stillmotion does not have."""
    if value is None:
        return None
    if isinstance(value, dict):
        if "file_id" in value:
            raise FieldInvalid("file_id is not supported; upload the image or pass image_url",
                               field=f"{field}.file_id")
        unknown = [k for k in value if k != "image_url"]
        if unknown:
            raise UnknownParameter(f"unknown parameter {unknown[0]!r}; pass image_url", field=f"{field}.{unknown[0]}")
        value = value.get("image_url")
        field = f"{field}.image_url"
    if not isinstance(value, str) or not value.strip():
        raise FieldInvalid("must be an uploaded image file, an image URL or a data URL", field=field)
    return value


def _seconds(value: Any, entry: ModelEntry) -> int:
    spec = _int_field(entry, "duration")
    allowed = f"{spec.minimum}-{spec.maximum}" if spec else "the model's durations"
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FieldInvalid(f"must be a whole number of seconds as a string ({allowed}), got {value!r}",
                           field="seconds")
    if spec and not spec.minimum <= value <= spec.maximum:
        raise FieldInvalid(f"{entry.id} makes {allowed} seconds, got {value}", field="seconds")
    return value


def _int_field(entry: ModelEntry, name: str) -> IntField | None:
    f = next((f for f in entry.fields if f.name == name), None)
    return f if isinstance(f, IntField) else None


def _options(entry: ModelEntry, name: str) -> tuple[str, ...]:
    f = next((f for f in entry.fields if f.name == name), None)
    return tuple(getattr(f, "options", ()))


def allowed_sizes(entry: ModelEntry) -> dict[tuple[int, int], dict[str, str]]:
    """For a model with an aspect_ratio argument: every WxH it makes -> its arguments."""
    return {output_size(res, parse_aspect(aspect)): {"resolution": res, "aspect_ratio": aspect}
            for res in _options(entry, "resolution") for aspect in _options(entry, "aspect_ratio")}


def _size(value: Any, entry: ModelEntry) -> dict[str, str]:
    """`size` as the model's resolution (and aspect ratio where it has one). A model whose
    aspect follows the input image takes a WxH whose short side is one of its resolutions; the
    service then checks it against the image (as OpenAI, which wants the image at the video's size
    or aspect)."""
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise FieldInvalid(f"must be WIDTHxHEIGHT, e.g. 1280x720, got {value!r}", field="size")
    w, h = int(match[1]), int(match[2])
    if entry.has_field("aspect_ratio"):
        sizes = allowed_sizes(entry)
        if (w, h) not in sizes:
            allowed = ", ".join(f"{a}x{b}" for a, b in sorted(sizes))
            raise FieldInvalid(f"{entry.id} does not make {value}; allowed: {allowed}", field="size")
        return sizes[(w, h)]
    by_short = {short_side(r): r for r in _options(entry, "resolution")}
    if min(w, h) not in by_short:
        examples = ", ".join(f"{output_size(r, parse_aspect('16:9'))[0]}x{s}" for s, r in by_short.items())
        raise FieldInvalid(f"{entry.id} makes videos whose short side is {', '.join(map(str, by_short))} "
                           f"(the aspect follows input_reference), e.g. {examples} or the same turned "
                           f"upright; got {value}", field="size")
    return {"resolution": by_short[min(w, h)]}


def _extension(entry: ModelEntry, name: str, value: Any, from_form: bool) -> Any:
    """A form field's text as the model's argument type (JSON bodies keep their own types)."""
    f = next((f for f in entry.fields if f.name == name), None)
    if from_form and isinstance(value, str):
        if isinstance(f, BoolField) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(f, IntField) and value.isascii() and value.isdigit():
            return int(value)
    return value


def parse_create(
    body: Any,
    *,
    catalog: Catalog,
    aliases: dict[str, str],
    idempotency_key: str | None = None,
    key_webhook: str | None = None,
    from_form: bool = False,
    remixed_from: str | None = None,
) -> CreateRequest:
    """A create body (JSON, or multipart fields with uploads already as data URIs) as a request
    for the catalog model it names, in that model's own arguments."""
    body = object_body(body)
    unknown = [k for k in body if k not in KNOWN]
    if unknown:
        raise UnknownParameter(f"unknown parameter; this endpoint takes {', '.join(KNOWN)}", field=str(unknown[0]))
    if "prompt" not in body:
        raise MissingParameter("required", field="prompt")
    if not isinstance(body["prompt"], str):
        raise FieldInvalid("must be a string", field="prompt")
    requested = body.get("model", DEFAULT_MODEL)
    entry = model_entry(requested, catalog, aliases)
    image = reference(body.get("input_reference"), "input_reference")
    if image is None:
        raise MissingParameter("required: stillmotion makes video from an image; upload one or pass "
                               "{\"image_url\": URL or data URL}", field="input_reference")
    args: dict[str, Any] = {"prompt": body["prompt"]}
    args["images" if entry.has_field("images") else "image"] = [image] if entry.has_field("images") else image
    end = reference(body.get("input_reference_end"), "input_reference_end")
    if end is not None:
        if not entry.has_field("image_tail"):
            takers = [e.id for e in catalog.entries() if e.has_field("image_tail")]
            raise FieldInvalid(f"{entry.id} takes no end frame; models that do: {', '.join(takers)}",
                               field="input_reference_end")
        args["image_tail"] = end
    if body.get("seconds") is not None:
        args["duration"] = _seconds(body["seconds"], entry)
    size = None
    if body.get("size") is not None:
        args.update(_size(body["size"], entry))
        if not entry.has_field("aspect_ratio"):  # the image decides the aspect: the service checks it
            size = tuple(int(n) for n in body["size"].split("x"))
    for name in (*PASS_THROUGH, *LENIENT):
        if name not in body:
            continue
        if name == "mode" and entry.fixed_mode is not None:
            raise FieldInvalid(f"{entry.id} always runs in {entry.fixed_mode} mode; choose the model instead",
                               field="mode")
        if name in PASS_THROUGH and not entry.has_field(name):
            raise FieldInvalid(f"{entry.id} has no {name!r} argument (GET /v1/models lists each model's)",
                               field=name)
        args[name] = _extension(entry, name, body[name], from_form)
    openai_meta = {"model": requested}
    if remixed_from:
        openai_meta["remixed_from_video_id"] = remixed_from
    return CreateRequest(
        model=entry.id, args=args, args_field="body", dialect=NAME,
        callback_url=body.get("webhook_url") or key_webhook, callback_field="webhook_url",
        idempotency_key=idempotency_key, metadata={"openai": openai_meta}, size=size,
    )


def remix_body(job: Job, entry: ModelEntry, prompt: Any, inputs: dict[str, str]) -> dict[str, Any]:
    """The arguments of a remix: the source job's own (its seed left to chance), a new prompt,
    and its stored input images (as data URIs) in the model's image fields."""
    if not isinstance(prompt, str):
        raise (MissingParameter("required", field="prompt") if prompt is None
               else FieldInvalid("must be a string", field="prompt"))
    args = {k: v for k, v in job.args.items() if k != "seed"}
    args["prompt"] = prompt
    if entry.has_field("images"):
        args["images"] = [inputs["image"]]
    elif entry.has_field("image"):
        args["image"] = inputs["image"]
    if entry.has_field("image_tail") and "image_tail" in inputs:
        args["image_tail"] = inputs["image_tail"]
    return args


def remix_request(job: Job, args: dict[str, Any], key_webhook: str | None, idempotency_key: str | None,
                  webhook_url: Any = None) -> CreateRequest:
    meta = job.metadata.get("openai") or {}
    return CreateRequest(
        model=job.model, args=args, args_field="body", dialect=NAME,
        callback_url=webhook_url or key_webhook, callback_field="webhook_url", idempotency_key=idempotency_key,
        metadata={"openai": {"model": meta.get("model", job.model), "remixed_from_video_id": job.id}},
    )


# -- presenting ------------------------------------------------------------------------------------


def video_body(job: Job, retention_s: float) -> dict[str, Any]:
    """The `Video` object, for jobs of every dialect."""
    meta = job.metadata.get("openai") or {}
    spec = job.spec
    ended = job.status.final
    finished = epoch(job.finished_at) if ended else None
    expires = finished + int(retention_s) if finished is not None and job.status == JobStatus.SUCCEEDED else None
    error = error_body(job)
    return {
        "id": job.id,
        "object": "video",
        "model": meta.get("model", job.model),
        "status": STATUS[job.status],
        "progress": int(job.progress),
        "created_at": epoch(job.created_at),
        "completed_at": finished,
        "expires_at": expires,
        "seconds": str(spec.get("duration", job.args.get("duration", ""))),
        "size": f"{spec.get('width')}x{spec.get('height')}",
        "prompt": job.args.get("prompt"),
        "remixed_from_video_id": meta.get("remixed_from_video_id"),
        "error": error,
    }


def list_body(page: list[Job], more: bool, retention_s: float) -> dict[str, Any]:
    data = [video_body(job, retention_s) for job in page]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


def deleted_body(job: Job) -> dict[str, Any]:
    return {"id": job.id, "object": "video.deleted", "deleted": True}


def poll_after_ms(job: Job) -> int | None:
    """How long the SDK's poll helper should wait: a quarter of the ETA, 0.25-5 s."""
    if job.status not in (JobStatus.QUEUED, JobStatus.PROCESSING):
        return None
    if not job.eta:
        return 1000
    return max(250, min(5000, job.eta * 250))


VARIANTS = {"video": ("video", "video/mp4"), "thumbnail": ("cover", "image/jpeg"),
            "spritesheet": ("spritesheet", "image/jpeg")}


def content_key(job: Job, variant: Any) -> tuple[str, str]:
    """(artifact key or "spritesheet", media type) of a finished video's variant."""
    if variant not in VARIANTS:
        raise FieldInvalid(f"must be one of {', '.join(VARIANTS)}, got {variant!r}", field="variant")
    if job.status != JobStatus.SUCCEEDED or not job.result:
        state = STATUS[job.status]
        raise NotFound(f"video {job.id!r} is {state}; content exists once it is completed", field="video_id")
    if job.purged:
        raise NotFound(f"the files of video {job.id!r} were deleted", field="video_id")
    name, media_type = VARIANTS[variant]
    return (job.result[name] if name in job.result else name), media_type


def callback_body(job: Job, sign: Signer, ttl_s: int, event: str, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """An OpenAI webhook event; the id is stable across retries of one delivery."""
    kind = "video.completed" if job.status == JobStatus.SUCCEEDED else "video.failed"
    created = epoch(job.finished_at) or int(datetime.now(UTC).timestamp())
    return {"id": f"evt_{job.id.replace('-', '')}", "object": "event", "type": kind, "created_at": created,
            "data": {"id": job.id}}


def parse_list(q: Any, find: Any) -> tuple[int, bool, tuple[datetime, str] | None]:
    """`limit`, oldest-first, and the keyset cursor of `after` (a video id, read by `find`)."""
    limit = parse_int(q.get("limit"), "limit", 20, 1, MAX_PAGE)
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise FieldInvalid(f"must be asc or desc, got {order!r}", field="order")
    after = q.get("after")
    cursor = None
    if after:
        job = find(after)
        cursor = (job.created_at, job.id)
    return limit, order == "asc", cursor
