"""The async-task dialect end to end, including the official Novita SDK pointed at us."""

from __future__ import annotations

import requests
from novita_client import NovitaClient
from novita_client.proto import V3TaskResponseStatus

from stillmotion.media.video import probe, read_frames
from tests.helpers import KEY, auth, data_uri, png_bytes, textured_image


def test_novita_sdk_submits_polls_and_downloads(service, files, tmp_path):
    client = NovitaClient(KEY, base_url=service.base)
    body = {"images": [files.add_bytes("/sdk.png", png_bytes(textured_image(640, 480, seed=3)))],
            "prompt": "The camera pans right.", "duration": 1, "resolution": "540p", "seed": 1234,
            "audio": False, "extra": {"webhook": {"url": files.url("/hook/sdk")}}}
    submitted = client._post("/v3/async/vidu-q3-turbo-i2v", body)
    task_id = submitted["task_id"]
    result = client.wait_for_task_v3(task_id, wait_for=120)
    assert result.task.status == V3TaskResponseStatus.TASK_STATUS_SUCCEED
    assert result.task.task_type == "VIDU_Q3_TURBO_I2V" and result.task.progress_percent == 100
    assert result.extra.seed == 1234 and result.extra.debug_info.complete_time_ms > 0
    url = result.get_video_urls()[0]
    assert result.videos[0].video_url_ttl == 3600 and result.videos[0].video_type == "mp4"
    out = tmp_path / "sdk.mp4"
    out.write_bytes(requests.get(url, timeout=30).content)
    info = probe(out)
    assert (info.width, info.height, info.frames) == (720, 540, 24)  # follows the image's 4:3

    files.wait_posts(1)  # the callback has landed
    hook = [p for path, p in files.posts if path == "/hook/sdk"]
    assert hook and hook[0]["event_type"] == "ASYNC_TASK_RESULT"
    assert hook[0]["payload"]["task"]["task_id"] == task_id
    assert hook[0]["payload"]["task"]["status"] == "TASK_STATUS_SUCCEED"


def _submit_pro(service, seed: int) -> str:
    body = {"images": [data_uri(png_bytes(textured_image(400, 300, seed=4)))], "prompt": "zoom out",
            "duration": 1, "resolution": "540p", "aspect_ratio": "1:1", "seed": seed}
    r = requests.post(f"{service.base}/v3/async/vidu-q3-pro-i2v", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["task_id"]


def _wait_task(service, task_id: str) -> dict:
    import time

    for _ in range(600):
        body = requests.get(f"{service.base}/v3/async/task-result", params={"task_id": task_id},
                            headers=auth(), timeout=10).json()
        if body["task"]["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
            return body
        assert isinstance(body["task"]["eta"], int) and isinstance(body["task"]["progress_percent"], int)
        assert body["videos"] == []
        time.sleep(0.2)
    raise TimeoutError


def test_pro_aspect_ratio_and_same_seed_same_frames(service, tmp_path):
    a, b = _submit_pro(service, 77), _submit_pro(service, 77)
    frames = []
    for task_id in (a, b):
        body = _wait_task(service, task_id)
        assert body["task"]["status"] == "TASK_STATUS_SUCCEED", body
        assert body["extra"]["seed"] == 77
        out = tmp_path / f"{task_id}.mp4"
        out.write_bytes(requests.get(body["videos"][0]["video_url"], timeout=30).content)
        assert probe(out).width == probe(out).height == 540
        frames.append(list(read_frames(out)))
    assert len(frames[0]) == len(frames[1]) == 24
    assert all((x == y).all() for x, y in zip(frames[0], frames[1], strict=True))


def test_random_seed_is_reported(service):
    task_id = _submit_pro(service, 0)
    body = requests.get(f"{service.base}/v3/async/task-result", params={"task_id": task_id}, headers=auth(), timeout=10).json()
    assert isinstance(body["extra"]["seed"], int) and body["extra"]["seed"] > 0
    assert set(body) == {"task", "images", "audios", "videos", "extra"}
    assert set(body["task"]) == {"task_id", "task_type", "status", "reason", "eta", "progress_percent"}
