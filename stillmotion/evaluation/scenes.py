"""Synthetic but natural-looking test images, made in code (no files to ship or download).

Each has what real photos have and what a zoom shows off: smooth gradients (sky), fractal
edges (ridges), fine texture (grass, grain) and straight high-contrast edges (buildings),
where whole-pixel steps show as shimmer. Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def _noise(rng: np.random.Generator, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Fractal value noise in [0, 1]: octaves of upscaled random grids."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 4 * 2**o
        grid = rng.random((cells, max(2, cells * w // h))).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    return (out - out.min()) / max(1e-6, float(out.max() - out.min()))


def _ridge(rng: np.random.Generator, w: int, base: float, rough: float, h: int) -> np.ndarray:
    """A mountain skyline: y of the ridge for every column."""
    line = np.zeros(w, np.float32)
    amp = rough * h
    for o in range(6):
        pts = rng.random(4 * 2**o + 1).astype(np.float32)
        line += amp * np.interp(np.linspace(0, len(pts) - 1, w), np.arange(len(pts)), pts)
        amp *= 0.5
    return base * h - line


def _grain(rng: np.random.Generator, img: np.ndarray, amount: float) -> np.ndarray:
    return (img + rng.normal(0, amount, img.shape).astype(np.float32)).clip(0, 255).astype(np.uint8)


def landscape(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Sky with clouds, two mountain ranges, a textured meadow."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (1 - y) * np.array([70, 130, 210], np.float32) + y * np.array([200, 220, 240], np.float32)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    clouds = np.clip((_noise(rng, h, w) - 0.5) * 3, 0, 1)[..., None]
    img = img * (1 - clouds * 0.8) + 250 * clouds * 0.8
    rows = np.arange(h, dtype=np.float32)[:, None]
    for base, rough, colour in ((0.55, 0.25, (95, 110, 140)), (0.75, 0.2, (60, 85, 60))):
        ridge = _ridge(rng, w, base, rough, h)[None, :]
        mask = (rows > ridge)[..., None]
        shade = (0.75 + 0.5 * _noise(rng, h, w, 6))[..., None]
        img = np.where(mask, np.array(colour, np.float32) * shade, img)
    grass = _noise(rng, h, w, 7)[..., None]
    meadow = (rows > 0.85 * h)[..., None]
    img = np.where(meadow, np.array([70, 120, 40], np.float32) * (0.6 + 0.8 * grass), img)
    return _grain(rng, img, 4.0)


def city(w: int, h: int, seed: int = 1) -> np.ndarray:
    """A skyline of lit buildings with window grids against a dusk sky."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (1 - y) * np.array([40, 50, 110], np.float32) + y * np.array([240, 150, 90], np.float32)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    x = 0
    while x < w:
        bw = int(rng.integers(w // 16, w // 7))
        top = int(h * rng.uniform(0.2, 0.6))
        shade = rng.uniform(30, 80)
        img[top:, x : x + bw] = (shade, shade * 0.95, shade * 1.1)
        win = max(3, bw // 10)
        for wy in range(top + win, h - win, 2 * win):
            for wx in range(x + win, x + bw - win, 2 * win):
                if rng.random() < 0.6:
                    img[wy : wy + win, wx : wx + win] = rng.uniform(180, 255) * np.array([1, 0.85, 0.55])
        x += bw + int(rng.integers(0, w // 40 + 1))
    return _grain(rng, img, 3.0)


def still_life(w: int, h: int, seed: int = 2) -> np.ndarray:
    """A shaded ball and a vase on a wood-grain table before a plain wall."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.array([190, 180, 165], np.float32) * (0.8 + 0.2 * _noise(rng, h, w, 3))[..., None]
    table = yy > 0.6 * h
    grain = 0.5 + 0.5 * np.sin(xx / w * 60 + 6 * _noise(rng, h, w, 4))
    img[table] = (np.array([120, 75, 40], np.float32) * (0.7 + 0.4 * grain[..., None]))[table]
    for cx, cy, r, colour in ((0.35, 0.55, 0.16, (200, 40, 40)), (0.68, 0.45, 0.12, (40, 90, 170))):
        d2 = ((xx - cx * w) ** 2 + (yy - cy * h) ** 2) / (r * h) ** 2
        light = np.clip(1.1 - ((xx - (cx - r * 0.4) * w) ** 2 + (yy - (cy - r * 0.5) * h) ** 2) / (1.5 * (r * h) ** 2),
                        0.25, 1.1)
        ball = d2 < 1
        img[ball] = (np.array(colour, np.float32) * light[..., None])[ball]
    return _grain(rng, img, 3.0)


SCENES: dict[str, Callable[[int, int, int], np.ndarray]] = {
    "landscape": landscape,
    "city": city,
    "still_life": still_life,
}
