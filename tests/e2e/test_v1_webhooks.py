"""Webhooks over loopback: Standard Webhooks signatures checked with the reference package, events
and their filter, retries until the receiver accepts, the delivery log, structured logs."""

from __future__ import annotations

import json

import pytest
import requests
from standardwebhooks import Webhook

from tests.e2e.test_v1_jobs import IMAGE, v1_body
from tests.helpers import Service, auth, wait_job, wait_v1


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("hooks") / "data"
    service = Service(data, "--workers", "1", STILLMOTION_CALLBACK_BACKOFF_S="0.1", STILLMOTION_LOG_LEVEL="info")
    service.data = data  # type: ignore[attr-defined]
    yield service
    service.stop()


def verifier(base: str) -> Webhook:
    secret = requests.get(f"{base}/v1/webhook-secret", headers=auth(), timeout=10).json()["secret"]
    return Webhook(secret)


def test_native_events_signed_and_filtered(svc, hooks):
    check = verifier(svc.base)
    body = {**v1_body(duration=6), "webhook": hooks.url("/all")}
    job = requests.post(f"{svc.base}/v1/jobs", json=body, headers=auth(), timeout=30).json()
    only_end = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30, json={
        **v1_body(), "webhook": hooks.url("/end"), "webhook_events_filter": ["completed"]}).json()
    assert wait_v1(svc.base, job["id"])["status"] == "succeeded"
    assert wait_v1(svc.base, only_end["id"])["status"] == "succeeded"
    hooks.wait("/end", 1)
    hits = hooks.wait("/all", 3)
    payloads = [check.verify(h.body, h.headers) for h in hits]  # raises if any signature is wrong
    types = [p["type"] for p in payloads]
    assert types[0] == "job.started" and types[-1] == "job.completed" and "job.progress" in types, types
    assert payloads[-1]["data"]["status"] == "succeeded" and payloads[-1]["data"]["output"]["video_url"]
    progress = [p["data"]["progress"] for p in payloads if p["type"] == "job.progress"]
    assert progress == sorted(progress) and all(0 < p < 100 for p in progress)
    assert [check.verify(h.body, h.headers)["type"] for h in hooks.on("/end")] == ["job.completed"]
    tampered = dict(hits[-1].headers, **{"webhook-signature": "v1,AAAA"})
    with pytest.raises(Exception):
        check.verify(hits[-1].body, tampered)


def test_receiver_failing_three_times_then_accepting(svc, hooks):
    check = verifier(svc.base)
    hooks.script["/flaky"] = [500, 502, 503]
    body = {**v1_body(), "webhook": hooks.url("/flaky"), "webhook_events_filter": ["completed"]}
    job = requests.post(f"{svc.base}/v1/jobs", json=body, headers=auth(), timeout=30).json()
    hits = hooks.wait("/flaky", 4)
    assert [h.status for h in hits] == [500, 502, 503, 200]
    assert len({h.headers["webhook-id"] for h in hits}) == 1  # one message, retried
    assert all(check.verify(h.body, h.headers)["data"]["id"] == job["id"] for h in hits)
    log = requests.get(f"{svc.base}/v1/jobs/{job['id']}/deliveries", headers=auth(), timeout=10).json()["data"]
    [entry] = log
    assert entry["status"] == "delivered" and entry["attempts"] == 4 and entry["event"] == "completed"
    assert [h["status_code"] for h in entry["history"]] == [500, 502, 503, 200]
    assert entry["webhook_id"] == hits[0].headers["webhook-id"]


def test_every_dialect_callback_is_signed_and_redirects_not_followed(svc, hooks):
    check = verifier(svc.base)
    hooks.script["/job-cb"] = [302]
    job = requests.post(f"{svc.base}/api/v1/job/create", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video", "callback_url": hooks.url("/job-cb"),
        "args": {"mode": "turbo", "prompt": "x", "image": IMAGE, "duration": 1, "resolution": "540p"}}).json()
    task = requests.post(f"{svc.base}/v3/async/vidu-q3-turbo-i2v", headers=auth(), timeout=30, json={
        "images": [IMAGE], "duration": 1, "resolution": "540p", "audio": False,
        "extra": {"webhook": {"url": hooks.url("/async-cb")}}}).json()
    wait_job(svc.base, job["job_id"])
    job_hits = hooks.wait("/job-cb", 2)
    async_hits = hooks.wait("/async-cb", 1)
    assert check.verify(job_hits[-1].body, job_hits[-1].headers)["data"]["job_id"] == job["job_id"]
    assert check.verify(async_hits[0].body, async_hits[0].headers)["payload"]["task"]["task_id"] == task["task_id"]
    assert [h.status for h in job_hits] == [302, 200] and hooks.on("/redirected") == []


def test_logs_are_json_lines_with_ids(svc, hooks):
    hooks.script["/down"] = [500] * 20
    body = {**v1_body(), "webhook": hooks.url("/down"), "webhook_events_filter": ["completed"]}
    job = requests.post(f"{svc.base}/v1/jobs", json=body, headers=auth(), timeout=30).json()
    hooks.wait("/down", 2)
    log = (svc.data.parent / f"serve-{svc.port}.log").read_text().splitlines()
    records = [json.loads(line) for line in log if line.startswith("{")]
    assert records and all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    assert any(r.get("job_id") == job["id"] and r["level"] == "warning" for r in records)
    assert any(r.get("job_id") == job["id"] and "started" in r["msg"] for r in records)
    metrics = requests.get(f"{svc.base}/metrics", timeout=10).text
    failures = [ln for ln in metrics.splitlines() if ln.startswith("stillmotion_webhook_failures_total{")]
    assert failures and sum(float(ln.split()[-1]) for ln in failures) >= 2
