"""Optical flow for the metrics: OpenCV's DIS flow, estimated on a bounded working size.

VBench runs RAFT (dynamic degree) and AMT (motion smoothness) networks; we use DIS, which
needs no weights and runs on a CPU. Flow is estimated on frames scaled so the longer side is
at most `max_side` px (DIS cost grows with area) and always returned in the pixel units of the
full-size frame, so thresholds written for full-size frames still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_MAX_SIDE = 320


@dataclass(frozen=True)
class CameraStep:
    """The similarity motion that best explains one flow field (full-size pixel units).

    A point at (x, y) from the frame centre moves by (tx + zoom*x - rot*y, ty + rot*x + zoom*y):
    `zoom` is the relative scale change per frame (half the flow's divergence), `rot` the
    rotation in radians per frame (half its curl); `mean` is the raw mean flow vector.
    """

    tx: float
    ty: float
    zoom: float
    rot: float
    mean: tuple[float, float]


class FlowEstimator:
    """DIS flow between RGB frames of one size; reuses one DIS instance (it is stateful but cheap)."""

    def __init__(self, max_side: int = DEFAULT_MAX_SIDE, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
                 finest_scale: int = 0) -> None:
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(preset)
        # The presets start at half or quarter scale; sub-pixel camera steps (a slow zoom moves
        # the edges ~0.3 px a frame) are then underestimated by 10-20%. Full working scale
        # measures them within ~2% on textured images, at about twice the cost. Dynamic degree
        # (thresholds of several pixels) does not need it: finest_scale 1 there.
        self._dis.setFinestScale(finest_scale)

    def scale_for(self, shape: tuple[int, ...]) -> float:
        """Working size / full size (1.0 for frames already small enough)."""
        return min(1.0, self.max_side / max(shape[0], shape[1]))

    def gray(self, frame: np.ndarray) -> np.ndarray:
        """The working-size grey image DIS runs on (cache it when a frame is used twice)."""
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        s = self.scale_for(frame.shape)
        if s < 1.0:
            size = (max(8, round(frame.shape[1] * s)), max(8, round(frame.shape[0] * s)))
            g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        return g

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from grey working image `a` to `b`: (h, w, 2) float32 in working-size pixels
        (divide by `scale_for(full_shape)` for full-size pixels)."""
        return self._dis.calc(a, b, None)

    def full_flow(self, a: np.ndarray, b: np.ndarray, full_shape: tuple[int, ...]) -> np.ndarray:
        """Flow from `a` to `b` resized to the full frame, in full-size pixel units."""
        f = self.flow(a, b)
        h, w = full_shape[:2]
        if f.shape[:2] == (h, w):
            return f
        sx, sy = w / f.shape[1], h / f.shape[0]
        up = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
        up[..., 0] *= sx
        up[..., 1] *= sy
        return up


def magnitude_full(flow: np.ndarray, scale: float) -> np.ndarray:
    """Per-pixel flow length in full-size pixels, from a working-size flow."""
    return np.hypot(flow[..., 0], flow[..., 1]) / scale


def fit_camera(flow: np.ndarray, scale: float, border: float = 0.05, step: int = 4) -> CameraStep:
    """Least-squares similarity fit (translation, zoom, rotation), refit without outliers.

    The frame's outer `border` is left out (content entering the frame has no true flow);
    points whose residual is over 2.5x the median (moving subjects, parallax, effects) are
    dropped for the second fit, so the numbers describe the camera, not the scene.
    """
    h, w = flow.shape[:2]
    by, bx = int(h * border), int(w * border)
    ys, xs = np.mgrid[by : h - by : step, bx : w - bx : step]
    u = flow[ys, xs, 0].ravel().astype(np.float64)
    v = flow[ys, xs, 1].ravel().astype(np.float64)
    x = (xs.ravel() + 0.5 - w / 2).astype(np.float64)
    y = (ys.ravel() + 0.5 - h / 2).astype(np.float64)
    params = _similarity_lstsq(x, y, u, v)
    resid = np.hypot(u - _pred_u(params, x, y), v - _pred_v(params, x, y))
    keep = resid <= max(2.5 * float(np.median(resid)), 0.05)
    if keep.sum() >= 8:
        params = _similarity_lstsq(x[keep], y[keep], u[keep], v[keep])
    tx, ty, zoom, rot = params
    mean = (float(flow[..., 0].mean() / scale), float(flow[..., 1].mean() / scale))
    return CameraStep(tx=float(tx / scale), ty=float(ty / scale), zoom=float(zoom), rot=float(rot), mean=mean)


def _similarity_lstsq(x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = x.size
    a = np.zeros((2 * n, 4))
    a[:n, 0], a[:n, 2], a[:n, 3] = 1.0, x, -y
    a[n:, 1], a[n:, 2], a[n:, 3] = 1.0, y, x
    params, *_ = np.linalg.lstsq(a, np.concatenate([u, v]), rcond=None)
    return params


def _pred_u(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return p[0] + p[2] * x - p[3] * y


def _pred_v(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return p[1] + p[3] * x + p[2] * y


def interpolate_middle(f0: np.ndarray, f1: np.ndarray, flow01: np.ndarray, flow10: np.ndarray) -> np.ndarray:
    """The frame halfway between f0 and f1, from full-size flows both ways.

    The flows from the middle frame back to each end are approximated as in Super SloMo
    (Jiang et al. 2018) at t = 1/2: F_t0 = (-F_01 + F_10) / 4, F_t1 = (F_01 - F_10) / 4;
    each end is backward-warped along its flow and the two are averaged.
    """
    h, w = f0.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    ft0 = (flow10 - flow01) * 0.25
    ft1 = -ft0
    w0 = cv2.remap(f0, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w1 = cv2.remap(f1, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(w0, 0.5, w1, 0.5, 0.0)
