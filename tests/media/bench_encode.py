"""Encode speed per mode: `python -m tests.media.bench_encode [WIDTH HEIGHT FRAMES]` from the repo root.

Frames are made before timing starts; the clock covers RGB->YUV conversion, x264 and muxing.
Two contents: a smooth pan, and a slow zoom-and-pan over a photo-like still.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stillmotion.media.video import VideoWriter, probe

from .conftest import smooth_image


def photo_like(width: int, height: int) -> np.ndarray:
    """Blobs on a gradient with a little grain, slightly soft: closer to a photo than noise."""
    import cv2

    rng = np.random.default_rng(0)
    img = smooth_image(width, height).astype(np.float32)
    y, x = np.mgrid[0:height, 0:width]
    for _ in range(60):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(4, min(width, height) / 8)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = img[mask] * 0.3 + rng.uniform(0, 255, 3) * 0.7
    img += rng.normal(0, 4, img.shape)
    return cv2.GaussianBlur(img.clip(0, 255).astype(np.uint8), (0, 0), 0.7)


def clips(width: int, height: int, n: int) -> dict[str, list[np.ndarray]]:
    """A smooth pan (easy) and a slow zoom-and-pan over a photo-like still (what engines make)."""
    import cv2

    smooth = smooth_image(width, height)
    big = photo_like(width * 5 // 4, height * 5 // 4)
    x0, y0 = (big.shape[1] - width) // 2, (big.shape[0] - height) // 2

    def camera(i: int) -> np.ndarray:
        m = cv2.getRotationMatrix2D((big.shape[1] / 2 + 0.7 * i, big.shape[0] / 2), 0.0, 1 + 0.15 * i / n)
        return cv2.warpAffine(big, m, (big.shape[1], big.shape[0]))[y0 : y0 + height, x0 : x0 + width].copy()

    return {"smooth": [np.roll(smooth, 3 * i, axis=1) for i in range(n)], "photo": [camera(i) for i in range(n)]}


def main() -> None:
    width, height, n = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (1280, 720, 120)
    with tempfile.TemporaryDirectory() as tmp:
        for content, frames in clips(width, height, n).items():
            for mode in ("pro", "pro-fast", "turbo"):
                path = Path(tmp) / f"{mode}.mp4"
                start = time.perf_counter()
                with VideoWriter(path, width, height, mode=mode) as writer:
                    for frame in frames:
                        writer.write(frame)
                seconds = time.perf_counter() - start
                info = probe(path)
                assert info.frames == n
                print(
                    f"{width}x{height} {n} frames {content:8} {mode:8} {n / seconds:6.1f} fps "
                    f"({seconds:.2f} s, {n / 24 / seconds:.1f}x real time, {path.stat().st_size / 1e6:.2f} MB)"
                )


if __name__ == "__main__":
    main()
