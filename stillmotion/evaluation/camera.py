"""Measured camera motion: what the frames show, not what the plan said.

Each consecutive pair gets a similarity fit to its DIS flow (flow.fit_camera); the clip's
summary is the mean motion, the total zoom, and the jitter of the per-frame motion: how far
each frame's step strays from the straight line through its neighbours' steps. A smooth
move (constant or eased) has near-zero jitter; one that snaps to whole pixels, as ffmpeg's
zoompan does, does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stillmotion.evaluation.flow import CameraStep, FlowEstimator, fit_camera


@dataclass(frozen=True)
class CameraMotion:
    """Per-frame units unless named per second; translation in full-size pixels."""

    mean_flow: tuple[float, float]  # raw mean flow vector: how content moves on screen
    translation: tuple[float, float]  # fitted (tx, ty), mean over the clip
    divergence: float  # mean flow divergence per frame (= 2 * zoom rate)
    zoom_per_s: float  # relative scale change per second (+ = zoom in)
    total_zoom: float  # scale of the last frame's content relative to the first
    rotation_deg_per_s: float  # + = clockwise on screen (y points down)
    zoom_rate_variance: float  # plain variance of the per-frame zoom rate
    zoom_jitter: float  # RMS second difference of the zoom rate / sqrt(1.5)
    translation_jitter_px: float  # same, for the fitted translation (both axes)
    steps: list[CameraStep] = field(default_factory=list, repr=False)

    def to_dict(self, with_steps: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not with_steps:
            out.pop("steps")
        return out


def camera_steps(frames: Iterable[np.ndarray], estimator: FlowEstimator | None = None) -> list[CameraStep]:
    """The fitted motion between each pair of consecutive frames."""
    est = estimator or FlowEstimator()
    steps: list[CameraStep] = []
    prev: np.ndarray | None = None
    for frame in frames:
        g = est.gray(frame)
        if prev is not None:
            steps.append(fit_camera(est.flow(prev, g), est.scale_for(frame.shape)))
        prev = g
    return steps


def jitter(series: Iterable[float]) -> float:
    """Noise level of a per-frame series: RMS of x[t] - (x[t-1] + x[t+1]) / 2, over sqrt(1.5).

    For a smooth series (constant, linear, gently eased) the second difference is ~0; for
    white noise of deviation s it has deviation s * sqrt(1.5), hence the scale: the result
    estimates s. Local, so it needs no model of the intended move.
    """
    x = np.asarray(list(series), dtype=np.float64)
    if x.size < 3:
        return 0.0
    second = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    return float(np.sqrt(np.mean(second**2)) / math.sqrt(1.5))


def summarize(steps: list[CameraStep], fps: float) -> CameraMotion:
    """The clip's camera motion from its per-frame steps."""
    if not steps:
        raise ValueError("camera motion needs at least 2 frames")
    zoom = np.array([s.zoom for s in steps])
    tx, ty = np.array([s.tx for s in steps]), np.array([s.ty for s in steps])
    rot = np.array([s.rot for s in steps])
    mean = np.array([s.mean for s in steps]).mean(axis=0)
    trans_jitter = math.hypot(jitter(tx), jitter(ty))
    return CameraMotion(
        mean_flow=(float(mean[0]), float(mean[1])),
        translation=(float(tx.mean()), float(ty.mean())),
        divergence=float(2 * zoom.mean()),
        zoom_per_s=float(zoom.mean() * fps),
        total_zoom=float(np.prod(1.0 + zoom)),
        rotation_deg_per_s=float(math.degrees(rot.mean()) * fps),
        zoom_rate_variance=float(zoom.var()),
        zoom_jitter=jitter(zoom),
        translation_jitter_px=trans_jitter,
        steps=steps,
    )


def camera_motion(
    frames: Iterable[np.ndarray], fps: float, estimator: FlowEstimator | None = None
) -> CameraMotion:
    return summarize(camera_steps(frames, estimator), fps)
