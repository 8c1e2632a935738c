"""A shutdown that cannot wait for a stuck render still gives the job back (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from stillmotion.domain import JobStatus
from stillmotion.runtime import Runtime
from stillmotion.settings import Settings
from stillmotion.store import NewJob, Store
from stillmotion.worker import Worker


def test_shutdown_releases_a_job_whose_render_did_not_stop(
    store: Store, store_url: str, make_job: Callable[..., NewJob], tmp_path: Path
) -> None:
    new = make_job()
    runtime = Runtime(Settings(data_dir=tmp_path / "rt", database_url=store_url, shutdown_grace_s=0.1))
    worker = Worker(runtime.settings, runtime.store, runtime.artifacts)
    assert runtime.store.claim(worker.id, 60) is not None
    stuck = threading.Event()
    thread = threading.Thread(target=stuck.wait, daemon=True)  # a render that ignores the stop
    thread.start()
    worker.current = runtime.store.get_job(new.id)
    runtime.workers.append((worker, thread))
    runtime.threads.append(thread)
    try:
        runtime.shutdown(timeout=0.2)
    finally:
        stuck.set()
    job = store.get_job(new.id)
    assert job is not None and job.status is JobStatus.QUEUED
    assert job.attempts == 0  # a release, not a failed attempt


def test_shutdown_leaves_a_finished_worker_alone(
    store: Store, store_url: str, make_job: Callable[..., NewJob], tmp_path: Path
) -> None:
    new = make_job()
    runtime = Runtime(Settings(data_dir=tmp_path / "rt", database_url=store_url))
    worker = Worker(runtime.settings, runtime.store, runtime.artifacts)
    assert runtime.store.claim(worker.id, 60) is not None
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    worker.current = runtime.store.get_job(new.id)  # its thread ended: nothing to rescue
    runtime.workers.append((worker, done))
    runtime.shutdown(timeout=0.2)
    job = store.get_job(new.id)
    assert job is not None and job.status is JobStatus.PROCESSING
