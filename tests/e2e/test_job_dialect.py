"""The job dialect end to end over real HTTP: create, poll, callback, download, decode."""

from __future__ import annotations

import numpy as np
import requests

from stillmotion.media.imaging import fit_to_frame
from stillmotion.media.video import probe, read_frames
from tests.helpers import KEY, OTHER_KEY, auth, data_uri, png_bytes, textured_image, wait_job


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def download(url: str, path) -> None:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    path.write_bytes(r.content)


def test_q3_image_to_video_with_callback(service, files, tmp_path):
    img = textured_image(800, 600, seed=1)
    image_url = files.add_bytes("/parrot.png", png_bytes(img))
    body = {
        "model": "vidu/vidu-q3/image-to-video",
        "args": {"mode": "pro", "prompt": "The camera zooms in slowly.", "image": image_url,
                 "duration": "2", "resolution": "540p"},
        "callback_url": files.url("/cb/q3"),
    }
    r = requests.post(f"{service.base}/api/v1/job/create", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["code"] == 0 and created["message"] == "success"
    assert created["job_id"] == created["data"]["job_id"]
    assert created["data"]["amount"] == "0.112"  # 2 s x 0.056 (pro 540p)

    data = wait_job(service.base, created["job_id"])
    assert data["status"] == 2, data
    assert data["progress"] == 100 and data["refunded"] is False and data["error"] is None
    video = data["result"]["videos"][0]
    assert data["result"]["images"][0]["url"] == video["url"]
    assert (video["width"], video["height"], video["fps"], video["duration"]) == (720, 540, 24, 2)

    out = tmp_path / "out.mp4"
    download(video["url"], out)
    info = probe(out)
    assert (info.codec, info.pix_fmt, info.width, info.height, info.frames) == ("h264", "yuv420p", 720, 540, 48)
    assert info.fps == 24 and info.faststart and "high" in info.profile.lower()
    first = next(read_frames(out))
    assert psnr(first, fit_to_frame(img, 720, 540)) > 30
    cover = requests.get(video["cover_url"], timeout=10)
    assert cover.status_code == 200 and cover.content[:3] == b"\xff\xd8\xff"

    posts = files.wait_posts(1)
    path, payload = next(p for p in posts if p[0] == "/cb/q3")
    assert payload["code"] == 0 and payload["data"]["job_id"] == created["job_id"]
    assert payload["data"]["status"] == 2


def test_range_requests_and_signed_urls(service, files, tmp_path):
    body = {"model": "vidu/vidu-q3/image-to-video",
            "args": {"mode": "turbo", "prompt": "static shot", "image": data_uri(png_bytes(textured_image(320, 320))),
                     "duration": 1, "resolution": "540p"}}
    job_id = requests.post(f"{service.base}/api/v1/job/create", json=body, headers=auth(), timeout=30).json()["job_id"]
    url = wait_job(service.base, job_id)["result"]["videos"][0]["url"]
    whole = requests.get(url, timeout=10).content
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    tampered = url.replace("sig=", "sig=0")
    assert requests.get(tampered, timeout=10).status_code == 403
    expired = url.split("?")[0] + "?expires=1&sig=00"
    assert requests.get(expired, timeout=10).status_code == 403


def test_start_end_ends_on_tail(service, tmp_path):
    head = textured_image(640, 360, seed=2)
    tail = np.roll(head, 60, axis=1)
    body = {"model": "vidu/vidu-q2/start-end-to-video",
            "args": {"mode": "turbo", "prompt": "the scene slides", "image": data_uri(png_bytes(head)),
                     "image_tail": data_uri(png_bytes(tail)), "duration": 1, "resolution": "540p"}}
    r = requests.post(f"{service.base}/api/v1/job/create", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["amount"] == "0.03"  # q2 turbo 540p, 1 s = start price
    data = wait_job(service.base, r.json()["job_id"])
    assert data["status"] == 2, data
    out = tmp_path / "se.mp4"
    download(data["result"]["videos"][0]["url"], out)
    frames = list(read_frames(out))
    assert len(frames) == 24 and frames[0].shape == (540, 960, 3)
    assert psnr(frames[0], fit_to_frame(head, 960, 540)) > 30
    assert psnr(frames[-1], fit_to_frame(tail, 960, 540)) > 30


def test_jobs_are_private_to_their_key(service):
    body = {"model": "vidu/vidu-q3/image-to-video",
            "args": {"prompt": "pan left", "image": data_uri(png_bytes(textured_image(256, 256))), "duration": 1,
                     "resolution": "540p", "mode": "turbo"}}
    job_id = requests.post(f"{service.base}/api/v1/job/create", json=body, headers=auth(KEY), timeout=30).json()["job_id"]
    other = requests.get(f"{service.base}/api/v1/job/query", params={"id": job_id}, headers=auth(OTHER_KEY), timeout=10)
    assert other.status_code == 404 and other.json() == {"code": 404, "message": other.json()["message"], "data": None}
    other = requests.get(f"{service.base}/v3/async/task-result", params={"task_id": job_id}, headers=auth(OTHER_KEY), timeout=10)
    assert other.status_code == 404 and other.json()["reason"] == "NotFound"
    assert requests.get(f"{service.base}/api/v1/job/query", params={"id": job_id}, headers=auth(KEY), timeout=10).status_code == 200
