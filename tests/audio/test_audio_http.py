"""Audio over real HTTP: GET /v1/voices, voice_id refusals, sound in results, bad music refunded."""

from __future__ import annotations


import pytest
import requests

from stillmotion.media.video import probe
from tests.audio.audio_support import decode_track, encode, tone
from tests.helpers import auth, data_uri, png_bytes, textured_image, wait_job, wait_v1

Q2 = "vidu/vidu-q2/image-to-video"
IMAGE = data_uri(png_bytes(textured_image(320, 192, seed=2)))


def test_voices_listed(service):
    r = requests.get(f"{service.base}/v1/voices", headers=auth(), timeout=10)
    assert r.status_code == 200
    voices = r.json()["data"]
    assert len(voices) >= 12
    first = voices[0]
    assert first["id"] == "female-1" and first["language"] == "en-US" and first["description"]
    assert requests.get(f"{service.base}/v1/voices", timeout=10).status_code == 401


def test_unknown_voice_refused_naming_valid_ids(service):
    body = {"model": Q2, "args": {"prompt": "hi", "image": IMAGE, "generate_audio": True, "voice_id": "robot-9"}}
    r = requests.post(f"{service.base}/api/v1/job/create", json=body, headers=auth(), timeout=10)
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("voice_id: unknown voice_id 'robot-9'; valid: female-1, female-2,")


def test_q2_job_with_voice_has_audio(service, tmp_path):
    args = {"prompt": 'A man smiles and says "Good evening, everyone."', "image": IMAGE, "duration": "2",
            "resolution": "540p", "mode": "turbo", "generate_audio": "true",
            "voice_id": "male-3", "seed": 5}
    r = requests.post(f"{service.base}/api/v1/job/create", json={"model": Q2, "args": args}, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    data = wait_job(service.base, r.json()["job_id"])
    assert data["status"] == 2, data
    video = data["result"]["videos"][0]
    assert video["has_audio"] is True
    path = tmp_path / "q2.mp4"
    path.write_bytes(requests.get(video["url"], timeout=30).content)
    info = probe(path)
    assert info.has_audio and abs(info.audio_duration - info.duration) <= 1 / 24
    assert abs(len(decode_track(path)) / 48_000 - 2.0) <= 1 / 24
    native = requests.get(f"{service.base}/v1/jobs/{r.json()['job_id']}", headers=auth(), timeout=10).json()
    speech = native["metadata"]["audio"]["speech"]
    assert speech["text"] == "Good evening, everyone." and speech["lines"][0]["voice"] == "male-3"


def _pro_with_music(service, url: str) -> dict:
    body = {"images": [IMAGE], "prompt": "zoom in", "duration": 1, "resolution": "540p", "audio": url}
    r = requests.post(f"{service.base}/v3/async/vidu-q3-pro-i2v", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    return wait_v1(service.base, r.json()["task_id"], poll_s=0.2)


@pytest.mark.parametrize("name, data, content_type, code, message", [
    ("missing", None, None, "AudioDownloadFailure", "audio: download failed: HTTP 404"),
    ("picture.mp3", "png", "audio/mpeg", "AudioInvalid", "audio: not a supported audio file"),
    ("huge.wav", "huge", "audio/wav", "AudioDownloadFailure", "audio: larger than the 20 MB limit"),
])
def test_bad_music_fails_visibly_with_refund(service, files, name, data, content_type, code, message):
    if data is None:
        url = files.url(f"/{name}")
    else:
        payload = png_bytes(textured_image(64, 64)) if data == "png" else b"\0" * (21 * 1024 * 1024)
        url = files.add_bytes(f"/{name}", payload, content_type)
    job = _pro_with_music(service, url)
    assert job["status"] == "failed" and job["refunded"] is True
    assert job["error"]["code"] == code and job["error"]["message"].startswith(message)


def test_pro_music_job_succeeds(service, files):
    url = files.add_bytes("/ok.m4a", encode(tone(440, 3), "m4a"), "audio/mp4")
    job = _pro_with_music(service, url)
    assert job["status"] == "succeeded", job
    assert job["metadata"]["audio"]["music"]["format"] == "m4a"
    assert job["metadata"]["audio"]["music"]["fit"] == "trimmed"
