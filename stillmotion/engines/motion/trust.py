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
EDGE_SHARE = 0.15  # the strongest colour-gradient share of pixels taken as image edges
EDGE_REACH = 5  # image edges count this many working px wide (a depth edge may sit a pixel or two off)
DEPTH_EDGE_FLOOR = 0.002  # disparity change per working pixel below which nothing counts as a depth edge
# agreement -> trust: at LOW nothing of the parallax is shown, from HIGH all of it
TRUST_RANGE = {"heuristic": (0.2, 0.8), "model": (0.0, 0.5)}
# the most of the parallax the image-cue heuristic ever earns: its ground-plane prior (lower is nearer) makes
# upright things (a rocket, a tower) lean under a truck or orbit, which edge agreement cannot see
TRUST_CEILING = {"heuristic": 0.5, "model": 1.0}
MAX_STRETCH = 0.25  # the largest local stretch or squeeze the warp may make (1 would fold)


def edge_agreement(rgb: np.ndarray, disparity: np.ndarray) -> float:
    """How much more often than chance the depth map's edges sit on the image's own edges (0..1).

    Depth edges are thinned to their ridge (the steepest pixel across), weighted by their
    strength; image edges are the strongest EDGE_SHARE of colour gradients (an object's
    outline is often a change of colour more than of brightness), widened to EDGE_REACH. The
    share of depth-edge weight on them, rescaled so that chance (the widened edges' coverage)
    is 0 and all of it is 1. A map with no depth edges (flat, or gentle ramps) cannot tear
    anything: 1.
    """
    h, w = disparity.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    size = (max(16, round(w * s)), max(16, round(h * s)))
    small = cv2.GaussianBlur(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32), (0, 0), 1.0)
    gi = np.max([cv2.magnitude(cv2.Sobel(small[..., c], cv2.CV_32F, 1, 0), cv2.Sobel(small[..., c], cv2.CV_32F, 0, 1))
                 for c in range(small.shape[2])], axis=0)
    d = cv2.resize(disparity.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    gd = cv2.magnitude(cv2.Sobel(d, cv2.CV_32F, 1, 0), cv2.Sobel(d, cv2.CV_32F, 0, 1)) / 8.0  # per pixel
    ridge = gd >= cv2.dilate(gd, np.ones((3, 3), np.uint8))
    weight = np.maximum(gd - DEPTH_EDGE_FLOOR, 0.0) * ridge
    total = float(weight.sum())
    if total <= 1e-6:
        return 1.0
    edges = (gi >= np.quantile(gi, 1.0 - EDGE_SHARE)).astype(np.uint8)
    edges = cv2.dilate(edges, np.ones((EDGE_REACH, EDGE_REACH), np.uint8))
    chance = float(edges.mean())
    on = float((weight * edges).sum() / total)
    return float(np.clip((on - chance) / max(1.0 - chance, 1e-6), 0.0, 1.0))


def trust_scale(agreement: float, source: str) -> float:
    """Fraction of the full parallax a map with this edge agreement may show."""
    lo, hi = TRUST_RANGE.get(source, TRUST_RANGE["heuristic"])
    return float(np.clip((agreement - lo) / (hi - lo), 0.0, 1.0)) * TRUST_CEILING.get(source, TRUST_CEILING["heuristic"])


def stretch_scale(max_gradient: float, reach: float) -> float:
    """Largest parallax fraction keeping the warp's local stretch under MAX_STRETCH.

    `max_gradient`: the warp disparity's steepest change per canvas pixel; `reach`: the most
    canvas pixels the plan moves a point per unit of disparity (parallax_reach). The warp's
    local stretch is at most their product times the fraction."""
    spread = max_gradient * reach
    return 1.0 if spread <= MAX_STRETCH else MAX_STRETCH / spread
