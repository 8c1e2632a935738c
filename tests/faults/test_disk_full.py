"""F1/F7/F8: the data dir fills up mid-render (a small tmpfs, root only). The worker survives,
/readyz says why it is not ready, creates answer 503 + Retry-After and leave no partial file,
and once space returns the stuck job finishes, new jobs run, and /metrics agrees with the
database."""

from __future__ import annotations

import base64
import re
import time

import numpy as np
import requests

from tests.e2e.test_v1_jobs import v1_body
from tests.faults.support import fill, figure, tmpfs
from tests.helpers import Service, auth, png_bytes, wait_v1


def ready(base: str) -> requests.Response:
    return requests.get(f"{base}/readyz", timeout=10)


def wait_for(check, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


def leftovers(data) -> list[str]:
    return [p.name for p in (data / "inputs").iterdir() if p.name.endswith(".tmp")]


def test_worker_survives_a_full_disk_and_health_says_so(tmp_path):
    with tmpfs(tmp_path / "disk", 48) as disk:
        data = disk / "data"
        svc = Service(data, "--workers", "1", STILLMOTION_MIN_FREE_MB="4", STILLMOTION_RENDER_THREADS="1",
                      STILLMOTION_STALL_AFTER_S="5")
        try:
            long = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30,
                                 json=v1_body(duration=8, resolution="1080p")).json()["id"]
            assert wait_for(lambda: requests.get(f"{svc.base}/v1/jobs/{long}", headers=auth(),
                                                 timeout=10).json()["status"] == "processing", 30, 0.05)
            filler = fill(disk)
            refused = wait_for(lambda: ready(svc.base).status_code == 503, 10)
            body = ready(svc.base).json()
            assert refused and "space" in body["reason"], body
            create = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30, json=v1_body(seed=5))
            assert create.status_code == 503 and int(create.headers["retry-after"]) > 0, create.text
            assert create.json()["error"]["code"] == "ServiceUnavailable"
            assert leftovers(data) == []
            time.sleep(4)  # the render hits the full disk; its final writes fail too
            filler.unlink()
            final = wait_v1(svc.base, long, timeout=90)
            assert final["status"] == "succeeded", final
            assert wait_for(lambda: ready(svc.base).status_code == 200, 15), ready(svc.base).text
            after = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30, json=v1_body(seed=6))
            assert after.status_code == 201, after.text
            assert wait_v1(svc.base, after.json()["id"])["status"] == "succeeded"
            listed = requests.get(f"{svc.base}/v1/jobs", headers=auth(), params={"limit": 100}, timeout=10).json()
            statuses = [j["status"] for j in listed["data"]]
            metrics = requests.get(f"{svc.base}/metrics", timeout=10).text
            gauge = {m[0]: float(m[1]) for m in re.findall(r'^stillmotion_jobs\{state="(\w+)"\} ([\d.]+)$',
                                                            metrics, re.M)}
            assert statuses.count("succeeded") == gauge["succeeded"] == 2 and gauge["processing"] == 0
            assert "stillmotion_jobs_ended_total{state=\"failed\"}" not in metrics  # nothing failed
        finally:
            svc.stop()
        log = (svc.log.name and open(svc.log.name).read())
        assert "Exception in thread" not in log
        figure("disk-full fault: job finished after space returned; creates refused 503 while full", "yes")


def test_a_create_that_meets_a_full_disk_is_refused_and_leaves_nothing(tmp_path):
    noise = np.random.default_rng(3).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = "data:image/png;base64," + base64.b64encode(png_bytes(noise)).decode()  # ~900 KB, no compression
    with tmpfs(tmp_path / "disk", 16) as disk:
        data = disk / "data"
        svc = Service(data, "--workers", "0", STILLMOTION_MIN_FREE_MB="0")  # no space floor: the write itself fails
        try:
            fill(disk, leave_bytes=64 * 1024)
            r = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30,
                              json={**v1_body(), "input": {**v1_body()["input"], "images": [image]}})
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert leftovers(data) == [] and list((data / "inputs").iterdir()) == []
            usage = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()
            assert usage["ledger"] == [], usage  # nothing charged
            assert requests.get(f"{svc.base}/v1/jobs", headers=auth(), timeout=10).json()["data"] == []
        finally:
            svc.stop()
