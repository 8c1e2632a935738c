"""Watermarks: corner, margin and scale in real decoded MP4s; the user's mark fetched over
loopback HTTP; failures visible; the "AI-generated" tag read back from the file."""

from __future__ import annotations

import time

import numpy as np
import pytest
import requests
from PIL import Image

from stillmotion.domain import GenerationSpec, WatermarkSpec
from stillmotion.engines import get_engine
from stillmotion.errors import GenerationFailed
from stillmotion.media.video import probe, read_frames
from stillmotion.media.watermark import (
    BOX_HEIGHT,
    MARGIN,
    POSITIONS,
    Watermark,
    build_watermark,
    default_mark,
)
from stillmotion.render import render_clip
from stillmotion.settings import Settings
from tests.helpers import auth, data_uri, png_bytes

GREY = 128


@pytest.fixture(scope="module")
def grey_image(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("wm") / "grey.png"
    Image.fromarray(np.full((360, 640, 3), GREY, np.uint8)).save(path)
    return str(path)


def spec_for(image: str, width: int, height: int, wm: WatermarkSpec | None, frames: int = 4) -> GenerationSpec:
    return GenerationSpec(model="vidu/vidu-q3/image-to-video", mode="turbo", prompt="static shot", image=image,
                          width=width, height=height, num_frames=frames, duration=1, seed=3,
                          resolution=f"{min(width, height)}p", watermark=wm)


def render(tmp_path, spec: GenerationSpec, **kw) -> tuple[list[np.ndarray], dict]:
    out = render_clip(get_engine("motion"), spec, tmp_path / "v.mp4", tmp_path / "c.jpg", **kw)
    return list(read_frames(out.video)), out.metadata


def mark_bbox(frame: np.ndarray, background: int = GREY, tol: int = 24) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels that differ from the flat background."""
    ys, xs = np.nonzero(np.abs(frame.astype(int) - background).max(axis=2) > tol)
    assert xs.size, "no watermark pixels found"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("position", POSITIONS)
def test_default_mark_sits_in_each_corner_with_margin(tmp_path, grey_image, position):
    w, h = 640, 360  # the default mark is 15 % of the short side wide: 54 px here
    frames, meta = render(tmp_path, spec_for(grey_image, w, h, WatermarkSpec(position=position)))
    margin = round(MARGIN * h)
    x0, y0, x1, y1 = mark_bbox(frames[0])
    for frame in frames:  # every frame, not just the first
        assert mark_bbox(frame) == pytest.approx((x0, y0, x1, y1), abs=1)
    near = 3  # the outline's faint antialiased edge may not pass the threshold
    if position.endswith("left"):
        assert abs(x0 - margin) <= near and x1 < w / 2
    else:
        assert abs(w - x1 - margin) <= near and x0 > w / 2
    if position.startswith("top"):
        assert abs(y0 - margin) <= near and y1 < h / 2
    else:
        assert abs(h - y1 - margin) <= near and y0 > h / 2
    assert meta["watermark"]["position"] == position and meta["watermark"]["source"] == "default"


def test_default_mark_is_readable_on_light_and_dark():
    mark = default_mark(720)
    opaque = mark[..., 3] > 150
    luma = mark[..., :3].astype(int).mean(axis=2)[opaque]
    assert (luma > 200).mean() > 0.2 and (luma < 60).mean() > 0.2  # white fill, dark outline


@pytest.mark.parametrize("height", [540, 720, 1080])
def test_mark_scales_with_the_resolution(height):
    width = height * 16 // 9
    mark = build_watermark(WatermarkSpec(), width, height)
    _, _, mw, mh = mark.box
    base = build_watermark(WatermarkSpec(), 1280, 720).box
    assert mh / height == pytest.approx(base[3] / 720, rel=0.08)
    assert mw / width == pytest.approx(base[2] / 1280, rel=0.08)
    portrait = build_watermark(WatermarkSpec(), height, width).box  # 9:16: the short side decides
    assert (portrait[2], portrait[3]) == (mw, mh)


def test_mark_size_measured_in_decoded_videos(tmp_path, grey_image):
    sizes = []
    for w, h in ((960, 540), (1920, 1080)):  # output sizes (540p, 1080p): a 15 % mark is measurable there
        frames, _ = render(tmp_path, spec_for(grey_image, w, h, WatermarkSpec(position="top-left"), frames=2))
        x0, y0, x1, y1 = mark_bbox(frames[0])
        sizes.append((x1 - x0, y1 - y0))
    assert sizes[1][0] / sizes[0][0] == pytest.approx(2.0, rel=0.1)
    assert sizes[1][1] / sizes[0][1] == pytest.approx(2.0, rel=0.15)


def test_blend_is_exact_alpha_compositing():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (0, 0, 255, 128)  # half blue
    mark = Watermark(premultiplied=rgba[..., :3].astype(np.float32) * (rgba[..., 3:] / 255.0),
                     alpha=rgba[..., 3:].astype(np.float32) / 255.0, x=1, y=1)
    frame = np.full((4, 4, 3), 100, np.uint8)
    mark.apply(frame)
    assert tuple(frame[1, 1]) == (255, 0, 0)
    assert tuple(frame[1, 2]) == (50, 50, 178)  # 100 * (1 - 0.502) + 255 * 0.502
    assert tuple(frame[2, 1]) == tuple(frame[0, 0]) == (100, 100, 100)  # transparent, and outside


def logo_png() -> bytes:
    """A 64x32 logo: opaque red left half, fully transparent right half."""
    rgba = np.zeros((32, 64, 4), np.uint8)
    rgba[:, :32] = (230, 20, 20, 255)
    return png_bytes(rgba)


def test_wm_url_is_fetched_over_http_and_placed(tmp_path, grey_image, files):
    url = files.add_bytes("/logo.png", logo_png())
    w, h = 320, 180
    spec = spec_for(grey_image, w, h, WatermarkSpec(position="bottom-left", image_url=url))
    frames, meta = render(tmp_path, spec, settings=Settings(allow_private_urls=True))
    assert meta["watermark"]["source"] == "wm_url"
    x, y, bw, bh = meta["watermark"]["box"]
    box_h = round(BOX_HEIGHT * h)
    assert (bw, bh) == (2 * box_h, box_h)  # 2:1 logo fitted to the box height, upscaled
    assert (x, y + bh) == (round(MARGIN * h), h - round(MARGIN * h))
    frame = frames[-1].astype(int)
    red = frame[y + 3 : y + bh - 3, x + 3 : x + bh - 3]  # the opaque left half
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    clear = frame[y + 3 : y + bh - 3, x + bh + 3 : x + bw - 3]  # the transparent right half
    assert np.abs(clear - GREY).max() <= 6


def test_private_wm_url_refused_without_the_setting(tmp_path, grey_image, files):
    url = files.add_bytes("/logo2.png", logo_png())
    spec = spec_for(grey_image, 320, 180, WatermarkSpec(image_url=url))
    with pytest.raises(GenerationFailed) as err:
        render(tmp_path, spec, settings=Settings(allow_private_urls=False))
    assert err.value.field == "wm_url" and "could not be fetched" in err.value.message
    assert not list(tmp_path.iterdir())  # no video, no part file, no cover


@pytest.mark.parametrize(("route", "body", "words"), [
    ("/missing.png", None, "HTTP 404"),
    ("/text.png", b"hello, not an image", "not an image"),
    ("/trunc.png", None, "truncated or corrupt"),
])
def test_bad_wm_url_fails_the_render_visibly(tmp_path, grey_image, files, route, body, words):
    if route == "/trunc.png":
        body = logo_png()[:60]
    url = files.add_bytes(route, body) if body is not None else files.url(route)
    spec = spec_for(grey_image, 320, 180, WatermarkSpec(image_url=url))
    with pytest.raises(GenerationFailed) as err:
        render(tmp_path, spec, settings=Settings(allow_private_urls=True))
    assert err.value.field == "wm_url" and words in err.value.message
    assert err.value.reason == "GenerationFailure"


def test_unknown_position_names_the_field():
    with pytest.raises(GenerationFailed) as err:
        build_watermark(WatermarkSpec(position="middle"), 320, 180)
    assert err.value.field == "wm_position"


def test_every_output_is_tagged_ai_generated(tmp_path, grey_image):
    spec = spec_for(grey_image, 160, 96, None, frames=2)
    out = render_clip(get_engine("motion"), spec, tmp_path / "v.mp4", tmp_path / "c.jpg",
                      tags={"title": "job x", "comment": "caller tries to drop the tag"})
    tags = probe(out.video).metadata  # read back from the file by PyAV
    assert tags["comment"] == "AI-generated"
    assert "AI-generated" in tags["description"] and tags["title"] == "job x"
    assert "watermark" not in out.metadata


def submit_pro(service, **extra) -> str:
    body = {"images": [data_uri(png_bytes(np.full((300, 400, 3), GREY, np.uint8)))], "prompt": "static shot",
            "duration": 1, "resolution": "540p", "aspect_ratio": "1:1", "seed": 5, "watermark": True, **extra}
    r = requests.post(f"{service.base}/v3/async/vidu-q3-pro-i2v", json=body, headers=auth(), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["task_id"]


def wait_task(service, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{service.base}/v3/async/task-result", params={"task_id": task_id},
                            headers=auth(), timeout=10).json()
        if body["task"]["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
            return body
        time.sleep(0.2)
    raise TimeoutError(task_id)


def test_watermarked_job_through_http(service, files, tmp_path):
    url = files.add_bytes("/e2e-logo.png", logo_png())
    body = wait_task(service, submit_pro(service, wm_url=url, wm_position=1))  # 1 = top-left (Vidu's numbering)
    assert body["task"]["status"] == "TASK_STATUS_SUCCEED", body
    out = tmp_path / "wm.mp4"
    out.write_bytes(requests.get(body["videos"][0]["video_url"], timeout=30).content)
    assert probe(out).metadata["comment"] == "AI-generated"
    frame = next(iter(read_frames(out)))
    margin, box_h = round(MARGIN * 540), round(BOX_HEIGHT * 540)
    red = frame[margin + 3 : margin + box_h - 3, margin + 3 : margin + box_h - 3].astype(int)
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    x0, y0, x1, y1 = mark_bbox(frame)
    # within 2 px: 4:2:0 chroma and the codec smear a red edge a little
    assert (x0, y0, x1, y1) == pytest.approx((margin, margin, margin + box_h, margin + box_h), abs=2)


def test_unfetchable_wm_url_fails_the_job_visibly(service, files):
    body = wait_task(service, submit_pro(service, wm_url=files.url("/no-such-logo.png")))
    assert body["task"]["status"] == "TASK_STATUS_FAILED"
    assert "wm_url" in body["task"]["reason"] and "404" in body["task"]["reason"], body["task"]
    assert body["videos"] == []


@pytest.mark.parametrize("width, height", [(720, 720), (1280, 720), (720, 1280), (960, 540), (1920, 1080)])
def test_default_mark_is_at_most_15_percent_of_the_frame_width(width, height):
    _, _, mark_w, mark_h = build_watermark(WatermarkSpec(), width, height).box
    assert mark_w <= 0.15 * width + 2, f"{mark_w} px of {width}"
    assert mark_h >= 0.012 * min(width, height)  # still readable
