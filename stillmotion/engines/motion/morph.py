"""Flow-guided morph from a start frame to an end frame (no crossfade ghosts).

Once per clip: dense optical flow both ways between the two fitted frames (flow.py: matched
motion layers refined by DIS), a forward-backward consistency check that marks occluded
pixels (hidden or out of frame in the other image) and gives them the motion of the layer
around them, and an importance per pixel used to decide who is in front when two pixels
land on the same spot.

Per frame at time t (Super SloMo / softmax-splatting style, cheap enough for a CPU):

1. Forward-splat each flow to time t on a coarse grid: a pixel p of the start frame lands at
   p + t*F_ab(p), and the spot it lands on learns "look back by -t*F_ab(p)" (likewise from
   the end frame with (1-t)*F_ba). Collisions are resolved softly with weights exp(Z), where
   Z favours pixels that move more (a moving subject passes in front of a static background)
   and pixels whose flow is consistent both ways (occluded pixels lose). Spots nobody lands
   on are holes: that side does not see them at time t.
2. Upsample the two time-t flows and backward-warp the start frame by the first and the end
   frame by the second (cv2.remap).
3. Blend with weights (1-t)*coverage_a and t*coverage_b, so a region revealed at time t comes
   from the side that sees it instead of half-fading in.

t=0 returns the fitted start frame and t=1 the fitted end frame exactly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from stillmotion.engines.motion.flow import estimate_flows, model_flow
from stillmotion.engines.motion.modes import ModeProfile
from stillmotion.engines.motion.resample import supersample
from stillmotion.engines.motion.threads import Scratch

MOTION_PRIORITY = 0.25  # Z per full-resolution pixel of motion
INCONSISTENCY_PENALTY = 0.5  # Z per full-resolution pixel of forward-backward error
OCCLUSION_TOLERANCE = 0.1  # fb error (grid px) allowed per grid px of motion, plus 0.5 px
OCCLUDED_ERROR = 40.0  # full-res px of fb error charged to occluded pixels in Z
MIN_WEIGHT = 0.02  # floor on blend weights so no pixel is ever weightless
MIN_FEATURE_SIDE = 480  # keypoints are found on at least this long a side (or the full frame)


class _Splatter:
    """Forward-splats one direction's flow to an intermediate time on a fixed grid.

    Bilinear splatting into a grid padded by one cell beyond each edge (plus one for the
    right/bottom taps), so points that leave the frame land in the discarded padding
    instead of needing per-tap bounds masks.
    """

    def __init__(self, flow: np.ndarray, importance: np.ndarray, unit: tuple[float, float]) -> None:
        gh, gw = flow.shape[:2]
        self.shape = (gh, gw)
        self.stride = gw + 3
        self.cells = (gh + 3) * self.stride
        gy, gx = np.mgrid[0:gh, 0:gw]
        self.gx = gx.ravel().astype(np.float32)
        self.gy = gy.ravel().astype(np.float32)
        self.fx = np.ascontiguousarray(flow[..., 0]).ravel()
        self.fy = np.ascontiguousarray(flow[..., 1]).ravel()
        z = importance.ravel().astype(np.float64)
        ez = np.exp(np.maximum(z - z.max(), -600.0))
        # Per-tap weights are the same for the 4 taps: tile once here, not per frame.
        self.ez4 = np.tile(ez, 4)
        self.ezfx4 = np.tile(ez * self.fx * unit[0], 4)  # vectors in output pixels
        self.ezfy4 = np.tile(ez * self.fy * unit[1], 4)

    def splat(self, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At time tau: the flow (output pixels) from each grid point back to this side,
        its coverage (0..~1), and where anything landed at all."""
        gh, gw = self.shape
        x = self.gx + np.float32(tau) * self.fx
        y = self.gy + np.float32(tau) * self.fy
        np.clip(x, -1.0, gw, out=x)
        np.clip(y, -1.0, gh, out=y)
        x0 = np.floor(x)
        y0 = np.floor(y)
        ax = x - x0
        ay = y - y0
        bx = 1.0 - ax
        by = 1.0 - ay
        i00 = ((y0 + 1.0) * self.stride + (x0 + 1.0)).astype(np.intp)
        idx = np.concatenate([i00, i00 + 1, i00 + self.stride, i00 + self.stride + 1])
        k = np.concatenate([bx * by, ax * by, bx * ay, ax * ay]).astype(np.float64)
        coverage = np.bincount(idx, k, self.cells)
        wsum = np.bincount(idx, k * self.ez4, self.cells)
        vx = np.bincount(idx, k * self.ezfx4, self.cells)
        vy = np.bincount(idx, k * self.ezfy4, self.cells)
        good = wsum > 1e-300
        scale = np.divide(-tau, wsum, out=np.zeros_like(wsum), where=good)
        inner = (slice(1, gh + 1), slice(1, gw + 1))
        flow = np.empty((gh, gw, 2), np.float32)
        flow[..., 0] = (vx * scale).reshape(gh + 3, -1)[inner]
        flow[..., 1] = (vy * scale).reshape(gh + 3, -1)[inner]
        return (
            flow,
            coverage.reshape(gh + 3, -1)[inner].astype(np.float32),
            good.reshape(gh + 3, -1)[inner],
        )


def _resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a flow field to `size` (w, h) and rescale its vectors to the new pixel units."""
    h, w = flow.shape[:2]
    if (w, h) == size:
        return flow
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    out = cv2.resize(flow, size, interpolation=interp)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out


def _fb_error(f_ab: np.ndarray, f_ba: np.ndarray) -> np.ndarray:
    """|F_ab(p) + F_ba(p + F_ab(p))|: near zero where a pixel is seen the same way both ways."""
    h, w = f_ab.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    back = cv2.remap(f_ba, gx + f_ab[..., 0], gy + f_ab[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.linalg.norm(f_ab + back, axis=-1)


def _fill_from_visible(flow: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """Give occluded pixels the flow of their nearest visible pixel.

    A pixel hidden in the other frame has no trustworthy flow (the matcher latches onto
    whatever covers it). Its nearest visible neighbour is usually the surface it belongs to.
    """
    if not occluded.any() or occluded.all():
        return flow
    _, labels = cv2.distanceTransformWithLabels(
        occluded.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    visible = np.flatnonzero(~occluded.ravel())  # label k (1-based) is the k-th visible pixel
    source = visible[labels.ravel() - 1]
    return flow.reshape(-1, 2)[source].reshape(flow.shape)


def _rescaled_model(model: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """An affine model re-expressed in coordinates scaled by the diagonal matrix `scale`."""
    out = np.empty_like(model)
    out[:, :2] = scale @ model[:, :2] @ np.linalg.inv(scale)
    out[:, 2] = scale @ model[:, 2]
    return out


def _fill_occluded(
    flow: np.ndarray, occluded: np.ndarray, labels: np.ndarray, models: list[np.ndarray], points: np.ndarray
) -> np.ndarray:
    """Replace the flow of occluded pixels by a plausible one.

    With motion layers, an occluded pixel follows the parametric motion of the layer most
    of the visible pixels around it follow (extrapolating, e.g., a zoom past the frame edge
    or the background behind a subject). Without layers, it copies its nearest visible pixel.
    """
    if not occluded.any() or occluded.all():
        return flow
    if len(models) == 1:
        return _fill_from_visible(flow, occluded)
    h, w = occluded.shape
    window = max(9, min(h, w) // 6) | 1
    visible = ~occluded
    votes = np.stack(
        [cv2.boxFilter(((labels == k) & visible).astype(np.float32), -1, (window, window)) for k in range(len(models))]
    )
    choice = np.argmax(votes, axis=0)
    filled = flow.copy()
    for k, model in enumerate(models):
        pick = occluded & (choice == k)
        if pick.any():
            filled[pick] = model_flow(model, points)[pick]
    return filled


@dataclass(frozen=True)
class _Sizes:
    """Working resolutions for one clip, all (width, height)."""

    frame: tuple[int, int]
    flow: tuple[int, int]  # where optical flow is estimated
    features: tuple[int, int]  # where keypoints are matched
    grid: tuple[int, int]  # where flow is splatted each frame

    @classmethod
    def for_frame(cls, width: int, height: int, profile: ModeProfile) -> _Sizes:
        longest = max(width, height)

        def scaled(f: float, least: int) -> tuple[int, int]:
            return (max(least, round(width * f)), max(least, round(height * f)))

        fs = min(profile.flow_scale, profile.flow_max_side / longest)
        ff = min(1.0, profile.feature_max_side / longest, max(fs, MIN_FEATURE_SIDE / longest))
        return cls(
            frame=(width, height),
            flow=scaled(fs, 16),
            features=scaled(ff, 16),
            grid=scaled(min(profile.splat_scale, fs), 8),
        )


class _GridBase:
    """Absolute sampling coordinates on a k-times supersampled source from a grid flow, in one
    upsampling: the grid carries the flow plus the coordinates it stands for, chosen so that
    bilinear upsampling reproduces k * x exactly (a linear ramp interpolates to itself), with a
    per-column and per-row correction where OpenCV clamps at the frame's edges. Saves a full-
    resolution two-channel add per side and frame (4 ms of a 720p pro morph frame's ~50)."""

    def __init__(self, grid: tuple[int, int], size: tuple[int, int], k: int) -> None:
        (gw, gh), (w, h) = grid, size
        # grid column j stands for frame x = (j + 0.5) * w / gw - 0.5 (cv2.resize's pixel centres)
        gx = (k * ((np.arange(gw) + 0.5) * w / gw - 0.5)).astype(np.float32)
        gy = (k * ((np.arange(gh) + 0.5) * h / gh - 0.5)).astype(np.float32)
        self.grid = np.dstack(np.meshgrid(gx, gy)).astype(np.float32)
        self.size = size
        ux = cv2.resize(gx[None, :], (w, 1), interpolation=cv2.INTER_LINEAR)[0]
        uy = cv2.resize(gy[:, None], (1, h), interpolation=cv2.INTER_LINEAR)[:, 0]
        self.fix_x = (k * np.arange(w, dtype=np.float64) - ux).astype(np.float32)
        self.fix_y = (k * np.arange(h, dtype=np.float64) - uy).astype(np.float32)
        # only the edges need it (interior values agree to float rounding)
        self.cols = np.flatnonzero(np.abs(self.fix_x) > 1e-3)
        self.rows = np.flatnonzero(np.abs(self.fix_y) > 1e-3)

    def absolute(self, flow: np.ndarray, out: np.ndarray) -> np.ndarray:
        """`out` (h, w, 2) = k * (x, y) + the upsampled `flow` (grid, in supersampled pixels)."""
        cv2.resize(cv2.add(flow, self.grid), self.size, dst=out, interpolation=cv2.INTER_LINEAR)
        if len(self.cols):
            out[:, self.cols, 0] += self.fix_x[self.cols]
        if len(self.rows):
            out[self.rows, :, 1] += self.fix_y[self.rows][:, None]
        return out


def _match_errors(head: np.ndarray, tail: np.ndarray, forward: np.ndarray, size: tuple[int, int]) -> tuple[float, float]:
    """Mean grey error between head and tail after following the flow, and without it.

    When the flow explains little of the difference the two frames show unrelated scenes.
    """
    ga = cv2.resize(cv2.cvtColor(head, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    gb = cv2.resize(cv2.cvtColor(tail, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    gy, gx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    warped = cv2.remap(gb, gx + forward[..., 0], gy + forward[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return float(np.abs(ga - warped).mean()), float(np.abs(ga - gb).mean())


class FlowMorph:
    """Renders the morph between two fitted frames of the same size at any t in [0, 1].

    `frame(t)` may be called from several threads at once (each gets its own scratch buffers).
    """

    def __init__(self, head: np.ndarray, tail: np.ndarray, profile: ModeProfile) -> None:
        if head.shape != tail.shape:
            raise ValueError("head and tail must be fitted to the same frame")
        self.head = head
        self.tail = tail
        self.profile = profile
        height, width = head.shape[:2]
        self.size = (width, height)
        self.sizes = sizes = _Sizes.for_frame(width, height, profile)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="motion-morph") as pool:  # both directions at once
            pair = estimate_flows(head, tail, sizes.flow, sizes.features, profile.dis_preset, profile.features, pool)
        self.layers = pair.layers
        self.residual, self.plain_error = _match_errors(head, tail, pair.forward, sizes.flow)
        f_ab = _resize_flow(pair.forward, sizes.grid)
        f_ba = _resize_flow(pair.backward, sizes.grid)
        self.mean_motion = float(np.linalg.norm(f_ab, axis=-1).mean() * width / sizes.grid[0])
        self._a, occluded_a = self._side(f_ab, f_ba, pair.forward_models, pair.forward_labels)
        self._b, occluded_b = self._side(f_ba, f_ab, pair.backward_models, pair.backward_labels)
        self.occluded = (occluded_a, occluded_b)

        # Sources for the per-frame remaps: RGBA (OpenCV's bilinear remap is about twice as
        # fast on 4 channels), 2x supersampled in 'pro' (see resample.py).
        k = profile.morph_supersample
        self._sources = tuple(cv2.cvtColor(supersample(img, k), cv2.COLOR_RGB2RGBA) for img in (head, tail))
        self._interp = profile.morph_interp
        self._base = _GridBase(sizes.grid, self.size, k) if k != 1 else None
        # Full-resolution scratch buffers, reused per thread: fresh 7 MB arrays every frame cost
        # more in page faults than the arithmetic, and frames may render in parallel.
        self._scratch = Scratch()

    def _side(
        self, forward: np.ndarray, backward: np.ndarray, models: list[np.ndarray], labels: np.ndarray
    ) -> tuple[_Splatter, float]:
        """The splatter for one direction (flows on the grid), and its occluded share."""
        grid, flow_size, (width, height) = self.sizes.grid, self.sizes.flow, self.size
        k = self.profile.morph_supersample
        unit = (k * width / grid[0], k * height / grid[1])  # source pixels per grid pixel
        err = _fb_error(forward, backward)
        magnitude = np.linalg.norm(forward, axis=-1)
        occluded = err > OCCLUSION_TOLERANCE * (1.0 + magnitude) + 0.5
        to_grid = np.diag([grid[0] / flow_size[0], grid[1] / flow_size[1]])
        gy, gx = np.mgrid[0 : grid[1], 0 : grid[0]].astype(np.float32)
        filled = _fill_occluded(
            forward,
            occluded,
            cv2.resize(labels, grid, interpolation=cv2.INTER_NEAREST),
            [_rescaled_model(m, to_grid) for m in models],
            np.dstack([gx, gy]),
        )
        to_frame = width / grid[0]
        z = MOTION_PRIORITY * np.linalg.norm(filled, axis=-1) * to_frame
        z -= INCONSISTENCY_PENALTY * np.where(occluded, OCCLUDED_ERROR, err * to_frame)
        return _Splatter(filled, z, unit), float(occluded.mean())

    def describe(self) -> dict[str, Any]:
        return {
            "method": "bidirectional_flow",
            "match_error": round(self.residual, 2),
            "plain_error": round(self.plain_error, 2),
            "flow": "orb_layers+dis",
            "motion_layers": self.layers,
            "flow_size": list(self.sizes.flow),
            "splat_grid": list(self.sizes.grid),
            "mean_motion_px": round(self.mean_motion, 2),
            "occluded_share": [round(v, 4) for v in self.occluded],
            "easing": "smoothstep",
        }

    def frame(self, t: float) -> np.ndarray:
        if t <= 0.0:
            return self.head.copy()
        if t >= 1.0:
            return self.tail.copy()
        # One frame per thread (the engine renders frames in parallel): both sides splat here.
        fa, ca, ga = self._a.splat(t)
        fb, cb, gb = self._b.splat(1.0 - t)
        # Holes on one side: borrow the other side's flow, rescaled assuming straight motion
        # (the blend weights give that side little say there anyway).
        only_b = ~ga & gb
        fa[only_b] = fb[only_b] * (-t / (1.0 - t))
        only_a = ~gb & ga
        fb[only_a] = fa[only_a] * (-(1.0 - t) / t)

        wa = (1.0 - t) * np.clip(ca, MIN_WEIGHT, 1.0)
        wb = t * np.clip(cb, MIN_WEIGHT, 1.0)
        width, height = self.size
        get = self._scratch.get
        mapping = get("map", (height, width, 2), np.float32)
        warped = (get("warped_a", (height, width, 4)), get("warped_b", (height, width, 4)))
        for source, flow, out in zip(self._sources, (fa, fb), warped):
            if self._base is None:  # 1x source: the upsampled offsets are a relative map as they are
                cv2.resize(flow, self.size, dst=mapping, interpolation=cv2.INTER_LINEAR)
                flags = self._interp | cv2.WARP_RELATIVE_MAP
            else:  # 2x source: absolute coordinates on the supersampled grid
                self._base.absolute(flow, mapping)
                flags = self._interp
            cv2.remap(source, mapping, None, flags, dst=out, borderMode=cv2.BORDER_REFLECT_101)
        return cv2.cvtColor(self._blend(warped[0], warped[1], wa / (wa + wb)), cv2.COLOR_RGBA2RGB)

    def _blend(self, a: np.ndarray, b: np.ndarray, share_a: np.ndarray) -> np.ndarray:
        """a * w + b * (1 - w), w = `share_a` (grid) upsampled, in 8 bits: w as 0-255, two scaled
        multiplies and an add (5.5 ms at 720p where cv2.blendLinear's float weights took 8.2;
        within one level of it). Alpha stays 255: 255 * 255 / 255 + 255 * 0 / 255."""
        width, height = self.size
        w8 = (share_a * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
        spread = self._scratch.get("share", (height, width, 4))
        cv2.cvtColor(cv2.resize(w8, self.size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2RGBA, dst=spread)
        out = cv2.multiply(a, spread, scale=1.0 / 255.0)
        cv2.bitwise_not(spread, dst=spread)
        cv2.multiply(b, spread, dst=b, scale=1.0 / 255.0)  # b is this thread's scratch: free to overwrite
        return cv2.add(out, b, dst=out)
