"""The poller's moves on `MemoryDatabase` with a mocked upstream (httpx.MockTransport): cancel
forwarded where a provider can take it, the circuit breaker skipping a failing provider, limits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from stillmotion.catalog import Catalog
from stillmotion.jobs import UPSTREAM_HOLDER, JobStatus, NewJob
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.settings import Settings
from stillmotion.storage import LocalArtifactStore
from stillmotion.upstream import hops
from stillmotion.upstream.poller import Poller
from stillmotion.upstream.providers import Request, get_provider
from stillmotion.upstream.providers.job import JobProvider

MODEL = "vidu/vidu-q3/image-to-video"


class CancelableJobs(JobProvider):
    """The job wire plus a cancel endpoint: what `openai-videos` (DELETE /v1/videos/{id}) will be."""

    can_cancel = True

    def cancel(self, upstream_id: str) -> Request | None:
        return Request("POST", "/api/v1/job/cancel", json={"id": upstream_id})


@pytest.fixture
def parts(tmp_path, monkeypatch):
    monkeypatch.setenv("UP_T_KEY", "secret-up-key")
    settings = Settings(data_dir=tmp_path, allow_private_urls=True, upstream_poll_s=0, upstream_backoff_s=0,
                        upstream_max_tries=2, upstream_breaker_failures=2, upstream_breaker_cooldown_s=60)
    db = MemoryDatabase()
    artifacts = LocalArtifactStore(tmp_path, b"s", "http://front")
    return settings, db, artifacts


def make_poller(parts, handler: Callable[[httpx.Request], httpx.Response]) -> Poller:
    settings, db, artifacts = parts
    poller = Poller(settings, db, artifacts, Catalog.load(None), wid="p")
    poller.client = httpx.Client(transport=httpx.MockTransport(handler))
    return poller


def new_job(parts, job_id: str, route: dict) -> None:
    _, db, artifacts = parts
    key = artifacts.put_input(b"\x89PNG" + b"0" * 64, "img", "png")
    db.jobs.create(NewJob(job_id, "o", MODEL, "job", "upstream", Decimal("0.1"),
                          {"mode": "turbo", "prompt": "p", "image": "http://x/i.png", "duration": 1,
                           "resolution": "540p"}, {"image": key, "duration": 1}, 1, route=route))


def drive(poller: Poller, until: Callable[[], bool], timeout: float = 10) -> None:
    """Run the poller's loop by hand (each step finished before the next tick) until `until()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worked = poller.tick()
        while poller._busy and time.monotonic() < deadline:
            time.sleep(0.005)
        if until():
            return
        if not worked:
            time.sleep(0.01)  # nothing due yet (a poll a few ms ahead)
    raise AssertionError("the poller did not get there")


def upstream(name: str, base: str, **extra) -> dict:
    return {"engine": "upstream", "provider": "shortapi", "name": name, "base_url": base, "api_key_env": "UP_T_KEY",
            **extra}


def test_cancel_is_forwarded_where_the_provider_can_take_it(parts, monkeypatch):
    monkeypatch.setattr(hops, "get_provider", lambda name: CancelableJobs())
    seen: list[tuple[str, str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, dict(request.headers)))
        if request.url.path.endswith("/create"):
            return httpx.Response(200, json={"code": 0, "data": {"job_id": "u-1", "amount": "0.3"}})
        if request.url.path.endswith("/cancel"):
            return httpx.Response(200, json={"code": 0})
        return httpx.Response(200, json={"code": 0, "data": {"status": 1, "progress": 40, "amount": "0.3"}})

    poller = make_poller(parts, handler)
    _, db, _ = parts
    new_job(parts, "j1", upstream("a", "http://a"))
    drive(poller, lambda: (db.upstream.get("j1") or None) is not None and db.upstream.get("j1").state == "polling")
    assert db.jobs.get("j1").progress == 40  # the upstream's progress, shown here
    assert db.jobs.cancel("j1") is not None
    drive(poller, lambda: db.upstream.get("j1").state == "canceled")
    assert ("POST", "/api/v1/job/cancel") in [(m, p) for m, p, _ in seen]
    up = db.jobs.get("j1").metadata["upstream"]
    assert any(a["action"] == "cancel" and a["outcome"] == "forwarded" for a in up["attempts"])
    assert up["cost"]["amount"] == "0.3"
    assert all(h["authorization"] == "Bearer secret-up-key" for _, _, h in seen)
    assert "secret-up-key" not in json.dumps(db.jobs.get("j1").metadata)


def test_an_open_circuit_is_skipped_by_the_next_jobs(parts):
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "a":
            return httpx.Response(503, json={"code": 503, "message": "down"})
        if request.url.path.endswith("/create"):
            return httpx.Response(200, json={"code": 0, "data": {"job_id": "u-b"}})
        return httpx.Response(200, json={"code": 0, "data": {"status": 1}})

    poller = make_poller(parts, handler)
    _, db, _ = parts
    route = {**upstream("a", "http://a"), "fallbacks": [upstream("b", "http://b")]}
    new_job(parts, "j1", route)
    drive(poller, lambda: db.upstream.get("j1") is not None and db.upstream.get("j1").provider == "b")
    assert calls.count("a") == 2  # upstream_max_tries, then the fallback; the circuit is now open
    calls.clear()
    new_job(parts, "j2", route)
    drive(poller, lambda: db.upstream.get("j2") is not None and db.upstream.get("j2").state == "polling")
    assert "a" not in calls
    steps = [(a["provider"], a["outcome"]) for a in db.jobs.get("j2").metadata["upstream"]["attempts"]]
    assert steps[0] == ("a", "skipped: circuit open") and ("b", "created") in steps


def test_the_last_hop_failing_fails_the_job_and_refunds(parts):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/create"):
            return httpx.Response(200, json={"code": 0, "data": {"job_id": "u-1"}})
        return httpx.Response(200, json={"code": 0, "data": {"status": 3, "error": {"code": "X", "message": "NSFW"}}})

    poller = make_poller(parts, handler)
    _, db, _ = parts
    new_job(parts, "j1", upstream("a", "http://a"))
    drive(poller, lambda: db.jobs.get("j1").status == JobStatus.FAILED)
    job = db.jobs.get("j1")
    assert job.refunded and "u-1 failed: X: NSFW" in job.error_message
    assert db.upstream.get("j1").state == "failed"


def test_max_in_flight_holds_further_creates(parts):
    created: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/create"):
            created.append(request.headers["idempotency-key"])
            return httpx.Response(200, json={"code": 0, "data": {"job_id": f"u-{len(created)}"}})
        return httpx.Response(200, json={"code": 0, "data": {"status": 1}})

    poller = make_poller(parts, handler)
    _, db, _ = parts
    for i in range(3):
        new_job(parts, f"j{i}", upstream("a", "http://a", max_in_flight=2))
    drive(poller, lambda: len(created) >= 2 and all(db.upstream.get(f"j{i}") for i in range(3)))
    for _ in range(20):
        drive(poller, lambda: True)
    assert len(created) == len(set(created)) == 2
    assert db.upstream.in_flight("a") == 2
    assert sum(1 for i in range(3) if db.upstream.get(f"j{i}").state == "submitting") == 1
    assert db.jobs.get("j0").lease_owner == UPSTREAM_HOLDER


def test_a_crash_between_the_jobs_end_and_the_tasks_leaves_the_job_as_it_ended(parts):
    poller = make_poller(parts, lambda request: httpx.Response(500))
    _, db, _ = parts
    new_job(parts, "j1", upstream("a", "http://a"))
    task = db.upstream.start(poller.rules, poller._first)
    db.upstream.claim("p", 30, 1)
    assert db.upstream.save("j1", "p", state="mirroring", upstream_id="u-1")
    assert db.jobs.finish("j1", UPSTREAM_HOLDER, {"video": "outputs/j1/video.mp4"}, {"upstream": {"state": "done"}})
    drive(poller, lambda: db.upstream.get("j1").state == "done")  # the lease lapses (0 s poll): taken again
    assert task is not None and db.jobs.get("j1").metadata["upstream"] == {"state": "done"}


def test_polls_back_off_as_a_task_runs_long(parts):
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from stillmotion.jobs import UpstreamTask

    settings, _, _ = parts
    poller = make_poller(parts, lambda request: httpx.Response(500))
    poller.settings = settings.model_copy(update={"upstream_poll_s": 2.0, "upstream_max_poll_s": 30.0})
    now = datetime.now(UTC)
    task = UpstreamTask("j", "polling", 0, "a", "t", now, now)
    assert poller._poll_after(task) == 2.0
    assert 9.9 < poller._poll_after(replace(task, created_at=now - timedelta(seconds=100))) < 10.1
    assert poller._poll_after(replace(task, created_at=now - timedelta(hours=1))) == 30.0
