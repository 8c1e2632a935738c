"""The camera's geometry: which fitted-frame point each output pixel shows, at a disparity.

Near things (disparity 1) move more than far ones (0) under truck, pedestal, dolly and orbit;
pan, tilt, zoom and roll move all alike. depthwarp.py renders frames with these maps; this
module also says how far beyond the frame a plan reaches (for the canvas) and which plans have
parallax at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stillmotion.engines.motion.moves import CameraState
from stillmotion.engines.motion.plan import MotionPlan, ease

KERNEL_GUARD = 4  # source pixels the 2x Lanczos-4 supersample reads on each side
PROBE_TIMES = 41
MAX_COMPENSATION = 1.3


def source_points(
    state: CameraState, x: np.ndarray, y: np.ndarray, disparity, size: tuple[int, int], pivot: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fitted-frame coordinates (centred) shown at output points (x, y) (centred).

    `disparity(u, v)` returns the disparity at centred fitted-frame points (used for the
    fixed-point solve); a float gives every point that disparity.
    """
    w, h = size
    c, s = math.cos(-state.roll), math.sin(-state.roll)  # camera clockwise: content counter-clockwise
    vx = c * x + s * y
    vy = -s * x + c * y
    ez = math.exp(state.zoom)
    pan_x, pan_y = state.shift[0] * w * ez, state.shift[1] * h * ez
    dz_norm = 1.0 + state.dolly_zoom * pivot

    def solve(d):
        scale = np.maximum(ez * (1.0 + state.dolly * d) * (1.0 + state.dolly_zoom * d) / dz_norm, 0.2)
        par_x = (-state.truck[0] * d - state.orbit[0] * (d - pivot)) * w
        par_y = (-state.truck[1] * d - state.orbit[1] * (d - pivot)) * h
        return (vx - par_x + pan_x) / scale, (vy - par_y + pan_y) / scale

    if not callable(disparity):
        return solve(disparity)
    u, v = solve(disparity(vx / ez, vy / ez))
    for _ in range(2):
        u, v = solve(disparity(u, v))
    return u, v


def plan_reach(plan: MotionPlan, size: tuple[int, int], pivot: float) -> tuple[float, float, float, float]:
    """How far beyond the fitted frame (left, top, right, bottom) the plan ever samples."""
    w, h = size
    xs = np.array([0, w - 1, 0, w - 1, (w - 1) / 2, (w - 1) / 2, 0, w - 1], float) - (w - 1) / 2
    ys = np.array([0, 0, h - 1, h - 1, 0, h - 1, (h - 1) / 2, (h - 1) / 2], float) - (h - 1) / 2
    lo = np.array([0.0, 0.0])
    hi = np.array([0.0, 0.0])
    for t in np.linspace(0.0, 1.0, PROBE_TIMES):
        state = plan.state(float(t))
        for d in (0.0, 0.5, 1.0):
            u, v = source_points(state, xs, ys, d, size, pivot)
            lo = np.minimum(lo, [u.min() + (w - 1) / 2, v.min() + (h - 1) / 2])
            hi = np.maximum(hi, [u.max() - (w - 1) / 2, v.max() - (h - 1) / 2])
    return (float(-lo[0]), float(-lo[1]), float(hi[0]), float(hi[1]))


def compensated(plan: MotionPlan, size: tuple[int, int], pivot: float, margins) -> tuple[MotionPlan, float]:
    """The plan with the least extra zoom-in (eased in with the move) that keeps it over real
    image content, when a moderate one suffices; plans that widen the view keep their margins."""
    widening = any(
        s.amount > 0 and any(m in ("zoom_out", "dolly_out", "reveal", "dolly_zoom") for m in s.moves) for s in plan.segments
    )
    if widening or all(r <= m for r, m in zip(plan_reach(plan, size, pivot), margins)):
        return plan, 1.0

    def fits(comp: float) -> bool:
        return all(r <= m for r, m in zip(plan_reach(_with_zoom(plan, comp), size, pivot), margins))

    lo, hi = 1.0, MAX_COMPENSATION
    if not fits(hi):
        return _with_zoom(plan, hi), hi
    for _ in range(12):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return _with_zoom(plan, hi), hi


@dataclass(frozen=True)
class _Compensated(MotionPlan):
    compensation: float = 1.0

    def state(self, t: float) -> CameraState:
        base = MotionPlan.state(self, t)
        return base.plus(CameraState(zoom=math.log(self.compensation) * ease(t)))


def _with_zoom(plan: MotionPlan, comp: float) -> MotionPlan:
    fields = {f: getattr(plan, f) for f in plan.__dataclass_fields__ if f != "compensation"}
    return _Compensated(**fields, compensation=comp)


def layer_matrix(state: CameraState, d: float, size: tuple[int, int], pivot: float) -> np.ndarray:
    """2x3 inverse map (output pixel -> fitted-frame pixel) of everything at disparity d."""
    w, h = size
    cx, cy = (w - 1) / 2, (h - 1) / 2
    px = np.array([0.0, 1.0, 0.0])
    py = np.array([0.0, 0.0, 1.0])
    u, v = source_points(state, px, py, d, size, pivot)
    a = np.array([[u[1] - u[0], u[2] - u[0]], [v[1] - v[0], v[2] - v[0]]])
    c = np.array([cx, cy])
    m = np.empty((2, 3))
    m[:, :2] = a
    m[:, 2] = np.array([u[0], v[0]]) + c - a @ c
    return m


def _ever(plan: MotionPlan, test) -> bool:
    """Whether `test(state)` holds at any of the plan's probe times."""
    return any(test(plan.state(float(t))) for t in np.linspace(0.0, 1.0, PROBE_TIMES))


def has_parallax(plan: MotionPlan) -> bool:
    """Whether the plan ever translates the camera (truck, pedestal, dolly, orbit, dolly zoom), so
    layers at different disparities move differently. Zoom, pan, tilt, roll and handheld rotate
    or zoom the camera about its centre: every layer moves alike, there is no parallax to show."""
    return _ever(plan, lambda st: bool(st.dolly or st.dolly_zoom or any(st.truck) or any(st.orbit)))


def turns_about_subject(plan: MotionPlan) -> bool:
    """Whether the plan ever orbits or dolly-zooms, the two moves that hold the subject's
    disparity (the pivot) still: only then does its framing depend on the pivot."""
    return _ever(plan, lambda st: bool(st.dolly_zoom or any(st.orbit)))
