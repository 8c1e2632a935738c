"""From one image and its disparity to depth layers that can slide over each other.

The disparity is split into K layers at the values where its histogram has the most room
between clusters (1-D k-means), so a boundary falls in a depth gap, i.e. on an object's
outline. Each layer is an RGBA image of the whole canvas: alpha covers the layer and
everything nearer (so a nearer layer that moves away uncovers this layer's own surface, not a
hole), and the colour under nearer layers is filled by background extension (push-pull:
masked averages down a pyramid, interpolated back up), which gives a smooth continuation of
the surrounding colours rather than black holes or streaks. The farthest layer is opaque.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ALPHA_SOFTNESS = 0.05  # disparity units over which a layer's alpha ramps from 0 to 1


def layer_thresholds(disparity: np.ndarray, count: int) -> list[float]:
    """count-1 disparity thresholds between clusters (1-D k-means on a histogram)."""
    if count <= 1:
        return []
    hist, edges = np.histogram(disparity, bins=128, range=(0.0, 1.0))
    mids = (edges[:-1] + edges[1:]) / 2
    centres = np.quantile(disparity, (np.arange(count) + 0.5) / count)
    for _ in range(30):
        assign = np.argmin(np.abs(mids[:, None] - centres[None, :]), axis=1)
        new = np.array([
            np.average(mids[assign == k], weights=hist[assign == k]) if hist[assign == k].sum() else centres[k]
            for k in range(count)
        ])
        if np.allclose(new, centres, atol=1e-4):
            break
        centres = new
    centres = np.sort(centres)
    cuts = [float((a + b) / 2) for a, b in zip(centres[:-1], centres[1:]) if b - a > 2 * ALPHA_SOFTNESS]
    return cuts


def push_pull_fill(img: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill pixels where known == 0 from their surroundings (float image, known weights 0..1)."""
    levels = []
    cur_img = img.astype(np.float32) * known[..., None]
    cur_w = known.astype(np.float32)
    while min(cur_w.shape[:2]) > 2:
        levels.append((cur_img, cur_w))
        cur_img = cv2.pyrDown(cur_img)
        cur_w = cv2.pyrDown(cur_w)
    filled = cur_img / np.maximum(cur_w, 1e-6)[..., None]
    for lvl_img, lvl_w in reversed(levels):
        up = cv2.resize(filled, (lvl_w.shape[1], lvl_w.shape[0]), interpolation=cv2.INTER_LINEAR)
        w = np.clip(lvl_w * 4.0, 0.0, 1.0)[..., None]  # nearly known pixels keep their own value
        own = lvl_img / np.maximum(lvl_w, 1e-6)[..., None]
        filled = own * w + up * (1.0 - w)
    return filled


@dataclass(frozen=True)
class Layers:
    """Per-layer RGBA canvases (far to near) and the disparity range each one spans."""

    images: list[np.ndarray]  # (h, w, 4) uint8; alpha of layer 0 is 255 everywhere
    ranges: list[tuple[float, float]]
    thresholds: list[float]
    disparities: list[float]  # each layer's representative disparity (median of its pixels)


def build_layers(canvas: np.ndarray, disparity: np.ndarray, count: int, fill_scale: float, *, flat: bool = False) -> Layers:
    """Split `canvas` (RGB) into depth layers; holes under nearer layers are filled at
    `fill_scale` of the canvas resolution (background extension).

    `flat=True` (a plan with no camera translation, where every layer moves alike): the same
    thresholds and disparities, but one opaque image, the canvas itself, which is what the
    layers composite to at rest, so rendering it is the same picture without the per-frame
    compositing (and without cutting and filling layers at setup)."""
    cuts = layer_thresholds(disparity, count)
    bounds = [0.0, *cuts, 1.0]
    h, w = canvas.shape[:2]
    images: list[np.ndarray] = []
    small_size = (max(8, round(w * fill_scale)), max(8, round(h * fill_scale)))
    small_disp = cv2.resize(disparity, small_size, interpolation=cv2.INTER_AREA)
    if flat:
        images.append(cv2.cvtColor(canvas, cv2.COLOR_RGB2RGBA))
    else:
        small = cv2.resize(canvas, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    channels = cv2.split(canvas)
    opaque = np.full((h, w), 255, np.uint8)
    for k in range(0 if flat else len(bounds) - 1):
        # alpha = clip((d - bound) / softness + 0.5, 0, 1) * 255, rounded and saturated by OpenCV
        alpha = opaque if k == 0 else cv2.addWeighted(
            disparity, 255.0 / ALPHA_SOFTNESS, disparity, 0.0, (0.5 - bounds[k] / ALPHA_SOFTNESS) * 255.0, dtype=cv2.CV_8U)
        colour = channels
        if k + 1 < len(bounds) - 1:
            covered = disparity >= bounds[k + 1] + 0.499 * ALPHA_SOFTNESS  # nearer layer opaque: fully hidden at rest
            if covered.any():
                known = (small_disp < bounds[k + 1] - ALPHA_SOFTNESS).astype(np.float32)
                fill = np.clip(push_pull_fill(small, known) + 0.5, 0, 255).astype(np.uint8)
                fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)
                colour = cv2.split(cv2.copyTo(fill, covered.view(np.uint8), canvas.copy()))
        images.append(cv2.merge([*colour, alpha]))
    ranges = [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
    medians = []
    for lo, hi in ranges:
        own = small_disp[(small_disp >= lo) & (small_disp <= hi)]
        medians.append(float(np.median(own)) if own.size else (lo + hi) / 2)
    return Layers(images=images, ranges=ranges, thresholds=cuts, disparities=medians)
