"""The canvas a clip's camera moves sample: real content beyond the frame, then soft margins.

The canvas is the input scaled exactly as ``fit_to_frame`` scales it but *not* cropped, so a
pan or tilt along the axis that fitting cropped shows real image content. Whatever a plan
needs beyond the image (a zoom-out, a pan across an image with no spare content) comes from
a mirrored margin that fades into a blur, so it reads as soft surroundings rather than an
obvious reflection. Pans are first given a slight compensating zoom (see
``parallax.compensated``) so they stay over real content.
"""

from __future__ import annotations

import cv2
import numpy as np


def real_margins(scaled_shape: tuple[int, ...], origin: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """Real content beyond the frame on each side (left, top, right, bottom), in pixels."""
    x0, y0 = origin
    return (x0, y0, scaled_shape[1] - width - x0, scaled_shape[0] - height - y0)


def soft_pad(img: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """Mirror-pad `img` and fade the mirrored part into a blur with distance from the edge."""
    left, top, right, bottom = pad
    out = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    widest = max(pad)
    # Blur cheaply: on a quarter-size copy, then back up.
    small = cv2.resize(out, (max(1, out.shape[1] // 4), max(1, out.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.0, widest / 12.0))
    blurred = cv2.resize(small, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    xs = np.arange(out.shape[1], dtype=np.float32)
    ys = np.arange(out.shape[0], dtype=np.float32)
    dx = np.maximum(np.maximum(left - xs, xs - (left + w - 1)), 0)
    dy = np.maximum(np.maximum(top - ys, ys - (top + h - 1)), 0)
    ramp = max(4.0, min(48.0, widest / 2.0))
    # Only the margins change (inside the image the blend weight is 0): blend the four strips.
    H, W = out.shape[:2]
    strips = [(slice(0, top), slice(0, W)), (slice(top + h, H), slice(0, W)),
              (slice(top, top + h), slice(0, left)), (slice(top, top + h), slice(left + w, W))]
    for rows, cols in strips:
        part = out[rows, cols]
        if part.size == 0:
            continue
        alpha = np.clip(np.maximum(dx[None, cols], dy[rows, None]) / ramp, 0.0, 1.0)[..., None]
        mixed = part.astype(np.float32) * (1.0 - alpha) + blurred[rows, cols].astype(np.float32) * alpha
        out[rows, cols] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out
