"""Per-clip preparation for camera moves: canvas, disparity, the warp's depth and the renderer.

The canvas keeps the real image content the plan can reach beyond the fitted frame (an input
wider than the frame gives a pan real pixels) and adds a soft mirrored margin for whatever
the plan needs beyond the image (see warp.py). Disparity is estimated once on the canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillmotion.engines.motion.depth import DepthFn, heuristic_disparity
from stillmotion.engines.motion.depthwarp import DepthWarpRenderer, warp_depth
from stillmotion.engines.motion.modes import ModeProfile
from stillmotion.engines.motion.parallax import KERNEL_GUARD, compensated, plan_reach, turns_about_subject
from stillmotion.engines.motion.plan import MotionPlan
from stillmotion.engines.motion.warp import real_margins, soft_pad
from stillmotion.media.imaging import scale_to_cover

PIVOT_REGION = 0.5  # central share of the frame whose disparity the subject is taken from


@dataclass
class Scene:
    renderer: DepthWarpRenderer
    canvas: np.ndarray  # RGB, the source every layer came from (after style)
    disparity: np.ndarray  # full canvas resolution, float32 in [0, 1]
    origin: tuple[int, int]
    plan: MotionPlan
    info: dict[str, Any]


def subject_disparity(disparity: np.ndarray) -> float:
    """The disparity the orbit and dolly zoom keep still: the nearer part of the centre."""
    h, w = disparity.shape
    m = (1 - PIVOT_REGION) / 2
    centre = disparity[int(h * m) : int(h * (1 - m)) + 1, int(w * m) : int(w * (1 - m)) + 1]
    return float(np.percentile(centre, 70))


def prepare_scene(
    image: np.ndarray, plan: MotionPlan, size: tuple[int, int], profile: ModeProfile,
    depth_fn: DepthFn | None = None, style=None,
) -> Scene:
    """Everything a clip's camera frames need; `style(rgb) -> rgb` restyles the canvas once.

    Depth is estimated once, on the canvas, unless the plan orbits or dolly-zooms: their framing
    (how far beyond the frame they reach) turns on the subject's disparity, so the fitted frame's
    is estimated first. For any other plan the pivot is only reported, and is taken from the
    canvas's estimate (a second estimate cost 0.02-0.04 s before the first frame, and a second
    model run with a depth model)."""
    w, h = size
    scaled, origin = scale_to_cover(image, w, h)  # fit_to_frame's resize, uncropped: pans keep real content
    pivoting = turns_about_subject(plan)
    pivot = 0.5  # any value: without orbit or dolly zoom the geometry does not read it
    if pivoting:
        pivot = subject_disparity(_disparity(scaled[origin[1] : origin[1] + h, origin[0] : origin[0] + w], depth_fn, profile))
    margins = real_margins(scaled.shape, origin, w, h)
    plan, comp = compensated(plan, size, pivot, margins)
    reach = [math.ceil(r) + KERNEL_GUARD for r in plan_reach(plan, size, pivot)]
    keep = [min(m, r) for m, r in zip(margins, reach)]
    x0, y0 = origin
    crop = scaled[y0 - keep[1] : y0 + h + keep[3], x0 - keep[0] : x0 + w + keep[2]]
    synthetic = tuple(max(0, r - k) for r, k in zip(reach, keep))
    canvas = soft_pad(crop, synthetic) if any(synthetic) else np.ascontiguousarray(crop)
    if style is not None:
        canvas = style(canvas)
    origin = (keep[0] + synthetic[0], keep[1] + synthetic[1])
    disparity = _disparity(canvas, depth_fn, profile)
    if not pivoting:
        pivot = subject_disparity(disparity[origin[1] : origin[1] + h, origin[0] : origin[0] + w])
    depth = warp_depth(canvas, disparity, "model" if depth_fn is not None else "heuristic", plan, size, pivot)
    renderer = DepthWarpRenderer(canvas, depth, origin, plan, size, pivot, profile)
    info = {
        **depth.describe(),
        "composite": "flat" if renderer.flat else "parallax",
        "subject_disparity": round(pivot, 3),
        "compensation_zoom": round(comp, 4),
        "synthetic_margin_px": list(synthetic),
    }
    return Scene(renderer, canvas, disparity, origin, plan, info)


def _disparity(rgb: np.ndarray, depth_fn: DepthFn | None, profile: ModeProfile) -> np.ndarray:
    if depth_fn is not None:
        return depth_fn(rgb).astype(np.float32)
    return heuristic_disparity(rgb, profile.depth_max_side)
