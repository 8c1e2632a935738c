"""Quality metrics of a clip: fidelity to the inputs, and VBench's temporal scores.

Every function takes frames as an iterable of (H, W, 3) uint8 RGB arrays and reads it once,
so a long clip is streamed from the decoder, never held whole. The VBench scores follow
Vchitect/VBench (vbench/temporal_flickering.py, motion_smoothness.py, dynamic_degree.py);
where we differ (DIS flow instead of networks) it is said in the function and in
docs/evaluation.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from stillmotion.evaluation.flow import FlowEstimator, interpolate_middle, magnitude_full
from stillmotion.media.imaging import fit_to_frame, load_rgb

PSNR_CAP = 100.0  # identical images: a finite number, so reports stay valid JSON


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all RGB samples, peak 255 (capped at PSNR_CAP)."""
    _same_shape(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03) on luma.

    Luma, not per channel: it is what the eye judges structure by, and what H.264 keeps at
    full resolution (chroma is subsampled by the format itself).
    """
    _same_shape(a, b)
    x = _luma(a)
    y = _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cov + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean(num / den))


def reference_frame(image: str, width: int, height: int) -> np.ndarray:
    """The input image as the engine frames it (scaled and centre-cropped to fill)."""
    return fit_to_frame(load_rgb(image), width, height)


def temporal_flickering(frames: Iterable[np.ndarray]) -> float:
    """VBench temporal flickering: (255 - mean |frame[t+1] - frame[t]|) / 255; 1.0 = no change.

    VBench applies it to static clips only; on a moving clip it also counts motion, so a
    camera move scores a little below a still one (documented in docs/evaluation.md).
    """
    prev: np.ndarray | None = None
    diffs: list[float] = []
    for frame in frames:
        if prev is not None:
            diffs.append(float(np.mean(cv2.absdiff(prev, frame))))
        prev = frame
    if not diffs:
        raise ValueError("temporal flickering needs at least 2 frames")
    return (255.0 - float(np.mean(diffs))) / 255.0


SMOOTHNESS_SIDE = 640  # frames are compared at most this long (full 1080p cost ~10x more, for the same verdicts)


def motion_smoothness(frames: Iterable[np.ndarray], estimator: FlowEstimator | None = None,
                      max_side: int = SMOOTHNESS_SIDE) -> float:
    """VBench motion smoothness: drop the odd frames, interpolate them back from their even
    neighbours, score (255 - mean |interpolated - original|) / 255; 1.0 = perfectly smooth.

    VBench interpolates with the AMT network; we interpolate along DIS flow both ways
    (flow.interpolate_middle), on frames scaled to at most `max_side` px long. As in VBench,
    a trailing odd frame with no right neighbour is not scored.
    """
    est = estimator or FlowEstimator()
    scores: list[float] = []
    window: list[tuple[np.ndarray, np.ndarray]] = []  # (frame, its grey working image)
    for frame in frames:
        s = min(1.0, max_side / max(frame.shape[:2]))
        if s < 1.0:
            frame = cv2.resize(frame, (max(8, round(frame.shape[1] * s)), max(8, round(frame.shape[0] * s))),
                               interpolation=cv2.INTER_AREA)
        window.append((frame, est.gray(frame)))
        if len(window) == 3:
            (f0, g0), (odd, _), (f2, g2) = window
            mid = interpolate_middle(f0, f2, est.full_flow(g0, g2, f0.shape), est.full_flow(g2, g0, f0.shape))
            scores.append(float(np.mean(cv2.absdiff(mid, odd))))
            window = [window[2]]
    if not scores:
        raise ValueError("motion smoothness needs at least 3 frames")
    return (255.0 - float(np.mean(scores))) / 255.0


@dataclass(frozen=True)
class DynamicDegree:
    """VBench's verdict (is there motion?) with the numbers behind it, in full-size pixels."""

    moving: bool
    pairs_over: int  # sampled frame pairs whose top-5% flow exceeds the threshold
    pairs_needed: int
    pairs: int
    threshold_px: float
    mean_top5_px: float


def dynamic_degree(
    frames: Iterable[np.ndarray], fps: float, estimator: FlowEstimator | None = None
) -> DynamicDegree:
    """VBench dynamic degree: sample one frame in round(fps/8); for each sampled pair take
    the mean of the largest 5% flow magnitudes; the clip moves when at least
    round(4 * n_sampled / 16) pairs exceed 6 * max(1, 8/fps) * min(H, W) / 256 px.

    Differences: DIS flow instead of RAFT; at least one pair is required (VBench's rule
    needs none for a clip of 2 sampled frames or fewer, calling any such clip moving).
    """
    est = estimator or FlowEstimator()
    interval = max(1, round(fps / 8))
    tops: list[float] = []
    prev: np.ndarray | None = None
    shape: tuple[int, ...] = ()
    sampled = 0
    for i, frame in enumerate(frames):
        if i % interval:
            continue
        shape, sampled = frame.shape, sampled + 1
        g = est.gray(frame)
        if prev is not None:
            mag = magnitude_full(est.flow(prev, g), est.scale_for(shape)).ravel()
            k = max(1, int(mag.size * 0.05))
            tops.append(float(np.mean(np.partition(mag, mag.size - k)[-k:])))
        prev = g
    if not tops:
        raise ValueError("dynamic degree needs at least 2 sampled frames")
    threshold = max(1.0, 8.0 / fps) * 6.0 * (min(shape[0], shape[1]) / 256.0)
    needed = max(1, round(4 * sampled / 16))
    over = sum(t > threshold for t in tops)
    return DynamicDegree(over >= needed, over, needed, len(tops), threshold, float(np.mean(tops)))


def _luma(img: np.ndarray) -> np.ndarray:
    f = img.astype(np.float32)
    return (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else f).astype(np.float64)


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape} vs {b.shape}")
