"""F1/F8 in process: a worker thread that dies is restarted and reported, its job finished;
a locked database at the final write does not fail a finished render; a final write that keeps
failing leaves the worker alive and the job to the reaper; /readyz's worker and stall checks
(a Runtime on the in-memory database, fake engine; the disk-full case runs on a real server in
test_disk_full.py)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from stillmotion import observability, runtime as runtime_module
from stillmotion.catalog import get_model
from stillmotion.domain import StoredImage
from stillmotion.health import readiness
from stillmotion.jobs import JobStatus, NewJob
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.runtime import Runtime
from stillmotion.settings import Settings
from stillmotion.worker import Worker
from tests.jobs.support import FakeEngine, png

MODEL = "vidu/vidu-q3/image-to-video"


class Locked(Exception):
    """Stands in for sqlite3.OperationalError("database is locked")."""


@pytest.fixture
def rt(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, lease_s=1.0, heartbeat_s=0.05, cancel_poll_s=0.02, poll_interval_s=0.02,
                        reap_interval_s=0.1, retry_backoff_s=0.05, shutdown_grace_s=0.1, max_running_per_key=0,
                        stall_after_s=0.5, min_free_mb=0, secret="s")
    runtime = Runtime(settings, db=MemoryDatabase())
    yield runtime
    runtime.shutdown(timeout=5)


def add_job(rt: Runtime) -> str:
    data = png()
    key = rt.artifacts.put_input(data, hashlib.sha256(data).hexdigest(), "png")
    entry = get_model(MODEL)
    req = entry.prepare({"mode": "turbo", "prompt": "a cat", "duration": 1, "resolution": "540p",
                         "image": "https://example.com/cat.png"})
    spec = {**entry.spec_for(req, {"image": StoredImage(key, 160, 160)}, 7).to_dict(),
            "width": 64, "height": 64, "num_frames": 6}
    job = rt.db.jobs.create(NewJob(f"job-{secrets.token_hex(4)}", "owner-1", MODEL, "job", "motion", req.price,
                                   dict(req.args), spec, 7))
    return job.id


def wait_status(rt: Runtime, job_id: str, status: JobStatus, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while rt.db.jobs.status(job_id) != status and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rt.db.jobs.status(job_id) == status, rt.db.jobs.get(job_id)


def counter(name: str, **labels: str) -> float:
    return observability.REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_worker_thread_that_dies_is_restarted_and_its_job_finished(rt, caplog):
    engine = FakeEngine(error=SystemExit(3), failing_runs=1)  # an engine calling sys.exit in the thread
    rt.make_worker = lambda: Worker(rt.settings, rt.db, rt.artifacts, engine_factory=lambda name: engine)
    before = counter("stillmotion_thread_restarts_total", kind="worker")
    job_id = add_job(rt)
    with caplog.at_level(logging.ERROR, "stillmotion"):
        rt.start_background(1, dispatcher=False)
        wait_status(rt, job_id, JobStatus.SUCCEEDED)
    assert counter("stillmotion_thread_restarts_total", kind="worker") == before + 1
    assert any("stopped unexpectedly" in r.getMessage() for r in caplog.records)
    assert engine.runs == 2 and rt.background_health()["live"] == {"worker": 1}
    assert readiness(rt)["workers"] == "ok"


def test_readiness_names_a_dead_worker_and_a_stalled_queue(rt, monkeypatch):
    monkeypatch.setattr(runtime_module, "SUPERVISE_S", 3600.0)  # no restart: see what /readyz says meanwhile
    rt.make_worker = lambda: Worker(rt.settings, rt.db, rt.artifacts,
                                    engine_factory=lambda name: FakeEngine(error=SystemExit(1)))
    add_job(rt)
    rt.start_background(1, dispatcher=False)
    deadline = time.monotonic() + 10
    while rt.background_health()["live"].get("worker") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert readiness(rt)["workers"] == "no live worker thread for motion"


def test_a_claim_loop_that_keeps_failing_shows_as_a_stalled_queue(rt):
    def broken() -> Any:
        raise Locked("database is locked")

    rt.make_worker = lambda: Worker(rt.settings, rt.db, rt.artifacts, capability=broken,
                                    engine_factory=lambda name: FakeEngine())
    add_job(rt)
    rt.start_background(1, dispatcher=False)
    time.sleep(rt.settings.stall_after_s + 0.3)
    assert readiness(rt)["queue"].startswith("stalled: a job has waited"), readiness(rt)
    assert readiness(rt)["workers"] == "ok"  # alive, yet not working: only the stall check tells


def test_a_locked_database_at_the_final_write_does_not_fail_a_finished_render(rt):
    real = rt.db.jobs.finish
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise Locked("database is locked")
        return real(*args, **kwargs)

    rt.db.jobs.finish = flaky  # type: ignore[method-assign]
    rt.make_worker = lambda: Worker(rt.settings, rt.db, rt.artifacts, engine_factory=lambda name: FakeEngine())
    job_id = add_job(rt)
    rt.start_background(1, dispatcher=False)
    wait_status(rt, job_id, JobStatus.SUCCEEDED)
    assert calls["n"] == 3 and rt.db.jobs.get(job_id).attempts == 1


def test_a_final_write_that_keeps_failing_leaves_the_job_to_the_reaper(rt, caplog, monkeypatch):
    monkeypatch.setattr("stillmotion.worker.FINAL_WRITE_TRIES", 2)
    real = rt.db.jobs.finish
    calls = {"n": 0}

    def finish(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] <= 2:  # every try of the first run; the next run's write lands
            raise Locked("database or disk is full")
        return real(*args, **kwargs)

    rt.db.jobs.finish = finish  # type: ignore[method-assign]
    rt.make_worker = lambda: Worker(rt.settings, rt.db, rt.artifacts, engine_factory=lambda name: FakeEngine())
    job_id = add_job(rt)
    with caplog.at_level(logging.WARNING, "stillmotion"):
        rt.start_background(1)  # with housekeeping: its reaper returns the job when the lease ends
        wait_status(rt, job_id, JobStatus.SUCCEEDED, timeout=20)
    assert calls["n"] == 3  # the job ran again after the reaper returned it, and was not failed
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and job_id in r.getMessage()]
    assert len(errors) == 1 and "final write failed" in errors[0].getMessage()
    assert rt.background_health()["restarts"] == 0  # the thread never died


def test_readiness_names_a_database_that_cannot_be_written(rt):
    assert readiness(rt)["database"] == "ok"

    def read_only() -> int:
        raise Locked("attempt to write a readonly database")

    rt.db.jobs.forget_idempotency_keys = read_only  # type: ignore[method-assign]
    assert readiness(rt)["database"] == "not writable: Locked: attempt to write a readonly database"
