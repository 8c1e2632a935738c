"""Sub-pixel camera warps over a source canvas prepared once per clip.

The canvas is the input scaled exactly as ``fit_to_frame`` scales it but *not* cropped, so a
pan or tilt along the axis that fitting cropped shows real image content. Whatever a plan
needs beyond the image (a zoom-out, a pan across an image with no spare content) comes from
a mirrored margin that fades into a blur, so it reads as soft surroundings rather than an
obvious reflection. Pans are first given a slight compensating zoom (see
``CameraPlan.fitted_to``) so they stay over real content.

Each frame is one cv2.warpAffine of the canvas with the plan's pose: coordinates stay in
floating point (OpenCV resamples at 1/32 pixel), which is what keeps a slow move free of the
whole-pixel stepping that makes ffmpeg's zoompan jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from stillmotion.engines.motion.camera import CameraPlan
from stillmotion.media.imaging import fit_to_frame

KERNEL_GUARD = 4  # pixels a cubic/Lanczos kernel reads beyond the sampled point
SAMPLES = 65  # instants at which a plan's reach is checked


@dataclass(frozen=True)
class Canvas:
    """Source pixels plus where the fitted frame's origin lies in them."""

    pixels: np.ndarray  # (h, w, 3) uint8, contiguous
    origin: tuple[int, int]  # (x, y) of the fitted frame's top-left pixel
    synthetic_margin: tuple[int, int, int, int]  # mirrored pixels added (left, top, right, bottom)


def cover_scaled(img: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """`img` scaled as fit_to_frame scales it, uncropped, and the frame's origin in it.

    The frame window is overwritten with fit_to_frame's own output so that the identity
    pose reproduces it bit for bit whatever resize details change there.
    """
    h, w = img.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(img, (new_w, new_h), interpolation=interp)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    scaled[y0 : y0 + height, x0 : x0 + width] = fit_to_frame(img, width, height)
    return scaled, (x0, y0)


def real_margins(scaled_shape: tuple[int, ...], origin: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """Real content beyond the frame on each side (left, top, right, bottom), in pixels."""
    x0, y0 = origin
    return (x0, y0, scaled_shape[1] - width - x0, scaled_shape[0] - height - y0)


def plan_reach(plan: CameraPlan, width: int, height: int) -> tuple[float, float, float, float]:
    """How far beyond the frame (left, top, right, bottom) the plan ever samples, in pixels."""
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float)
    pts = np.concatenate([corners @ plan.pose(t, width, height).T for t in np.linspace(0, 1, SAMPLES)])
    xmin, ymin = pts.min(axis=0)
    xmax, ymax = pts.max(axis=0)
    return (max(0.0, -xmin), max(0.0, -ymin), max(0.0, xmax - (width - 1)), max(0.0, ymax - (height - 1)))


def _soft_pad(img: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
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
    dist = np.maximum(dx[None, :], dy[:, None])
    ramp = max(4.0, min(48.0, widest / 2.0))
    alpha = np.clip(dist / ramp, 0.0, 1.0)[..., None]
    mixed = out.astype(np.float32) * (1.0 - alpha) + blurred.astype(np.float32) * alpha
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def prepare_canvas(img: np.ndarray, plan: CameraPlan, width: int, height: int) -> tuple[Canvas, CameraPlan]:
    """Build the canvas a plan needs and return it with the plan fitted to it (compensated)."""
    scaled, origin = cover_scaled(img, width, height)
    margins = real_margins(scaled.shape, origin, width, height)
    plan = plan.fitted_to(width, height, margins)
    # Always keep a few pixels beyond the frame: kernels then never read past the canvas
    # (OpenCV's border path is slower, and real neighbours beat reflected ones).
    reach = [math.ceil(r) + KERNEL_GUARD for r in plan_reach(plan, width, height)]
    # Keep only the real content the plan can reach (a panorama need not be kept whole).
    keep = [min(m, r) for m, r in zip(margins, reach)]
    x0, y0 = origin
    crop = scaled[y0 - keep[1] : y0 + height + keep[3], x0 - keep[0] : x0 + width + keep[2]]
    synthetic = tuple(max(0, r - k) for r, k in zip(reach, keep))
    pixels = _soft_pad(crop, synthetic) if any(synthetic) else crop
    canvas = Canvas(
        pixels=np.ascontiguousarray(pixels),
        origin=(keep[0] + synthetic[0], keep[1] + synthetic[1]),
        synthetic_margin=synthetic,  # type: ignore[arg-type]
    )
    return canvas, plan


class CameraRenderer:
    """Renders frame t of a camera plan from a prepared canvas."""

    def __init__(self, canvas: Canvas, plan: CameraPlan, width: int, height: int, interpolation: int) -> None:
        self.canvas = canvas
        self.plan = plan
        self.width = width
        self.height = height
        self.flags = interpolation | cv2.WARP_INVERSE_MAP

    def matrix(self, t: float) -> np.ndarray:
        m = self.plan.pose(t, self.width, self.height)
        m[0, 2] += self.canvas.origin[0]
        m[1, 2] += self.canvas.origin[1]
        return m

    def close(self) -> None:
        """Nothing to release (kept for symmetry with the morph)."""

    def frame(self, t: float) -> np.ndarray:
        return cv2.warpAffine(
            self.canvas.pixels,
            self.matrix(t),
            (self.width, self.height),
            flags=self.flags,
            borderMode=cv2.BORDER_REFLECT_101,  # last resort only: the canvas covers the reach
        )
