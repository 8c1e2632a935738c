"""The job core across processes and on the wire: what one process changes, another sees; what
the operator configures never reaches a client; the event loop stays free while clients poll."""

from __future__ import annotations

import statistics
import threading
import time

import requests

from stillmotion.store import Database
from tests.helpers import KEY, Service, auth, data_uri, png_bytes, textured_image, wait_v1

IMAGE = data_uri(png_bytes(textured_image(320, 240)))
TURBO = {"model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "prompt": "pan left", "duration": 1,
                                                 "resolution": "540p", "audio": False}}


def test_files_purged_by_a_worker_process_are_no_longer_signed_by_the_api(tmp_path):
    data = tmp_path / "data"
    api = Service(data, "--workers", "0", STILLMOTION_RETENTION_S="3600")
    worker = Service(data, "--workers", "1", command="worker",
                     STILLMOTION_RETENTION_S="2", STILLMOTION_HOUSEKEEPING_INTERVAL_S="0.3")
    try:
        job_id = requests.post(f"{api.base}/v1/jobs", json=TURBO, headers=auth(), timeout=30).json()["id"]
        job = wait_v1(api.base, job_id, timeout=120)
        assert job["status"] == "succeeded" and not job["output"]["files_deleted"]
        url = job["output"]["video_url"]
        assert requests.get(url, timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the worker's housekeeping deletes the files
            job = requests.get(f"{api.base}/v1/jobs/{job_id}", headers=auth(), timeout=10).json()
            if job["output"]["files_deleted"]:
                break
            time.sleep(0.2)
        assert job["output"]["files_deleted"] is True and job["output"]["video_url"] is None
        assert requests.get(url, timeout=10).status_code == 404
        query = requests.get(f"{api.base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=10)
        assert query.json()["data"]["status"] == 2
    finally:
        worker.stop()
        api.stop()


def test_no_response_carries_the_route_or_weights(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    routes = tmp_path / "routes.toml"
    secret_path = "/srv/weights/SECRET-wan21-720p"
    routes.write_text(f'[[routes]]\nmodel = "*"\nmodes = ["pro"]\npath = "{secret_path}"\nkind = "wan2.1-i2v"\n')
    svc = Service(data, "--workers", "0", STILLMOTION_ROUTES_FILE=str(routes))
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "pro", "prompt": "zoom in", "image": IMAGE, "duration": 5, "resolution": "720p"}}
        created = requests.post(f"{svc.base}/api/v1/job/create", json=body, headers=auth(), timeout=30)
        assert created.status_code == 200, created.text
        job_id = created.json()["data"]["job_id"]
        texts = [
            created.text,
            requests.get(f"{svc.base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=10).text,
            requests.get(f"{svc.base}/v1/jobs/{job_id}", headers=auth(), timeout=10).text,
            requests.get(f"{svc.base}/v1/jobs", headers=auth(), timeout=10).text,
        ]
        with requests.get(f"{svc.base}/v1/jobs/{job_id}/events", headers=auth(), stream=True, timeout=10) as sse:
            texts.append(next(sse.iter_lines(decode_unicode=True, delimiter="\n\n")))
        v1 = requests.post(f"{svc.base}/v1/jobs", json={"model": body["model"], "input": body["args"]},
                           headers=auth(), timeout=30)
        texts.append(v1.text)
        for text in texts:
            assert "SECRET" not in text and "wan2.1-i2v" not in text and '"route"' not in text, text[:300]
        with Database(f"sqlite:///{data / 'stillmotion.db'}") as db:  # the worker still gets it
            job = db.jobs.get(job_id)
            assert job is not None and job.engine == "diffusers" and job.route is not None
            assert job.route["path"] == secret_path and "route" not in job.metadata
    finally:
        svc.stop()


def test_livez_answers_quickly_while_64_clients_poll(tmp_path):
    svc = Service(tmp_path / "data", "--workers", "0", STILLMOTION_RATE_LIMIT_PER_MIN="0")
    try:
        job_id = requests.post(f"{svc.base}/v1/jobs", json=TURBO, headers=auth(), timeout=30).json()["id"]
        stop = threading.Event()
        polls = [0] * 64

        def poll(i: int) -> None:
            with requests.Session() as s:
                while not stop.is_set():
                    s.get(f"{svc.base}/v1/jobs/{job_id}", headers=auth(KEY), timeout=30)
                    polls[i] += 1

        threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(64)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        latencies = []
        for _ in range(20):
            t0 = time.perf_counter()
            assert requests.get(f"{svc.base}/livez", timeout=10).status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(30)
        assert sum(polls) > 64  # the pollers were really polling
        assert statistics.median(latencies) < 0.1, latencies
    finally:
        svc.stop()
