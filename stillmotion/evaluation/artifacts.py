"""Artifact score: the share of a paused frame that a viewer would call broken.

A clip made from one still should show, in every frame, the still seen through a smooth
camera: each frame is frame 0 (or the input image, uncropped, when given) moved by a smooth
flow. What cannot be explained that way is what viewers reject:

- **unexplained residual**: after warping the reference along the DIS flow from frame t back
  to it, grey-level differences larger than a flow error of ALLOWED_SHIFT px on the local edge
  could cause, plus a noise floor (tears, doubled edges and ghosts, cut-out edges);
- **wobble**: where the flow itself bends sharply (its difference from a smoothed copy of
  itself exceeds WOBBLE_PX on textured content): ripples on things that are not water,
  sheared or offset pieces;
- **unsourced structure**: pixels whose source lies outside everything the reference holds,
  yet with edges in them (a mirrored or streaked margin; a soft continuation has none).

Where the reference has sky, water or foliage (found as the engine's effects find them), the
residual and wobble tests are left out: clouds may drift, water ripple and leaves sway there
(`ambient=False` judges them too). Each frame's score is the share of the frame flagged by any of the three, after dropping
specks smaller than SPECK_PX working pixels; the clip's score is the worst sampled frame.
Frames are sampled every `stride` frames (a defect that a viewer can pause on lasts longer).
Working size: at most WORK_SIDE px long. Particles drawn over the whole frame (rain, snow,
dust) count: score clips with them against their own baseline (docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

WORK_SIDE = 480
ALLOWED_SHIFT = 0.6  # working px of flow error tolerated on an edge
NOISE_FLOOR = 14.0  # grey levels of difference always tolerated (encoding, resampling)
WOBBLE_PX = 0.6  # working px of flow deviation from its smooth self counted as wobble
WOBBLE_SIGMA = 6.0  # working px: the scale below which the flow of a camera move has no detail
MISALIGN_PX = 0.35  # local RMS misalignment (working px) counted as a defect...
MISALIGN_WINDOW = 9  # ...over windows this wide
NOISE_RMS = 4.0  # grey levels of difference expected anywhere (encoding, resampling)
TEXTURE = 12.0  # grey levels per px of gradient for the flow to be trusted (wobble test)
UNSOURCED_EDGE = 10.0  # gradient of structure in a margin with no source
FRAME_BORDER = 0.025  # share of the frame along its edge where flow is not trusted (content enters there)
EDGE_ZONE = 8  # working px along the reference's border where flow is not trusted (neither judged)
SPECK_PX = 6  # connected flagged groups smaller than this (working px) are noise
DEFAULT_STRIDE = 4


@dataclass(frozen=True)
class ArtifactScore:
    score: float  # worst sampled frame's flagged share (0: clean)
    worst_frame: int
    mean: float  # mean flagged share over the sampled frames
    residual: float  # worst frame's shares by kind
    wobble: float
    unsourced: float
    sampled: int
    ambient: float = 0.0  # share of the reference left out as sky, water or foliage
    per_frame: list[float] = field(default_factory=list)


def _work_size(w: int, h: int) -> tuple[int, int]:
    s = min(1.0, WORK_SIDE / max(w, h))
    return max(16, round(w * s)), max(16, round(h * s))


def _grey(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if (g.shape[1], g.shape[0]) != size:
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return g


def _gradient(g: np.ndarray) -> np.ndarray:
    g = g.astype(np.float32)
    return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 4.0


def _fit_affine(x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """2x3 least-squares affine (x, y) -> (u, v) over an 8 px grid of the frame's interior,
    refit without points off by more than 3x the median (parallax, subjects, defects)."""
    h, w = x.shape
    m = max(2, round(FRAME_BORDER * max(h, w)))
    sl = (slice(m, h - m, 8), slice(m, w - m, 8))
    pts = np.stack([x[sl].ravel(), y[sl].ravel(), np.ones(x[sl].size, np.float32)], 1).astype(np.float64)
    tgt = np.stack([u[sl].ravel(), v[sl].ravel()], 1).astype(np.float64)
    if len(pts) < 6:
        return fallback
    keep = np.ones(len(pts), bool)
    for _ in range(2):
        sol, *_ = np.linalg.lstsq(pts[keep], tgt[keep], rcond=None)
        err = np.hypot(*(pts @ sol - tgt).T)
        keep = err <= max(3 * float(np.median(err)), 0.25)
        if keep.sum() < 6:
            break
    return sol.T


def _without_specks(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= SPECK_PX
    big[0] = False
    return big[labels]


class ArtifactScorer:
    """Scores frames against a reference one by one (no frames held but the reference).

    `reference`: frame 0, or the input image scaled to cover the frame *uncropped*, with
    `origin` the frame's top-left inside it (so real content a pan reveals has a source).
    """

    def __init__(self, frame0: np.ndarray, reference: np.ndarray | None = None, origin: tuple[int, int] = (0, 0),
                 ambient: bool = True) -> None:
        h, w = frame0.shape[:2]
        self.size = _work_size(w, h)
        s = self.size[0] / w
        ref = frame0 if reference is None else reference
        rs = (max(16, round(ref.shape[1] * s)), max(16, round(ref.shape[0] * s)))
        self.ref8 = _grey(ref, rs)
        self.ref = self.ref8.astype(np.float32)
        self.ref_grad = _gradient(self.ref)
        self.ambient = np.zeros(self.ref.shape, np.float32)
        if ambient:
            from stillmotion.engines.motion.effects import ambient_mask

            small = cv2.resize(ref, rs, interpolation=cv2.INTER_AREA) if (ref.shape[1], ref.shape[0]) != rs else ref
            on = (ambient_mask(np.ascontiguousarray(small)) > 0.3).astype(np.uint8)
            self.ambient = cv2.dilate(on, np.ones((5, 5), np.uint8)).astype(np.float32)
        self.ambient_share = float(self.ambient.mean())
        gw, gh = self.size
        ox = min(max(0, round(origin[0] * s)), rs[0] - gw)
        oy = min(max(0, round(origin[1] * s)), rs[1] - gh)
        # frame working px -> reference working px, the camera's smooth part so far (updated per frame)
        self.affine = np.float64([[1, 0, ox], [0, 1, oy]])
        self.gx, self.gy = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def frame_mask(self, frame: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Flagged working pixels of one frame, and the share of each kind.

        The reference is first warped by the affine fitted to the last sampled frame, so the flow
        is only what is left over (parallax, defects, the step since then): DIS matches patches
        without scaling them, and a long zoom or a repetitive lattice would otherwise mislead it."""
        g = _grey(frame, self.size)
        a = self.affine
        ahead = cv2.warpAffine(self.ref8, a, self.size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        flow = self.dis.calc(g, ahead, None)
        px, py = self.gx + flow[..., 0], self.gy + flow[..., 1]
        mx = (a[0, 0] * px + a[0, 1] * py + a[0, 2]).astype(np.float32)
        my = (a[1, 0] * px + a[1, 1] * py + a[1, 2]).astype(np.float32)
        self.affine = _fit_affine(self.gx, self.gy, mx, my, self.affine)
        rh, rw = self.ref.shape
        e = EDGE_ZONE
        sourced = (mx >= -e) & (my >= -e) & (mx <= rw - 1 + e) & (my <= rh - 1 + e)
        inside = (mx >= e) & (my >= e) & (mx <= rw - 1 - e) & (my <= rh - 1 - e)  # flow is trusted there...
        if self.ambient_share > 0:  # ...and ambient life may not move the content
            inside &= cv2.remap(self.ambient, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT) < 0.5
        b = max(2, round(FRAME_BORDER * max(self.size)))
        inside[:b], inside[-b:], inside[:, :b], inside[:, -b:] = False, False, False, False  # ...away from the frame's edge
        if not sourced.all():  # ...and from content with no source (a margin), where flow is extrapolated
            inside &= cv2.dilate((~sourced).astype(np.uint8), np.ones((2 * b + 1, 2 * b + 1), np.uint8)) == 0
        pred = cv2.remap(self.ref, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        pred_grad = cv2.remap(self.ref_grad, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gf = g.astype(np.float32)
        resid = cv2.absdiff(gf, pred)
        edge = np.maximum(pred_grad, _gradient(gf))
        # local misalignment in px: residual energy over edge energy in a window (Lucas-Kanade's
        # error estimate); a ripple or a sliver offset by a pixel shows here before any single
        # pixel's difference stands out
        win = (MISALIGN_WINDOW, MISALIGN_WINDOW)
        r2 = cv2.boxFilter(resid * resid, -1, win)
        g2 = cv2.boxFilter(edge * edge, -1, win)
        misaligned = (r2 - NOISE_RMS**2 > MISALIGN_PX**2 * g2) & (g2 > TEXTURE**2)
        residual = inside & ((resid > NOISE_FLOOR + ALLOWED_SHIFT * edge) | misaligned)
        smooth = cv2.GaussianBlur(flow, (0, 0), WOBBLE_SIGMA)
        bend = cv2.magnitude(flow[..., 0] - smooth[..., 0], flow[..., 1] - smooth[..., 1])
        wobble = inside & (bend > WOBBLE_PX) & (pred_grad > TEXTURE)
        unsourced = ~sourced & (_gradient(gf) > UNSOURCED_EDGE)
        residual, wobble, unsourced = (_without_specks(m) for m in (residual, wobble, unsourced))
        flagged = residual | wobble | unsourced
        n = float(flagged.size)
        return flagged, {"residual": residual.sum() / n, "wobble": wobble.sum() / n, "unsourced": unsourced.sum() / n}


def artifact_score(frames: Iterable[np.ndarray], *, reference: np.ndarray | None = None,
                   origin: tuple[int, int] = (0, 0), stride: int = DEFAULT_STRIDE, ambient: bool = True) -> ArtifactScore:
    """The clip's artifact score (see the module doc); frames are RGB uint8, streamed."""
    scorer: ArtifactScorer | None = None
    shares: list[float] = []
    kinds: list[dict[str, float]] = []
    indices: list[int] = []
    for i, frame in enumerate(frames):
        if scorer is None:
            scorer = ArtifactScorer(frame, reference, origin, ambient)
            continue
        if i % stride:
            continue
        mask, kind = scorer.frame_mask(frame)
        shares.append(float(mask.mean()))
        kinds.append(kind)
        indices.append(i)
    if not shares:
        return ArtifactScore(0.0, 0, 0.0, 0.0, 0.0, 0.0, 0)
    k = int(np.argmax(shares))
    return ArtifactScore(
        score=shares[k], worst_frame=indices[k], mean=float(np.mean(shares)), residual=kinds[k]["residual"],
        wobble=kinds[k]["wobble"], unsourced=kinds[k]["unsourced"], sampled=len(shares), per_frame=shares,
        ambient=scorer.ambient_share if scorer is not None else 0.0,
    )


VIEWER_BOUND = 0.01  # scores above this showed defects a viewer rejects (planted and torn clips: docs/evaluation.md)
