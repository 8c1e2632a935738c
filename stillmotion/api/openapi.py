"""The OpenAPI document behind /docs, written out here because the routes are plain Starlette
routes (chosen for speed) that FastAPI cannot introspect. Model inputs come from the catalog's
JSON Schemas, so the document cannot drift from what the service validates."""

from __future__ import annotations

from typing import Any

from stillmotion import __version__
from stillmotion.catalog import MODELS

EXAMPLE_IMAGE = "https://example.com/cat.png"
EXAMPLE_JOB = {
    "id": "5b0f3c1e-8a5d-4c0e-9a57-0f8d6f1b2c3d", "object": "job", "model": "vidu-q3-turbo-i2v",
    "dialect": "v1", "status": "processing", "progress": 40, "eta": 6, "queue_position": None,
    "amount": "0.096", "refunded": False, "off_peak": False, "seed": 1234,
    "input": {"images": [EXAMPLE_IMAGE], "prompt": "The camera zooms in slowly.", "duration": 2},
    "output": None, "error": None, "metadata": {},
    "created_at": "2026-11-21T10:00:00Z", "started_at": "2026-11-21T10:00:01Z", "finished_at": None,
}
ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string", "example": "FieldInvalid"},
    "message": {"type": "string", "example": "input.duration: must be an integer 1-16, got 40"},
    "field": {"type": ["string", "null"], "example": "duration"}}}}}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "Same key and body within 24 h: the same job (200, Idempotent-Replayed: true); "
                              "same key, different body: 409.", "schema": {"type": "string", "maxLength": 255}}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(description: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid field (named in the message)", 401: "Missing or invalid key", 402: "CreditInsufficient",
            404: "No such job for this key", 409: "Conflict (idempotency key reused, job already ended)",
            429: "Rate limited; see Retry-After"}
    return {str(c): _ok(text[c], {"$ref": "#/components/schemas/Error"}) for c in codes}


def _job_schema() -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    return {"type": "object", "properties": {
        "id": {"type": "string"}, "object": {"const": "job"}, "model": {"type": "string"},
        "dialect": {"enum": ["v1", "job", "async"]},
        "status": {"enum": ["queued", "processing", "succeeded", "failed", "canceled"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "eta": {"type": ["integer", "null"], "description": "seconds until done (estimated while queued)"},
        "queue_position": {"type": ["integer", "null"], "description": "jobs ahead (queued jobs only)"},
        "amount": {"type": "string", "description": "USD, decimal string"}, "refunded": {"type": "boolean"},
        "off_peak": {"type": "boolean"}, "seed": {"type": "integer"}, "input": {"type": "object"},
        "output": {"type": ["object", "null"], "properties": {
            "video_url": nullable_str, "cover_url": nullable_str, "duration": {"type": "integer"},
            "width": {"type": "integer"}, "height": {"type": "integer"}, "fps": {"type": "integer"},
            "has_audio": {"type": "boolean"}, "files_deleted": {"type": "boolean"}}},
        "error": {"type": ["object", "null"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
        "metadata": {"type": "object"}, "created_at": {"type": "string", "format": "date-time"},
        "started_at": nullable_str, "finished_at": nullable_str}}


def _create_examples() -> dict[str, Any]:
    examples: dict[str, Any] = {}
    for entry in MODELS.values():
        image_input: dict[str, Any] = (
            {"images": [EXAMPLE_IMAGE]} if entry.has_field("images") else {"image": EXAMPLE_IMAGE}
        )
        if entry.has_field("image_tail"):
            image_input["image_tail"] = "https://example.com/cat-end.png"
        if entry.has_field("mode"):
            image_input["mode"] = "turbo"
        examples[entry.id] = {"summary": entry.title, "value": {
            "model": entry.id, "input": {**image_input, "prompt": "The camera zooms in slowly.", "duration": 2},
            "webhook": "https://example.com/hooks/stillmotion", "webhook_events_filter": ["start", "completed"]}}
    return examples


def _paths() -> dict[str, Any]:
    job_ref = {"$ref": "#/components/schemas/Job"}
    create_body = {"type": "object", "required": ["model", "input"], "properties": {
        "model": {"enum": list(MODELS)}, "input": {"type": "object", "description": "the model's arguments"},
        "webhook": {"type": "string", "format": "uri"},
        "webhook_events_filter": {"type": "array", "items": {"enum": ["start", "progress", "completed"]}}}}
    return {
        "/v1/jobs": {
            "post": {"summary": "Create a job", "tags": ["jobs"], "parameters": [IDEMPOTENCY],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": create_body, "examples": _create_examples()}}},
                     "responses": {"201": _ok("Created", job_ref, {**EXAMPLE_JOB, "status": "queued",
                                                                    "progress": 0, "queue_position": 0}),
                                   "200": _ok("Replayed (same Idempotency-Key)", job_ref),
                                   **_errors(400, 401, 402, 409, 429)}},
            "get": {"summary": "List jobs, newest first (every dialect)", "tags": ["jobs"], "parameters": [
                {"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                    ("status", "comma-separated: queued,processing,succeeded,failed,canceled"),
                    ("model", "comma-separated model ids"), ("created_after", "ISO 8601, inclusive"),
                    ("created_before", "ISO 8601, exclusive"), ("limit", "1-100, default 20"),
                    ("cursor", "next_cursor of the previous page"))],
                    "responses": {"200": _ok("A page", {"type": "object", "properties": {
                        "data": {"type": "array", "items": job_ref}, "has_more": {"type": "boolean"},
                        "next_cursor": {"type": ["string", "null"]}}}), **_errors(400, 401, 429)}},
        },
        "/v1/jobs/{job_id}": {"get": {"summary": "A job", "tags": ["jobs"], "parameters": [JOB_ID],
                                      "responses": {"200": _ok("The job", job_ref, EXAMPLE_JOB), **_errors(401, 404)}}},
        "/v1/jobs/{job_id}/cancel": {"post": {
            "summary": "Cancel (queued: at once; running: at the engine's next frame or step); refunded",
            "tags": ["jobs"], "parameters": [JOB_ID],
            "responses": {"200": _ok("Canceled", job_ref, {**EXAMPLE_JOB, "status": "canceled", "refunded": True,
                                                           "error": {"code": "Canceled", "message": "the job was canceled"}}),
                          **_errors(401, 404, 409)}}},
        "/v1/jobs/{job_id}/events": {"get": {
            "summary": "Server-sent events until the job ends: status, progress, then end", "tags": ["jobs"],
            "parameters": [JOB_ID], "responses": {"200": {"description": "text/event-stream",
                                                          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                                                  **_errors(401, 404)}}},
        "/v1/jobs/{job_id}/deliveries": {"get": {"summary": "The job's webhook delivery log", "tags": ["webhooks"],
                                                 "parameters": [JOB_ID], "responses": {"200": _ok("Deliveries", {"type": "object"}),
                                                                                       **_errors(401, 404)}}},
        "/v1/models": {"get": {"summary": "Models: input JSON Schema, defaults, price table", "tags": ["models"],
                               "responses": {"200": _ok("Models", {"type": "object"})}}},
        "/v1/quote": {"post": {"summary": "The price of an input, without creating a job", "tags": ["models"],
                               "requestBody": {"content": {"application/json": {"schema": create_body, "example": {
                                   "model": "vidu-q3-turbo-i2v", "input": {"images": [EXAMPLE_IMAGE], "duration": 5,
                                                                           "off_peak": True}}}}},
                               "responses": {"200": _ok("Quote", {"type": "object"}, {
                                   "object": "quote", "model": "vidu-q3-turbo-i2v", "amount": "0.12",
                                   "currency": "USD", "off_peak": True}), **_errors(400, 401)}}},
        "/v1/usage": {"get": {"summary": "Balance and ledger of this key", "tags": ["account"],
                              "responses": {"200": _ok("Usage", {"type": "object"})}}},
        "/v1/webhook-secret": {"get": {"summary": "The secret that signs this key's webhooks", "tags": ["webhooks"],
                                       "responses": {"200": _ok("Secret", {"type": "object"})}}},
        "/api/v1/job/create": {"post": {"summary": "Job dialect: create (see API.md)", "tags": ["job dialect"],
                                        "parameters": [IDEMPOTENCY], "responses": {"200": {"description": "job_id"}}}},
        "/api/v1/job/query": {"get": {"summary": "Job dialect: query", "tags": ["job dialect"],
                                      "responses": {"200": {"description": "the job"}}}},
        "/v3/async/task-result": {"get": {"summary": "Async dialect: task result", "tags": ["async dialect"],
                                          "responses": {"200": {"description": "the task"}}}},
        "/healthz": {"get": {"summary": "Can take jobs", "tags": ["operations"], "responses": {"200": {"description": "ok"}}}},
        "/readyz": {"get": {"summary": "Database and storage ready", "tags": ["operations"],
                            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "tags": ["operations"],
                             "responses": {"200": {"description": "text exposition format"}}}},
    }


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Job": _job_schema(), "Error": ERROR}
    for entry in MODELS.values():
        schemas["Input_" + entry.id.replace("/", "_")] = entry.json_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": "stillmotion", "version": __version__,
                 "description": "Self-hosted image-to-video. Native API /v1 (this page) beside the job "
                                "and async-task dialects; every job is visible here."},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": _paths(),
    }
