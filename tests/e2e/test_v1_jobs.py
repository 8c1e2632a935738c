"""Native API /v1 end to end over loopback HTTP: jobs of every dialect, listing, SSE, idempotency,
key isolation, models and quotes, operations endpoints."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import requests

from stillmotion.media.video import probe
from tests.helpers import OTHER_KEY, auth, data_uri, png_bytes, textured_image, wait_v1

IMAGE = data_uri(png_bytes(textured_image(320, 240)))


def v1_body(**input_extra: object) -> dict:
    return {"model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "prompt": "pan left", "duration": 1,
                                                    "resolution": "540p", "audio": False, **input_extra}}


def test_create_run_and_read_through_every_dialect(service, tmp_path):
    r = requests.post(f"{service.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30)
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and r.headers["x-request-id"]
    assert job["status"] in ("queued", "processing") and job["amount"] == "0.032" and job["refunded"] is False
    assert job["input"]["duration"] == 1 and job["output"] is None and job["dialect"] == "v1"
    done = wait_v1(service.base, job["id"])
    assert done["status"] == "succeeded" and done["progress"] == 100, done
    out = done["output"]
    assert (out["width"], out["height"], out["fps"], out["has_audio"]) == (720, 540, 24, False)
    video = tmp_path / "v.mp4"
    video.write_bytes(requests.get(out["video_url"], timeout=30).content)
    assert probe(video).frames == 24
    # The same job through the async dialect, and a job-dialect job through /v1.
    task = requests.get(f"{service.base}/v3/async/task-result", params={"task_id": job["id"]}, headers=auth(),
                        timeout=10).json()
    assert task["task"]["status"] == "TASK_STATUS_SUCCEED"
    made = requests.post(f"{service.base}/api/v1/job/create", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video",
        "args": {"mode": "turbo", "prompt": "tilt up", "image": IMAGE, "duration": 1, "resolution": "540p"}}).json()
    seen = requests.get(f"{service.base}/v1/jobs/{made['job_id']}", headers=auth(), timeout=10).json()
    assert seen["dialect"] == "job" and seen["model"] == "vidu/vidu-q3/image-to-video"


def test_sse_stream_reads_to_the_end(service):
    job = requests.post(f"{service.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()
    events: list[tuple[str, dict]] = []
    with requests.get(f"{service.base}/v1/jobs/{job['id']}/events", headers=auth(), stream=True, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name or "", json.loads(line[6:])))
    names = [n for n, _ in events]
    assert names[0] == "status" and names[-1] == "end", names
    statuses = [d["status"] for n, d in events if n != "end"]
    assert statuses[-1] == "succeeded" and events[-1][1] == {"id": job["id"], "status": "succeeded"}
    assert statuses == sorted(statuses, key=["queued", "processing", "succeeded"].index)


def test_idempotency_key_on_every_create_endpoint(service):
    key = {"Idempotency-Key": f"idem-{time.monotonic_ns()}", **auth()}
    answers: list[requests.Response] = []
    barrier = threading.Barrier(2)

    def create() -> None:
        barrier.wait()
        answers.append(requests.post(f"{service.base}/v1/jobs", json=v1_body(), headers=key, timeout=30))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    conflict = requests.post(f"{service.base}/v1/jobs", json=v1_body(prompt="other"), headers=key, timeout=30)
    assert conflict.status_code == 409 and conflict.json()["error"]["field"] == "Idempotency-Key"
    usage = requests.get(f"{service.base}/v1/usage", headers=auth(), timeout=10).json()
    assert [ln["job_id"] for ln in usage["ledger"]].count(answers[0].json()["id"]) == 1  # charged once

    job_body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "turbo", "prompt": "x", "image": IMAGE, "duration": 1, "resolution": "540p"}}
    first = requests.post(f"{service.base}/api/v1/job/create", json=job_body, headers=key | {"Idempotency-Key": "j1"})
    again = requests.post(f"{service.base}/api/v1/job/create", json=job_body, headers=key | {"Idempotency-Key": "j1"})
    assert first.json()["job_id"] == again.json()["job_id"]
    async_body = {"images": [IMAGE], "duration": 1, "resolution": "540p", "audio": False}
    url = f"{service.base}/v3/async/vidu-q3-turbo-i2v"
    a1 = requests.post(url, json=async_body, headers=key | {"Idempotency-Key": "a1"}).json()
    a2 = requests.post(url, json=async_body, headers=key | {"Idempotency-Key": "a1"}).json()
    assert a1["task_id"] == a2["task_id"]
    clash = requests.post(url, json={**async_body, "duration": 2}, headers=key | {"Idempotency-Key": "a1"})
    assert clash.status_code == 409 and clash.json()["reason"] == "Conflict"


def test_key_isolation_on_every_endpoint(service):
    job = requests.post(f"{service.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()
    other = auth(OTHER_KEY)
    for method, path in (("GET", f"/v1/jobs/{job['id']}"), ("POST", f"/v1/jobs/{job['id']}/cancel"),
                         ("GET", f"/v1/jobs/{job['id']}/events"), ("GET", f"/v1/jobs/{job['id']}/deliveries")):
        r = requests.request(method, service.base + path, headers=other, timeout=10)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound", (path, r.text)
    listed = requests.get(f"{service.base}/v1/jobs", headers=other, params={"limit": 100}, timeout=10).json()
    assert job["id"] not in [j["id"] for j in listed["data"]]
    usage = requests.get(f"{service.base}/v1/usage", headers=other, timeout=10).json()
    assert job["id"] not in [ln["job_id"] for ln in usage["ledger"]]
    mine = requests.get(f"{service.base}/v1/webhook-secret", headers=auth(), timeout=10).json()["secret"]
    theirs = requests.get(f"{service.base}/v1/webhook-secret", headers=other, timeout=10).json()["secret"]
    assert mine.startswith("whsec_") and mine != theirs
    for method, path in (("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", f"/v1/jobs/{job['id']}"),
                         ("GET", "/v1/models"), ("POST", "/v1/quote"), ("GET", "/v1/usage"),
                         ("POST", f"/v1/jobs/{job['id']}/cancel"), ("GET", "/v1/webhook-secret")):
        r = requests.request(method, service.base + path, json={}, timeout=10)
        assert r.status_code == 401, (path, r.status_code)


def test_models_and_quote(service):
    models = requests.get(f"{service.base}/v1/models", headers=auth(), timeout=10).json()["data"]
    by_id = {m["id"]: m for m in models}
    assert set(by_id) >= {"vidu/vidu-q3/image-to-video", "vidu/vidu-q2/image-to-video",
                          "vidu/vidu-q2/start-end-to-video", "vidu-q3-pro-i2v", "vidu-q3-turbo-i2v"}
    turbo = by_id["vidu-q3-turbo-i2v"]
    assert "images" in turbo["input_schema"]["required"] and turbo["defaults"]["duration"] == 5
    assert turbo["price"]["currency"] == "USD" and "off_peak" in turbo["price"]
    quote = lambda body: requests.post(f"{service.base}/v1/quote", json=body, headers=auth(), timeout=10)  # noqa: E731
    full = quote({"model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "duration": 5}}).json()
    half = quote({"model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "duration": 5, "off_peak": True}}).json()
    assert Decimal(full["amount"]) == Decimal("0.24") and Decimal(half["amount"]) * 2 == Decimal(full["amount"])
    bad = quote({"model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "duration": 40}})
    assert bad.status_code == 400 and "duration" in bad.json()["error"]["message"]
    unknown = requests.post(f"{service.base}/v1/jobs", json={**v1_body(), "extra": 1}, headers=auth(), timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "extra"


def test_listing_pages_and_filters(service):
    since = requests.get(f"{service.base}/v1/jobs", headers=auth(), params={"limit": 1}, timeout=10).json()
    made = [requests.post(f"{service.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()["id"]
            for _ in range(5)]
    first_created = requests.get(f"{service.base}/v1/jobs/{made[0]}", headers=auth(), timeout=10).json()["created_at"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "model": "vidu-q3-turbo-i2v", "created_after": first_created}
        if cursor:
            params["cursor"] = cursor
        page = requests.get(f"{service.base}/v1/jobs", headers=auth(), params=params, timeout=10).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [i for i in seen if i in made] == list(reversed(made))
    assert all(len(i) == 36 for i in seen) and since["object"] == "list"
    requests.post(f"{service.base}/v1/jobs/{made[-1]}/cancel", headers=auth(), timeout=10)
    canceled = requests.get(f"{service.base}/v1/jobs", headers=auth(), params={"status": "canceled"}, timeout=10)
    assert all(j["status"] == "canceled" for j in canceled.json()["data"])
    bad = requests.get(f"{service.base}/v1/jobs", headers=auth(), params={"status": "done"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"
    for job_id in made[:-1]:
        wait_v1(service.base, job_id)


def test_operations_endpoints(service):
    metrics = requests.get(f"{service.base}/metrics", timeout=10).text
    for series in ("stillmotion_jobs{state=\"succeeded\"}", "stillmotion_queue_depth",
                   "stillmotion_job_run_seconds_bucket", "stillmotion_engine_frames_per_second_count",
                   "stillmotion_webhook_failures", "stillmotion_http_requests_total"):
        assert series in metrics, series
    ready = requests.get(f"{service.base}/readyz", timeout=10)
    checks = ready.json()["checks"]
    assert ready.status_code == 200 and set(checks.values()) == {"ok"}
    assert {"database", "storage", "space", "workers", "queue", "callbacks", "housekeeping"} <= set(checks)
    echoed = requests.get(f"{service.base}/healthz", headers={"X-Request-Id": "abc123"}, timeout=10)
    assert echoed.headers["x-request-id"] == "abc123"
    doc = requests.get(f"{service.base}/openapi.json", timeout=10).json()
    create = doc["paths"]["/v1/jobs"]["post"]
    assert "vidu-q3-turbo-i2v" in create["requestBody"]["content"]["application/json"]["examples"]
    assert requests.get(f"{service.base}/docs", timeout=10).status_code == 200
