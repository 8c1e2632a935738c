"""End to end on S3 (moto on loopback): an API process and a worker process with separate data
dirs (no shared filesystem) and one database; the result is proxied by the API with Range,
decodes whole, and retention deletes its objects."""

from __future__ import annotations

import io
import time
from pathlib import Path

import av
import boto3
import requests
from PIL import Image

from tests.helpers import Service, auth, data_uri, png_bytes, textured_image, wait_job, wait_v1

from .conftest import aws_env


def objects(bucket: str, prefix: str) -> list[str]:
    page = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in page.get("Contents", [])]


def test_a_job_runs_on_another_host_through_s3_and_retention_deletes_it(
    tmp_path: Path, s3_env: str, moto_url: str
) -> None:
    env = {**aws_env(moto_url), "STILLMOTION_STORAGE_URL": f"s3://{s3_env}/sm",
           "STILLMOTION_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "STILLMOTION_SECRET": "s" * 32,
           "STILLMOTION_RETENTION_S": "4", "STILLMOTION_HOUSEKEEPING_INTERVAL_S": "1"}
    api = Service(tmp_path / "api", "--workers", "0", **env)
    worker = Service(tmp_path / "worker", command="worker", **env)
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "turbo", "prompt": "zoom in", "duration": 1, "resolution": "540p",
                         "image": data_uri(png_bytes(textured_image(320, 240)))}}
        job_id = requests.post(f"{api.base}/api/v1/job/create", json=body, headers=auth(), timeout=30).json()["job_id"]
        assert len(objects(s3_env, "sm/inputs/")) == 1  # the input went to the store, not the API's disk
        done = wait_job(api.base, job_id, timeout=120)
        assert done["status"] == 2, done
        url = done["result"]["videos"][0]["url"]
        assert url.startswith(api.base + "/files/outputs/")
        stored = objects(s3_env, f"sm/outputs/{job_id}/")
        assert len(stored) == 2 and all(k.endswith(("video.mp4", "cover.jpg")) for k in stored)
        assert not list((tmp_path / "worker").rglob("*.mp4")) and not list((tmp_path / "api").rglob("*.mp4"))

        whole = requests.get(url, timeout=30)
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        with av.open(io.BytesIO(whole.content)) as box:
            frames = sum(1 for _ in box.decode(video=0))
        assert frames >= 8  # a whole 1 s clip decodes
        part = requests.get(url, headers={"Range": "bytes=10-109"}, timeout=30)
        assert part.status_code == 206 and part.content == whole.content[10:110]
        assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
        tail = requests.get(url, headers={"Range": "bytes=-16"}, timeout=30)
        assert tail.status_code == 206 and tail.content == whole.content[-16:]
        assert requests.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=30).status_code == 416
        assert requests.get(url.replace("sig=", "sig=0"), timeout=30).status_code == 403
        head = requests.head(url, timeout=30)
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole.content)

        deadline = time.monotonic() + 30  # retention: 4 s after the end, housekeeping every second
        while objects(s3_env, f"sm/outputs/{job_id}/"):
            assert time.monotonic() < deadline, "retention did not delete the objects"
            time.sleep(0.5)
        assert requests.get(url, timeout=30).status_code == 404
    finally:
        worker.stop()
        api.stop()


def test_presigned_result_urls_point_at_the_store(tmp_path: Path, s3_env: str, moto_url: str) -> None:
    env = {**aws_env(moto_url), "STILLMOTION_STORAGE_URL": f"s3://{s3_env}", "STILLMOTION_RESULT_URLS": "presigned"}
    service = Service(tmp_path / "one", **env)
    try:
        body = {"model": "vidu-q3-turbo-i2v", "input": {"images": [data_uri(png_bytes(textured_image(320, 240)))],
                                                       "prompt": "pan left", "duration": 1, "resolution": "540p"}}
        job_id = requests.post(f"{service.base}/v1/jobs", json=body, headers=auth(), timeout=30).json()["id"]
        job = wait_v1(service.base, job_id, timeout=120)
        assert job["status"] == "succeeded", job
        url = job["output"]["video_url"]
        assert url.startswith(f"{moto_url}/{s3_env}/outputs/{job_id}/") and "X-Amz-Signature=" in url
        got = requests.get(url, timeout=30)
        assert got.status_code == 200
        with av.open(io.BytesIO(got.content)) as box:
            assert sum(1 for _ in box.decode(video=0)) >= 8
        # The OpenAI dialect's content is proxied from the store; the spritesheet is built from the
        # stored MP4 on first request and stored beside it.
        content = f"{service.base}/v1/videos/{job_id}/content"
        video = requests.get(content, headers={**auth(), "Range": "bytes=0-99"}, timeout=30)
        assert video.status_code == 206 and video.content == got.content[:100]
        sheet = requests.get(content, params={"variant": "spritesheet"}, headers=auth(), timeout=60)
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg", sheet.text
        assert Image.open(io.BytesIO(sheet.content)).width == 5 * 256
        assert any(k.endswith("/spritesheet.jpg") for k in objects(s3_env, f"outputs/{job_id}/"))
        thumb = requests.get(content, params={"variant": "thumbnail"}, headers=auth(), timeout=30)
        assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    finally:
        service.stop()
