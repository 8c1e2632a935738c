"""A worker killed with SIGKILL mid-job: after restart the job completes, charged exactly once."""

from __future__ import annotations

import signal
import time

import requests

from stillmotion.auth import hash_key
from stillmotion.store import Database
from tests.helpers import KEY, Service, auth, data_uri, png_bytes, textured_image, wait_job


def progress_of(base: str, job_id: str) -> dict:
    return requests.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=10).json()["data"]


def test_sigkill_mid_job_then_restart(tmp_path):
    data = tmp_path / "data"
    api = Service(data, "--workers", "0")
    worker = Service(data, command="worker")
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "pro", "prompt": "zoom in", "image": data_uri(png_bytes(textured_image(640, 480))),
                         "duration": 16, "resolution": "1080p"}}
        r = requests.post(f"{api.base}/api/v1/job/create", json=body, headers=auth(), timeout=30)
        job_id = r.json()["job_id"]
        deadline = time.monotonic() + 60
        while progress_of(api.base, job_id)["progress"] < 5:
            assert time.monotonic() < deadline, "the worker never made progress"
            time.sleep(0.1)
        running = progress_of(api.base, job_id)
        assert running["status"] == 1 and running["started_at"]
        worker.stop(signal.SIGKILL)

        worker = Service(data, command="worker")  # a fresh process; the lease of the dead one expires
        done = wait_job(api.base, job_id, timeout=240)
        assert done["status"] == 2, done
        assert done["refunded"] is False
    finally:
        worker.stop()
        api.stop()
    store = Database(f"sqlite:///{data / 'stillmotion.db'}")
    try:
        lines = store.accounts.ledger("env-" + hash_key(KEY)[:16])
        assert [(l.kind, str(l.amount)) for l in lines] == [("charge", "2.048")]  # 16 s x 0.128, once
        assert store.jobs.get(job_id).attempts == 2
    finally:
        store.close()


def test_sigterm_releases_or_finishes(tmp_path):
    data = tmp_path / "data"
    api = Service(data, "--workers", "0")
    worker = Service(data, command="worker", STILLMOTION_SHUTDOWN_GRACE_S="0.5")
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"prompt": "pan left", "image": data_uri(png_bytes(textured_image(640, 480))),
                         "duration": 16, "resolution": "1080p"}}
        job_id = requests.post(f"{api.base}/api/v1/job/create", json=body, headers=auth(), timeout=30).json()["job_id"]
        deadline = time.monotonic() + 60
        while progress_of(api.base, job_id)["progress"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert worker.stop(signal.SIGTERM) == 0
        state = progress_of(api.base, job_id)
        assert state["status"] in (0, 2), state  # released to the queue (or finished in time)
        worker = Service(data, command="worker")
        assert wait_job(api.base, job_id, timeout=240)["status"] == 2
    finally:
        worker.stop()
        api.stop()
    store = Database(f"sqlite:///{data / 'stillmotion.db'}")
    try:
        assert store.jobs.get(job_id).attempts == 1  # a release is not a failed attempt
    finally:
        store.close()
