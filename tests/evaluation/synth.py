"""Synthetic clips whose true motion is known, for the metric tests (small, so they run fast)."""

from __future__ import annotations

import cv2
import numpy as np

W, H = 192, 112


def texture(width: int = 2 * W, height: int = 2 * H, seed: int = 0) -> np.ndarray:
    """Photo-like texture (blobs, gradients and grain at several scales): flow is well defined
    everywhere, which is what real photos have and flat synthetic gradients lack."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for cells, amp in ((6, 1.0), (14, 0.6), (36, 0.35), (90, 0.2)):
        grid = rng.random((cells * height // width + 2, cells, 3)).astype(np.float32)
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    out = (out - out.min()) / (out.max() - out.min()) * 230 + 12
    return out.clip(0, 255).astype(np.uint8)


def warp(img: np.ndarray, scale: float = 1.0, angle_deg: float = 0.0, shift: tuple[float, float] = (0, 0),
         size: tuple[int, int] = (W, H)) -> np.ndarray:
    """`img` scaled/rotated about its centre and shifted, cropped to `size` around the centre."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle_deg, scale)  # + angle: clockwise on screen
    m[0, 2] += shift[0] - (w - size[0]) / 2
    m[1, 2] += shift[1] - (h - size[1]) / 2
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def clip(n: int, *, step: tuple[float, float] = (0, 0), zoom: float = 0.0, rot_deg: float = 0.0,
         steps: list[float] | None = None, seed: int = 0) -> list[np.ndarray]:
    """`n` frames: per frame a shift of `step` px, a relative zoom of `zoom` and a rotation of
    `rot_deg`; or, with `steps`, horizontal shifts of the given sizes (jerky motion)."""
    img = texture(seed=seed)
    frames = []
    pos = 0.0
    for i in range(n):
        if steps is not None:
            frames.append(warp(img, shift=(pos, 0)))
            pos += steps[i % len(steps)]
        else:
            frames.append(warp(img, (1 + zoom) ** i, rot_deg * i, (step[0] * i, step[1] * i)))
    return frames
