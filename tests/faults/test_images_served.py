"""F3 on a real server: a 16-bit greyscale PNG and a palette PNG with a transparent index are
rendered as they look, not white and not the palette's hidden colour (the MP4 decoded by PyAV)."""

from __future__ import annotations

import base64
import io

import numpy as np
import requests
from PIL import Image

from stillmotion.media.video import read_frames
from tests.helpers import Service, auth, wait_v1


def uri(im: Image.Image, **save: object) -> str:
    buf = io.BytesIO()
    im.save(buf, "PNG", **save)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render(svc: Service, image: str, tmp_path, name: str) -> np.ndarray:
    body = {"model": "vidu-q3-turbo-i2v", "input": {"images": [image], "prompt": "static shot", "duration": 1,
                                                    "resolution": "540p", "audio": False, "seed": 1}}
    r = requests.post(f"{svc.base}/v1/jobs", json=body, headers=auth(), timeout=30)
    assert r.status_code == 201, r.text
    job = wait_v1(svc.base, r.json()["id"], timeout=120)
    assert job["status"] == "succeeded", job
    out = tmp_path / f"{name}.mp4"
    out.write_bytes(requests.get(job["output"]["video_url"], timeout=30).content)
    return next(read_frames(out)).astype(np.float64)


def test_sixteen_bit_and_transparent_palette_inputs_render_as_they_look(tmp_path):
    svc = Service(tmp_path / "data", "--workers", "1")
    try:
        dark = Image.fromarray(np.full((480, 640), 64 * 257, np.uint16))  # 16-bit grey at a quarter
        frame = render(svc, uri(dark), tmp_path, "grey16")
        assert abs(frame.mean() - 64) < 12, frame.mean()  # it was 255: clipped to white

        idx = np.zeros((480, 640), np.uint8)
        idx[:, 320:] = 1  # the right half is the transparent index, whose palette colour is pure red
        pal = Image.fromarray(idx, "P")
        pal.putpalette([0, 0, 200, 255, 0, 0] + [0] * 762)
        frame = render(svc, uri(pal, transparency=1), tmp_path, "palette")
        right = frame[:, frame.shape[1] * 3 // 4:]
        assert right.mean() > 200 and abs(right[..., 0].mean() - right[..., 1].mean()) < 25  # white, not red
    finally:
        svc.stop()

