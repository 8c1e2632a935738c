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

from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np

MOTION_BIAS = 0.01  # grey levels of error per pixel of motion, to break ties towards rest
MAX_LAYERS = 4
MIN_LAYER_MATCHES = 8  # a layer needs this many inlier matches...
MIN_LAYER_SHARE = 0.02  # ...and this share of all matches (wrong layers are harmless:
# a pixel only takes a layer that explains it photometrically)
OUTSIDE_ERROR = 64  # grey levels charged for sampling outside the other frame


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class FlowPair:
    """Both flows, the parametric motions behind them and which one each pixel started from.

    models[0] is always "no motion"; labels index into the models of the same direction.
    Models are 2x3 affine maps in pixels of the flow images.
    """

    forward: np.ndarray  # a -> b
    backward: np.ndarray  # b -> a
    forward_models: list[np.ndarray]
    backward_models: list[np.ndarray]
    forward_labels: np.ndarray  # (h, w) uint8
    backward_labels: np.ndarray

    @property
    def layers(self) -> int:
        """Motion layers found by matching (0: none, DIS alone)."""
        return len(self.forward_models) - 1


def _matches(ga: np.ndarray, gb: np.ndarray, features: int, pool: Executor) -> tuple[np.ndarray, np.ndarray]:
    """Matched keypoint positions (n, 2) in a and b: Lowe's ratio test, and mutual best
    matches when enough of those remain."""
    def detect(gray: np.ndarray) -> tuple:
        return cv2.ORB_create(nfeatures=features, fastThreshold=8).detectAndCompute(gray, None)

    pending = pool.submit(detect, gb)
    ka, da = detect(ga)
    kb, db = pending.result()
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
        if keep.sum() < max(MIN_LAYER_MATCHES, MIN_LAYER_SHARE * total):
            break
        layers.append(model.astype(np.float64))
        pa, pb = pa[~keep], pb[~keep]
    return layers


def model_flow(model: np.ndarray, grid: np.ndarray) -> np.ndarray:
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


def _select(ga, gb, candidates: list[np.ndarray], grid: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the candidate flow with the lowest error (ties go to the earlier one),
    and the index of the winner."""
    out = candidates[0].copy()
    label = np.zeros(out.shape[:2], np.uint8)
    if len(candidates) == 1:
        return out, label
    best = _error(ga, gb, out, grid, window)
    for k, flow in enumerate(candidates[1:], start=1):
        err = _error(ga, gb, flow, grid, window)
        better = err < best
        np.copyto(out, flow, where=better[..., None])
        label[better] = k
        np.minimum(best, err, out=best)
    return out, label


def _one_way(ga, gb, models, dis, grid, window) -> tuple[np.ndarray, np.ndarray]:
    init, label = _select(ga, gb, [model_flow(m, grid) for m in models], grid, window)
    refined = dis.calc(ga, gb, init.copy())
    flow, _ = _select(ga, gb, [refined, init], grid, window)
    return flow, label


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
    preset: int, features: int, pool: Executor,
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
    pa, pb = _matches(fa, fb, features, pool)
    layers = _layers(pa, pb, threshold=max(2.0, 0.004 * diag)) if len(pa) else []
    s = flow_size[0] / feature_size[0]
    forward_models = [IDENTITY] + [_scaled(m, s) for m in layers]
    backward_models = [IDENTITY] + [cv2.invertAffineTransform(m) for m in forward_models[1:]]

    gy, gx = np.mgrid[0 : flow_size[1], 0 : flow_size[0]].astype(np.float32)
    grid = np.dstack([gx, gy])
    window = max(5, round(min(flow_size) / 30)) | 1
    # The two directions are independent; OpenCV releases the GIL, so run them side by side
    # (each with its own DIS instance: they are not thread-safe).
    pending = pool.submit(_one_way, gb, ga, backward_models, cv2.DISOpticalFlow_create(preset), grid, window)
    forward, forward_labels = _one_way(ga, gb, forward_models, cv2.DISOpticalFlow_create(preset), grid, window)
    backward, backward_labels = pending.result()
    return FlowPair(
        forward=forward, backward=backward, forward_models=forward_models, backward_models=backward_models,
        forward_labels=forward_labels, backward_labels=backward_labels,
    )
