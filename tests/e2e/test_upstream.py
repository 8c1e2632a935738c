"""Upstream engines end to end: a front stillmotion whose routes send jobs to other generators.

The upstreams are real stillmotion servers on loopback (its job dialect is shortapi's wire, its
async-task dialect novita's); a small scripted server stands in where an upstream must
misbehave. The front's logs and bodies are searched for the upstream key at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from stillmotion.media.video import probe
from tests.helpers import ROOT, Service, auth, wait_job, wait_v1

from tests.e2e.upstream_support import (
    ASYNC_MODEL, FRONT_DIALECTS, JOB_MODEL, UPSTREAM_KEY, FakeUpstream, async_body, created, job_body, queried,
    small_mp4, submit_job, submit_via, upstream_jobs, upstream_route, v1_job, wait_for, write_routes,
)

FRONT_ENV = dict(UPSTREAM_KEY=UPSTREAM_KEY, STILLMOTION_UPSTREAM_POLL_S="0.2", STILLMOTION_UPSTREAM_BACKOFF_S="0.1",
                 STILLMOTION_UPSTREAM_MAX_TRIES="3",
                 STILLMOTION_UPSTREAM_REQUEST_TIMEOUT_S="2", STILLMOTION_LOG_LEVEL="info")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A real stillmotion as the upstream, with its own key (never the front's)."""
    svc = Service(tmp_path_factory.mktemp("upstream") / "data", "--workers", "2", STILLMOTION_API_KEYS=UPSTREAM_KEY)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("routes") / "routes.toml"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def front(tmp_path_factory, routes, upstream):
    svc = Service(tmp_path_factory.mktemp("front") / "data", "--workers", "1", STILLMOTION_ROUTES_FILE=str(routes),
                  **FRONT_ENV)
    yield svc
    svc.stop()
    log = Path(svc.log.name).read_text()
    assert UPSTREAM_KEY not in log, "the upstream key leaked into the front's log"


def front_data(svc: Service) -> Path:
    return Path(svc.proc.args[svc.proc.args.index("--data-dir") + 1])


def decoded(url: str, tmp_path: Path):
    out = tmp_path / "got.mp4"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200
    out.write_bytes(r.content)
    return probe(out)


def test_shortapi_through_the_job_dialect(front, upstream, routes, tmp_path):
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", upstream.base))
    before = len(upstream_jobs(upstream.base))
    job_id = submit_job(front.base, seed=11)
    data = wait_job(front.base, job_id, timeout=120)
    assert data["status"] == 2, data
    video = data["result"]["videos"][0]
    assert video["url"].startswith(front.base + "/files/outputs/" + job_id)  # served by the front, signed
    info = decoded(video["url"], tmp_path)
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 720, 540, 24)
    meta = v1_job(front.base, job_id)["metadata"]["upstream"]
    assert meta["provider"] == "shortapi" and meta["state"] == "done" and meta["upstream_id"]
    assert [a["outcome"] for a in meta["attempts"] if a["action"] == "create"] == ["created"]
    ups = upstream_jobs(upstream.base)
    assert len(ups) == before + 1 and ups[0]["id"] == meta["upstream_id"] and ups[0]["status"] == "succeeded"
    assert meta["cost"]["amount"] == ups[0]["amount"]  # the upstream's own price, as it reported it
    body = requests.get(f"{front.base}/v1/jobs/{job_id}", headers=auth(), timeout=10).text
    assert UPSTREAM_KEY not in body and upstream.base not in body
    usage = requests.get(f"{front.base}/v1/usage", headers=auth(), timeout=10).json()
    line = next(u for u in usage["upstream"] if u["provider"] == "shortapi")
    assert line["jobs"] >= 1 and Decimal(line["margin"]) == Decimal(line["price"]) - Decimal(line["cost"])
    assert Decimal(line["cost"]) >= Decimal(ups[0]["amount"])
    cli = subprocess.run([sys.executable, "-m", "stillmotion.cli", "usage", "--data-dir", str(front_data(front))],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert cli.returncode == 0 and "\tshortapi\t" in cli.stdout, cli.stderr


def test_novita_through_the_async_dialect(front, upstream, routes, tmp_path):
    write_routes(routes, upstream_route(ASYNC_MODEL, "novita", upstream.base))
    r = requests.post(f"{front.base}/v3/async/{ASYNC_MODEL}", json=async_body(seed=12), headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    job = wait_v1(front.base, task_id, timeout=120)
    assert job["status"] == "succeeded", job
    result = requests.get(f"{front.base}/v3/async/task-result", params={"task_id": task_id}, headers=auth(),
                          timeout=10).json()
    assert result["task"]["status"] == "TASK_STATUS_SUCCEED"
    info = decoded(result["videos"][0]["video_url"], tmp_path)
    assert info.codec == "h264" and info.frames == 24
    meta = job["metadata"]["upstream"]
    assert meta["provider"] == "novita" and meta["state"] == "done"
    assert any(j["id"] == meta["upstream_id"] for j in upstream_jobs(upstream.base))


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    server = FakeUpstream()
    server.files["/v.mp4"] = small_mp4(tmp_path_factory.mktemp("mp4") / "v.mp4")
    yield server
    server.close()


@pytest.fixture
def scripted(fake, routes):
    """The fake upstream, reset, as the only route of the job model."""
    fake.creates, fake.queries, fake.requests, fake.hang_s, fake.hang_posts = [], [], [], 0.0, 1 << 30
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", fake.base))
    return fake


def ended(front, job_id: str, timeout: float = 60) -> dict:
    return wait_v1(front.base, job_id, timeout=timeout)


def test_upstream_400_fails_with_its_message_and_field_and_refunds(front, scripted):
    scripted.creates = [(400, {}, {"code": 400, "message": "image: too small for this model, got 10x10", "data": None})]
    job = ended(front, submit_job(front.base, seed=21))
    assert job["status"] == "failed" and job["refunded"] is True
    assert job["error"]["code"] == "FieldInvalid"
    assert "upstream shortapi refused the request: image: too small" in job["error"]["message"]
    up = job["metadata"]["upstream"]
    assert up["field"] == "image" and up["attempts"][-1]["status_code"] == 400
    assert len(scripted.posts()) == 1  # a refusal is not retried


def test_429_with_retry_after_is_honoured(front, scripted):
    scripted.creates = [(429, {"Retry-After": "1"}, {"code": 429, "message": "slow down"}), created("t-429")]
    scripted.queries = [queried("t-429", 2, scripted.base + "/v.mp4")]
    job = ended(front, submit_job(front.base, seed=22))
    assert job["status"] == "succeeded", job
    posts = scripted.posts()
    assert len(posts) == 2 and posts[0][2]["Idempotency-Key"] == posts[1][2]["Idempotency-Key"]
    errors = [a for a in job["metadata"]["upstream"]["attempts"] if a["outcome"] == "error"]
    assert errors[0]["status_code"] == 429 and errors[0]["retry_after_s"] == 1.0
    assert posts[1][4] - posts[0][4] >= 0.95  # the backoff alone would be 0.1 s


def test_500_then_success_and_the_key_goes_only_in_the_header(front, scripted, tmp_path):
    scripted.creates = [(500, {}, {"code": 500, "message": "boom"}), (502, {}, b"bad gateway"), created("t-500")]
    scripted.queries = [queried("t-500", 1), queried("t-500", 2, scripted.base + "/v.mp4")]
    job = ended(front, submit_job(front.base, seed=23))
    assert job["status"] == "succeeded", job
    assert [a["outcome"] for a in job["metadata"]["upstream"]["attempts"]].count("error") == 2
    post = scripted.posts()[-1]
    assert post[2]["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert post[3]["model"] == JOB_MODEL and post[3]["args"]["image"].startswith("data:image/png;base64,")
    data = wait_job(front.base, job["id"])
    info = decoded(data["result"]["videos"][0]["url"], tmp_path)
    assert (info.frames, info.width, info.height) == (24, 320, 240)  # what the upstream made, checked
    assert data["result"]["videos"][0]["width"] == 320


def test_a_hang_past_the_timeout_fails_the_job(front, scripted, routes):
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", scripted.base, "timeout_s = 1.5"))
    scripted.creates = [created("t-hang")]
    scripted.queries = [queried("t-hang", 1)]
    job = ended(front, submit_job(front.base, seed=24))
    assert job["status"] == "failed" and job["refunded"] is True
    assert "t-hang gave no result within 1.5 s" in job["error"]["message"]


def test_a_create_that_hangs_past_the_request_timeout_is_sent_again_with_the_same_key(front, scripted):
    scripted.hang_s, scripted.hang_posts = 3.0, 1  # the front gives up after 2 s (request timeout)
    scripted.creates = [created("t-slow")]
    scripted.queries = [queried("t-slow", 2, scripted.base + "/v.mp4")]
    job = ended(front, submit_job(front.base, seed=28))
    assert job["status"] == "succeeded", job
    posts = scripted.posts()
    assert len(posts) == 2 and posts[0][2]["Idempotency-Key"] == posts[1][2]["Idempotency-Key"]
    errors = [a for a in job["metadata"]["upstream"]["attempts"] if a["outcome"] == "error"]
    assert errors and "no answer within 2 s" in errors[0]["error"]


def test_a_result_url_that_404s_fails_visibly_with_the_upstream_id(front, scripted):
    scripted.creates = [created("t-404")]
    scripted.queries = [queried("t-404", 2, scripted.base + "/missing.mp4")]
    job = ended(front, submit_job(front.base, seed=25))
    assert job["status"] == "failed" and "t-404" in job["error"]["message"]
    assert "HTTP 404" in job["error"]["message"]


def test_a_result_that_is_not_an_mp4_fails_visibly_with_the_upstream_id(front, scripted):
    scripted.files["/bad.mp4"] = b"<html>this is not a video</html>" * 10
    scripted.creates = [created("t-bad")]
    scripted.queries = [queried("t-bad", 2, scripted.base + "/bad.mp4")]
    job = ended(front, submit_job(front.base, seed=26))
    assert job["status"] == "failed" and job["refunded"] is True
    assert "t-bad" in job["error"]["message"] and "not a video" in job["error"]["message"]


def test_an_upstream_that_loses_the_task_gets_it_again(front, scripted):
    scripted.creates = [created("t-lost"), created("t-found")]
    scripted.queries = [(404, {}, {"code": 404, "message": "no such job"}),
                        queried("t-found", 2, scripted.base + "/v.mp4")]
    job = ended(front, submit_job(front.base, seed=27))
    assert job["status"] == "succeeded", job
    keys = [p[2]["Idempotency-Key"] for p in scripted.posts()]
    assert len(keys) == 2 and keys[0] != keys[1]  # a new task, not the lost one again
    up = job["metadata"]["upstream"]
    assert up["upstream_id"] == "t-found" and any(a["outcome"] == "lost" for a in up["attempts"])


def test_worker_killed_right_after_the_upstream_create_adopts_its_task(upstream, tmp_path):
    """The front dies (SIGKILL, by its test hook) between the upstream create and storing the id;
    after a restart the same Idempotency-Key finds that task: one upstream task, charged once."""
    routes = tmp_path / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", upstream.base))
    data = tmp_path / "front" / "data"
    data.parent.mkdir()
    env = dict(FRONT_ENV, STILLMOTION_ROUTES_FILE=str(routes))
    before = {j["id"] for j in upstream_jobs(upstream.base)}
    first = Service(data, "--workers", "1", STILLMOTION_UPSTREAM_TEST_KILL_AFTER_CREATE="true", **env)
    job_id = submit_job(first.base, seed=31)
    first.proc.wait(timeout=30)
    assert first.proc.returncode == -signal.SIGKILL
    first.stop()
    made = [j for j in upstream_jobs(upstream.base) if j["id"] not in before]
    assert len(made) == 1  # the create happened; its id was never stored

    second = Service(data, "--workers", "1", **env)
    try:
        job = wait_v1(second.base, job_id, timeout=90)
        assert job["status"] == "succeeded", job
        assert job["metadata"]["upstream"]["upstream_id"] == made[0]["id"]  # adopted, not made again
        assert [j["id"] for j in upstream_jobs(upstream.base) if j["id"] not in before] == [made[0]["id"]]
        usage = requests.get(f"{second.base}/v1/usage", headers=auth(), timeout=10).json()
        lines = [line for line in usage["ledger"] if line["job_id"] == job_id]
        assert [line["kind"] for line in lines] == ["charge"]
    finally:
        second.stop()


def test_fallback_from_a_failing_provider_to_a_second_then_to_local_motion(front, fake, routes, tmp_path):
    second = FakeUpstream()
    try:
        fake.creates, fake.queries, fake.requests = [(503, {}, {"code": 503, "message": "overloaded"})], [], []
        second.creates = [created("t-second")]
        second.queries = [queried("t-second", 3, error={"code": "GenerationFailure", "message": "NSFW"})]
        write_routes(routes, upstream_route(JOB_MODEL, "shortapi", fake.base, (
            f'fallbacks = [{{ engine = "upstream", provider = "shortapi", name = "second", base_url = "{second.base}", '
            'api_key_env = "UPSTREAM_KEY" }, { engine = "motion" }]')))
        job_id = submit_job(front.base, seed=41)
        job = ended(front, job_id, timeout=90)
        assert job["status"] == "succeeded", job
        up = job["metadata"]["upstream"]
        assert up["state"] == "local" and up["provider"] == "motion"
        steps = [(a["provider"], a["action"], a["outcome"]) for a in up["attempts"]]
        assert steps.count(("shortapi", "create", "error")) == 3  # STILLMOTION_UPSTREAM_MAX_TRIES
        assert ("shortapi", "fallback", "to second") in steps and ("second", "create", "created") in steps
        assert ("second", "poll", "failed") in steps and ("second", "fallback", "to motion") in steps
        data = wait_job(front.base, job_id)
        assert decoded(data["result"]["videos"][0]["url"], tmp_path).frames == 24  # made here, by motion
    finally:
        second.close()


def test_cancel_is_not_forwardable_so_the_job_ends_here_and_the_result_is_discarded(front, scripted):
    scripted.creates = [created("t-cancel", amount="0.07")]
    scripted.queries = [queried("t-cancel", 1, amount="0.07")]
    job_id = submit_job(front.base, seed=51)
    wait_for(lambda: (v1_job(front.base, job_id)["metadata"].get("upstream") or {}).get("state") == "polling")
    r = requests.post(f"{front.base}/v1/jobs/{job_id}/cancel", headers=auth(), timeout=10)
    assert r.status_code == 200, r.text
    scripted.queries = [queried("t-cancel", 2, scripted.base + "/v.mp4")]  # the late result
    up = wait_for(lambda: (v1_job(front.base, job_id)["metadata"]["upstream"]
                           if v1_job(front.base, job_id)["metadata"]["upstream"]["state"] == "canceled" else None))
    job = v1_job(front.base, job_id)
    assert job["status"] == "canceled" and job["refunded"] is True and job["output"] is None
    assert up["cost"]["amount"] == "0.07"  # what the upstream charged stays recorded
    assert any(a["action"] == "cancel" and a["outcome"].startswith("not forwardable") for a in up["attempts"])
    time.sleep(1)
    assert v1_job(front.base, job_id)["status"] == "canceled"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_200_in_flight_with_one_render_worker_leave_render_slots_free(tmp_path, fake):
    """200 upstream jobs wait on a slow upstream while a local job runs at once; then all complete,
    each created upstream exactly once, and the front's memory stays bounded."""
    from concurrent.futures import ThreadPoolExecutor

    import threading

    release = threading.Event()
    fake.requests, fake.hang_s = [], 0.0
    fake.creates = [lambda n: created(f"t-many-{n}")]
    fake.queries = [lambda n: queried("t-many", 2, fake.base + "/v.mp4") if release.is_set() else queried("t-many", 1)]
    routes = tmp_path / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", fake.base))
    (tmp_path / "front").mkdir()
    env = dict(FRONT_ENV, STILLMOTION_ROUTES_FILE=str(routes), STILLMOTION_UPSTREAM_POLL_S="1.0",
               STILLMOTION_UPSTREAM_POLLERS="16", STILLMOTION_LOG_LEVEL="warning")
    svc = Service(tmp_path / "front" / "data", "--workers", "1", **env)
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: submit_job(svc.base, seed=1000 + i), range(200)))
        wait_for(lambda: len(fake.posts()) >= 200, timeout=120, every=0.5)
        r = requests.post(f"{svc.base}/v3/async/{ASYNC_MODEL}", json=async_body(seed=99), headers=auth(), timeout=30)
        local = wait_v1(svc.base, r.json()["task_id"], timeout=60)
        assert local["status"] == "succeeded" and "upstream" not in local["metadata"]
        waiting = [v1_job(svc.base, i)["status"] for i in ids[:20]]
        assert waiting == ["processing"] * 20  # still waiting upstream: the local job did not queue behind them
        metrics = requests.get(f"{svc.base}/metrics", timeout=10).text
        assert 'stillmotion_upstream_in_flight{provider="shortapi",state="polling"}' in metrics
        assert rss_mb(svc.proc.pid) < 700
        release.set()
        for job_id in ids:
            assert wait_v1(svc.base, job_id, timeout=240, poll_s=0.5)["status"] == "succeeded"
        assert len(fake.posts()) == 200  # each created exactly once
        metrics = requests.get(f"{svc.base}/metrics", timeout=10).text
        assert 'stillmotion_upstream_jobs_total{outcome="succeeded",provider="shortapi"} 200.0' in metrics
        assert 'stillmotion_upstream_requests_total{action="create",outcome="ok",provider="shortapi"} 200.0' in metrics
        assert 'stillmotion_upstream_job_seconds_count{provider="shortapi"} 200.0' in metrics
        assert len({p[2]["Idempotency-Key"] for p in fake.posts()}) == 200
        assert rss_mb(svc.proc.pid) < 700
    finally:
        svc.stop()
    assert UPSTREAM_KEY not in Path(svc.log.name).read_text()


@pytest.mark.parametrize(("model", "provider", "make_input"), [
    (JOB_MODEL, "shortapi", lambda: job_body(seed=61)["args"]),
    (ASYNC_MODEL, "novita", lambda: async_body(seed=62)),
])
def test_each_provider_through_the_native_dialect(front, upstream, routes, tmp_path, model, provider, make_input):
    write_routes(routes, upstream_route(model, provider, upstream.base))
    r = requests.post(f"{front.base}/v1/jobs", json={"model": model, "input": make_input()}, headers=auth(), timeout=30)
    assert r.status_code in (200, 201), r.text
    job = wait_v1(front.base, r.json()["id"], timeout=120)
    assert job["status"] == "succeeded", job
    assert job["metadata"]["upstream"]["provider"] == provider
    upstream_id = job["metadata"]["upstream"]["upstream_id"]
    assert sum(1 for j in upstream_jobs(upstream.base) if j["id"] == upstream_id) == 1
    assert decoded(job["output"]["video_url"], tmp_path).codec == "h264"


@pytest.mark.parametrize("provider", ["shortapi", "vidu"])
def test_public_url_sends_signed_inputs_and_takes_signed_callbacks(upstream, tmp_path, monkeypatch, provider):
    """With STILLMOTION_PUBLIC_URL the upstream fetches the image from the front's signed URL and
    calls the front back; the callback (signature checked: Standard Webhooks, or Vidu's HMAC) makes
    the front poll at once, so a 60 s poll interval does not delay the result."""
    import tests.helpers as helpers

    secret = requests.get(f"{upstream.base}/v1/webhook-secret", headers=auth(UPSTREAM_KEY), timeout=10).json()["secret"]
    routes = tmp_path / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, provider, upstream.base, 'webhook_secret_env = "UP_HOOK_SECRET"'))
    port = helpers.free_port()
    monkeypatch.setattr(helpers, "free_port", lambda: port)
    (tmp_path / "front").mkdir()
    env = dict(FRONT_ENV, STILLMOTION_ROUTES_FILE=str(routes), STILLMOTION_UPSTREAM_POLL_S="60",
               STILLMOTION_PUBLIC_URL=f"http://127.0.0.1:{port}", UP_HOOK_SECRET=secret)
    front = Service(tmp_path / "front" / "data", "--workers", "1", **env)
    try:
        started = time.monotonic()
        job_id = submit_job(front.base, seed=71)
        job = wait_v1(front.base, job_id, timeout=45)
        assert job["status"] == "succeeded", job
        assert time.monotonic() - started < 40  # the callback, not the 60 s poll
        upstream_id = job["metadata"]["upstream"]["upstream_id"]
        up_job = requests.get(f"{upstream.base}/v1/jobs/{upstream_id}", headers=auth(UPSTREAM_KEY), timeout=10).json()
        image = up_job["input"].get("image") or up_job["input"]["images"][0]
        assert image.startswith(f"{front.base}/files/inputs/")  # fetched by URL, signed
        hook = f"{front.base}/upstream/hooks/{job_id}/0/"
        assert requests.post(hook + "0" * 32, json={}, timeout=10).status_code == 404  # no valid MAC
    finally:
        front.stop()
    assert UPSTREAM_KEY not in Path(front.log.name).read_text() and secret not in Path(front.log.name).read_text()


def test_openai_videos_through_the_job_dialect(front, upstream, routes, tmp_path):
    write_routes(routes, upstream_route(JOB_MODEL, "openai-videos", upstream.base))
    job_id = submit_job(front.base, seed=81)
    job = wait_v1(front.base, job_id, timeout=120)
    assert job["status"] == "succeeded", job
    up = job["metadata"]["upstream"]
    assert up["provider"] == "openai-videos" and up["state"] == "done"
    video = requests.get(f"{upstream.base}/v1/videos/{up['upstream_id']}", headers=auth(UPSTREAM_KEY), timeout=10)
    assert video.json()["status"] == "completed" and video.json()["size"] == "720x540"
    info = decoded(job["output"]["video_url"], tmp_path)
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 720, 540, 24)
    assert sum(1 for j in upstream_jobs(upstream.base) if j["id"] == up["upstream_id"]) == 1


def test_cancel_is_forwarded_to_an_openai_videos_upstream(tmp_path):
    """An upstream with no render worker keeps the video queued; the front's cancel is forwarded
    (DELETE /v1/videos/{id}) and the upstream's job ends canceled too."""
    (tmp_path / "idle").mkdir()
    idle = Service(tmp_path / "idle" / "data", "--workers", "0", STILLMOTION_API_KEYS=UPSTREAM_KEY)
    routes = tmp_path / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, "openai-videos", idle.base))
    (tmp_path / "front").mkdir()
    front = Service(tmp_path / "front" / "data", "--workers", "1", STILLMOTION_ROUTES_FILE=str(routes), **FRONT_ENV)
    try:
        job_id = submit_job(front.base, seed=82)
        up = wait_for(lambda: (v1_job(front.base, job_id)["metadata"].get("upstream") or {}).get("upstream_id")
                      and v1_job(front.base, job_id)["metadata"]["upstream"])
        assert requests.post(f"{front.base}/v1/jobs/{job_id}/cancel", headers=auth(), timeout=10).status_code == 200
        wait_for(lambda: v1_job(front.base, job_id)["metadata"]["upstream"]["state"] == "canceled")
        attempts = v1_job(front.base, job_id)["metadata"]["upstream"]["attempts"]
        assert any(a["action"] == "cancel" and a["outcome"] == "forwarded" for a in attempts)
        there = requests.get(f"{idle.base}/v1/jobs/{up['upstream_id']}", headers=auth(UPSTREAM_KEY), timeout=10).json()
        assert there["status"] == "canceled" and there["refunded"] is True
    finally:
        front.stop()
        idle.stop()


def test_vidu_through_the_job_dialect(front, upstream, routes, tmp_path):
    write_routes(routes, upstream_route(JOB_MODEL, "vidu", upstream.base))
    job_id = submit_job(front.base, seed=91)
    job = wait_v1(front.base, job_id, timeout=120)
    assert job["status"] == "succeeded", job
    up = job["metadata"]["upstream"]
    assert up["provider"] == "vidu" and up["state"] == "done"
    task = requests.get(f"{upstream.base}/ent/v2/tasks/{up['upstream_id']}/creations",
                        headers={"Authorization": f"Token {UPSTREAM_KEY}"}, timeout=10).json()
    assert task["state"] == "success" and task["payload"] == f"sm-{job_id}-0"  # the token, for lookups
    assert up["cost"]["items"][0]["credits"] == task["credits"] > 0
    assert decoded(job["output"]["video_url"], tmp_path).frames == 24


def test_vidu_create_lost_to_a_crash_is_found_by_its_payload(upstream, tmp_path):
    """Vidu documents no Idempotency-Key: after a SIGKILL right after the create, the restarted
    front lists the upstream's tasks and adopts the one whose payload carries the job's token."""
    routes = tmp_path / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, "vidu", upstream.base))
    data = tmp_path / "front" / "data"
    data.parent.mkdir()
    env = dict(FRONT_ENV, STILLMOTION_ROUTES_FILE=str(routes))
    before = {j["id"] for j in upstream_jobs(upstream.base)}
    first = Service(data, "--workers", "1", STILLMOTION_UPSTREAM_TEST_KILL_AFTER_CREATE="true", **env)
    job_id = submit_job(first.base, seed=92)
    first.proc.wait(timeout=30)
    first.stop()
    second = Service(data, "--workers", "1", **env)
    try:
        job = wait_v1(second.base, job_id, timeout=90)
        assert job["status"] == "succeeded", job
        made = [j["id"] for j in upstream_jobs(upstream.base) if j["id"] not in before]
        assert made == [job["metadata"]["upstream"]["upstream_id"]]
        outcomes = [a["outcome"] for a in job["metadata"]["upstream"]["attempts"] if a["action"] == "create"]
        assert outcomes == ["sending", "adopted"]
    finally:
        second.stop()


# (provider, the catalog models its wire takes: "job", "async" or both)
MATRIX = [("shortapi", ("job",)), ("novita", ("async",)), ("openai-videos", ("job", "async")),
          ("vidu", ("job", "async"))]


@pytest.mark.parametrize(("provider", "kinds"), MATRIX, ids=[m[0] for m in MATRIX])
def test_each_provider_through_each_client_dialect_of_the_front(front, upstream, routes, tmp_path, provider, kinds):
    """Every client dialect of the front (job, async, native, OpenAI, Vidu) against each provider:
    the job completes, its MP4 decodes, and the upstream holds exactly one task for it."""
    write_routes(routes, upstream_route("*", provider, upstream.base))
    made = {}
    for i, dialect in enumerate(FRONT_DIALECTS):
        kind = "job" if dialect == "job" else "async" if dialect == "async" else kinds[0]
        if kind not in kinds:
            continue  # e.g. the job dialect's models on the async wire: not this provider's
        made[dialect] = submit_via(front.base, dialect, kind, seed=500 + i)
    ids = [j["id"] for j in upstream_jobs(upstream.base)]
    for dialect, job_id in made.items():
        job = wait_v1(front.base, job_id, timeout=120)
        assert job["status"] == "succeeded", (dialect, job)
        up = job["metadata"]["upstream"]
        assert up["provider"] == provider and up["state"] == "done", dialect
        assert decoded(job["output"]["video_url"], tmp_path).frames == 24, dialect
        ids = [j["id"] for j in upstream_jobs(upstream.base)]
        assert ids.count(up["upstream_id"]) == 1, dialect
