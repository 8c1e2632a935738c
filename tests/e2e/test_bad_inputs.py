"""Refused requests: the right status, a message naming the field, and no job, charge or file left."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import requests
from PIL import Image

from stillmotion.auth import hash_key
from stillmotion.store import Database
from tests.helpers import KEY, FileServer, Service, auth, data_uri, png_bytes, textured_image

Q3 = "vidu/vidu-q3/image-to-video"
Q2 = "vidu/vidu-q2/image-to-video"
SE = "vidu/vidu-q2/start-end-to-video"


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR claiming a huge image, with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda tag, data: struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def gif_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured_image(200, 200)).save(buf, format="GIF")
    return buf.getvalue()


GOOD = data_uri(png_bytes(textured_image(256, 256)))
TRUNCATED = data_uri(png_bytes(textured_image(256, 256))[:2000])


def job(model: str = Q3, **args) -> dict:
    base = {"prompt": "zoom in", "image": GOOD, "duration": 1, "resolution": "540p"}
    base.update(args)
    return {"model": model, "args": {k: v for k, v in base.items() if v is not None}}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A service with the default SSRF guard (private addresses refused)."""
    data = tmp_path_factory.mktemp("strict") / "data"
    svc = Service(data, "--workers", "0", STILLMOTION_ALLOW_PRIVATE_URLS="false")
    svc.data_dir = data
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def lenient(tmp_path_factory):
    data = tmp_path_factory.mktemp("lenient") / "data"
    svc = Service(data, "--workers", "0")
    svc.data_dir = data
    yield svc
    svc.stop()


def job_cases(files: FileServer) -> list[tuple[str, dict, dict, int, str]]:
    """(name, body, headers, status, field named in the message)."""
    files.add_bytes("/small.png", png_bytes(textured_image(100, 100)))
    files.add_bytes("/wide.png", png_bytes(textured_image(1000, 200)))
    files.add_slow("/slow.png", 6)
    h = auth()
    return [
        ("unknown model", {"model": "vidu/nope", "args": {}}, h, 400, "model"),
        ("missing model", {"args": job()["args"]}, h, 400, "model"),
        ("args not object", {"model": Q3, "args": "x"}, h, 400, "args"),
        ("missing prompt", job(prompt=None), h, 400, "prompt"),
        ("prompt not string", job(prompt=5), h, 400, "prompt"),
        ("prompt too long", job(prompt="a" * 5001), h, 400, "prompt"),
        ("missing image", job(image=None), h, 400, "image"),
        ("duration too long", job(duration=17), h, 400, "duration"),
        ("duration zero", job(duration="0"), h, 400, "duration"),
        ("duration not a number", job(duration="five"), h, 400, "duration"),
        ("duration float", job(duration=2.5), h, 400, "duration"),
        ("bad resolution", job(resolution="4k"), h, 400, "resolution"),
        ("bad mode", job(mode="fast"), h, 400, "mode"),
        ("540p in pro-fast", job(Q2, mode="pro-fast"), h, 400, "resolution"),
        ("audio without voice", job(Q2, generate_audio=True), h, 400, "voice_id"),
        ("q2 duration 11", job(Q2, duration=11), h, 400, "duration"),
        ("start-end without tail", job(SE), h, 400, "image_tail"),
        ("start-end duration 9", job(SE, image_tail=GOOD, duration=9), h, 400, "duration"),
        ("non-image bytes", job(image=data_uri(b"hello, not an image" * 20)), h, 400, "image"),
        ("truncated png", job(image=TRUNCATED), h, 400, "image"),
        ("huge dimensions", job(image=data_uri(bomb_png())), h, 400, "image"),
        ("gif", job(image=data_uri(gif_bytes(), "image/gif")), h, 400, "image"),
        ("too small", job(image=files.url("/small.png")), h, 400, "image"),
        ("aspect 5:1", job(image=files.url("/wide.png")), h, 400, "image"),
        ("url 404", job(image=files.url("/missing.png")), h, 400, "image"),
        ("url times out", job(image=files.url("/slow.png")), h, 400, "image"),
        ("bad tail", job(SE, image_tail="data:image/png;base64,AAAA"), h, 400, "image_tail"),
        ("callback not a string", {**job(), "callback_url": 5}, h, 400, "callback_url"),
        ("not json", None, h, 400, "body"),
        ("no key", job(), {}, 401, "Authorization"),
        ("wrong key", job(), auth("nope"), 401, "Authorization"),
        ("basic auth", job(), {"Authorization": "Basic abc"}, 401, "Authorization"),
    ]


def async_cases() -> list[tuple[str, str, dict, int, str]]:
    pro, turbo = "vidu-q3-pro-i2v", "vidu-q3-turbo-i2v"
    ok = {"images": [GOOD], "duration": 1, "resolution": "540p"}
    return [
        ("no images", pro, {"prompt": "x"}, 400, "images"),
        ("two images", pro, {**ok, "images": [GOOD, GOOD]}, 400, "images"),
        ("images not a list", turbo, {**ok, "images": GOOD}, 400, "images"),
        ("pro prompt 1501", pro, {**ok, "prompt": "a" * 1501}, 400, "prompt"),
        ("seed negative", pro, {**ok, "seed": -1}, 400, "seed"),
        ("seed too big", turbo, {**ok, "seed": 2147483648}, 400, "seed"),
        ("duration string", turbo, {**ok, "duration": "5"}, 400, "duration"),
        ("bad aspect", pro, {**ok, "aspect_ratio": "2:1"}, 400, "aspect_ratio"),
        ("bad style", pro, {**ok, "style": "cartoon"}, 400, "style"),
        ("bad audio_type", turbo, {**ok, "audio_type": "music"}, 400, "audio_type"),
        ("pro audio not url", pro, {**ok, "audio": True}, 400, "audio"),
        ("bad wm_position", pro, {**ok, "watermark": True, "wm_position": "middle"}, 400, "wm_position"),
        ("webhook not object", turbo, {**ok, "extra": {"webhook": "x"}}, 400, "extra.webhook"),
        ("bad image in array", turbo, {**ok, "images": [TRUNCATED]}, 400, "images[0]"),
    ]


def assert_nothing_stored(svc: Service) -> None:
    store = Database(f"sqlite:///{svc.data_dir / 'stillmotion.db'}")
    try:
        stats = store.jobs.stats()
        assert sum(v for k, v in stats.items() if k in ("queued", "processing", "succeeded", "failed", "canceled")) == 0, stats
        assert store.accounts.ledger("env-" + hash_key(KEY)[:16]) == []
    finally:
        store.close()
    assert list((svc.data_dir / "inputs").iterdir()) == []


def check(r: requests.Response, status: int, field: str, async_shape: bool = False) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == status
    assert field in body["message"], body
    if async_shape:
        assert set(body) == {"code", "reason", "message", "metadata"}
    else:
        assert set(body) == {"code", "message", "data"} and body["data"] is None


def test_job_dialect_refusals(lenient, files):
    cases = job_cases(files)
    assert len(cases) >= 20
    for name, body, headers, status, field in cases:
        url = f"{lenient.base}/api/v1/job/create"
        if body is None:
            r = requests.post(url, data=b"{not json", headers={**headers, "content-type": "application/json"}, timeout=30)
        else:
            r = requests.post(url, json=body, headers=headers, timeout=30)
        try:
            check(r, status, field)
        except AssertionError as exc:
            raise AssertionError(f"case {name!r}: {exc}") from None
    assert_nothing_stored(lenient)


def test_async_dialect_refusals(lenient):
    for name, model, body, status, field in async_cases():
        r = requests.post(f"{lenient.base}/v3/async/{model}", json=body, headers=auth(), timeout=30)
        try:
            check(r, status, field, async_shape=True)
        except AssertionError as exc:
            raise AssertionError(f"case {name!r}: {exc}") from None
    r = requests.get(f"{lenient.base}/v3/async/task-result", headers=auth(), timeout=10)
    check(r, 400, "task_id", async_shape=True)
    r = requests.get(f"{lenient.base}/v3/async/task-result", params={"task_id": "nope"}, headers=auth(), timeout=10)
    check(r, 404, "task_id", async_shape=True)
    r = requests.get(f"{lenient.base}/api/v1/job/query", headers=auth(), timeout=10)
    check(r, 400, "id")
    assert_nothing_stored(lenient)


def test_oversize_data_uri_is_413(lenient):
    huge = "data:image/png;base64," + "A" * (68 * 1024 * 1024)  # ~51 MB decoded
    r = requests.post(f"{lenient.base}/api/v1/job/create", json=job(image=huge), headers=auth(), timeout=60)
    check(r, 413, "image")
    assert_nothing_stored(lenient)


def test_private_addresses_refused(strict, files):
    url = files.add_bytes("/ok.png", png_bytes(textured_image(256, 256)))
    cases = [
        (job(image=url), "image"),
        (job(image="http://169.254.169.254/latest/meta-data"), "image"),
        (job(image="http://[::1]/x.png"), "image"),
        (job(image="http://10.0.0.1/x.png"), "image"),
        ({**job(), "callback_url": "http://127.0.0.1:9/cb"}, "callback_url"),
        (job(image="ftp://example.com/x.png"), "image"),
    ]
    for body, field in cases:
        r = requests.post(f"{strict.base}/api/v1/job/create", json=body, headers=auth(), timeout=30)
        check(r, 400, field)
    assert files.posts == [] or all(p[0] != "/ok.png" for p in files.posts)
    assert_nothing_stored(strict)


def test_service_stays_up(lenient):
    assert requests.get(f"{lenient.base}/healthz", timeout=5).status_code == 200
