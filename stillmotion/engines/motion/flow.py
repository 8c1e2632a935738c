"""Dense optical flow between two frames that also survives large displacements.

Plain DIS (like Farneback) is coarse-to-fine and local: it misses a subject that moves
further than its own size between the start and the end frame, and the morph then falls
back to a crossfade. So flow is estimated in three steps:

1. Sparse ORB matches between the frames, grouped into up to a few rigid motion layers by
   repeated RANSAC (similarity transforms): e.g. "the background stays" and "the subject
   moves 160 px right", or "everything zooms 10 %".
2. Every pixel takes the layer (or zero motion) that explains it best photometrically
   (window-averaged absolute difference, with a tiny bias towards small motion so
   textureless areas stay put). This is the initial flow.
3. DIS refines it from that initialisation (non-rigid detail), and each pixel keeps the
   refined or the initial flow, whichever matches better.

Convention: flow F from a to b means a(x) ~ b(x + F(x)), float32 (h, w, 2), in pixels of the
images given.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOTION_BIAS = 0.01  # grey levels of error per pixel of motion, to break ties towards rest
MAX_LAYERS = 4
OUTSIDE_ERROR = 64  # grey levels charged for sampling outside the other frame


@dataclass(frozen=True)
class FlowPair:
    forward: np.ndarray  # a -> b
    backward: np.ndarray  # b -> a
    layers: int  # motion layers found by matching (0: none, DIS alone)


def _matches(ga: np.ndarray, gb: np.ndarray, features: int) -> tuple[np.ndarray, np.ndarray]:
    """Matched keypoint positions (n, 2) in a and b: Lowe's ratio test, and mutual best
    matches when enough of those remain."""
    orb = cv2.ORB_create(nfeatures=features, fastThreshold=8)
    ka, da = orb.detectAndCompute(ga, None)
    kb, db = orb.detectAndCompute(gb, None)
    empty = np.zeros((0, 2), np.float32)
    if da is None or db is None or len(ka) < 2 or len(kb) < 2:
        return empty, empty
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    ratio = [p[0] for p in matcher.knnMatch(da, db, k=2) if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    best_ba = {p[0].queryIdx: p[0].trainIdx for p in matcher.knnMatch(db, da, k=1) if p}
    mutual = [m for m in ratio if best_ba.get(m.trainIdx) == m.queryIdx]
    good = mutual if len(mutual) >= 8 else ratio
    if not good:
        return empty, empty
    pa = np.float32([ka[m.queryIdx].pt for m in good])
    pb = np.float32([kb[m.trainIdx].pt for m in good])
    return pa, pb


def _layers(pa: np.ndarray, pb: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Up to MAX_LAYERS similarity transforms a -> b, each explaining a distinct match group."""
    layers: list[np.ndarray] = []
    total = len(pa)
    while len(pa) >= 8 and len(layers) < MAX_LAYERS:
        model, inliers = cv2.estimateAffinePartial2D(
            pa, pb, method=cv2.RANSAC, ransacReprojThreshold=threshold, maxIters=2000, confidence=0.995
        )
        if model is None:
            break
        keep = inliers.ravel().astype(bool)
        if keep.sum() < max(8, 0.05 * total):
            break
        layers.append(model.astype(np.float64))
        pa, pb = pa[~keep], pb[~keep]
    return layers


def _model_flow(model: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Flow of an affine model over a pixel grid (h, w, 2)."""
    return cv2.subtract(cv2.transform(grid, model.astype(np.float32)), grid)


def _error(ga: np.ndarray, gb: np.ndarray, flow: np.ndarray, grid: np.ndarray, window: int) -> np.ndarray:
    """Window-averaged |a(x) - b(x + flow)| plus a small motion bias; sampling outside b
    counts as a poor match."""
    h, w = ga.shape
    target = cv2.add(grid, flow)
    warped = cv2.remap(gb, target, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.inRange(target, (0.0, 0.0), (w - 1.0, h - 1.0))
    err = cv2.max(cv2.absdiff(ga, warped), cv2.bitwise_and(cv2.bitwise_not(inside), OUTSIDE_ERROR))
    err = cv2.boxFilter(err, cv2.CV_32F, (window, window))
    return cv2.scaleAdd(cv2.magnitude(flow[..., 0], flow[..., 1]), MOTION_BIAS, err)


def _select(ga, gb, candidates: list[np.ndarray], grid: np.ndarray, window: int) -> np.ndarray:
    """Per pixel, the candidate flow with the lowest error (ties go to the earlier one)."""
    out = candidates[0].copy()
    if len(candidates) == 1:
        return out
    best = _error(ga, gb, out, grid, window)
    for flow in candidates[1:]:
        err = _error(ga, gb, flow, grid, window)
        better = err < best
        np.copyto(out, flow, where=better[..., None])
        np.minimum(best, err, out=best)
    return out


def _one_way(ga, gb, layers, dis, grid, window) -> np.ndarray:
    candidates = [np.zeros_like(grid)] + [_model_flow(m, grid) for m in layers]
    init = _select(ga, gb, candidates, grid, window)
    refined = dis.calc(ga, gb, init.copy())
    return _select(ga, gb, [refined, init], grid, window)


def _resized(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (gray.shape[1], gray.shape[0]) == size:
        return gray
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def _scaled(model: np.ndarray, s: float) -> np.ndarray:
    """The same motion expressed in coordinates scaled by s."""
    out = model.copy()
    out[:, 2] *= s
    return out


def estimate_flows(
    a: np.ndarray, b: np.ndarray, flow_size: tuple[int, int], feature_size: tuple[int, int],
    preset: int, features: int,
) -> FlowPair:
    """Bidirectional flow between RGB frames a and b, at flow_size (w, h).

    Matching runs at feature_size (ORB needs a few hundred pixels to find corners even when
    the flow itself is estimated coarsely).
    """
    gray_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gray_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    fa, fb = _resized(gray_a, feature_size), _resized(gray_b, feature_size)
    ga, gb = _resized(gray_a, flow_size), _resized(gray_b, flow_size)

    diag = float(np.hypot(*feature_size))
    pa, pb = _matches(fa, fb, features)
    layers = _layers(pa, pb, threshold=max(2.0, 0.004 * diag)) if len(pa) else []
    s = flow_size[0] / feature_size[0]
    forward_layers = [_scaled(m, s) for m in layers]
    backward_layers = [cv2.invertAffineTransform(m) for m in forward_layers]

    gy, gx = np.mgrid[0 : flow_size[1], 0 : flow_size[0]].astype(np.float32)
    grid = np.dstack([gx, gy])
    window = max(5, round(min(flow_size) / 30)) | 1
    dis = cv2.DISOpticalFlow_create(preset)
    forward = _one_way(ga, gb, forward_layers, dis, grid, window)
    backward = _one_way(gb, ga, backward_layers, dis, grid, window)
    return FlowPair(forward=forward, backward=backward, layers=len(layers))
