"""Camera moves as one continuous depth-driven warp of the canvas: it stretches, never tears.

Every output pixel shows the canvas point that the camera state maps it to at that point's
own disparity (parallax.source_points). The disparity the warp reads is the estimate made
smooth (a Gaussian as wide as the move needs to keep its stretch bounded, within
SMOOTH_MIN..SMOOTH_MAX of the canvas) and pulled towards the subject's disparity
by the parallax fraction the estimate earns (trust.py): a depth edge becomes a narrow band
where the far side stretches a little and the near side slides over it, so a wrong depth edge
bends the picture slightly instead of cutting it into offset pieces, and nothing is ever
uncovered (no holes to fill, no ghosts of what was behind). With a doubtful map the fraction
goes to 0 and the move is the plain camera move at the subject's disparity.

Per frame: the map is solved on a grid of nodes every `profile.node_step` output pixels,
interpolated bilinearly to every pixel, and the canvas (a 2x Lanczos copy in ``pro``: see
resample.py) is sampled bilinearly once. At t=0 the map is the identity, so frame 0 is the
fitted input exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from stillmotion.engines.motion.modes import ModeProfile
from stillmotion.engines.motion.moves import CameraState
from stillmotion.engines.motion.parallax import PROBE_TIMES, has_parallax, layer_matrix, source_points
from stillmotion.engines.motion.plan import MotionPlan
from stillmotion.engines.motion.resample import supersample
from stillmotion.engines.motion.threads import Scratch
from stillmotion.engines.motion.trust import MAX_STRETCH, edge_agreement, stretch_scale, trust_scale

WARP_DEPTH_SIDE = 256  # longest side of the smooth disparity the warp reads
SMOOTH_MIN, SMOOTH_MAX = 0.015, 0.06  # Gaussian sigma of that disparity, as shares of the canvas's longer side
FAR_PERCENTILE = 10  # the disparity effect regions (sky, water) are taken to move with


def parallax_reach(plan: MotionPlan, size: tuple[int, int], pivot: float) -> float:
    """The most fitted-frame pixels the plan ever moves a point per unit of disparity."""
    w, h = size
    xs, ys = np.meshgrid(np.linspace(-(w - 1) / 2, (w - 1) / 2, 9), np.linspace(-(h - 1) / 2, (h - 1) / 2, 5))
    reach = 0.0
    for t in np.linspace(0.0, 1.0, PROBE_TIMES):
        state = plan.state(float(t))
        u0, v0 = source_points(state, xs, ys, 0.0, size, pivot)
        u1, v1 = source_points(state, xs, ys, 1.0, size, pivot)
        reach = max(reach, float(np.hypot(u1 - u0, v1 - v0).max()))
    return reach


@dataclass(frozen=True)
class WarpDepth:
    """The disparity the warp reads (small, smooth, scaled) and why it is what it is."""

    field: np.ndarray  # (h, w) float32 at most WARP_DEPTH_SIDE long, over the whole canvas
    scale: float  # parallax fraction shown (0: flat camera move, 1: the full estimate)
    agreement: float
    trust: float
    stretch_limit: float

    def describe(self) -> dict[str, Any]:
        return {
            "warp": "continuous", "edge_agreement": round(self.agreement, 3), "trust": round(self.trust, 3),
            "stretch_limit": round(self.stretch_limit, 3), "parallax_scale": round(self.scale, 3),
        }


def warp_depth(canvas: np.ndarray, disparity: np.ndarray, source: str, plan: MotionPlan,
               size: tuple[int, int], pivot: float) -> WarpDepth:
    """Smooth the estimate, and scale its parallax by trust and by the stretch bound."""
    h, w = disparity.shape[:2]
    s = min(1.0, WARP_DEPTH_SIDE / max(h, w))
    small = cv2.resize(disparity.astype(np.float32), (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    agreement = edge_agreement(canvas, disparity)
    trust = trust_scale(agreement, source)
    reach = parallax_reach(plan, size, pivot) if has_parallax(plan) else 0.0
    # a unit depth step smoothed by sigma has slope 1 / (2.5 sigma): wide enough for the trusted move
    sigma = float(np.clip(trust * reach / (2.5 * MAX_STRETCH), SMOOTH_MIN * max(h, w), SMOOTH_MAX * max(h, w)))
    smooth = cv2.GaussianBlur(small, (0, 0), max(1.0, sigma * s))
    grad = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)) / 8.0
    per_canvas_px = float(grad.max()) * small.shape[1] / w  # disparity change per canvas pixel
    limit = stretch_scale(per_canvas_px, reach) if reach > 0 else 1.0
    scale = min(trust, limit)
    field = (np.float32(pivot) + np.float32(scale) * (smooth - np.float32(pivot))).astype(np.float32)
    return WarpDepth(field, scale, agreement, trust, limit)


class DepthWarpRenderer:
    """Frame t of a plan as one remap of the canvas along the smooth warp disparity.

    Reuses its output buffer between frames, one per thread, so frames may render in parallel.
    """

    def __init__(self, canvas: np.ndarray, depth: WarpDepth, canvas_origin: tuple[int, int], plan: MotionPlan,
                 size: tuple[int, int], pivot: float, profile: ModeProfile) -> None:
        self.plan, self.size, self.pivot, self.origin = plan, size, pivot, canvas_origin
        self.k = profile.parallax_supersample
        self.plain = cv2.cvtColor(canvas, cv2.COLOR_RGB2RGBA)
        self.source = np.ascontiguousarray(supersample(self.plain, self.k))
        self.depth = depth
        self.flat = not has_parallax(plan) or depth.scale <= 0.0
        self.far = float(np.percentile(depth.field, FAR_PERCENTILE)) if not self.flat else pivot
        ch, cw = canvas.shape[:2]
        fh, fw = depth.field.shape
        self._to_field = (fw / cw, fh / ch)
        w, h = size
        step = self.step = max(2, int(profile.node_step))
        nx, ny = math.ceil(w / step) + 1, math.ceil(h / step) + 1
        # node j sits at output pixel (j - 0.5) * step - 0.5, so resizing (n + 2) nodes to (n + 2) * step
        # pixels interpolates between nodes exactly, and output pixel x is resized pixel x + step
        gx = (np.arange(nx + 2) - 0.5) * step - 0.5 - (w - 1) / 2
        gy = (np.arange(ny + 2) - 0.5) * step - 0.5 - (h - 1) / 2
        self.nodes_x, self.nodes_y = (a.astype(np.float64) for a in np.meshgrid(gx, gy))
        self.scratch = Scratch()

    def _disparity_at(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The warp disparity at centred fitted-frame points."""
        w, h = self.size
        fx = ((u + (w - 1) / 2 + self.origin[0] + 0.5) * self._to_field[0] - 0.5).astype(np.float32)
        fy = ((v + (h - 1) / 2 + self.origin[1] + 0.5) * self._to_field[1] - 0.5).astype(np.float32)
        return cv2.remap(self.depth.field, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float64)

    def source_map(self, state: CameraState) -> np.ndarray:
        """(h, w, 2) float32: the (supersampled) canvas point each output pixel shows."""
        w, h = self.size
        disparity = self.pivot if self.flat else self._disparity_at
        u, v = source_points(state, self.nodes_x, self.nodes_y, disparity, self.size, self.pivot)
        k = self.k
        grid = np.dstack([(u + (w - 1) / 2 + self.origin[0]) * k, (v + (h - 1) / 2 + self.origin[1]) * k]).astype(np.float32)
        step = self.step
        full = cv2.resize(grid, (grid.shape[1] * step, grid.shape[0] * step), interpolation=cv2.INTER_LINEAR)
        return full[step : step + h, step : step + w]

    def frame_rgba(self, t: float) -> np.ndarray:
        """The RGBA frame (alpha 255) at time t, in a buffer reused by this thread's next call."""
        w, h = self.size
        out = self.scratch.get("out", (h, w, 4))
        state = self.plan.state(t)
        if state == CameraState():  # frame 0 and static shots: the fitted input itself
            x0, y0 = self.origin
            np.copyto(out, self.plain[y0 : y0 + h, x0 : x0 + w])
            return out
        cv2.remap(self.source, self.source_map(state), None, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_REFLECT_101)
        return out

    def background_matrix(self, t: float) -> np.ndarray:
        """2x3 map (output -> fitted-frame pixels) of the far scene, for effect regions to follow."""
        return layer_matrix(self.plan.state(t), self.far, self.size, self.pivot)
