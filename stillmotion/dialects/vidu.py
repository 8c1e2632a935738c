"""Vidu's official API (`/ent/v2`, docs/api-vidu.md): its model names, fields, states, bodies,
error body and HMAC-SHA256 callback signature.

A Vidu request names a Vidu model (`viduq2-pro`, ...) and an endpoint (`img2video`,
`start-end2video`); `parse_create` maps the pair onto a catalog entry (and its mode) and Vidu's
fields onto that entry's args. Fields the entry has no effect for are validated, kept in the
job's metadata (`metadata.vidu`) and listed in `metadata.unsupported_fields`, never dropped
silently. Presenting works for jobs of every dialect: a job made elsewhere reads as the Vidu
model that names its entry and mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from stillmotion.audio.voices import VOICES
from stillmotion.catalog import get_model
from stillmotion.errors import (
    Conflict, CreditInsufficient, FieldInvalid, ImageDownloadFailure, NotFound, PayloadTooLarge, RateLimited,
    StillmotionError, Unauthorized,
)
from stillmotion.jobs import FailureCode, Job, JobFilter, JobStatus
from stillmotion.observability import REQUEST_ID
from stillmotion.service import CreateRequest

from .common import Signer, object_body, page_cursor, read_page_cursor

NAME = "vidu"
ENDPOINTS = ("img2video", "start-end2video")
UNSERVED_ENDPOINTS = ("text2video", "reference2video")
ACCESS_KEY = "vidu"  # X-HMAC-ACCESS-KEY, fixed by Vidu's docs
SIGNED_HEADERS = ("Date", "x-request-nonce")
PAYLOAD_MAX = 1_048_576
DEFAULT_PROMPT = "natural motion"  # q2 entries need a prompt; Vidu's is optional
AMPLITUDES = ("auto", "small", "medium", "large")
AUDIO_TYPES = ("all", "speech_only", "sound_effect_only")
# Vidu's numbering of watermark corners (its image-to-video page; default 3).
WM_POSITIONS = {1: "top-left", 2: "top-right", 3: "bottom-right", 4: "bottom-left"}
MAX_PAGE = 100
DEFAULT_CREDITS_PER_USD = Decimal(200)


@dataclass(frozen=True)
class Target:
    """The catalog entry (and mode) a Vidu model on a Vidu endpoint runs as."""

    model: str
    mode: str | None = None


Q2_I2V, Q2_SE = "vidu/vidu-q2/image-to-video", "vidu/vidu-q2/start-end-to-video"
MODELS: dict[str, dict[str, Target]] = {
    "img2video": {
        "viduq3-pro": Target("vidu-q3-pro-i2v"),
        "viduq3-turbo": Target("vidu-q3-turbo-i2v"),
        "viduq2-pro": Target(Q2_I2V, "pro"),
        "viduq2-turbo": Target(Q2_I2V, "turbo"),
        "viduq2-pro-fast": Target(Q2_I2V, "pro-fast"),
    },
    "start-end2video": {
        "viduq2-pro": Target(Q2_SE, "pro"),
        "viduq2-turbo": Target(Q2_SE, "turbo"),
        "viduq2-pro-fast": Target(Q2_SE, "pro-fast"),
    },
}
# Jobs made through other dialects, named the Vidu way: (catalog id, mode) -> Vidu model.
NAMES: dict[tuple[str, str], str] = {
    ("vidu/vidu-q3/image-to-video", "pro"): "viduq3-pro",
    ("vidu/vidu-q3/image-to-video", "turbo"): "viduq3-turbo",
    ("vidu-q3-pro-i2v", "pro"): "viduq3-pro",
    ("vidu-q3-turbo-i2v", "turbo"): "viduq3-turbo",
    **{(t.model, t.mode or ""): name for ep in MODELS.values() for name, t in ep.items() if t.mode},
}
# Catalog field names in Vidu's words, for errors raised by the catalog and the service.
FIELD_NAMES = {"image": "images[0]", "image_tail": "images[1]", "generate_audio": "audio", "mode": "model",
               "body": "body", "args": "body"}


class ViduError(StillmotionError):
    """An error with one of Vidu's named reasons (docs: Vidu's error-code page)."""

    def __init__(self, status: int, reason: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.reason = reason


def lacking(field: str) -> ViduError:
    return ViduError(400, "FieldLacking", "is missing or empty", field=field)


def invalid(field: str, message: str) -> ViduError:
    return ViduError(400, "FieldInvalid", message, field=field)


# ---- errors ---------------------------------------------------------------------------------


def _status_reason(exc: StillmotionError) -> tuple[int, str]:
    if isinstance(exc, ViduError):
        return exc.status, exc.reason
    field = FIELD_NAMES.get(exc.field or "", exc.field or "")
    if isinstance(exc, ImageDownloadFailure):
        return 400, "ImageDownloadFailure"
    if isinstance(exc, PayloadTooLarge):
        return (400, "PageSizeOutOfRange") if field.startswith("images") else (413, "BadRequest")
    if isinstance(exc, FieldInvalid):
        text = exc.message.lower()
        if field.startswith("images") and any(w in text for w in ("format", "not an image", "corrupt",
                                                                 "aspect ratio", "pixels", "px")):
            return 400, "ImageFormatInvalid"
        if "required" in text or text.endswith(": is empty"):
            return 400, "FieldLacking"
        return 400, "FieldInvalid"
    if isinstance(exc, Unauthorized):
        return 401, "Unauthorized"
    if isinstance(exc, NotFound):
        return 404, "TaskNotFound"
    if isinstance(exc, Conflict):
        return 409, "Conflict"
    if isinstance(exc, CreditInsufficient):
        return 400, "CreditInsufficient"  # Vidu answers 400 for this
    if isinstance(exc, RateLimited):
        return 429, "TooManyRequests"
    return 500, "InternalServiceFailure"


def shape_error(exc: StillmotionError) -> dict[str, Any]:
    status, reason = _status_reason(exc)
    return {"code": status, "reason": reason, "message": exc.message,
            "metadata": {"trace_id": REQUEST_ID.get() or ""}}


def renamed(exc: StillmotionError) -> StillmotionError:
    """A catalog or service error as a ViduError: Vidu's status and reason, its field in Vidu's
    words (`image` -> `images[0]`). Rate limits keep their class (the Retry-After header)."""
    if isinstance(exc, ViduError | RateLimited):
        return exc
    status, reason = _status_reason(exc)
    field = exc.field
    if not field or not exc.message.startswith(f"{field}: "):
        return ViduError(status, reason, exc.message)
    return ViduError(status, reason, exc.message[len(field) + 2:], field=FIELD_NAMES.get(field, field))


# ---- create ---------------------------------------------------------------------------------


def _str(body: dict[str, Any], name: str, *, max_length: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, f"must be a string, got {type(value).__name__}")
    if max_length is not None and len(value) > max_length:
        raise invalid(name, f"at most {max_length} characters, got {len(value)}")
    return value


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(name, f"must be true or false, got {value!r}"[:200])
    return value


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"must be an integer, got {value!r}"[:200])
    return value


def _choice(body: dict[str, Any], name: str, options: tuple[str, ...]) -> str | None:
    value = _str(body, name)
    if value is not None and value not in options:
        raise invalid(name, f"must be one of {', '.join(options)}, got {value!r}"[:300])
    return value


def _images(body: dict[str, Any], count: int) -> list[str]:
    images = body.get("images")
    if images is None or images == []:
        raise lacking("images")
    if not isinstance(images, list):
        raise invalid("images", "must be an array of image URLs or data URIs")
    if len(images) != count:
        noun = "1 image" if count == 1 else f"{count} images (start frame, end frame)"
        raise ViduError(400, "FieldItemCountOutOfRange", f"takes exactly {noun}, got {len(images)}", field="images")
    for i, ref in enumerate(images):
        if not isinstance(ref, str) or not ref:
            raise invalid(f"images[{i}]", "must be an http(s) URL or a data URI string")
    return images


def _wm_position(body: dict[str, Any]) -> int | None:
    value = body.get("wm_position")
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 4:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in WM_POSITIONS:
        raise invalid("wm_position", f"must be 1-4 (1 top-left, 2 top-right, 3 bottom-right, 4 bottom-left), "
                                     f"got {value!r}"[:200])
    return int(value)


def _meta_data(body: dict[str, Any]) -> Any:
    value = body.get("meta_data")
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > PAYLOAD_MAX:
            raise invalid("meta_data", f"at most {PAYLOAD_MAX} characters, got {len(value)}")
        return value
    if isinstance(value, dict):
        return value
    raise invalid("meta_data", "must be a string or a JSON object")


KNOWN = frozenset({"model", "images", "prompt", "duration", "seed", "resolution", "movement_amplitude", "audio",
                   "audio_type", "voice_id", "is_rec", "bgm", "off_peak", "watermark", "wm_position", "wm_url",
                   "payload", "meta_data", "callback_url", "aspect_ratio"})


def target_for(endpoint: str, model: Any) -> Target:
    if model is None or model == "":
        raise lacking("model")
    if not isinstance(model, str):
        raise invalid("model", "must be a string")
    served = MODELS[endpoint]
    if model not in served:
        raise invalid("model", f"{model!r} is not served on {endpoint} by this server; use one of "
                               f"{', '.join(served)}"[:400])
    return served[model]


def parse_create(endpoint: str, body: Any, idempotency_key: str | None, per_usd: Decimal) -> CreateRequest:
    """A Vidu create body as a `CreateRequest` for the catalog entry it maps to.

    Vidu's own field types are checked here (so errors name Vidu's fields); ranges that
    depend on the model (duration, resolution, prompt length) are the catalog's."""
    body = object_body(body)
    target = target_for(endpoint, body.get("model"))
    entry = get_model(target.model)
    images = _images(body, 2 if endpoint == "start-end2video" else 1)
    given = {
        "prompt": _str(body, "prompt"),
        "duration": _int(body, "duration"),
        "seed": _int(body, "seed"),
        "resolution": _str(body, "resolution"),
        "movement_amplitude": _choice(body, "movement_amplitude", AMPLITUDES),
        "audio": _bool(body, "audio"),
        "audio_type": _choice(body, "audio_type", AUDIO_TYPES),
        "voice_id": _str(body, "voice_id"),
        "is_rec": _bool(body, "is_rec"),
        "bgm": _bool(body, "bgm"),
        "off_peak": _bool(body, "off_peak"),
        "watermark": _bool(body, "watermark"),
        "wm_position": _wm_position(body),
        "wm_url": _str(body, "wm_url"),
        "aspect_ratio": _str(body, "aspect_ratio"),
    }
    payload = _str(body, "payload", max_length=PAYLOAD_MAX)
    meta_data = _meta_data(body)
    if given["seed"] is not None and given["seed"] < 0:
        raise invalid("seed", f"must be 0 or more, got {given['seed']}")

    args: dict[str, Any] = {}
    unsupported: list[str] = []
    defaults: dict[str, Any] = {}

    def put(name: str, value: Any, arg: str | None = None) -> None:
        """`value` into the entry's `arg`, or onto the unsupported list when the entry has none."""
        if value is None:
            return
        if entry.has_field(arg or name):
            args[arg or name] = value
        elif value is not False:  # asking for "off" where nothing happens anyway is not worth a note
            unsupported.append(name)

    if target.mode:
        args["mode"] = target.mode
    if entry.has_field("images"):
        args["images"] = images
    else:
        args["image"] = images[0]
        if endpoint == "start-end2video":
            args["image_tail"] = images[1]
    prompt = given["prompt"]
    if not (prompt or "").strip() and entry.requires("prompt"):
        prompt = defaults["prompt"] = DEFAULT_PROMPT
    put("prompt", prompt)
    for name in ("duration", "seed", "resolution", "off_peak", "aspect_ratio"):
        put(name, given[name])
    # Vidu's is_rec asks for a recommended prompt; the catalog's is_rec (the seeds') is audio rhythm
    # matching, another thing: there is no prompt recommender here.
    if given["is_rec"]:
        unsupported.append("is_rec")
    # audio: turbo Q3 takes it as is; Q2 image-to-video calls it generate_audio; elsewhere it has no effect.
    audio = given["audio"]
    if entry.has_field("audio_type"):
        put("audio", audio)
        put("audio_type", given["audio_type"])
    elif entry.has_field("generate_audio"):
        put("audio", audio, "generate_audio")
        if given["audio_type"] not in (None, "all"):
            unsupported.append("audio_type")  # Q2 audio is always speech and effects
        if audio and given["voice_id"] is None:
            defaults["voice_id"] = VOICES[0].id  # Vidu recommends a voice when none is given
            args["voice_id"] = VOICES[0].id
    else:
        if audio:
            unsupported.append("audio")
        if given["audio_type"] is not None:
            unsupported.append("audio_type")
    if entry.has_field("voice_id"):
        put("voice_id", given["voice_id"])
    elif given["voice_id"] is not None:
        unsupported.append("voice_id")
    if given["watermark"] and entry.has_field("watermark"):
        args["watermark"] = True
        put("wm_position", WM_POSITIONS[given["wm_position"] or 3])
        put("wm_url", given["wm_url"])
    elif given["watermark"]:
        unsupported += [n for n in ("watermark", "wm_position", "wm_url") if given[n] is not None]
    if given["bgm"]:
        unsupported.append("bgm")
    if given["movement_amplitude"] not in (None, "auto"):
        unsupported.append("movement_amplitude")

    vidu: dict[str, Any] = {"endpoint": endpoint, "model": body["model"], "payload": payload or "",
                            "credits_per_usd": str(per_usd),  # the job's credits stay what they were
                            **{k: v for k, v in given.items() if v is not None}}
    if meta_data is not None:
        vidu["meta_data"] = meta_data
    metadata: dict[str, Any] = {"vidu": vidu}
    if unsupported:
        metadata["unsupported_fields"] = unsupported
    if defaults:
        metadata["defaults_applied"] = defaults
    unknown = [str(k) for k in body if k not in KNOWN]
    if unknown:
        metadata["ignored_fields"] = unknown
    return CreateRequest(
        model=target.model, args=args, args_field="body", dialect=NAME, callback_url=body.get("callback_url"),
        idempotency_key=idempotency_key, models=frozenset({target.model}),  # the entry the Vidu name maps to
        metadata=metadata,
    )


# ---- presenting -----------------------------------------------------------------------------


def timestamp(ts: datetime | None) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts else ""


def credits(amount: Decimal, per_usd: Decimal) -> int:
    """Vidu's integer credits for a USD amount: rounded up, so a paid job never reads 0."""
    return int(math.ceil(amount * per_usd))


def vidu_of(job: Job) -> dict[str, Any]:
    meta = job.metadata.get("vidu") if isinstance(job.metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def model_name(job: Job) -> str:
    """The Vidu model a job reads as: the one it was asked with, else the one naming its entry."""
    asked = vidu_of(job).get("model")
    if isinstance(asked, str):
        return asked
    return NAMES.get((job.model, str(job.spec.get("mode", ""))), job.model)


STATE = {JobStatus.QUEUED: "queueing", JobStatus.PROCESSING: "processing", JobStatus.SUCCEEDED: "success",
         JobStatus.FAILED: "failed", JobStatus.CANCELED: "failed"}
STATES_FILTER = {"created": (JobStatus.QUEUED,), "queueing": (JobStatus.QUEUED,),
                 "processing": (JobStatus.PROCESSING,), "success": (JobStatus.SUCCEEDED,),
                 "failed": (JobStatus.FAILED, JobStatus.CANCELED)}


def err_code(job: Job) -> str:
    """Vidu's `err_code`: "" unless the job ended without a video; a cancel reads UserCancelled."""
    if job.status == JobStatus.CANCELED:
        return "UserCancelled"
    if job.status != JobStatus.FAILED:
        return ""
    code = job.error_code or FailureCode.GENERATION_FAILURE
    return {FailureCode.OFF_PEAK_EXPIRED: "UserCancelled"}.get(code, code)


def task_credits(job: Job, per_usd: Decimal) -> int:
    if job.refunded:
        return 0
    stored = vidu_of(job).get("credits_per_usd")
    return credits(job.amount, Decimal(stored) if isinstance(stored, str) else per_usd)


def creations(job: Job, sign: Signer) -> list[dict[str, Any]]:
    if job.status != JobStatus.SUCCEEDED or not job.result:
        return []
    r = job.result
    url = "" if job.purged else sign(r["video"])
    cover = "" if job.purged else sign(r["cover"])
    marked = url if job.spec.get("watermark") else ""  # the one video is the watermarked one
    return [{"id": job.id, "url": url, "cover_url": cover, "watermarked_url": marked,
             "video": {"duration": r["duration"], "fps": r["fps"],
                       "resolution": {"width": r["width"], "height": r["height"]}}}]


def _common(job: Job, per_usd: Decimal) -> dict[str, Any]:
    v = vidu_of(job)
    out: dict[str, Any] = {
        "id": job.id,
        "state": STATE[job.status],
        "err_code": err_code(job),
        "credits": task_credits(job, per_usd),
        "payload": v.get("payload", ""),
        "bgm": bool(v.get("bgm", False)),
        "off_peak": job.off_peak,
    }
    if "meta_data" in v:
        out["meta_data"] = v["meta_data"]
    return out


def creations_body(job: Job, sign: Signer, per_usd: Decimal) -> dict[str, Any]:
    """GET /ent/v2/tasks/{id}/creations."""
    return {**_common(job, per_usd), "creations": creations(job, sign)}


def _images_of(job: Job) -> list[str]:
    a = job.args
    if isinstance(a.get("images"), list):
        return list(a["images"])
    return [a[k] for k in ("image", "image_tail") if isinstance(a.get(k), str)]


def task_body(job: Job, sign: Signer, per_usd: Decimal) -> dict[str, Any]:
    """A task as GET /ent/v2/tasks lists it."""
    v = vidu_of(job)
    return {
        **_common(job, per_usd),
        "task_id": job.id,
        "type": v.get("endpoint", "start-end2video" if "image_tail" in job.args else "img2video"),
        "model": model_name(job),
        "prompt": v.get("prompt") or job.spec.get("prompt", ""),
        "images": _images_of(job),
        "duration": job.spec.get("duration"),
        "seed": job.seed,
        "resolution": job.spec.get("resolution"),
        "aspect_ratio": job.spec.get("aspect_ratio") or "",
        "movement_amplitude": v.get("movement_amplitude", "auto"),
        "watermark": bool(job.spec.get("watermark")),
        "creations": creations(job, sign),
        "created_at": timestamp(job.created_at),
    }


def created_body(job: Job, images: list[str], per_usd: Decimal) -> dict[str, Any]:
    """The create response: the task as Vidu echoes it, with `state: created`."""
    v = vidu_of(job)
    audio = job.spec.get("audio") or {}
    out: dict[str, Any] = {
        "task_id": job.id,
        "state": "created",
        "model": model_name(job),
        "prompt": v.get("prompt") or job.spec.get("prompt", ""),
        "images": images,
        "duration": job.spec.get("duration"),
        "seed": job.seed,
        "resolution": job.spec.get("resolution"),
        "movement_amplitude": v.get("movement_amplitude", "auto"),
        "audio": isinstance(audio, dict) and audio.get("kind", "none") != "none",
        "bgm": bool(v.get("bgm", False)),
        "payload": v.get("payload", ""),
        "off_peak": job.off_peak,
        "credits": task_credits(job, per_usd),
        "watermark": bool(job.spec.get("watermark")),
        "created_at": timestamp(job.created_at),
    }
    for name in ("audio_type", "voice_id", "is_rec", "wm_position", "wm_url", "aspect_ratio", "meta_data"):
        if name in v:
            out[name] = v[name]
    if job.callback_url:
        out["callback_url"] = job.callback_url
    return out


def callback_body(job: Job, sign: Signer, ttl_s: int, event: str, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The GET creations body (Vidu: "the same as the return body of the GET Generation API");
    the start event reads `processing` even if the job has ended since."""
    body = creations_body(job, sign, DEFAULT_CREDITS_PER_USD)  # jobs made here keep their own rate
    if event != "completed":
        body.update(state="processing", err_code="", creations=[])
    return body


# ---- callback signature ---------------------------------------------------------------------


def string_to_sign(method: str, url: str, date: str, headers: list[tuple[str, str]]) -> str:
    """Vidu's signing string: method, path, query, access key, Date, then each signed header
    as `Key:Value`, every line ending in a newline."""
    parts = urlsplit(url)
    signed = "".join(f"{k}:{v}\n" for k, v in headers)
    return f"{method.upper()}\n{parts.path or '/'}\n{parts.query}\n{ACCESS_KEY}\n{date}\n{signed}"


def signature(secret: str, text: str) -> str:
    """Vidu's signature of a `string_to_sign`: base64 of its HMAC-SHA256 under the secret."""
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


def callback_headers(url: str, secret: str, body: bytes) -> dict[str, str]:
    """The headers Vidu signs its callbacks with (HMAC-SHA256 over `string_to_sign`, base64)."""
    date = formatdate(usegmt=True)
    nonce = secrets.token_hex(16)
    values = {"Date": date, "x-request-nonce": nonce}
    text = string_to_sign("POST", url, date, [(k, values[k]) for k in SIGNED_HEADERS])
    return {**values, "X-HMAC-SIGNED-HEADERS": ";".join(SIGNED_HEADERS), "X-HMAC-ALGORITHM": "hmac-sha256",
            "X-HMAC-ACCESS-KEY": ACCESS_KEY, "X-HMAC-SIGNATURE": signature(secret, text)}


# ---- list -----------------------------------------------------------------------------------


def _values(q: Any, name: str) -> list[str]:
    """An array query parameter: repeated (`states=a&states=b`) or comma-separated, with or
    without `[]`."""
    raw = [*q.getlist(name), *q.getlist(name + "[]")]
    return [v.strip() for item in raw for v in item.split(",") if v.strip()]


def _param(q: Any, *names: str) -> str | None:
    for name in names:
        if name in q:
            return q[name]
    return None


def _time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid(field, f"must be an ISO 8601 time or Unix seconds, got {value!r}"[:200]) from None


def _int_param(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise invalid(field, f"must be an integer {low}-{high}, got {value!r}"[:200])
    return int(value)


def decode_token(value: str) -> tuple[datetime, str]:
    try:
        return read_page_cursor(value)
    except ValueError:
        raise invalid("pager.page_token", "invalid; pass next_page_token from the previous page") from None


@dataclass(frozen=True)
class ListQuery:
    """GET /ent/v2/tasks: what the store filters (`filters`) and what is matched here."""

    filters: JobFilter
    task_ids: frozenset[str]
    models: frozenset[str]
    resolutions: frozenset[str]
    page: int
    size: int

    def matches(self, job: Job) -> bool:
        if self.task_ids and job.id not in self.task_ids:
            return False
        if self.models and not ({model_name(job), model_name(job).removeprefix("vidu")} & self.models):
            return False
        return not self.resolutions or job.spec.get("resolution") in self.resolutions


def parse_list(q: Any) -> ListQuery:
    """Vidu's list filters. Its page documents both `paper.` and `pager.` prefixes; both work,
    as does a bare `page_token` / `page_size`."""
    states: list[JobStatus] = []
    for name in _values(q, "states"):
        if name not in STATES_FILTER:
            raise invalid("states", f"unknown state {name!r}; use {', '.join(STATES_FILTER)}"[:300])
        states += [s for s in STATES_FILTER[name] if s not in states]
    token = _param(q, "pager.page_token", "paper.page_token", "page_token")
    size = _int_param(_param(q, "pager.pagesz", "paper.pagesz", "page_size"), "pager.pagesz", 10, 1, MAX_PAGE)
    page = _int_param(_param(q, "pager.page", "paper.page", "page"), "pager.page", 0, 0, 10_000)
    filters = JobFilter(
        statuses=tuple(states),
        created_after=_time(_param(q, "created_at.from"), "created_at.from"),
        created_before=_time(_param(q, "created_at.to"), "created_at.to"),
        after=decode_token(token) if token else None,
    )
    return ListQuery(filters, frozenset(_values(q, "task_ids")), frozenset(_values(q, "model_versions")),
                     frozenset(_values(q, "resolutions")), 0 if token else page, size)


def list_body(page: list[Job], more: bool, sign: Signer, per_usd: Decimal) -> dict[str, Any]:
    return {"tasks": [task_body(job, sign, per_usd) for job in page],
            "next_page_token": page_cursor(page[-1]) if more and page else ""}
