"""How much parallax a disparity map can carry before its errors show.

A depth map is only as good as its edges: where a depth edge runs along an image edge it
probably outlines an object; where it crosses smooth image content (a cup's side, a face)
it is probably a mistake, and moving the two sides of it differently distorts the object.
`edge_agreement` measures the share of depth-edge strength that lies on image edges;
`trust_scale` maps it (and the depth source: a configured model is trusted more than the
image-cue heuristic) to the fraction of the full parallax the warp may show. `stretch_scale`
caps the parallax so the continuous warp never stretches or squeezes any place by more than
`MAX_STRETCH` (and so can never fold over itself).
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 256  # working size (longest side) of the agreement test
EDGE_SHARE = 0.22  # the strongest image-gradient share of pixels taken as image edges
DEPTH_EDGE_FLOOR = 0.002  # disparity change per working pixel below which nothing counts as a depth edge
# agreement -> trust: below LOW nothing of the parallax is shown, above HIGH all of it
TRUST_RANGE = {"heuristic": (0.45, 0.80), "model": (0.25, 0.60)}
MAX_STRETCH = 0.25  # the largest local stretch or squeeze the warp may make (1 would fold)


def edge_agreement(rgb: np.ndarray, disparity: np.ndarray) -> float:
    """Share (0..1) of the depth map's edge strength that sits on the image's own edges.

    1: every depth edge outlines something visible; ~the image-edge share (EDGE_SHARE, widened
    by a pixel): depth edges are unrelated to the picture. A map with no depth edges at all
    (flat, or gentle ramps only) cannot tear anything: 1.
    """
    h, w = disparity.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    size = (max(16, round(w * s)), max(16, round(h * s)))
    grey = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    d = cv2.resize(disparity.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    gi = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    gd = cv2.magnitude(cv2.Sobel(d, cv2.CV_32F, 1, 0), cv2.Sobel(d, cv2.CV_32F, 0, 1)) / 8.0  # per pixel
    weight = np.maximum(gd - DEPTH_EDGE_FLOOR, 0.0)
    total = float(weight.sum())
    if total <= 1e-6:
        return 1.0
    edges = (gi >= np.quantile(gi, 1.0 - EDGE_SHARE)).astype(np.uint8)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    return float((weight * edges).sum() / total)


def trust_scale(agreement: float, source: str) -> float:
    """Fraction of the full parallax a map with this edge agreement may show."""
    lo, hi = TRUST_RANGE.get(source, TRUST_RANGE["heuristic"])
    return float(np.clip((agreement - lo) / (hi - lo), 0.0, 1.0))


def stretch_scale(max_gradient: float, reach: float) -> float:
    """Largest parallax fraction keeping the warp's local stretch under MAX_STRETCH.

    `max_gradient`: the warp disparity's steepest change per canvas pixel; `reach`: the most
    canvas pixels the plan moves a point per unit of disparity (parallax_reach). The warp's
    local stretch is at most their product times the fraction."""
    spread = max_gradient * reach
    return 1.0 if spread <= MAX_STRETCH else MAX_STRETCH / spread
