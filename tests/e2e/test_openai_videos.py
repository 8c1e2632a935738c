"""The OpenAI Videos dialect driven by the official `openai` SDK against a real server on loopback:
create_and_poll with an uploaded PNG, content downloads decoded, list paging, remix, delete of a
running job (stopped and refunded), webhooks unwrapped by the SDK, every job in every dialect,
key isolation, and bad inputs in OpenAI's error envelope."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import requests
from PIL import Image

from stillmotion.media.video import probe, read_frames
from tests.helpers import KEY, OTHER_KEY, ROOT, Service, auth, data_uri, png_bytes, service_env, textured_image

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

WIDE = png_bytes(textured_image(320, 180))  # 16:9, so a 960x540 request is made at that size
WIDE_URI = data_uri(WIDE)
MAX_IMAGE = 200_000  # bytes; the module's server refuses larger inputs (413)
QUICK = {"audio": False}  # extension: the sora-2 default (turbo) makes sound; most tests need none


@pytest.fixture(scope="module")
def svc(tmp_path_factory, hooks):
    """A server with the env keys and one stored key whose per-key webhook endpoint is set."""
    data = tmp_path_factory.mktemp("openai") / "data"
    data.mkdir(parents=True)
    made = subprocess.run(
        [sys.executable, "-m", "stillmotion.cli", "keys", "create", "hooked", "--webhook-url", hooks.url("/key"),
         "--data-dir", str(data)], env=service_env(data), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key, secret_line = made.stdout.strip().splitlines()[-2:]
    service = Service(data, "--workers", "1", STILLMOTION_MAX_IMAGE_BYTES=str(MAX_IMAGE))
    service.data = data  # type: ignore[attr-defined]
    service.stored_key = key  # type: ignore[attr-defined]
    service.stored_secret = secret_line.split(": ", 1)[1]  # type: ignore[attr-defined]
    yield service
    service.stop()


def client(svc: Service, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=svc.base + "/v1", max_retries=0, timeout=60)


def secret_of(svc: Service, key: str = KEY) -> str:
    return requests.get(f"{svc.base}/v1/webhook-secret", headers=auth(key), timeout=10).json()["secret"]


def quick(c: openai.OpenAI, **extra: object) -> openai.types.Video:
    return c.videos.create(prompt="pan left", input_reference=("wide.png", WIDE, "image/png"), seconds="1",
                           size="960x540", extra_body={**QUICK, **extra})


def wait_status(svc: Service, video_id: str, wanted: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{svc.base}/v1/jobs/{video_id}", headers=auth(), timeout=10).json()
        if job["status"] in wanted:
            return job
        time.sleep(0.05)
    raise TimeoutError(video_id)


def test_create_and_poll_then_download_and_decode(svc, tmp_path):
    c = client(svc)
    t0 = time.time()
    video = c.videos.create_and_poll(prompt="slow zoom", input_reference=("wide.png", WIDE, "image/png"),
                                     model="sora-2", seconds="2", size="960x540", extra_body=QUICK)
    assert video.status == "completed" and video.progress == 100 and video.error is None, video
    assert (video.object, video.model, video.seconds, video.size, video.prompt) == (
        "video", "sora-2", "2", "960x540", "slow zoom")
    assert t0 - 2 <= video.created_at <= video.completed_at <= time.time() + 1
    assert video.expires_at == video.completed_at + 7 * 86400 and video.remixed_from_video_id is None

    mp4 = tmp_path / "v.mp4"
    c.videos.download_content(video.id).write_to_file(mp4)
    info = probe(mp4)
    assert (info.width, info.height, info.frames) == (960, 540, 48)
    frames = list(read_frames(mp4))
    assert len(frames) == 48 and frames[0].shape == (540, 960, 3) and frames[0].std() > 10

    thumb = Image.open(io.BytesIO(c.videos.download_content(video.id, variant="thumbnail").content))
    assert thumb.format == "JPEG" and thumb.size == (960, 540)
    sheet = Image.open(io.BytesIO(c.videos.download_content(video.id, variant="spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size == (5 * 256, 5 * 144)  # 25 of the 48 frames, 5 x 5

    whole = mp4.read_bytes()
    part = requests.get(f"{svc.base}/v1/videos/{video.id}/content", headers={**auth(), "Range": "bytes=100-199"},
                        timeout=10)
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-type"] == "video/mp4"


def test_a_video_is_a_job_in_every_dialect_and_the_other_way_round(svc):
    c = client(svc)
    # This SDK refuses input_reference={"image_url": ...} before sending it; through extra_body it goes out
    # as the form field input_reference[image_url].
    video = c.videos.create_and_poll(prompt="tilt", seconds="1", size="960x540", poll_interval_ms=100,
                                     extra_body={**QUICK, "input_reference": {"image_url": WIDE_URI}})
    job = requests.get(f"{svc.base}/v1/jobs/{video.id}", headers=auth(), timeout=10).json()
    assert (job["dialect"], job["model"], job["status"], job["input"]["duration"]) == (
        "openai", "vidu-q3-turbo-i2v", "succeeded", 1)
    assert job["metadata"]["openai"] == {"model": "sora-2"}
    old = requests.get(f"{svc.base}/api/v1/job/query", params={"id": video.id}, headers=auth(), timeout=10).json()
    assert old["data"]["status"] == 2 and old["data"]["result"]["videos"][0]["width"] == 960
    task = requests.get(f"{svc.base}/v3/async/task-result", params={"task_id": video.id}, headers=auth(),
                        timeout=10).json()
    assert task["task"]["status"] == "TASK_STATUS_SUCCEED" and task["videos"][0]["video_url"]

    made = requests.post(f"{svc.base}/api/v1/job/create", headers=auth(), timeout=30, json={
        "model": "vidu/vidu-q3/image-to-video",
        "args": {"mode": "turbo", "prompt": "drift", "image": WIDE_URI, "duration": 1, "resolution": "540p"}}).json()
    seen = c.videos.poll(made["job_id"], poll_interval_ms=100)
    assert (seen.status, seen.model, seen.seconds, seen.size, seen.prompt) == (
        "completed", "vidu/vidu-q3/image-to-video", "1", "960x540", "drift")
    assert len(c.videos.download_content(seen.id).content) > 1000


def test_list_pages_both_orders(svc):
    c = client(svc, svc.stored_key)  # a key of its own: the list holds exactly these videos
    ids = [quick(c).id for _ in range(3)]
    first = c.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more is True
    assert first.last_id == ids[1]
    assert [v.id for v in c.videos.list(limit=2)] == ids[::-1]  # auto-paging follows last_id
    assert [v.id for v in c.videos.list(limit=1, order="asc")] == ids
    assert [v.id for v in c.videos.list(after=ids[2], limit=5).data] == [ids[1], ids[0]]
    rest = c.videos.list(after=ids[1], limit=5, order="asc")
    assert [v.id for v in rest.data] == [ids[2]] and rest.has_more is False
    assert all(v.object == "video" for v in first.data)


def test_remix_makes_a_new_video_from_the_same_inputs(svc, tmp_path):
    c = client(svc)
    source = c.videos.create_and_poll(prompt="first take", input_reference=("wide.png", WIDE, "image/png"),
                                      model="sora-2-pro", seconds="1", size="1280x720", poll_interval_ms=100)
    assert source.status == "completed" and source.size == "1280x720" and source.model == "sora-2-pro"
    remix = c.videos.remix(source.id, prompt="second take")
    assert remix.id != source.id and remix.remixed_from_video_id == source.id and remix.prompt == "second take"
    done = c.videos.poll(remix.id, poll_interval_ms=100)
    assert (done.status, done.size, done.seconds, done.model) == ("completed", "1280x720", "1", "sora-2-pro")
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    c.videos.download_content(source.id).write_to_file(a)
    c.videos.download_content(done.id).write_to_file(b)
    assert probe(b).frames == probe(a).frames == 24
    jobs = [requests.get(f"{svc.base}/v1/jobs/{i}", headers=auth(), timeout=10).json() for i in (source.id, done.id)]
    assert jobs[0]["input"]["aspect_ratio"] == jobs[1]["input"]["aspect_ratio"] == "16:9"
    assert jobs[1]["metadata"]["openai"]["remixed_from_video_id"] == source.id


def test_delete_stops_a_running_job_refunds_it_and_removes_files(svc):
    c = client(svc)
    long = c.videos.create(prompt="long", input_reference=("wide.png", WIDE, "image/png"), seconds="16",
                           size="960x540", extra_body=QUICK)
    deadline = time.monotonic() + 30
    while (job := wait_status(svc, long.id, ("processing",)))["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job["status"] == "processing" and 0 < job["progress"] < 100
    gone = c.videos.delete(long.id)
    assert (gone.id, gone.object, gone.deleted) == (long.id, "video.deleted", True)
    ended = requests.get(f"{svc.base}/v1/jobs/{long.id}", headers=auth(), timeout=10).json()
    assert ended["status"] == "canceled" and ended["refunded"] is True
    ledger = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()["ledger"]
    assert sorted(ln["kind"] for ln in ledger if ln["job_id"] == long.id) == ["charge", "refund"]
    out_dir = Path(svc.data) / "outputs" / long.id
    deadline = time.monotonic() + 10
    while out_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not out_dir.exists()
    seen = c.videos.retrieve(long.id)
    assert seen.status == "failed" and seen.error and seen.error.code == "Canceled"
    with pytest.raises(openai.NotFoundError):
        c.videos.download_content(long.id)

    done = c.videos.create_and_poll(prompt="keep", input_reference=("wide.png", WIDE, "image/png"), seconds="1",
                                    size="960x540", extra_body=QUICK, poll_interval_ms=100)
    kept = Path(svc.data) / "outputs" / done.id
    assert list(kept.rglob("video.mp4"))  # under the attempt's own key
    assert c.videos.delete(done.id).deleted is True
    assert not list(kept.rglob("*.*"))
    with pytest.raises(openai.NotFoundError) as err:
        c.videos.download_content(done.id)
    assert "deleted" in err.value.body["message"]
    ledger = requests.get(f"{svc.base}/v1/usage", headers=auth(), timeout=10).json()["ledger"]
    assert [ln["kind"] for ln in ledger if ln["job_id"] == done.id] == ["charge"]  # a finished video is paid


def test_webhooks_per_request_and_per_key_unwrap_with_the_sdk(svc, hooks):
    c = client(svc)
    secret = secret_of(svc)
    ok = quick(c, webhook_url=hooks.url("/request"))
    doomed = c.videos.create(prompt="never", input_reference=("wide.png", WIDE, "image/png"), seconds="16",
                             size="960x540", extra_body={**QUICK, "webhook_url": hooks.url("/failed")})
    c.videos.delete(doomed.id)  # canceled before or while it runs: an OpenAI video.failed event
    [hit] = hooks.wait("/request", 1)
    event = c.webhooks.unwrap(hit.body, hit.headers, secret=secret)
    assert (event.type, event.data.id, event.object) == ("video.completed", ok.id, "event")
    assert c.videos.retrieve(ok.id).status == "completed"
    [hit] = hooks.wait("/failed", 1)
    event = c.webhooks.unwrap(hit.body, hit.headers, secret=secret)
    assert (event.type, event.data.id) == ("video.failed", doomed.id)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        c.webhooks.unwrap(hit.body, hit.headers, secret=secret_of(svc, OTHER_KEY))
    with pytest.raises(openai.InvalidWebhookSignatureError):
        c.webhooks.unwrap(hit.body.replace(b"video.failed", b"video.complet"), hit.headers, secret=secret)

    keyed = client(svc, svc.stored_key)
    mine = quick(keyed)  # no webhook_url: the key's own endpoint (keys create --webhook-url)
    deadline = time.monotonic() + 60
    while not (hits := [h for h in hooks.on("/key") if mine.id.encode() in h.body]) and time.monotonic() < deadline:
        time.sleep(0.05)
    [hit] = hits
    event = keyed.webhooks.unwrap(hit.body, hit.headers, secret=svc.stored_secret)
    assert (event.type, event.data.id) == ("video.completed", mine.id)
    assert json.loads(hit.body)["created_at"] == keyed.videos.retrieve(mine.id).completed_at


def test_another_key_sees_nothing(svc):
    video = quick(client(svc))
    other = client(svc, OTHER_KEY)
    for call in (lambda: other.videos.retrieve(video.id), lambda: other.videos.delete(video.id),
                 lambda: other.videos.download_content(video.id), lambda: other.videos.remix(video.id, prompt="x")):
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert err.value.body["param"] == "video_id" and err.value.body["type"] == "invalid_request_error"
    assert video.id not in [v.id for v in other.videos.list(limit=100)]
    with pytest.raises(openai.NotFoundError) as err:
        other.videos.list(after=video.id)
    assert err.value.body["param"] == "after"
    assert client(svc).videos.retrieve(video.id).id == video.id  # still there for its owner


def _post(svc: Service, body: dict | None = None, files: dict | None = None, key: str = KEY, **kw) -> requests.Response:
    if files is not None:
        return requests.post(f"{svc.base}/v1/videos", data=body, files=files, headers=auth(key), timeout=30, **kw)
    return requests.post(f"{svc.base}/v1/videos", json=body, headers=auth(key), timeout=30, **kw)


BAD = [
    ("no prompt", {"input_reference": {"image_url": WIDE_URI}}, 400, "prompt", "missing_required_parameter"),
    ("no image", {"prompt": "x"}, 400, "input_reference", "missing_required_parameter"),
    ("unknown model", {"prompt": "x", "model": "sora-9", "input_reference": {"image_url": WIDE_URI}}, 400,
     "model", "invalid_value"),
    ("seconds too long", {"prompt": "x", "seconds": "40", "input_reference": {"image_url": WIDE_URI}}, 400,
     "seconds", "invalid_value"),
    ("seconds not a number", {"prompt": "x", "seconds": "four", "input_reference": {"image_url": WIDE_URI}}, 400,
     "seconds", "invalid_value"),
    ("size not offered", {"prompt": "x", "model": "sora-2-pro", "size": "1024x1792",
                          "input_reference": {"image_url": WIDE_URI}}, 400, "size", "invalid_value"),
    ("size malformed", {"prompt": "x", "size": "large", "input_reference": {"image_url": WIDE_URI}}, 400, "size",
     "invalid_value"),
    ("short side not offered", {"prompt": "x", "size": "1792x1024", "input_reference": {"image_url": WIDE_URI}},
     400, "size", "invalid_value"),
    ("file_id", {"prompt": "x", "input_reference": {"file_id": "file_1"}}, 400, "input_reference.file_id",
     "invalid_value"),
    ("not an image", {"prompt": "x", "input_reference": {"image_url": data_uri(b"hello", "image/png")}}, 400,
     "input_reference", None),
    ("unknown parameter", {"prompt": "x", "quality": "hd", "input_reference": {"image_url": WIDE_URI}}, 400,
     "quality", "unknown_parameter"),
    ("fixed mode", {"prompt": "x", "mode": "pro", "input_reference": {"image_url": WIDE_URI}}, 400, "mode",
     "invalid_value"),
    ("no such argument", {"prompt": "x", "watermark": True, "input_reference": {"image_url": WIDE_URI}}, 400,
     "watermark", "invalid_value"),
    ("no end frame", {"prompt": "x", "input_reference": {"image_url": WIDE_URI},
                      "input_reference_end": {"image_url": WIDE_URI}}, 400, "input_reference_end", "invalid_value"),
    ("bad seed", {"prompt": "x", "seed": -3, "input_reference": {"image_url": WIDE_URI}}, 400, "seed",
     "invalid_value"),
    ("size against the image", {"prompt": "x", "size": "1280x720",
                                "input_reference": {"image_url": data_uri(png_bytes(textured_image(320, 240)))}},
     400, "size", "invalid_value"),
    ("bad webhook", {"prompt": "x", "webhook_url": "ftp://x", "input_reference": {"image_url": WIDE_URI}}, 400,
     "webhook_url", None),
]


@pytest.mark.parametrize("name, body, status, param, code", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_in_openais_envelope_and_nothing_stored(svc, name, body, status, param, code):
    before = requests.get(f"{svc.base}/v1/usage", params={"limit": 1000}, headers=auth(OTHER_KEY), timeout=10).json()
    r = _post(svc, body, key=OTHER_KEY)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["param"] == param and error["message"].startswith(param.split(".")[0]), error
    if code:
        assert error["code"] == code, error
    after = requests.get(f"{svc.base}/v1/usage", params={"limit": 1000}, headers=auth(OTHER_KEY), timeout=10).json()
    assert after["ledger"] == before["ledger"]


def test_bad_inputs_through_the_sdk_and_other_endpoints(svc):
    c = client(svc)
    with pytest.raises(openai.BadRequestError) as err:  # the SDK's own multipart, a size the model cannot make
        c.videos.create(prompt="x", input_reference=("wide.png", WIDE, "image/png"), model="sora-2-pro",
                        size="1792x1024")
    assert err.value.body["param"] == "size" and "1280x720" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:  # a 4:3 photo cannot make a 16:9 video on sora-2
        c.videos.create(prompt="x", input_reference=("photo.png", png_bytes(textured_image(320, 240)), "image/png"),
                        size="1280x720", extra_body=QUICK)
    assert err.value.body["param"] == "size" and "720x540, 960x720, 1440x1080" in err.value.body["message"]
    with pytest.raises(openai.APIStatusError) as err:
        c.videos.create(prompt="x", input_reference=("big.png", WIDE + b"\0" * MAX_IMAGE, "image/png"))
    assert err.value.status_code == 413 and err.value.body["param"] == "input_reference"
    assert err.value.body["code"] == "payload_too_large"
    with pytest.raises(openai.BadRequestError) as err:
        c.videos.create(prompt="x", input_reference=("notes.txt", b"not an image", "text/plain"))
    assert err.value.body["param"] == "input_reference"
    with pytest.raises(openai.AuthenticationError) as err:
        openai.OpenAI(api_key="wrong", base_url=svc.base + "/v1", max_retries=0).videos.list()
    assert err.value.body["code"] == "invalid_api_key"
    for query, param in (({"limit": "0"}, "limit"), ({"order": "sideways"}, "order")):
        r = requests.get(f"{svc.base}/v1/videos", params=query, headers=auth(), timeout=10)
        assert r.status_code == 400 and r.json()["error"]["param"] == param
    video = quick(c)
    r = requests.get(f"{svc.base}/v1/videos/{video.id}/content", params={"variant": "poster"}, headers=auth(),
                     timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "variant"
    r = requests.post(f"{svc.base}/v1/videos", data=b"{not json", headers={**auth(), "content-type": "application/json"},
                      timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "body"
    r = requests.get(f"{svc.base}/v1/videos/no-such-video", headers=auth(), timeout=10)
    assert r.status_code == 404 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.BadRequestError):
        c.videos.remix(video.id, prompt=None)  # type: ignore[arg-type]
    r = requests.post(f"{svc.base}/v1/videos/edits", headers=auth(), timeout=10)
    assert r.status_code == 400 and "not offered" in r.json()["error"]["message"]
    # The native /v1 beside it keeps its own routes and error shape.
    assert requests.get(f"{svc.base}/v1/models", headers=auth(), timeout=10).status_code == 200
    native = requests.get(f"{svc.base}/v1/jobs/no-such-job", headers=auth(), timeout=10).json()
    assert set(native["error"]) == {"code", "message", "field"}


def test_json_body_extensions_and_an_end_frame(svc):
    tall = data_uri(png_bytes(textured_image(180, 320, seed=3)))
    r = _post(svc, {"prompt": "open the door", "model": "vidu/vidu-q2/start-end-to-video", "seconds": 2,
                    "size": "540x960", "input_reference": {"image_url": tall}, "input_reference_end": tall,
                    "mode": "turbo", "seed": 1234, "negative_prompt": "blur", "num_inference_steps": 30})
    assert r.status_code == 200, r.text
    assert 250 <= int(r.headers["openai-poll-after-ms"]) <= 5000
    video = client(svc).videos.poll(r.json()["id"], poll_interval_ms=100)
    assert (video.status, video.size, video.seconds, video.model) == (
        "completed", "540x960", "2", "vidu/vidu-q2/start-end-to-video")
    job = requests.get(f"{svc.base}/v1/jobs/{video.id}", headers=auth(), timeout=10).json()
    assert job["seed"] == 1234 and job["input"]["mode"] == "turbo" and job["input"]["resolution"] == "540p"
    assert job["metadata"]["ignored_fields"] == ["negative_prompt", "num_inference_steps"]
    # The form spelling of the same extensions (all text) reaches the model typed.
    r = _post(svc, {"prompt": "x", "seconds": "1", "size": "960x540", "seed": "77", "audio": "false"},
              files={"input_reference": ("wide.png", WIDE, "image/png")})
    assert r.status_code == 200, r.text
    job = requests.get(f"{svc.base}/v1/jobs/{r.json()['id']}", headers=auth(), timeout=10).json()
    assert job["seed"] == 77 and job["input"]["audio"] is False


def test_responses_match_the_documented_schemas(svc):
    from tests.e2e.test_docs import check, response_schema

    c = client(svc)
    r = _post(svc, {"prompt": "doc", "seconds": "1", "size": "960x540", "audio": False,
                    "input_reference": {"image_url": WIDE_URI}})
    check(response_schema("/v1/videos", "post", "200"), r.json())
    c.videos.poll(r.json()["id"], poll_interval_ms=100)
    one = requests.get(f"{svc.base}/v1/videos/{r.json()['id']}", headers=auth(), timeout=10).json()
    check(response_schema("/v1/videos/{video_id}", "get", "200"), one)
    page = requests.get(f"{svc.base}/v1/videos", params={"limit": 3}, headers=auth(), timeout=10).json()
    check(response_schema("/v1/videos", "get", "200"), page)
    remix = requests.post(f"{svc.base}/v1/videos/{one['id']}/remix", json={"prompt": "again"}, headers=auth(),
                          timeout=30).json()
    check(response_schema("/v1/videos/{video_id}/remix", "post", "200"), remix)
    gone = requests.delete(f"{svc.base}/v1/videos/{remix['id']}", headers=auth(), timeout=10).json()
    check(response_schema("/v1/videos/{video_id}", "delete", "200"), gone)
    bad = _post(svc, {"prompt": "x", "size": "1x1", "input_reference": {"image_url": WIDE_URI}})
    check(response_schema("/v1/videos", "post", "400"), bad.json())
    failed = requests.get(f"{svc.base}/v1/videos/{remix['id']}", headers=auth(), timeout=10).json()
    check(response_schema("/v1/videos/{video_id}", "get", "200"), failed)
    assert failed["status"] == "failed" and failed["error"]["code"] == "Canceled"


def test_keys_cli_sets_and_clears_a_keys_webhook_url(tmp_path):
    data = tmp_path / "data"
    data.mkdir()

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "stillmotion.cli", "keys", *args, "--data-dir", str(data)],
                              env=service_env(data), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("create", "plain")
    cli("create", "hooked", "--webhook-url", "https://hooks.example.com/a")
    rows = {line.split("\t")[1]: line for line in cli("list").splitlines()}
    assert "webhook https://hooks.example.com/a" in rows["hooked"] and "webhook" not in rows["plain"]
    key_id = rows["hooked"].split("\t")[0]
    cli("set", key_id, "--webhook-url", "https://hooks.example.com/b")
    assert "webhook https://hooks.example.com/b" in cli("list")
    cli("set", key_id, "--webhook-url", "")
    assert "webhook" not in cli("list")
