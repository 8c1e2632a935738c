"""Every job appears in every dialect's read endpoints, each in its own shape, for its own key only:
one job created through each of the five dialects, read through all five (issue 16, item 3)."""

from __future__ import annotations

import time

import requests

from tests.helpers import KEY, OTHER_KEY, data_uri, png_bytes, textured_image

IMAGE = data_uri(png_bytes(textured_image(320, 180, seed=7)))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_all(base: str) -> dict[str, str]:
    """One short job through each dialect's create; their ids by dialect."""
    h = bearer(KEY)
    made = {
        "job": requests.post(f"{base}/api/v1/job/create", headers=h, timeout=30, json={
            "model": "vidu/vidu-q3/image-to-video",
            "args": {"mode": "turbo", "prompt": "p", "image": IMAGE, "duration": "1", "resolution": "540p"}}),
        "async": requests.post(f"{base}/v3/async/vidu-q3-turbo-i2v", headers=h, timeout=30, json={
            "images": [IMAGE], "duration": 1, "resolution": "540p", "audio": False}),
        "v1": requests.post(f"{base}/v1/jobs", headers=h, timeout=30, json={
            "model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "duration": 1, "resolution": "540p",
                                                    "audio": False}}),
        "openai": requests.post(f"{base}/v1/videos", headers=h, timeout=30, json={
            "model": "vidu-q3-turbo-i2v", "prompt": "p", "input_reference": {"image_url": IMAGE}, "seconds": "1",
            "size": "960x540", "audio": False}),
        "vidu": requests.post(f"{base}/ent/v2/img2video", headers={"Authorization": f"Token {KEY}"}, timeout=30,
                              json={"model": "viduq3-turbo", "images": [IMAGE], "duration": 1, "resolution": "540p",
                                    "audio": False}),
    }
    for name, r in made.items():
        assert r.status_code in (200, 201), (name, r.status_code, r.text)
    body = {name: r.json() for name, r in made.items()}
    return {"job": body["job"]["data"]["job_id"], "async": body["async"]["task_id"], "v1": body["v1"]["id"],
            "openai": body["openai"]["id"], "vidu": body["vidu"]["task_id"]}


def read(base: str, dialect: str, job_id: str, key: str) -> requests.Response:
    if dialect == "job":
        return requests.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=bearer(key), timeout=10)
    if dialect == "async":
        return requests.get(f"{base}/v3/async/task-result", params={"task_id": job_id}, headers=bearer(key),
                            timeout=10)
    if dialect == "v1":
        return requests.get(f"{base}/v1/jobs/{job_id}", headers=bearer(key), timeout=10)
    if dialect == "openai":
        return requests.get(f"{base}/v1/videos/{job_id}", headers=bearer(key), timeout=10)
    return requests.get(f"{base}/ent/v2/tasks/{job_id}/creations", headers={"Authorization": f"Token {key}"},
                        timeout=10)


def finished_view(dialect: str, body: dict) -> tuple[bool, str | None]:
    """(ended, video URL) as each dialect shows a job."""
    if dialect == "job":
        data = body["data"]
        return data["status"] in (2, 3, 4), data["result"] and data["result"]["videos"][0]["url"]
    if dialect == "async":
        ended = body["task"]["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")
        return ended, body["videos"][0]["video_url"] if body.get("videos") else None
    if dialect == "v1":
        return body["status"] in ("succeeded", "failed", "canceled"), (body["output"] or {}).get("video_url")
    if dialect == "openai":
        return body["status"] in ("completed", "failed"), body["id"] if body["status"] == "completed" else None
    return body["state"] in ("success", "failed"), body["creations"][0]["url"] if body["creations"] else None


def test_every_job_reads_in_every_dialect_for_its_own_key_only(service):
    ids = create_all(service.base)
    dialects = list(ids)
    deadline = time.monotonic() + 180
    for made_by, job_id in ids.items():  # wait until each has ended, read through the native API
        while read(service.base, "v1", job_id, KEY).json()["status"] not in ("succeeded", "failed", "canceled"):
            assert time.monotonic() < deadline, f"{made_by} job {job_id} did not end"
            time.sleep(0.2)
    for made_by, job_id in ids.items():
        for reader in dialects:
            r = read(service.base, reader, job_id, KEY)
            assert r.status_code == 200, (made_by, reader, r.text)
            ended, video = finished_view(reader, r.json())
            assert ended and video, (made_by, reader, r.json())
            other = read(service.base, reader, job_id, OTHER_KEY)  # another key: as if it did not exist
            assert other.status_code == 404, (made_by, reader, other.status_code, other.text)
