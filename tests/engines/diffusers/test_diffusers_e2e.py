"""The diffusers engine through the HTTP API: a real server, a routes file, tiny models on disk."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from tests.helpers import KEY, Service, auth, data_uri, png_bytes, textured_image, wait_job


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model):
    root = tmp_path_factory.mktemp("gpu-e2e")
    small = 'steps = 2\nmax_area = 3072\n'
    routes = root / "routes.toml"
    routes.write_text(f'''
[[routes]]
model = "vidu/vidu-q3/image-to-video"
modes = ["pro"]
path = "{tiny_model("wan2.1-i2v")}"
kind = "wan2.1-i2v"
resolutions = ["540p"]
{small}
[[routes]]
model = "vidu/vidu-q3/image-to-video"
modes = ["turbo"]
path = "{tiny_model("ltx-video")}"
kind = "ltx-video"
{small}
[[routes]]
model = "vidu/vidu-q2/start-end-to-video"
modes = ["pro"]
path = "{tiny_model("wan2.1-flf2v")}"
kind = "wan2.1-flf2v"
{small}
[[routes]]
model = "vidu/vidu-q2/start-end-to-video"
modes = ["turbo"]
path = "{tiny_model("ltx-video")}"
kind = "ltx-video"
{small}
[[routes]]
model = "vidu/vidu-q2/start-end-to-video"
modes = ["pro-fast"]
path = "{tiny_model("wan2.2-ti2v-5b")}"
kind = "wan2.2-ti2v-5b"

[[routes]]
model = "vidu/vidu-q2/image-to-video"
modes = ["turbo"]
path = "{tiny_model("ltx-video")}"
kind = "ltx-video"
steps = 400
max_area = 3072

[[routes]]
model = "vidu/vidu-q2/image-to-video"
modes = ["pro"]
path = "{tiny_model("ltx-2")}"
kind = "ltx-2"
guidance = 1.0
steps = 2
max_area = 1024
''')
    svc = Service(root / "data", STILLMOTION_ROUTES_FILE=str(routes), STILLMOTION_ENGINES="motion,diffusers",
                  STILLMOTION_GPU_DEVICE="cpu")
    yield svc
    svc.stop()


def image(seed: int) -> str:
    return data_uri(png_bytes(textured_image(320, 180, seed)))


def create(base: str, model: str, **args) -> requests.Response:
    body = {"model": model, "args": {"prompt": "the camera pans left", "duration": 1, "resolution": "540p", **args}}
    return requests.post(f"{base}/api/v1/job/create", json=body, headers=auth(), timeout=30)


def decode(path: Path) -> tuple[np.ndarray, bool]:
    with av.open(str(path)) as box:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in box.decode(video=0)])
        return frames, bool(box.streams.audio)


def result(base: str, data: dict, tmp_path: Path, name: str) -> tuple[np.ndarray, bool]:
    assert data["status"] == 2, data
    path = tmp_path / name
    path.write_bytes(requests.get(data["result"]["videos"][0]["url"], timeout=30).content)
    return decode(path)


def test_image_to_video_and_start_end_on_each_family(server, tmp_path):
    jobs = {
        "wan-i2v": create(server.base, "vidu/vidu-q3/image-to-video", mode="pro", image=image(1), seed=5),
        "wan-again": create(server.base, "vidu/vidu-q3/image-to-video", mode="pro", image=image(1), seed=5),
        "ltx-i2v": create(server.base, "vidu/vidu-q3/image-to-video", mode="turbo", image=image(1), seed=5),
        "ltx-start-end": create(server.base, "vidu/vidu-q2/start-end-to-video", mode="turbo", image=image(1),
                                image_tail=image(2), seed=5),
        "flf2v": create(server.base, "vidu/vidu-q2/start-end-to-video", mode="pro", image=image(1),
                        image_tail=image(2), seed=5),
    }  # in this order the worker's warm pipeline is reused between neighbours
    ids = {}
    for name, r in jobs.items():
        assert r.status_code == 200, (name, r.text)
        ids[name] = r.json()["job_id"]
    decoded = {}
    for name, job_id in ids.items():
        data = wait_job(server.base, job_id, timeout=240)
        decoded[name] = result(server.base, data, tmp_path, f"{name}.mp4")[0]
        assert decoded[name].shape == (24, 540, 960, 3), name  # exactly duration x 24 frames, exact size
    assert np.array_equal(decoded["wan-i2v"], decoded["wan-again"])  # same seed, same clip
    assert not np.array_equal(decoded["wan-i2v"], decoded["ltx-i2v"])


def test_ltx2_clip_carries_its_own_audio(server, tmp_path):
    # Sound asked for: the model's own track leads the mix (no sound asked for: no track at all).
    r = create(server.base, "vidu/vidu-q2/image-to-video", mode="pro", image=image(3), generate_audio=True,
               voice_id="female-1")
    assert r.status_code == 200, r.text
    job_id = r.json()["job_id"]
    data = wait_job(server.base, job_id, timeout=240)
    frames, has_audio = result(server.base, data, tmp_path, "ltx2.mp4")
    assert frames.shape == (24, 540, 960, 3)
    assert has_audio
    job = requests.get(f"{server.base}/v1/jobs/{job_id}", headers=auth(), timeout=10).json()
    assert job["output"]["has_audio"] is True
    assert job["metadata"]["audio"]["source"] == "engine"


def test_routed_model_refuses_what_it_cannot_serve_at_submit(server):
    r = create(server.base, "vidu/vidu-q2/start-end-to-video", mode="pro-fast", resolution="720p",
               image=image(1), image_tail=image(2))
    assert r.status_code == 400 and "image_tail" in r.text and "end frame" in r.text, r.text
    r = create(server.base, "vidu/vidu-q3/image-to-video", mode="pro", resolution="720p", image=image(1))
    assert r.status_code == 400 and "resolution" in r.text and "540p" in r.text, r.text
    r = create(server.base, "vidu/vidu-q3/image-to-video", mode="pro", duration=8, image=image(1))
    assert r.status_code == 400 and "duration" in r.text, r.text


def test_cancel_mid_run_over_http(server):
    r = create(server.base, "vidu/vidu-q2/image-to-video", mode="turbo", image=image(4))  # 400 steps
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is denoising, with progress reported
        data = requests.get(f"{server.base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=10)
        if data.json()["data"].get("progress", 0) > 0:
            break
        time.sleep(0.2)
    else:
        pytest.fail("no progress reported while denoising")
    cancel = requests.post(f"{server.base}/v1/jobs/{job_id}/cancel", headers=auth(KEY), timeout=10)
    assert cancel.status_code == 200, cancel.text
    data = wait_job(server.base, job_id, timeout=60)
    assert data["status"] == 4, data  # canceled, not succeeded
