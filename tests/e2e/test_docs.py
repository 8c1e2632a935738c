"""The API docs: the OpenAPI document against the app's route table and the OpenAPI 3.1 schema,
its examples and real responses against its schemas, and /docs and /redoc rendered offline in a
real browser. docs/api.md (the contract) names every path the document has."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from stillmotion.dialects import async_task
from stillmotion.api.app import create_app
from stillmotion.api.openapi import openapi_document
from stillmotion.catalog import MODELS
from tests.e2e.browser import Page, browser, screenshot_dir  # noqa: F401 - fixture
from tests.helpers import ROOT, auth, data_uri, png_bytes, textured_image, wait_v1

DOC = openapi_document()
METHODS = {"get", "post", "put", "patch", "delete"}
IMAGE = data_uri(png_bytes(textured_image(320, 240)))


def served_routes() -> set[tuple[str, str]]:
    """(path, method) of every route the app serves, static-file mounts aside."""
    out: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            methods = getattr(route, "methods", None)
            if methods is None:  # a Mount: a dialect's routes, or the playground's and the docs' assets
                if route.routes:
                    walk(route.routes, prefix + route.path)
                else:
                    assert route.path in ("/playground", "/docs/assets"), route.path
                continue
            path = (prefix + route.path).replace(":path}", "}")
            out.update((path, m.lower()) for m in methods if m != "HEAD")

    walk(create_app(MagicMock()).routes, "")
    return out


def check(schema: dict[str, Any], value: Any) -> None:
    if "$ref" in schema:
        schema = {"$ref": "urn:openapi" + schema["$ref"]}
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(DOC, default_specification=DRAFT202012))
    errors = sorted(Draft202012Validator(schema, registry=registry).iter_errors(value), key=str)
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    return DOC["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_document_lists_every_route_the_app_serves_and_nothing_else():
    documented = {(p, m) for p, ops in DOC["paths"].items() for m in ops if m in METHODS}
    served = served_routes()
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"
    for model in MODELS.values():  # both async models, by name
        if model.id in async_task.MODELS:
            assert (f"/v3/async/{model.id}", "post") in documented


def test_document_is_valid_openapi_3_1():
    OpenAPIV31SpecValidator(DOC).validate()
    assert DOC["openapi"].startswith("3.1")


def test_every_operation_is_typed_with_examples():
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            body = op.get("requestBody")
            if body:
                media = body["content"]["application/json"]
                assert media["schema"] and (media.get("example") or media.get("examples")), where
                examples = media.get("examples", {"one": {"value": media.get("example")}})
                for name, ex in examples.items():
                    check(media["schema"], ex["value"])  # each request example is valid input
            assert op["responses"], where
            for status, response in op["responses"].items():
                for mime, media in response.get("content", {}).items():
                    assert media.get("schema"), f"{where} {status} {mime}"
                    assert "example" in media or "examples" in media, f"{where} {status} {mime}: no example"
                    if mime == "application/json":
                        for ex in media.get("examples", {"one": {"value": media.get("example")}}).values():
                            check(media["schema"], ex["value"])


def test_model_inputs_are_referenced_where_they_apply():
    text = str(DOC["paths"]) + str(DOC["components"]["schemas"])
    for model in MODELS.values():
        name = "Input_" + model.id.replace("/", "_")
        assert DOC["components"]["schemas"][name] == model.json_schema()
        assert text.count(f"#/components/schemas/{name}'") >= 3, f"{name} referenced nowhere useful"
    limit = next(p for p in DOC["paths"]["/v1/jobs"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["type"] == "integer"


def test_real_responses_match_the_documented_schemas(service, tmp_path):
    base, h = service.base, auth()
    turbo = {"images": [IMAGE], "prompt": "pan left", "duration": 1, "resolution": "540p", "audio": False}
    made = requests.post(f"{base}/v1/jobs", json={"model": "vidu-q3-turbo-i2v", "input": turbo}, headers=h, timeout=30)
    check(response_schema("/v1/jobs", "post", "201"), made.json())
    job = wait_v1(base, made.json()["id"])
    check(response_schema("/v1/jobs/{job_id}", "get", "200"), job)
    created = requests.post(f"{base}/api/v1/job/create", headers=h, timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video",
        "args": {"mode": "turbo", "prompt": "tilt up", "image": IMAGE, "duration": 1, "resolution": "540p"}}).json()
    check(response_schema("/api/v1/job/create", "post", "200"), created)
    wait_v1(base, created["job_id"])
    queried = requests.get(f"{base}/api/v1/job/query", params={"id": created["job_id"]}, headers=h, timeout=10)
    check(response_schema("/api/v1/job/query", "get", "200"), queried.json())
    task = requests.post(f"{base}/v3/async/vidu-q3-pro-i2v", json={**turbo, "audio": ""}, headers=h, timeout=30).json()
    check(response_schema("/v3/async/vidu-q3-pro-i2v", "post", "200"), task)
    wait_v1(base, task["task_id"])
    result = requests.get(f"{base}/v3/async/task-result", params={"task_id": task["task_id"]}, headers=h, timeout=10)
    check(response_schema("/v3/async/task-result", "get", "200"), result.json())
    for path, status in (("/v1/jobs", "200"), ("/v1/models", "200"), ("/v1/usage", "200"),
                         ("/v1/voices", "200"), ("/v1/webhook-secret", "200"), ("/healthz", "200"),
                         ("/livez", "200"), ("/readyz", "200"),
                         (f"/v1/jobs/{job['id']}/deliveries", "200")):
        body = requests.get(base + path, headers=h, timeout=10).json()
        check(response_schema(path.replace(job["id"], "{job_id}"), "get", status), body)
    quote = requests.post(f"{base}/v1/quote", json={"model": "vidu-q3-turbo-i2v", "input": turbo}, headers=h, timeout=10)
    check(response_schema("/v1/quote", "post", "200"), quote.json())
    bad = requests.post(f"{base}/v1/jobs", json={"model": "vidu-q3-turbo-i2v", "input": {**turbo, "duration": 40}},
                        headers=h, timeout=10)
    check(response_schema("/v1/jobs", "post", "400"), bad.json())
    bad_job = requests.post(f"{base}/api/v1/job/create", json={"model": "nope", "args": {}}, headers=h, timeout=10)
    check(response_schema("/api/v1/job/create", "post", "400"), bad_job.json())
    bad_task = requests.post(f"{base}/v3/async/vidu-q3-turbo-i2v", json={"images": []}, headers=h, timeout=10)
    check(response_schema("/v3/async/vidu-q3-turbo-i2v", "post", "400"), bad_task.json())
    canceled = requests.post(f"{base}/v1/jobs/{job['id']}/cancel", headers=h, timeout=10)
    check(response_schema("/v1/jobs/{job_id}/cancel", "post", "409"), canceled.json())


def test_contract_page_names_every_documented_path():
    text = "".join(page.read_text() for page in sorted((ROOT / "docs").glob("api*.md")))
    for path in DOC["paths"]:
        if path in ("/", "/openapi.json"):
            continue
        assert path.split("{")[0].rstrip("/") in text, f"docs/api.md does not mention {path}"


@pytest.mark.parametrize("page_path, ready", [
    ("/docs", "() => document.querySelectorAll('.opblock').length"),
    ("/redoc", "() => document.querySelectorAll('[data-section-id*=\"/paths/\"]').length"),
])
def test_docs_render_offline(browser, service, tmp_path, page_path, ready):  # noqa: F811
    operations = sum(1 for ops in DOC["paths"].values() for m in ops if m in METHODS)
    page = Page(browser, service.base, viewport={"width": 1280, "height": 900})
    try:
        pg = page.page
        pg.goto(service.base + page_path)
        pg.wait_for_function(f"() => ({ready})() >= {operations}", timeout=30_000)
        assert "stillmotion" in pg.content()
        if page_path == "/docs":
            assert pg.locator(".opblock-summary-path[data-path='/v3/async/vidu-q3-turbo-i2v']").count() == 1
        pg.screenshot(path=str(screenshot_dir(tmp_path) / f"docs{page_path.replace('/', '-')}.png"))
        assert page.outside == [], f"requests outside the service's origin: {page.outside}"
        assert page.errors == []
    finally:
        page.close()
