"""Upstream engines end to end: a front stillmotion whose routes send jobs to other generators.

The upstreams are real stillmotion servers on loopback (its job dialect is shortapi's wire, its
async-task dialect novita's); a small scripted server stands in where an upstream must
misbehave. The front's logs and bodies are searched for the upstream key at the end."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from stillmotion.media.video import probe
from tests.helpers import KEY, Service, auth, wait_job, wait_v1

from tests.e2e.upstream_support import (
    ASYNC_MODEL, JOB_MODEL, UPSTREAM_KEY, FakeUpstream, async_body, created, queried, submit_job, upstream_jobs,
    upstream_route, v1_job, write_routes,
)

FRONT_ENV = dict(UPSTREAM_KEY=UPSTREAM_KEY, STILLMOTION_UPSTREAM_POLL_S="0.2", STILLMOTION_UPSTREAM_BACKOFF_S="0.1",
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
