"""Vidu's official API (/ent/v2) against a real server on loopback: every endpoint and field,
HMAC-signed callbacks checked by a verifier written from Vidu's docs, cancel, paging, bad inputs
in Vidu's error body, cross-dialect visibility and key isolation; MP4s decoded with PyAV."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np
import pytest
import requests

from stillmotion.dialects import vidu as dialect
from tests.helpers import KEY, OTHER_KEY, ROOT, Service, auth, data_uri, png_bytes, service_env, textured_image

IMAGE = data_uri(png_bytes(textured_image(320, 240, seed=11)))
TAIL = data_uri(png_bytes(textured_image(320, 240, seed=12)))
MARK = png_bytes(np.full((64, 64, 3), 250, np.uint8))


def token(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("vidu") / "data"
    service = Service(data, "--workers", "1")
    service.data = data  # type: ignore[attr-defined]
    yield service
    service.stop()


def post(svc, endpoint: str, body: dict, key: str = KEY) -> requests.Response:
    return requests.post(f"{svc.base}/ent/v2/{endpoint}", json=body, headers=token(key), timeout=30)


def creations(svc, task_id: str, key: str = KEY) -> requests.Response:
    return requests.get(f"{svc.base}/ent/v2/tasks/{task_id}/creations", headers=token(key), timeout=10)


def wait_task(svc, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = creations(svc, task_id).json()
        assert body["state"] in ("created", "queueing", "processing", "success", "failed"), body
        if body["state"] in ("success", "failed"):
            return body
        assert body["creations"] == []
        time.sleep(0.1)
    raise TimeoutError(task_id)


def decode(url: str, tmp_path: Path) -> dict:
    """The MP4 at `url`, decoded with PyAV: size, frame count, whether it has sound, first frame."""
    out = tmp_path / f"{abs(hash(url))}.mp4"
    out.write_bytes(requests.get(url, timeout=30).content)
    with av.open(str(out)) as box:
        video = box.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(video)]
    with av.open(str(out)) as box:
        has_audio = bool(box.streams.audio)
    return {"width": frames[0].shape[1], "height": frames[0].shape[0], "frames": len(frames),
            "audio": has_audio, "first": frames[0], "last": frames[-1]}


def vidu_signature_ok(headers: dict[str, str], url: str, secret: str) -> bool:
    """Vidu's callback check as its docs state it, written apart from the server's code:
    base64(HMAC-SHA256(secret, METHOD \\n path \\n query \\n access_key \\n Date \\n
    Header1:Value1 \\n ... HeaderN:ValueN \\n)), headers named by X-HMAC-SIGNED-HEADERS."""
    if headers.get("x-hmac-algorithm") != "hmac-sha256" or headers.get("x-hmac-access-key") != "vidu":
        return False
    parts = urlsplit(url)
    text = "POST\n" + (parts.path or "/") + "\n" + parts.query + "\n" + "vidu" + "\n" + headers["date"] + "\n"
    for name in headers["x-hmac-signed-headers"].split(";"):
        text += name + ":" + headers[name.lower()] + "\n"
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), headers["x-hmac-signature"])


def test_signing_string_is_vidus_documented_example():
    text = dialect.string_to_sign("post", "http://127.0.0.1:8080/vidu/callback?name=james&age=36",
                                  "Tue, 06 May 2025 12:09:42 GMT",
                                  [("Date", "Tue, 06 May 2025 12:09:42 GMT"),
                                   ("x-request-nonce", "123e4567-e89b-12d3-a456-426614174000")])
    assert text == ("POST\n/vidu/callback\nname=james&age=36\nvidu\nTue, 06 May 2025 12:09:42 GMT\n"
                    "Date:Tue, 06 May 2025 12:09:42 GMT\nx-request-nonce:123e4567-e89b-12d3-a456-426614174000\n")
    assert dialect.string_to_sign("POST", "http://h", "d", []).startswith("POST\n/\n\nvidu\nd\n")


def test_img2video_q3_pro_every_field_signed_callbacks_and_mp4(svc, hooks, files, tmp_path):
    secret = requests.get(f"{svc.base}/v1/webhook-secret", headers=auth(), timeout=10).json()["secret"]
    hook = "/hook/vidu?name=james&age=36"
    body = {"model": "viduq3-pro", "images": [IMAGE], "prompt": "The camera pans right.", "duration": 1,
            "seed": 4242, "resolution": "540p", "movement_amplitude": "small", "audio": True,
            "audio_type": "all", "voice_id": "female-2", "is_rec": False, "bgm": True, "off_peak": False,
            "watermark": True, "wm_position": 2, "wm_url": files.add_bytes("/mark.png", MARK),
            "payload": "order-77", "meta_data": '{"Label":"AIGC"}', "callback_url": hooks.url(hook), "extra_thing": 1}
    r = post(svc, "img2video", body)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["state"] == "created" and created["model"] == "viduq3-pro"
    assert created["images"] == [IMAGE] and created["prompt"] == "The camera pans right."
    assert (created["duration"], created["seed"], created["resolution"]) == (1, 4242, "540p")
    assert created["payload"] == "order-77" and created["meta_data"] == '{"Label":"AIGC"}'
    assert created["watermark"] is True and created["wm_position"] == 2 and created["bgm"] is True
    assert created["movement_amplitude"] == "small" and created["off_peak"] is False
    # 0.056 USD/s x 1 s at 540p pro = 0.056 USD -> ceil(0.056 x 200) = 12 credits
    assert created["credits"] == 12 and isinstance(created["credits"], int)
    assert created["created_at"].endswith("Z")
    task_id = created["task_id"]

    done = wait_task(svc, task_id)
    assert done["state"] == "success" and done["err_code"] == "" and done["credits"] == 12
    assert done["payload"] == "order-77" and done["meta_data"] == '{"Label":"AIGC"}'
    (creation,) = done["creations"]
    assert set(creation) >= {"id", "url", "cover_url", "watermarked_url"}
    assert creation["watermarked_url"] == creation["url"]  # the one video is watermarked
    video = decode(creation["url"], tmp_path)
    assert (video["width"], video["height"], video["frames"]) == (960, 540, 24)  # the pro entry's 16:9
    # the same request without the watermark: the frames differ in the top-right corner only
    plain = post(svc, "img2video", {k: v for k, v in body.items() if k not in ("watermark", "callback_url")})
    clean = decode(wait_task(svc, plain.json()["task_id"])["creations"][0]["url"], tmp_path)
    diff = np.abs(video["first"].astype(int) - clean["first"].astype(int)).mean(axis=2)
    h, w = diff.shape
    corners = {"top-left": diff[: h // 3, : w // 3], "top-right": diff[: h // 3, -w // 3:],
               "bottom-left": diff[-h // 3:, : w // 3], "bottom-right": diff[-h // 3:, -w // 3:]}
    assert max(corners, key=lambda c: corners[c].mean()) == "top-right", {c: d.mean() for c, d in corners.items()}
    assert corners["top-right"].max() > 100 and corners["bottom-left"].max() < 10
    assert requests.get(creation["cover_url"], timeout=10).headers["content-type"] == "image/jpeg"

    # what had no effect here is kept and said, not dropped
    job = requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(), timeout=10).json()
    assert job["dialect"] == "vidu" and job["model"] == "vidu-q3-pro-i2v"
    assert job["input"]["wm_position"] == "top-right" and job["input"]["watermark"] is True
    meta = job["metadata"]
    assert set(meta["unsupported_fields"]) == {"audio", "audio_type", "voice_id", "bgm", "movement_amplitude"}
    assert meta["ignored_fields"] == ["extra_thing"]
    assert meta["vidu"]["payload"] == "order-77" and meta["vidu"]["movement_amplitude"] == "small"

    hits = hooks.wait(hook, 2)
    assert [h.status for h in hits[:2]] == [200, 200]
    bodies = [requests.models.complexjson.loads(h.body) for h in hits[:2]]
    assert [b["state"] for b in bodies] == ["processing", "success"]
    assert bodies[1]["creations"][0]["id"] == task_id and bodies[1]["payload"] == "order-77"
    for h in hits[:2]:
        assert vidu_signature_ok(h.headers, hooks.url(hook), secret), h.headers
        assert h.headers["x-hmac-signed-headers"] == "Date;x-request-nonce"
        sent = parsedate_to_datetime(h.headers["date"])
        assert abs((datetime.now(UTC) - sent).total_seconds()) < 120
    assert hits[0].headers["x-request-nonce"] != hits[1].headers["x-request-nonce"]
    # the verifier is not a rubber stamp: another secret, path or query fails it
    assert not vidu_signature_ok(hits[1].headers, hooks.url(hook), secret + "x")
    assert not vidu_signature_ok(hits[1].headers, hooks.url("/hook/vidu?name=james&age=37"), secret)


def test_img2video_q3_turbo_audio_off_peak_and_bearer(svc, tmp_path):
    body = {"model": "viduq3-turbo", "images": [IMAGE], "duration": 1, "resolution": "540p", "audio": True,
            "audio_type": "sound_effect_only", "is_rec": True, "off_peak": True, "seed": 5,
            "watermark": True, "wm_url": "http://127.0.0.1:9/mark.png"}
    r = requests.post(f"{svc.base}/ent/v2/img2video", json=body, headers=auth(), timeout=30)  # Bearer works too
    assert r.status_code == 200, r.text
    created = r.json()
    # 0.032 USD/s turbo 540p, halved off-peak = 0.016 USD -> 4 credits (3.2 rounded up)
    assert created["credits"] == 4 and created["off_peak"] is True and created["audio"] is True
    assert created["watermark"] is False  # the turbo entry has no watermark; said in metadata
    done = wait_task(svc, created["task_id"])
    assert done["state"] == "success" and done["off_peak"] is True
    assert done["creations"][0]["watermarked_url"] == ""
    video = decode(done["creations"][0]["url"], tmp_path)
    assert video["audio"] is True and (video["width"], video["height"]) == (720, 540)
    job = requests.get(f"{svc.base}/v1/jobs/{created['task_id']}", headers=auth(), timeout=10).json()
    assert job["model"] == "vidu-q3-turbo-i2v" and job["off_peak"] is True
    assert job["input"]["audio_type"] == "sound_effect_only" and job["input"]["is_rec"] is False
    assert set(job["metadata"]["unsupported_fields"]) == {"is_rec", "watermark", "wm_url"}
    assert job["metadata"]["vidu"]["is_rec"] is True  # kept, with no effect: no prompt recommender here


def test_img2video_q2_modes_voice_and_default_prompt(svc, tmp_path):
    body = {"model": "viduq2-turbo", "images": [IMAGE], "duration": 2, "resolution": "720p", "audio": True,
            "voice_id": "female-2", "seed": 9}
    r = post(svc, "img2video", body)
    assert r.status_code == 200, r.text
    voiced = r.json()
    fast = post(svc, "img2video", {"model": "viduq2-pro-fast", "images": [IMAGE], "duration": 1,
                                   "resolution": "1080p"}).json()
    assert fast["credits"] == 16  # pro-fast 1080p: 0.08 USD for 1 s -> 16 credits
    for task_id, mode in ((voiced["task_id"], "turbo"), (fast["task_id"], "pro-fast")):
        done = wait_task(svc, task_id)
        assert done["state"] == "success", done
        job = requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(), timeout=10).json()
        assert job["model"] == "vidu/vidu-q2/image-to-video" and job["input"]["mode"] == mode
    job = requests.get(f"{svc.base}/v1/jobs/{voiced['task_id']}", headers=auth(), timeout=10).json()
    assert job["input"]["generate_audio"] is True and job["input"]["voice_id"] == "female-2"
    assert job["input"]["prompt"] == dialect.DEFAULT_PROMPT
    assert job["metadata"]["defaults_applied"] == {"prompt": dialect.DEFAULT_PROMPT}
    video = decode(wait_task(svc, voiced["task_id"])["creations"][0]["url"], tmp_path)
    assert video["audio"] is True and video["frames"] == 48 and (video["width"], video["height"]) == (960, 720)


def test_start_end2video(svc, tmp_path):
    r = post(svc, "start-end2video", {"model": "viduq2-pro", "images": [IMAGE, TAIL], "prompt": "morph",
                                      "duration": 1, "resolution": "540p", "seed": 3})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["images"] == [IMAGE, TAIL] and created["model"] == "viduq2-pro"
    done = wait_task(svc, created["task_id"])
    assert done["state"] == "success"
    video = decode(done["creations"][0]["url"], tmp_path)
    assert video["frames"] == 24 and (video["width"], video["height"]) == (720, 540)
    job = requests.get(f"{svc.base}/v1/jobs/{created['task_id']}", headers=auth(), timeout=10).json()
    assert job["model"] == "vidu/vidu-q2/start-end-to-video" and job["input"]["mode"] == "pro"
    listed = requests.get(f"{svc.base}/ent/v2/tasks", params={"task_ids": created["task_id"]},
                          headers=token(), timeout=10).json()["tasks"]
    assert listed[0]["type"] == "start-end2video" and listed[0]["model"] == "viduq2-pro"
    assert listed[0]["creations"][0]["video"]["resolution"] == {"width": 720, "height": 540}


def test_every_job_in_every_dialect_and_key_isolation(svc):
    v1 = requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video",
        "input": {"mode": "turbo", "prompt": "tilt up", "image": IMAGE, "duration": 1, "resolution": "540p"}}).json()
    made = post(svc, "img2video", {"model": "viduq3-turbo", "images": [IMAGE], "duration": 1,
                                   "resolution": "540p", "audio": False, "payload": "x"}).json()
    elsewhere = wait_task(svc, v1["id"])  # a /v1 job, read the Vidu way
    assert elsewhere["state"] == "success" and elsewhere["credits"] == 7  # 0.032 USD -> 6.4 -> 7
    assert elsewhere["payload"] == "" and elsewhere["creations"][0]["url"]
    listed = requests.get(f"{svc.base}/ent/v2/tasks", params={"task_ids": v1["id"]}, headers=token(),
                          timeout=10).json()["tasks"]
    assert listed[0]["model"] == "viduq3-turbo" and listed[0]["type"] == "img2video"
    task_id = made["task_id"]
    wait_task(svc, task_id)
    assert requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(), timeout=10).json()["status"] == "succeeded"
    q = requests.get(f"{svc.base}/api/v1/job/query", params={"id": task_id}, headers=auth(), timeout=10).json()
    assert q["data"]["status"] == 2 and q["data"]["result"]["videos"][0]["url"]
    t = requests.get(f"{svc.base}/v3/async/task-result", params={"task_id": task_id}, headers=auth(),
                     timeout=10).json()
    assert t["task"]["status"] == "TASK_STATUS_SUCCEED" and t["videos"][0]["video_url"]

    # another key: Vidu's not-found on every task endpoint, and an empty list
    for r in (creations(svc, task_id, OTHER_KEY),
              requests.post(f"{svc.base}/ent/v2/tasks/{task_id}/cancel", headers=token(OTHER_KEY), timeout=10)):
        assert r.status_code == 404 and r.json()["reason"] == "TaskNotFound", r.text
        assert r.json()["metadata"]["trace_id"]
    other = requests.get(f"{svc.base}/ent/v2/tasks", params={"task_ids": f"{task_id},{v1['id']}"},
                         headers=token(OTHER_KEY), timeout=10).json()
    assert other == {"tasks": [], "next_page_token": ""}
    assert requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(OTHER_KEY), timeout=10).status_code == 404


def test_list_filters_and_page_token(svc):
    ids = [post(svc, "img2video", {"model": "viduq2-turbo", "images": [IMAGE], "prompt": "zoom in",
                                   "duration": 1, "resolution": "540p"}).json()["task_id"] for _ in range(5)]
    for task_id in ids:
        wait_task(svc, task_id)
    seen: list[str] = []
    page_token = ""
    pages = 0
    while True:
        params = {"task_ids": ",".join(ids), "pager.pagesz": "2", "states": "success"}
        if page_token:
            params["pager.page_token"] = page_token
        body = requests.get(f"{svc.base}/ent/v2/tasks", params=params, headers=token(), timeout=10).json()
        seen += [t["id"] for t in body["tasks"]]
        pages += 1
        assert all(t["state"] == "success" and t["model"] == "viduq2-turbo" for t in body["tasks"])
        page_token = body["next_page_token"]
        if not page_token:
            break
    assert pages == 3 and seen == list(reversed(ids))  # newest first, none repeated or skipped
    # repeated parameters, model versions with or without "vidu", resolutions, time window
    q = [("task_ids", i) for i in ids[:2]] + [("model_versions", "q2-turbo"), ("resolutions", "540p")]
    got = requests.get(f"{svc.base}/ent/v2/tasks", params=q, headers=token(), timeout=10).json()["tasks"]
    assert sorted(t["id"] for t in got) == sorted(ids[:2])
    none = requests.get(f"{svc.base}/ent/v2/tasks", params=[*q[:2], ("model_versions", "viduq3-pro")],
                        headers=token(), timeout=10).json()
    assert none["tasks"] == []
    future = requests.get(f"{svc.base}/ent/v2/tasks", params={"created_at.from": "2100-01-01T00:00:00Z"},
                          headers=token(), timeout=10).json()
    assert future == {"tasks": [], "next_page_token": ""}
    paged = requests.get(f"{svc.base}/ent/v2/tasks", params={"task_ids": ",".join(ids), "paper.pagesz": "2",
                                                              "paper.page": "2"}, headers=token(), timeout=10)
    assert [t["id"] for t in paged.json()["tasks"]] == [ids[0]]


def _wait_running(svc, task_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(), timeout=10).json()
        if job["status"] == "processing" and job["progress"] > 0:
            return
        time.sleep(0.05)
    raise TimeoutError(task_id)


def test_cancel_queued_and_running_refunded(svc):
    long = {"model": "viduq3-turbo", "images": [IMAGE], "duration": 16, "resolution": "720p", "audio": False}
    running = post(svc, "img2video", long).json()["task_id"]
    queued = post(svc, "img2video", long).json()["task_id"]
    _wait_running(svc, running)
    assert creations(svc, queued).json()["state"] == "queueing"
    assert creations(svc, running).json()["state"] == "processing"
    for task_id in (queued, running):
        r = requests.post(f"{svc.base}/ent/v2/tasks/{task_id}/cancel", json={"id": task_id}, headers=token(),
                          timeout=10)
        assert r.status_code == 200 and r.json() == {}, r.text
    for task_id in (queued, running):
        body = wait_task(svc, task_id, timeout=30)
        assert body["state"] == "failed" and body["err_code"] == "UserCancelled" and body["credits"] == 0
        assert body["creations"] == []
        job = requests.get(f"{svc.base}/v1/jobs/{task_id}", headers=auth(), timeout=10).json()
        assert job["status"] == "canceled" and job["refunded"] is True
    ledger = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()["ledger"]
    for task_id in (queued, running):
        assert {ln["kind"] for ln in ledger if ln["job_id"] == task_id} == {"charge", "refund"}
    again = requests.post(f"{svc.base}/ent/v2/tasks/{running}/cancel", headers=token(), timeout=10)
    assert again.status_code == 400 and again.json()["reason"] == "BadRequest"
    assert again.json()["message"] == "task state is failed, can not cancel"


BAD = [  # (endpoint, body, HTTP status, reason, words the message must hold)
    ("img2video", {"images": [IMAGE]}, 400, "FieldLacking", "model"),
    ("img2video", {"model": "viduq1", "images": [IMAGE]}, 400, "FieldInvalid", "model"),
    ("img2video", {"model": 7, "images": [IMAGE]}, 400, "FieldInvalid", "model"),
    ("start-end2video", {"model": "viduq3-pro", "images": [IMAGE, TAIL]}, 400, "FieldInvalid", "model"),
    ("img2video", {"model": "viduq3-pro"}, 400, "FieldLacking", "images"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE, TAIL]}, 400, "FieldItemCountOutOfRange", "images"),
    ("start-end2video", {"model": "viduq2-pro", "images": [IMAGE]}, 400, "FieldItemCountOutOfRange", "images"),
    ("img2video", {"model": "viduq3-pro", "images": [5]}, 400, "FieldInvalid", "images[0]"),
    ("img2video", {"model": "viduq2-pro", "images": ["data:image/png;base64,aGVsbG8="]}, 400,
     "ImageFormatInvalid", "images[0]"),
    ("img2video", {"model": "viduq2-pro", "images": ["http://127.0.0.1:9/none.png"]}, 400,
     "ImageDownloadFailure", "images[0]"),
    ("img2video", {"model": "viduq3-turbo", "images": [IMAGE], "duration": 40}, 400, "FieldInvalid", "duration"),
    ("img2video", {"model": "viduq3-turbo", "images": [IMAGE], "duration": "5"}, 400, "FieldInvalid", "duration"),
    ("img2video", {"model": "viduq2-pro", "images": [IMAGE], "duration": 11}, 400, "FieldInvalid", "duration"),
    ("img2video", {"model": "viduq2-pro-fast", "images": [IMAGE], "resolution": "540p"}, 400, "FieldInvalid",
     "resolution"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "resolution": "4k"}, 400, "FieldInvalid",
     "resolution"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "seed": -1}, 400, "FieldInvalid", "seed"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "movement_amplitude": "huge"}, 400, "FieldInvalid",
     "movement_amplitude"),
    ("img2video", {"model": "viduq3-turbo", "images": [IMAGE], "audio": "yes"}, 400, "FieldInvalid", "audio"),
    ("img2video", {"model": "viduq3-turbo", "images": [IMAGE], "audio_type": "music"}, 400, "FieldInvalid",
     "audio_type"),
    ("img2video", {"model": "viduq2-turbo", "images": [IMAGE], "audio": True, "voice_id": "nobody"}, 400,
     "FieldInvalid", "voice_id"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "wm_position": 5}, 400, "FieldInvalid",
     "wm_position"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "watermark": True, "wm_url": "ftp://x/y.png"}, 400,
     "FieldInvalid", "wm_url"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "prompt": "x" * 1501}, 400, "FieldInvalid", "prompt"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "payload": 12}, 400, "FieldInvalid", "payload"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "meta_data": [1]}, 400, "FieldInvalid", "meta_data"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "callback_url": "not a url"}, 400, "FieldInvalid",
     "callback_url"),
    ("img2video", {"model": "viduq3-pro", "images": [IMAGE], "off_peak": 1}, 400, "FieldInvalid", "off_peak"),
    ("img2video", ["not", "an", "object"], 400, "FieldInvalid", "body"),
    ("text2video", {"model": "viduq3-pro", "prompt": "a cat"}, 404, "NotFound", "text2video"),
    ("reference2video", {"model": "viduq3-pro", "images": [IMAGE]}, 404, "NotFound", "reference2video"),
]


@pytest.mark.parametrize("endpoint, body, status, reason, words", BAD, ids=[f"{b[3]}-{b[4]}-{i}"
                                                                             for i, b in enumerate(BAD)])
def test_bad_inputs_in_vidus_error_body(svc, endpoint, body, status, reason, words):
    before = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()["ledger"]
    r = post(svc, endpoint, body)
    assert r.status_code == status, r.text
    err = r.json()
    assert set(err) == {"code", "reason", "message", "metadata"} and err["code"] == status
    assert err["reason"] == reason and words in err["message"], err
    assert err["metadata"]["trace_id"] == r.headers["x-request-id"]
    after = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()["ledger"]
    assert len(after) == len(before)  # nothing stored or charged


@pytest.mark.parametrize("header, message", [
    (None, "missing"), ("Basic abc", "Token <key>"), ("Token wrong-key", "invalid API key"), ("Token ", "Token"),
])
def test_auth_errors(svc, header, message):
    headers = {"Authorization": header} if header else {}
    for r in (requests.post(f"{svc.base}/ent/v2/img2video", json={}, headers=headers, timeout=10),
              requests.get(f"{svc.base}/ent/v2/tasks", headers=headers, timeout=10)):
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized" and message in r.json()["message"]


def test_bad_list_and_lookup_parameters(svc):
    for params, field in (({"states": "done"}, "states"), ({"pager.pagesz": "500"}, "pager.pagesz"),
                          ({"pager.page_token": "%%%"}, "pager.page_token"),
                          ({"created_at.from": "yesterday"}, "created_at.from")):
        r = requests.get(f"{svc.base}/ent/v2/tasks", params=params, headers=token(), timeout=10)
        assert r.status_code == 400 and r.json()["reason"] == "FieldInvalid" and field in r.json()["message"]
    r = creations(svc, "no-such-task")
    assert r.status_code == 404 and r.json()["reason"] == "TaskNotFound"


def test_real_responses_match_the_openapi_document(svc):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from stillmotion.api.openapi import openapi_document

    doc = openapi_document()
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))

    def check(path: str, method: str, status: int, value: object) -> None:
        schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        schema = {"$ref": "urn:openapi" + schema["$ref"]}
        errors = list(Draft202012Validator(schema, registry=registry).iter_errors(value))
        assert not errors, f"{method} {path} {status}: {[e.message for e in errors[:3]]}"

    body = {"model": "viduq3-turbo", "images": [IMAGE], "duration": 1, "resolution": "540p", "audio": False,
            "meta_data": {"k": "v"}}
    created = post(svc, "img2video", body)
    check("/ent/v2/img2video", "post", 200, created.json())
    task_id = created.json()["task_id"]
    check("/ent/v2/tasks/{task_id}/creations", "get", 200, wait_task(svc, task_id))
    listed = requests.get(f"{svc.base}/ent/v2/tasks", params={"pager.pagesz": "3"}, headers=token(), timeout=10)
    check("/ent/v2/tasks", "get", 200, listed.json())
    se = post(svc, "start-end2video", {"model": "viduq2-turbo", "images": [IMAGE, TAIL], "duration": 8,
                                       "resolution": "540p", "prompt": "x"})
    check("/ent/v2/start-end2video", "post", 200, se.json())
    check("/ent/v2/tasks/{task_id}/cancel", "post", 200,
          requests.post(f"{svc.base}/ent/v2/tasks/{se.json()['task_id']}/cancel", headers=token(), timeout=10).json())
    check("/ent/v2/tasks/{task_id}/cancel", "post", 400,
          requests.post(f"{svc.base}/ent/v2/tasks/{task_id}/cancel", headers=token(), timeout=10).json())
    check("/ent/v2/img2video", "post", 400, post(svc, "img2video", {"model": "viduq3-turbo"}).json())
    check("/ent/v2/text2video", "post", 404, post(svc, "text2video", {}).json())
    check("/ent/v2/tasks/{task_id}/creations", "get", 404, creations(svc, "nope").json())


def test_a_failed_task_reads_failed_with_its_code_and_no_credits(svc, hooks):
    hook = "/hook/failed"
    r = post(svc, "img2video", {"model": "viduq3-pro", "images": [IMAGE], "duration": 1, "resolution": "540p",
                                "watermark": True, "wm_url": "http://127.0.0.1:9/gone.png",
                                "callback_url": hooks.url(hook)})
    assert r.status_code == 200, r.text
    done = wait_task(svc, r.json()["task_id"])
    assert done["state"] == "failed" and done["err_code"] not in ("", "UserCancelled"), done
    assert done["credits"] == 0 and done["creations"] == []
    final = [requests.models.complexjson.loads(h.body) for h in hooks.wait(hook, 2)]
    assert final[-1]["state"] == "failed" and final[-1]["err_code"] == done["err_code"]


def test_jobs_of_the_job_and_async_dialects_read_the_vidu_way(svc):
    made = requests.post(f"{svc.base}/api/v1/job/create", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q2/start-end-to-video",
        "args": {"mode": "pro-fast", "prompt": "x", "image": IMAGE, "image_tail": TAIL, "duration": 1}}).json()
    task = requests.post(f"{svc.base}/v3/async/vidu-q3-pro-i2v", headers=auth(), timeout=30, json={
        "images": [IMAGE], "duration": 1, "resolution": "540p"}).json()
    for job_id, model, kind in ((made["job_id"], "viduq2-pro-fast", "start-end2video"),
                                (task["task_id"], "viduq3-pro", "img2video")):
        assert wait_task(svc, job_id)["state"] == "success"
        (listed,) = requests.get(f"{svc.base}/ent/v2/tasks", params={"task_ids": job_id}, headers=token(),
                                 timeout=10).json()["tasks"]
        assert (listed["model"], listed["type"], listed["state"]) == (model, kind, "success")


def test_a_stored_key_short_of_balance_and_token_only_here(svc):
    out = subprocess.run([sys.executable, "-m", "stillmotion.cli", "keys", "create", "poor", "--balance", "0.01",
                          "--data-dir", str(svc.data)], capture_output=True, text=True, cwd=ROOT,
                         env=service_env(svc.data), timeout=60)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[0]
    r = post(svc, "img2video", {"model": "viduq3-pro", "images": [IMAGE], "duration": 1, "resolution": "540p"},
             key=key)
    assert r.status_code == 400 and r.json()["reason"] == "CreditInsufficient", r.text
    listed = requests.get(f"{svc.base}/ent/v2/tasks", headers=token(key), timeout=10)
    assert listed.status_code == 200 and listed.json() == {"tasks": [], "next_page_token": ""}
    # the other dialects keep their Bearer-only scheme
    assert requests.get(f"{svc.base}/v1/jobs", headers=token(key), timeout=10).status_code == 401
    assert requests.get(f"{svc.base}/v1/jobs", headers=auth(key), timeout=10).status_code == 200
