"""The `anime` style: a cel-shaded look made once per clip, so it cannot flicker.

Edge-preserving smoothing (repeated bilateral filtering) flattens shading into cels, colours
are quantised to a small palette picked by k-means (seeded, deterministic), and dark ink
lines are drawn where the smoothed image has strong edges. The style is applied to the
source canvas the warp samples, so every frame shows the same restyled pixels
moved by the camera: it holds perfectly steady across frames (only the motion changes).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

STYLES = ("general", "anime")
PALETTE = 14
INK_STRENGTH = 0.85


def anime(rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Cel-shaded version of `rgb` (same size); smoothing runs at `scale` of the size."""
    h, w = rgb.shape[:2]
    work = rgb if scale >= 1.0 else cv2.resize(rgb, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA)
    smooth = work
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 7, 40, 5)
    if smooth.shape[:2] != (h, w):
        smooth = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR)
    flat = _quantise(smooth)
    grey = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.2), 40, 110)
    ink = cv2.GaussianBlur(cv2.dilate(edges, np.ones((2, 2), np.uint8)).astype(np.float32) / 255.0, (0, 0), 0.7)
    out = flat.astype(np.float32) * (1.0 - INK_STRENGTH * np.clip(ink, 0, 1))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _quantise(rgb: np.ndarray) -> np.ndarray:
    """Map every pixel to the nearest of PALETTE colours found by k-means on a sample."""
    sample = cv2.resize(rgb, (96, max(8, round(96 * rgb.shape[0] / rgb.shape[1]))), interpolation=cv2.INTER_AREA)
    data = sample.reshape(-1, 3).astype(np.float32)
    k = min(PALETTE, len(np.unique(data, axis=0)))
    cv2.setRNGSeed(7)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(data, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    centres = centres[np.lexsort(centres.T[::-1])]  # order does not depend on the k-means start
    # Nearest palette colour (in Lab) for each of 32^3 RGB bins, then one table lookup.
    levels = (np.arange(32, dtype=np.float32) * 8 + 4).astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(1, -1, 3)
    lab_grid = cv2.cvtColor(grid, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lab_c = cv2.cvtColor(centres.reshape(1, -1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    table = np.argmin(((lab_grid[:, None, :] - lab_c[None]) ** 2).sum(-1), axis=1)
    q = (rgb >> 3).astype(np.int32)
    return centres.astype(np.uint8)[table[(q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]]]


def style_for(name: str | None, scale: float) -> Callable[[np.ndarray], np.ndarray] | None:
    """The canvas restyler for a style name (None for `general`)."""
    if (name or "general") == "anime":
        return lambda rgb: anime(rgb, scale)
    return None
