"""The canvas a clip's camera moves sample: real content beyond the frame, then a soft margin.

The canvas is the input scaled exactly as ``fit_to_frame`` scales it but *not* cropped, so a
pan or tilt along the axis that fitting cropped shows real image content. Whatever a plan
needs beyond the image (a zoom-out, a pan across an image with no spare content) comes from
a soft continuation of the edge colours (``soft_pad``): no shapes, so nothing reads as a
reflection or a smear. Pans are first given a slight compensating zoom (see
``parallax.compensated``) so they stay over real content.
"""

from __future__ import annotations

import cv2
import numpy as np


def real_margins(scaled_shape: tuple[int, ...], origin: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """Real content beyond the frame on each side (left, top, right, bottom), in pixels."""
    x0, y0 = origin
    return (x0, y0, scaled_shape[1] - width - x0, scaled_shape[0] - height - y0)


MARGIN_SHADE = 0.12  # how much darker the synthetic margin gets at its far edge (reads as a vignette)
SEAM_PX = 3  # the image's own edge pixels blended into the margin over this many pixels


def push_pull_fill(img: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill pixels where known == 0 from their surroundings (float image, known weights 0..1):
    masked averages down a pyramid, interpolated back up, a smooth continuation of the colours
    around the hole with no structure of its own (nothing mirrored, no streaks)."""
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


def soft_pad(img: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """`img` padded by (left, top, right, bottom) with a soft continuation of its colours.

    A mirrored margin repeats the picture's own shapes upside down next to it, which a viewer
    reads as a defect; the continuation (push-pull, on a quarter-size copy) has no shapes,
    only the colours of the edge, shaded slightly with distance like a vignette."""
    left, top, right, bottom = pad
    h, w = img.shape[:2]
    out = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_REPLICATE)
    H, W = out.shape[:2]
    sw, sh = max(4, W // 4), max(4, H // 4)
    known = np.zeros((H, W), np.float32)
    known[top : top + h, left : left + w] = 1.0
    small = cv2.resize(out, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    small_known = cv2.resize(known, (sw, sh), interpolation=cv2.INTER_AREA)
    small_known = (small_known > 0.999).astype(np.float32)  # cells wholly inside the image
    fill = cv2.resize(push_pull_fill(small, small_known), (W, H), interpolation=cv2.INTER_LINEAR)
    xs = np.arange(W, dtype=np.float32)
    ys = np.arange(H, dtype=np.float32)
    dx = np.maximum(np.maximum(left - xs, xs - (left + w - 1)), 0)
    dy = np.maximum(np.maximum(top - ys, ys - (top + h - 1)), 0)
    widest = max(1, max(pad))
    strips = [(slice(0, top), slice(0, W)), (slice(top + h, H), slice(0, W)),
              (slice(top, top + h), slice(0, left)), (slice(top, top + h), slice(left + w, W))]
    for rows, cols in strips:
        part = out[rows, cols]
        if part.size == 0:
            continue
        dist = np.maximum(dx[None, cols], dy[rows, None])
        seam = np.clip(dist / SEAM_PX, 0.0, 1.0)[..., None]  # the edge's own pixels, then the fill
        shade = (1.0 - MARGIN_SHADE * np.clip(dist / widest, 0.0, 1.0))[..., None]
        mixed = (part.astype(np.float32) * (1.0 - seam) + fill[rows, cols] * seam) * shade
        out[rows, cols] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out
