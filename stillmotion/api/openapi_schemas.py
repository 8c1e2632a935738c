"""Component schemas and examples of the OpenAPI document (stillmotion.api.openapi).

Written out by hand because the handlers are plain Starlette routes that FastAPI cannot
introspect; the model inputs come from the catalog. tests/e2e/test_docs.py checks these
schemas against real responses of a running service, so a shape that drifts fails there.
"""

from __future__ import annotations

import base64
import io
from functools import cache
from typing import Any

from stillmotion.catalog import MODELS, ModelEntry
from stillmotion.dialects import job as job_dialect

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NULL_STR = {"type": ["string", "null"]}
AMOUNT = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2,}$", "description": "USD, exact decimal string"}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
JOB_ID = "5b0f3c1e-8a5d-4c0e-9a57-0f8d6f1b2c3d"
VIDEO_URL = "http://127.0.0.1:8000/files/outputs/5b0f3c1e/video.mp4?expires=1795261200&sig=3f2a"
COVER_URL = "http://127.0.0.1:8000/files/outputs/5b0f3c1e/cover.jpg?expires=1795261200&sig=9c1d"
PROMPT = "The camera zooms in slowly."


@cache
def example_image() -> str:
    """A real 128x128 PNG as a data URI, so "Try it out" in /docs works offline as it stands."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (70, 110, 160)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def input_name(entry: ModelEntry) -> str:
    """The component holding a model's input JSON Schema (from the catalog)."""
    return "Input_" + entry.id.replace("/", "_")


def obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def example_input(entry: ModelEntry) -> dict[str, Any]:
    """A small valid input for `entry` (2 s, 540p, turbo where there is a mode)."""
    args: dict[str, Any] = {"prompt": PROMPT, "duration": 2, "resolution": "540p"}
    if entry.has_field("images"):
        args["images"] = [example_image()]
    else:
        args["image"] = example_image()
    if entry.has_field("image_tail"):
        args["image_tail"] = example_image()
    if entry.has_field("mode"):
        args["mode"] = "turbo"
    if entry.has_field("audio_type"):
        args["audio"] = False
    return args


# ---- native /v1 ---------------------------------------------------------------------------------

def v1_job() -> dict[str, Any]:
    return obj(
        ["id", "object", "model", "dialect", "status", "progress", "amount", "input", "created_at"],
        id=STR, object={"const": "job"}, model={"enum": list(MODELS)},
        dialect={"enum": ["v1", "job", "async"], "description": "the API the job was created through"},
        status={"enum": ["queued", "processing", "succeeded", "failed", "canceled"]},
        progress={"type": "integer", "minimum": 0, "maximum": 100},
        eta={"type": ["integer", "null"], "description": "seconds until done (estimated while queued)"},
        queue_position={"type": ["integer", "null"], "description": "jobs ahead (queued jobs only)"},
        amount=AMOUNT, refunded=BOOL, off_peak=BOOL, seed=INT,
        input={"type": "object", "description": "the normalised model arguments"},
        output={"oneOf": [{"type": "null"}, obj(
            ["video_url", "cover_url", "duration", "width", "height", "fps", "has_audio", "files_deleted"],
            video_url={**NULL_STR, "format": "uri"}, cover_url={**NULL_STR, "format": "uri"},
            duration=INT, width=INT, height=INT, fps=INT, has_audio=BOOL,
            files_deleted={**BOOL, "description": "retention removed the files; URLs are null"})]},
        error={"oneOf": [{"type": "null"}, obj(["code", "message"], code=STR, message=STR)]},
        metadata={"type": "object", "description": "engine facts: seed, motion plan, camera, audio, timings"},
        created_at=TIME, started_at=NULL_TIME, finished_at=NULL_TIME,
    )


def v1_error() -> dict[str, Any]:
    return obj(["error"], error=obj(
        ["code", "message"], code={**STR, "examples": ["FieldInvalid"]},
        message={**STR, "examples": ["duration: must be an integer between 1 and 16, got 40"]},
        field={**NULL_STR, "description": "the field the error is about"}))


def v1_create(entry: ModelEntry) -> dict[str, Any]:
    return {**obj(
        ["model", "input"], model={"const": entry.id}, input=ref(input_name(entry)),
        webhook={**STR, "format": "uri", "description": "POSTed signed job.started/progress/completed events"},
        webhook_events_filter={"type": "array", "items": {"enum": ["start", "progress", "completed"]}},
    ), "title": entry.id, "additionalProperties": False}


def quote_request(entry: ModelEntry) -> dict[str, Any]:
    return {**obj(["model", "input"], model={"const": entry.id}, input=ref(input_name(entry))),
            "title": entry.id}


def model_schema() -> dict[str, Any]:
    return obj(["id", "object", "title", "dialect", "task_type", "input_schema", "defaults", "price"],
               id=STR, object={"const": "model"}, title=STR, dialect={"enum": ["job", "async"]},
               task_type=STR, input_schema={"type": "object", "description": "JSON Schema of the input"},
               defaults={"type": "object"},
               price=obj(["model", "currency", "rates"], model=STR, currency={"const": "USD"}, unit=STR,
                         rule=STR, rates={"type": "object", "description": "mode -> resolution -> rate"},
                         off_peak=STR))


def listing(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return obj(["object", "data"], object={"const": "list"}, data={"type": "array", "items": item}, **extra)


def usage() -> dict[str, Any]:
    line = obj(["id", "job_id", "kind", "amount", "created_at"], id=INT, job_id=NULL_STR, kind=STR,
               amount={**STR, "description": "negative for refunds"}, created_at=TIME)
    upstream = obj(["provider", "jobs", "price", "cost", "margin"], provider=STR, jobs=INT, price=AMOUNT,
                   cost={**AMOUNT, "description": "what the upstream reported for its tasks"},
                   margin={**STR, "description": "price - cost; negative when the upstream cost more"})
    return obj(["object", "balance", "net_spent", "ledger"], object={"const": "usage"},
               balance={**NULL_STR, "description": "USD left; null: unlimited"}, net_spent=AMOUNT,
               ledger={"type": "array", "items": line},
               upstream={"type": "array", "items": upstream,
                         "description": "jobs served by upstream engines, per provider (docs/upstream.md)"})


def delivery() -> dict[str, Any]:
    return obj(["id", "webhook_id", "url", "event", "dialect", "status", "attempts", "history"],
               id=INT, webhook_id=STR, url=STR, event=STR, dialect=STR,
               status={"enum": ["pending", "delivered", "failed"]}, attempts=INT,
               last_status_code={"type": ["integer", "null"]}, last_error=NULL_STR,
               next_attempt_at=NULL_TIME, created_at=TIME, history={"type": "array", "items": {"type": "object"}})


def voice() -> dict[str, Any]:
    return obj(["id", "language", "gender", "description"], id=STR, language=STR, gender=STR,
               rate_wpm=INT, pitch=INT, description=STR)


# ---- job dialect ---------------------------------------------------------------------------------

def job_create(entry: ModelEntry) -> dict[str, Any]:
    return {**obj(["model", "args"], model={"const": entry.id}, args=ref(input_name(entry)),
                  callback_url={**STR, "format": "uri",
                                "description": "POSTed the query body when the job ends"}),
            "title": entry.id}


def job_created() -> dict[str, Any]:
    return obj(["code", "message", "data", "job_id"], code={"const": 0}, message={"const": "success"},
               data=obj(["amount", "job_id"], amount=AMOUNT, job_id=STR),
               job_id={**STR, "description": "compat: mirrored for the seeds' sample code"})


def job_query() -> dict[str, Any]:
    video = obj(["url", "cover_url", "duration", "width", "height", "fps", "has_audio"],
                url=STR, cover_url=STR, duration=INT, width=INT, height=INT, fps=INT, has_audio=BOOL)
    result = obj(["videos", "images"], videos={"type": "array", "items": video},
                 images={"type": "array", "items": obj(["url"], url=STR)})
    data = obj(["job_id", "model", "status", "progress", "amount", "refunded", "error", "result", "created_at"],
               job_id=STR, model=STR,
               status={"enum": [0, 1, 2, 3, 4],
                       "description": "0 queued, 1 processing, 2 succeeded, 3 failed, 4 canceled"},
               progress={"type": "integer", "minimum": 0, "maximum": 100}, eta={"type": ["integer", "null"]},
               amount=AMOUNT, refunded=BOOL,
               error={"oneOf": [{"type": "null"}, obj(["code", "message"], code=STR, message=STR)]},
               result={"oneOf": [{"type": "null"}, result]}, seed=INT,
               created_at=TIME, started_at=NULL_TIME, finished_at=NULL_TIME)
    return obj(["code", "message", "data"], code={"const": 0}, message=STR, data=data)


def job_error() -> dict[str, Any]:
    return obj(["code", "message", "data"], code={**INT, "description": "the HTTP status"}, message=STR,
               data={"type": "null"})


# ---- async-task dialect ------------------------------------------------------------------------

def async_submit(entry: ModelEntry) -> dict[str, Any]:
    extra = obj(webhook=obj(["url"], url={**STR, "format": "uri"}))
    return {"allOf": [ref(input_name(entry)), obj(extra={**extra, "description": "webhook settings"})],
            "title": entry.id}


def task_result() -> dict[str, Any]:
    task = obj(["task_id", "task_type", "status", "reason", "eta", "progress_percent"],
               task_id=STR, task_type=STR,
               status={"enum": ["TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED",
                                "TASK_STATUS_FAILED"]},
               reason=STR, eta=INT, progress_percent=INT)
    video = obj(["video_url", "video_url_ttl", "video_type"], video_url=STR, video_url_ttl=INT,
                video_type={"const": "mp4"})
    debug = obj(["request_info", "submit_time_ms", "execute_time_ms", "complete_time_ms"], request_info=STR,
                submit_time_ms=INT, execute_time_ms=INT, complete_time_ms=INT)
    return obj(["task", "images", "audios", "videos", "extra"], task=task,
               images={"type": "array", "maxItems": 0}, audios={"type": "array", "maxItems": 0},
               videos={"type": "array", "items": video}, extra=obj(["seed", "debug_info"], seed=INT, debug_info=debug))


def async_error() -> dict[str, Any]:
    return obj(["code", "reason", "message", "metadata"], code=INT, reason=STR, message=STR,
               metadata={"type": "object"})


# ---- examples -----------------------------------------------------------------------------------

def example_job(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": JOB_ID, "object": "job", "model": "vidu-q3-turbo-i2v", "dialect": "v1", "status": "processing",
        "progress": 40, "eta": 6, "queue_position": None, "amount": "0.064", "refunded": False,
        "off_peak": False, "seed": 1234,
        "input": {"images": ["data:image/png;base64,..."], "prompt": PROMPT, "duration": 2, "resolution": "540p",
                  "audio": False, "audio_type": "all", "is_rec": False, "off_peak": False},
        "output": None, "error": None, "metadata": {},
        "created_at": "2026-11-21T10:00:00Z", "started_at": "2026-11-21T10:00:01Z", "finished_at": None,
    }
    job.update(changes)
    return job


def example_done_job() -> dict[str, Any]:
    return example_job(
        status="succeeded", progress=100, eta=0, finished_at="2026-11-21T10:00:03Z",
        output={"video_url": VIDEO_URL, "cover_url": COVER_URL, "duration": 2, "width": 814, "height": 540,
                "fps": 24, "has_audio": False, "files_deleted": False},
        metadata={"seed": 1234, "engine": "motion", "mode": "turbo",
                  "camera": {"move": "zoom_in", "source": "prompt", "speed": "slow", "matched": "zooms in"},
                  "render_s": 0.41, "render_fps": 117.1})


def example_job_query(status: int = 2) -> dict[str, Any]:
    done = status == 2
    video = {"url": VIDEO_URL, "cover_url": COVER_URL, "duration": 5, "width": 1280, "height": 720, "fps": 24,
             "has_audio": False}
    return {"code": 0, "message": "success", "data": {
        "job_id": JOB_ID, "model": "vidu/vidu-q3/image-to-video", "status": status, "progress": 100 if done else 40,
        "eta": 0 if done else 3, "amount": "0.60", "refunded": False, "error": None,
        "result": {"videos": [video], "images": [{"url": VIDEO_URL}]} if done else None, "seed": 1234,
        "created_at": "2026-11-21T10:00:00Z", "started_at": "2026-11-21T10:00:01Z",
        "finished_at": "2026-11-21T10:00:04Z" if done else None}}


def example_task_result() -> dict[str, Any]:
    return {"task": {"task_id": JOB_ID, "task_type": "VIDU_Q3_PRO_I2V", "status": "TASK_STATUS_SUCCEED",
                     "reason": "", "eta": 0, "progress_percent": 100},
            "images": [], "audios": [],
            "videos": [{"video_url": VIDEO_URL, "video_url_ttl": 3600, "video_type": "mp4"}],
            "extra": {"seed": 1234, "debug_info": {"request_info": "", "submit_time_ms": 1795255200000,
                                                   "execute_time_ms": 1795255201000,
                                                   "complete_time_ms": 1795255204000}}}


def components() -> dict[str, Any]:
    """Every named schema of the document."""
    schemas: dict[str, Any] = {
        "Job": v1_job(), "Error": v1_error(), "JobList": listing(
            ref("Job"), has_more=BOOL, next_cursor={**NULL_STR, "description": "pass as cursor for the next page"}),
        "CreateJob": {"oneOf": [ref("Create_" + input_name(e)[6:]) for e in MODELS.values()]},
        "QuoteRequest": {"oneOf": [quote_request(e) for e in MODELS.values()]},
        "Quote": obj(["object", "model", "amount", "currency", "off_peak", "input"], object={"const": "quote"},
                     model=STR, amount=AMOUNT, currency={"const": "USD"}, off_peak=BOOL, input={"type": "object"}),
        "Model": model_schema(), "ModelList": listing(ref("Model")), "Usage": usage(),
        "DeliveryList": listing(delivery()), "VoiceList": listing(voice()),
        "WebhookSecret": obj(["object", "secret"], object={"const": "webhook_secret"},
                             secret={**STR, "pattern": "^whsec_"}),
        "JobDialectCreate": {"oneOf": [ref("JobCreate_" + input_name(e)[6:]) for e in MODELS.values()
                                       if e.id in job_dialect.MODELS]},
        "JobDialectCreated": job_created(), "JobDialectQuery": job_query(), "JobDialectError": job_error(),
        "AsyncSubmitted": obj(["task_id"], task_id=STR), "AsyncTaskResult": task_result(),
        "AsyncError": async_error(),
        "Health": obj(["status"], status={"const": "ok"}),
        "Ready": obj(["status", "checks"], status={"enum": ["ready", "not ready"]},
                     checks={"type": "object", "additionalProperties": STR}),
    }
    for entry in MODELS.values():
        name = input_name(entry)[6:]
        schemas[input_name(entry)] = entry.json_schema()
        schemas["Create_" + name] = v1_create(entry)
        if entry.id in job_dialect.MODELS:
            schemas["JobCreate_" + name] = job_create(entry)
        else:
            schemas["AsyncSubmit_" + name] = async_submit(entry)
    return schemas


def op(summary: str, tag: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None,
       params: list[dict[str, Any]] | None = None, description: str = "", public: bool = False) -> dict:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    if public:
        operation["security"] = []
    return operation


def query(name: str, description: str, schema: dict[str, Any], example: Any, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema,
            "example": example}
