"""Cancel over HTTP: a queued job at once, a running one within 2 s; both refunded, no files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_v1_jobs import IMAGE, v1_body
from tests.helpers import Service, auth, wait_v1


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("cancel") / "data"
    service = Service(data, "--workers", "1")
    service.data = data  # type: ignore[attr-defined]
    yield service
    service.stop()


def long_body() -> dict:
    return v1_body(duration=16)  # 384 frames: seconds of work, so it is surely running


def wait_running(base: str, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{base}/v1/jobs/{job_id}", headers=auth(), timeout=10).json()
        if job["status"] == "processing" and job["progress"] > 0:
            return job
        time.sleep(0.05)
    raise TimeoutError(job_id)


def test_cancel_running_and_queued_jobs(svc):
    running = requests.post(f"{svc.base}/v1/jobs", json=long_body(), headers=auth(), timeout=30).json()
    queued = requests.post(f"{svc.base}/v1/jobs", json=long_body(), headers=auth(), timeout=30).json()
    seen = wait_running(svc.base, running["id"])
    assert seen["progress"] < 100
    queued_now = requests.get(f"{svc.base}/v1/jobs/{queued['id']}", headers=auth(), timeout=10).json()
    assert queued_now["status"] == "queued" and queued_now["queue_position"] == 0 and queued_now["eta"] >= 1

    r = requests.post(f"{svc.base}/v1/jobs/{queued['id']}/cancel", headers=auth(), timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "canceled" and r.json()["refunded"] is True

    t0 = time.monotonic()
    r = requests.post(f"{svc.base}/v1/jobs/{running['id']}/cancel", headers=auth(), timeout=10)
    assert r.status_code == 200, r.text
    out_dir = Path(svc.data) / "outputs" / running["id"]
    while out_dir.exists() and time.monotonic() - t0 < 2.0:  # the worker stops and cleans up
        time.sleep(0.05)
    if out_dir.exists():  # say how late it was (or whether it stopped at all), for the failure report
        while out_dir.exists() and time.monotonic() - t0 < 20.0:
            time.sleep(0.05)
        late = requests.get(f"{svc.base}/v1/jobs/{running['id']}", headers=auth(), timeout=10).json()
        left = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else None
        pytest.fail(f"the canceled run was still there after 2 s: gone after {time.monotonic() - t0:.2f} s "
                    f"(files left: {left}); job {late['status']} progress {late['progress']}")
    done = requests.get(f"{svc.base}/v1/jobs/{running['id']}", headers=auth(), timeout=10).json()
    assert done["status"] == "canceled" and done["refunded"] is True and done["output"] is None
    assert done["error"]["code"] == "Canceled"

    again = requests.post(f"{svc.base}/v1/jobs/{running['id']}/cancel", headers=auth(), timeout=10)
    assert again.status_code == 409 and "already ended" in again.json()["error"]["message"]
    usage = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()
    kinds = [(ln["job_id"], ln["kind"]) for ln in usage["ledger"]]
    for job_id in (running["id"], queued["id"]):
        assert (job_id, "charge") in kinds and (job_id, "refund") in kinds
    # The worker is free again at once: a short job finishes promptly.
    t1 = time.monotonic()
    short = requests.post(f"{svc.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()
    assert wait_v1(svc.base, short["id"], timeout=20)["status"] == "succeeded"
    assert time.monotonic() - t1 < 15
    # The job dialect reads the canceled job as status 4, the async dialect as FAILED/canceled.
    q = requests.get(f"{svc.base}/api/v1/job/query", params={"id": running["id"]}, headers=auth(), timeout=10)
    assert q.json()["data"]["status"] == 4 and q.json()["data"]["refunded"] is True
    t = requests.get(f"{svc.base}/v3/async/task-result", params={"task_id": queued["id"]}, headers=auth(), timeout=10)
    assert t.json()["task"]["status"] == "TASK_STATUS_FAILED" and t.json()["task"]["reason"] == "canceled"


def test_queue_position_and_eta_in_every_dialect(svc):
    ahead = requests.post(f"{svc.base}/v1/jobs", json=long_body(), headers=auth(), timeout=30).json()
    wait_running(svc.base, ahead["id"])
    job = requests.post(f"{svc.base}/api/v1/job/create", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video",
        "args": {"mode": "turbo", "prompt": "x", "image": IMAGE, "duration": 1, "resolution": "540p"}}).json()
    q = requests.get(f"{svc.base}/api/v1/job/query", params={"id": job["job_id"]}, headers=auth(), timeout=10)
    assert q.json()["data"]["status"] == 0 and q.json()["data"]["eta"] >= 1
    t = requests.get(f"{svc.base}/v3/async/task-result", params={"task_id": job["job_id"]}, headers=auth(), timeout=10)
    assert t.json()["task"]["status"] == "TASK_STATUS_QUEUED" and t.json()["task"]["eta"] >= 1
    v = requests.get(f"{svc.base}/v1/jobs/{job['job_id']}", headers=auth(), timeout=10).json()
    assert v["queue_position"] == 0 and v["eta"] >= 1
    running = requests.get(f"{svc.base}/v3/async/task-result", params={"task_id": ahead["id"]}, headers=auth(),
                           timeout=10).json()["task"]
    assert running["status"] == "TASK_STATUS_PROCESSING"
    requests.post(f"{svc.base}/v1/jobs/{ahead['id']}/cancel", headers=auth(), timeout=10)
    assert wait_v1(svc.base, job["job_id"], timeout=30)["status"] == "succeeded"
