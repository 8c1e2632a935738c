"""The OpenAPI 3.1 document behind /docs: every route of every dialect, typed, with examples.

Written out here because the routes are plain Starlette routes (chosen for speed) that FastAPI
cannot introspect. Model inputs are the catalog's JSON Schemas (`Input_*`), referenced by each
create body, so the document cannot drift from what the service validates; the response
schemas live in `openapi_schemas` and are checked against real responses in the tests.
"""

from __future__ import annotations

from typing import Any

from stillmotion import __version__
from stillmotion.api import openapi_openai
from stillmotion.api import openapi_schemas as s
from stillmotion.api import openapi_vidu
from stillmotion.api.openapi_schemas import op, query, ref
from stillmotion.catalog import MODELS
from stillmotion.dialects import async_task, job
from stillmotion.dialects.native import seed_dialect

IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "Same key and body within 24 h: the same job, charged once; "
                              "same key, different body: 409.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "example": "order-1234"}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}, "example": s.JOB_ID}
ERROR_TEXT = {400: "A field is invalid (named in the message and `field`)", 401: "Missing or invalid key",
              402: "Not enough balance (CreditInsufficient)", 403: "Link invalid or expired",
              404: "No such job for this key", 409: "Conflict (idempotency key reused, job already ended)",
              413: "Body or image too large", 429: "Rate limited; see Retry-After", 503: "Not ready"}
ERROR_EXAMPLES = {400: ("FieldInvalid", "duration: must be an integer between 1 and 16, got 40", "duration"),
                  401: ("Unauthorized", "missing or invalid API key", None),
                  402: ("CreditInsufficient", "balance 0.02 USD is less than the price 0.064 USD", None),
                  403: ("Forbidden", "link invalid or expired", None),
                  404: ("NotFound", "no such job", None),
                  409: ("Conflict", "the job already ended (succeeded)", None),
                  413: ("PayloadTooLarge", "body: larger than 75497472 bytes", "body"),
                  429: ("RateLimited", "too many requests; retry after 1 s", None)}


def json_content(schema: dict[str, Any], example: Any = None, examples: dict[str, Any] | None = None) -> dict:
    body: dict[str, Any] = {"schema": schema}
    if examples:
        body["examples"] = examples
    elif example is not None:
        body["example"] = example
    return {"application/json": body}


def ok(description: str, schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema, example)}


def errors(dialect: str, *codes: int) -> dict[str, Any]:
    """Error responses in the dialect's own error shape, each with an example."""
    out: dict[str, Any] = {}
    for code in codes:
        reason, message, field = ERROR_EXAMPLES.get(code, ("Error", ERROR_TEXT[code], None))
        if dialect == "v1":
            schema, example = ref("Error"), {"error": {"code": reason, "message": message, "field": field}}
        elif dialect == "job":
            schema, example = ref("JobDialectError"), {"code": code, "message": message, "data": None}
        else:
            schema, example = ref("AsyncError"), {"code": code, "reason": reason, "message": message,
                                                  "metadata": {}}
        out[str(code)] = ok(ERROR_TEXT[code], schema, example)
    return out


def _v1_create_examples() -> dict[str, Any]:
    return {e.id.replace("/", "_"): {"summary": e.title, "value": {
        "model": e.id, "input": s.example_input(e), "webhook": "https://hooks.example.com/stillmotion",
        "webhook_events_filter": ["start", "completed"]}} for e in MODELS.values()}


def _v1_paths() -> dict[str, Any]:
    job = ref("Job")
    created = s.example_job(status="queued", progress=0, eta=4, queue_position=0, started_at=None)
    list_params = [
        query("status", "comma-separated: queued, processing, succeeded, failed, canceled",
              {"type": "string"}, "succeeded,failed"),
        query("model", "comma-separated model ids", {"type": "string"}, "vidu-q3-turbo-i2v"),
        query("created_after", "ISO 8601, inclusive", {"type": "string", "format": "date-time"},
              "2026-11-21T00:00:00Z"),
        query("created_before", "ISO 8601, exclusive", {"type": "string", "format": "date-time"},
              "2026-11-22T00:00:00Z"),
        query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, 20),
        query("cursor", "next_cursor of the previous page", {"type": "string"}, "MjAyNi0xMS0yMVQxMDowMD"),
    ]
    turbo = MODELS["vidu-q3-turbo-i2v"]
    return {
        "/v1/jobs": {
            "post": op("Create a job (any model of any dialect)", "jobs", {
                "201": ok("Created; `Location` names the job", job, created),
                "200": ok("Replayed (same Idempotency-Key and body); header Idempotent-Replayed: true", job, created),
                **errors("v1", 400, 401, 402, 409, 413, 429)},
                body=json_content(ref("CreateJob"), examples=_v1_create_examples()), params=[IDEMPOTENCY],
                description="`input` is the model's arguments as its dialect spells them: see the `Input_*` "
                            "schemas or `GET /v1/models`. Images are http(s) URLs or data URIs."),
            "get": op("List jobs, newest first (every dialect)", "jobs", {
                "200": ok("A page", ref("JobList"), {"object": "list", "data": [s.example_done_job()],
                                                     "has_more": False, "next_cursor": None}),
                **errors("v1", 400, 401, 429)}, params=list_params),
        },
        "/v1/jobs/{job_id}": {"get": op("A job", "jobs", {
            "200": ok("The job", job, s.example_done_job()), **errors("v1", 401, 404)}, params=[JOB_ID])},
        "/v1/jobs/{job_id}/cancel": {"post": op(
            "Cancel a job (queued: at once; running: at the engine's next frame); refunded", "jobs", {
                "200": ok("Canceled", job, s.example_job(
                    status="canceled", refunded=True, finished_at="2026-11-21T10:00:02Z",
                    error={"code": "Canceled", "message": "the job was canceled"})),
                **errors("v1", 401, 404, 409)}, params=[JOB_ID])},
        "/v1/jobs/{job_id}/events": {"get": op(
            "Server-sent events until the job ends", "jobs", {
                "200": {"description": "`status` (state changed) and `progress` events carry the job object; "
                                       "then `end`, and the stream closes",
                        "content": {"text/event-stream": {"schema": {"type": "string"}, "example":
                                    'event: status\nid: 1\ndata: {"id": "5b0f...", "status": "queued", ...}\n\n'
                                    'event: progress\nid: 2\ndata: {"id": "5b0f...", "progress": 40, ...}\n\n'
                                    'event: end\nid: 4\ndata: {"id": "5b0f...", "status": "succeeded"}\n\n'}}},
                **errors("v1", 401, 404)}, params=[JOB_ID])},
        "/v1/jobs/{job_id}/deliveries": {"get": op("The job's webhook delivery log", "webhooks", {
            "200": ok("Deliveries", ref("DeliveryList"), {"object": "list", "data": [{
                "id": 1, "webhook_id": f"msg_{s.JOB_ID}_1", "url": "https://hooks.example.com/stillmotion",
                "event": "completed", "dialect": "v1", "status": "delivered", "attempts": 1,
                "last_status_code": 200, "last_error": None, "next_attempt_at": None,
                "created_at": "2026-11-21T10:00:03.120000Z",
                "history": [{"at": "2026-11-21T10:00:03Z", "status_code": 200}]}]}),
            **errors("v1", 401, 404)}, params=[JOB_ID])},
        "/v1/models": {"get": op("Models: input JSON Schema, defaults, price table", "models", {
            "200": ok("Models", ref("ModelList"), {"object": "list", "data": [{
                "id": turbo.id, "object": "model", "title": turbo.title, "dialect": seed_dialect(turbo.id),
                "task_type": turbo.task_type, "input_schema": {"type": "object", "properties": {"...": {}}},
                "defaults": {"duration": 5, "resolution": "720p", "audio": True},
                "price": {"model": turbo.id, "currency": "USD", "rates": {"turbo": {"720p": {"per_sec": "0.048"}}}},
            }]}), **errors("v1", 401)})},
        "/v1/quote": {"post": op("The price of an input, without creating a job", "models", {
            "200": ok("Quote", ref("Quote"), {"object": "quote", "model": turbo.id, "amount": "0.12",
                                             "currency": "USD", "off_peak": True,
                                             "input": {"images": ["https://example.com/cat.jpg"], "duration": 5,
                                                       "off_peak": True, "resolution": "720p"}}),
            **errors("v1", 400, 401)}, body=json_content(ref("QuoteRequest"), {
                "model": turbo.id, "input": {"images": ["https://example.com/cat.jpg"], "duration": 5,
                                             "off_peak": True}}),
            description="Images are not fetched: any non-empty string stands for one.")},
        "/v1/usage": {"get": op("Balance and ledger of this key", "account", {
            "200": ok("Usage", ref("Usage"), {"object": "usage", "balance": "9.936", "net_spent": "0.064",
                                             "ledger": [{"id": 1, "job_id": s.JOB_ID, "kind": "charge",
                                                         "amount": "0.064",
                                                         "created_at": "2026-11-21T10:00:00.000000Z"}]}),
            **errors("v1", 401)}, params=[query("limit", "ledger lines", {"type": "integer", "minimum": 1,
                                                                          "maximum": 1000, "default": 100}, 20)])},
        "/v1/webhook-secret": {"get": op("The secret that signs this key's webhooks", "webhooks", {
            "200": ok("Secret", ref("WebhookSecret"), {"object": "webhook_secret", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            **errors("v1", 401)})},
        "/v1/voices": {"get": op("Voices for `voice_id` (q2 image-to-video with generate_audio)", "models", {
            "200": ok("Voices", ref("VoiceList"), {"object": "list", "data": [{
                "id": "female-1", "language": "en-US", "gender": "female", "rate_wpm": 165, "pitch": 55,
                "description": "English (US), female, warm, mid pitch"}]}), **errors("v1", 401)})},
    }


def _job_dialect_paths() -> dict[str, Any]:
    examples = {e.id.replace("/", "_"): {"summary": e.title, "value": {
        "model": e.id, "args": s.example_input(e), "callback_url": "https://hooks.example.com/vidu"}}
        for e in MODELS.values() if e.id in job.MODELS}
    return {
        "/api/v1/job/create": {"post": op("Job dialect: create a job", "job dialect", {
            "200": ok("Created", ref("JobDialectCreated"), {"code": 0, "message": "success",
                                                             "data": {"amount": "0.60", "job_id": s.JOB_ID},
                                                             "job_id": s.JOB_ID}),
            **errors("job", 400, 401, 402, 409, 413, 429)},
            body=json_content(ref("JobDialectCreate"), examples=examples), params=[IDEMPOTENCY],
            description="The hosted Vidu job API's wire format (docs/api.md section 1). `args` per model: "
                        "the `Input_vidu_*` schemas.")},
        "/api/v1/job/query": {"get": op("Job dialect: query a job", "job dialect", {
            "200": {"description": "The job; `data.status` 0 queued, 1 processing, 2 succeeded, 3 failed, "
                                   "4 canceled", "content": json_content(ref("JobDialectQuery"), examples={
                                       "succeeded": {"value": s.example_job_query(2)},
                                       "processing": {"value": s.example_job_query(1)}})},
            **errors("job", 400, 401, 404)}, params=[query("id", "job_id from create", {"type": "string"},
                                                           s.JOB_ID, required=True)])},
    }


def _async_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for entry in MODELS.values():
        if entry.id not in async_task.MODELS:
            continue
        example = {**s.example_input(entry), "extra": {"webhook": {"url": "https://hooks.example.com/novita"}}}
        paths[f"/v3/async/{entry.id}"] = {"post": op(f"Async-task dialect: {entry.title}", "async-task dialect", {
            "200": ok("Submitted", ref("AsyncSubmitted"), {"task_id": s.JOB_ID}),
            **errors("async", 400, 401, 402, 409, 413, 429)},
            body=json_content(ref("AsyncSubmit_" + s.input_name(entry)[6:]), example), params=[IDEMPOTENCY],
            description="The body is the model's arguments (`" + s.input_name(entry) + "`) plus an optional "
                        "`extra.webhook.url`, POSTed `{\"event_type\": \"ASYNC_TASK_RESULT\", \"payload\": "
                        "<task result>}` when the task ends.")}
    paths["/v3/async/task-result"] = {"get": op("Async-task dialect: task result", "async-task dialect", {
        "200": ok("The task; every field always present with its type", ref("AsyncTaskResult"),
                  s.example_task_result()),
        **errors("async", 400, 401, 404)}, params=[query("task_id", "task_id from submit", {"type": "string"},
                                                         s.JOB_ID, required=True)])}
    return paths


def _other_paths() -> dict[str, Any]:
    html = {"text/html": {"schema": {"type": "string"}, "example": "<!doctype html>..."}}
    return {
        "/files/{key}": {"get": op("A result file behind a signed, expiring link (HTTP Range supported)", "files", {
            "200": {"description": "The file", "content": {
                "video/mp4": {"schema": {"type": "string", "format": "binary"}, "example": "(MP4 bytes)"},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}, "example": "(JPEG bytes)"}}},
            "403": ok(ERROR_TEXT[403], ref("JobDialectError"), {"code": 403, "message": "link invalid or expired",
                                                                "data": None}),
            "404": ok("File no longer kept", ref("JobDialectError"), {"code": 404, "message": "file no longer kept",
                                                                      "data": None})},
            params=[{"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                     "example": "outputs/5b0f3c1e/video.mp4"},
                    query("expires", "Unix time the link expires", {"type": "integer"}, 1795261200, True),
                    query("sig", "signature", {"type": "string"}, "3f2a", True)], public=True)},
        "/healthz": {"get": op("Can take jobs (database reachable)", "operations", {
            "200": ok("ok", ref("Health"), {"status": "ok"})}, public=True)},
        "/livez": {"get": op("The process answers (no database)", "operations", {
            "200": ok("ok", ref("Health"), {"status": "ok"})}, public=True)},
        "/readyz": {"get": op("Database and storage ready", "operations", {
            "200": ok("ready", ref("Ready"), {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}),
            "503": ok(ERROR_TEXT[503], ref("Ready"), {"status": "not ready",
                                                      "checks": {"database": "ok", "storage": "error: No space left"}})},
            public=True)},
        "/metrics": {"get": op("Prometheus metrics", "operations", {"200": {
            "description": "Prometheus text exposition format", "content": {"text/plain": {
                "schema": {"type": "string"}, "example": "stillmotion_queue_depth 0\n"}}}}, public=True)},
        "/": {"get": op("The playground: create, watch and play jobs in a browser", "pages",
                        {"200": {"description": "HTML page", "content": html}}, public=True)},
        "/docs": {"get": op("This document in Swagger UI (served offline)", "pages",
                            {"200": {"description": "HTML page", "content": html}}, public=True)},
        "/redoc": {"get": op("This document in ReDoc (served offline)", "pages",
                             {"200": {"description": "HTML page", "content": html}}, public=True)},
        "/openapi.json": {"get": op("This document", "pages", {"200": ok(
            "OpenAPI 3.1", {"type": "object"}, {"openapi": "3.1.0", "info": {"title": "stillmotion"}})}, public=True)},
        "/upstream/hooks/{job_id}/{hop}/{mac}": {"post": op(
            "An upstream engine says its task moved (the URL stillmotion gave it)", "operations", {
                "204": {"description": "Noted: the task is polled at once"},
                "401": ok("Signature invalid (routes with webhook_secret_env)", ref("JobDialectError"),
                          {"code": 401, "message": "webhook signature invalid", "data": None}),
                "404": ok("Not a URL stillmotion gave", ref("JobDialectError"),
                          {"code": 404, "message": "not found", "data": None})},
            params=[{"name": n, "in": "path", "required": True, "schema": sch, "example": ex} for n, sch, ex in (
                ("job_id", {"type": "string"}, "5b0f3c1e"), ("hop", {"type": "integer"}, 0),
                ("mac", {"type": "string"}, "3f2a"))],
            description="Not for clients: docs/upstream.md. The body is the upstream's own callback; it only "
                        "makes stillmotion ask the upstream now.", public=True)},
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "stillmotion", "version": __version__,
                 "description": "Self-hosted image-to-video. Three APIs over one job store: the native `/v1`, "
                                "the job dialect (`/api/v1/job/*`, the hosted Vidu job API) and the async-task "
                                "dialect (`/v3/async/*`). Every request takes `Authorization: Bearer <key>` "
                                "(the first `stillmotion serve` prints one). The playground is at `/`."},
        "servers": [{"url": "/"}],
        "tags": [{"name": n, "description": d} for n, d in (
            ("jobs", "Native API: jobs of every dialect"), ("models", "Models, prices, voices"),
            ("account", "Balance and ledger"), ("webhooks", "Signed webhooks"),
            ("openai videos", "OpenAI Videos API wire format (`/v1/videos`)"),
            ("job dialect", "Vidu job API wire format"), ("async-task dialect", "Async-task API wire format"),
            (openapi_vidu.TAG, "Vidu's official API (/ent/v2): `Authorization: Token <key>`"),
            ("files", "Result files"), ("operations", "Health and metrics"), ("pages", "Browser pages"))],
        "components": {"schemas": {**s.components(), **openapi_vidu.schemas(), **openapi_openai.schemas()},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "vidu_token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                                          "description": "`Token <key>` (Vidu's scheme)"}}},
        "security": [{"bearer": []}],
        "paths": {**_v1_paths(), **openapi_openai.paths(), **_job_dialect_paths(), **_async_paths(), **openapi_vidu.paths(),
                  **_other_paths()},
    }
