"""Renders a motion plan over depth layers: near things move more than far ones.

Per clip: the canvas (the input scaled as ``fit_to_frame`` scales it, plus whatever the plan
can reach beyond the frame: real image content first, then a soft mirrored margin), its
disparity, and the layers (layers.py). Per frame, for each layer, far to near:

1. Its affine map for this frame: the camera state's inverse at the layer's disparity (a card:
   near cards move more under truck, pedestal, dolly and orbit).
2. One bilinear warp of the layer's RGBA (from a 2x Lanczos-supersampled copy in ``pro``:
   near-bicubic sharpness at bilinear cost, see resample.py), only over the box it can cover this
   frame, less rows the next card hides, and for nearer cards only over tiles where it has pixels.
3. "Over" compositing, premultiplied, in 8 bits.

At t=0 every map is the identity on exact source pixels, so frame 0 is the fitted input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from stillmotion.engines.motion.layers import Layers
from stillmotion.engines.motion.modes import ModeProfile
from stillmotion.engines.motion.moves import CameraState
from stillmotion.engines.motion.plan import MotionPlan, ease
from stillmotion.engines.motion.resample import supersample
from stillmotion.engines.motion.threads import Scratch, frame_workers, ordered_map

KERNEL_GUARD = 4  # source pixels the 2x Lanczos-4 supersample reads on each side
KERNEL_REACH = KERNEL_GUARD + 1  # canvas pixels a warped pixel depends on: the 2x Lanczos supersample's + bilinear's
TILE_ROWS, TILE_COLS = 64, 192  # output tiles a nearer layer is classed (and warped) by
BLOCK = 8  # canvas block of the occupancy tables
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
    """2x3 inverse map (output pixel -> fitted-frame pixel) of a layer at disparity d."""
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


class ParallaxRenderer:
    """Frame t of a plan over prepared layers: each layer slides as a rigid card at its own
    disparity (an affine warp), composited far to near with premultiplied alpha. Soft alpha
    where depth is continuous blends neighbouring cards; at depth edges alpha is sharp.

    Speed: every nearer layer is stored (and supersampled) only over its own box, warped only
    over the output box it can reach this frame, and composited in 8-bit with OpenCV calls.
    Layers (Layers.images) holding a single image (a plan without parallax, see
    layers.build_layers) are drawn with one warp. Reuses its output buffers between frames, one set
    per thread, so frames may be rendered in parallel."""

    def __init__(
        self, layers: Layers, canvas_origin: tuple[int, int], plan: MotionPlan, size: tuple[int, int],
        pivot: float, profile: ModeProfile,
    ) -> None:
        self.plan = plan
        self.size = size
        self.pivot = pivot
        self.origin = canvas_origin
        self.k = profile.parallax_supersample
        self.disparities = layers.disparities
        self.cards = layers.disparities if len(layers.images) == len(layers.disparities) else layers.disparities[:1]
        self.sources = []
        self.offsets: list[tuple[int, int]] = []  # canvas pixel at each stored source's (0, 0)
        self.boxes = []
        for i, img in enumerate(layers.images):
            if i == 0:
                box, cut = (0, 0, img.shape[1], img.shape[0]), img
            else:
                box = _alpha_box(img[..., 3])
                if box is None:
                    self.sources.append(None)
                    self.offsets.append((0, 0))
                    self.boxes.append(None)
                    continue
                pad = KERNEL_GUARD  # the Lanczos kernel's reach: the crop supersamples exactly like the whole
                x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
                x1, y1 = min(img.shape[1], box[2] + pad), min(img.shape[0], box[3] + pad)
                cut = img[y0:y1, x0:x1]
                # premultiplied colour: (rgb * a / 255, a), rounded (the alpha channel times 255 / 255)
                cut = cv2.multiply(cut, cv2.cvtColor(cv2.extractChannel(cut, 3), cv2.COLOR_GRAY2RGBA), scale=1.0 / 255.0)
                box = (x0, y0, x1, y1)
            if i == 0:
                self.plain = cut  # the farthest layer as it is: copied, not warped, when it holds still
            self.sources.append(cut)
            self.offsets.append((box[0], box[1]))
            self.boxes.append(box)
        # supersampled side by side (a 1080p pro clip's layers took ~0.4 s on one core before its first frame)
        k = self.k
        plain_cuts = self.sources  # each layer's stored source before supersampling
        self.sources = list(ordered_map(lambda c: None if c is None else np.ascontiguousarray(supersample(c, k)),
                                        plain_cuts, frame_workers()))
        self.bands = [None] + [_opaque_band(img[..., 3]) for img in layers.images[1:]]
        # where each nearer layer's stored source is clear, opaque or mixed, on 8x8 blocks: tiles of
        # the output are warped only where the layer has something, and opaque ones without compositing
        self.occupancy = [None] + [_Occupancy(cut[..., 3]) if cut is not None else None for cut in plain_cuts[1:]]
        self.skip_hidden = True  # leave out rows of a layer that the next one covers opaquely
        self.interp = profile.warp_interp if self.k == 1 else cv2.INTER_LINEAR
        self.scratch = Scratch()  # per thread: the output frame and 255 - alpha (frames render in parallel)

    def matrices(self, t: float) -> list[np.ndarray]:
        """Per drawn layer, the 2x3 map from output pixels to (supersampled) canvas pixels."""
        state = self.plan.state(t)
        out = []
        for d in self.cards:
            m = layer_matrix(state, d, self.size, self.pivot)
            m[0, 2] += self.origin[0]
            m[1, 2] += self.origin[1]
            out.append(m * self.k)
        return out

    def frame_rgba(self, t: float) -> np.ndarray:
        """The composited RGBA frame (alpha 255), in a buffer reused by this thread's next call.

        Rows of a layer's box that the next nearer layer covers with alpha 255 this frame (its
        band of fully opaque canvas rows, when its warp keeps rows horizontal) are not drawn:
        compositing would multiply them by zero anyway. Nearer layers are drawn by tiles
        (`_tiles`): clear tiles not at all, opaque ones without compositing.
        """
        w, h = self.size
        out = self.scratch.get("out", (h, w, 4))
        flags = self.interp | cv2.WARP_INVERSE_MAP
        mats = self.matrices(t)
        boxes = [(0, 0, w, h)] + [self._box(i, m) for i, m in enumerate(mats) if i]
        for i, (src, m) in enumerate(zip(self.sources, mats)):
            box = boxes[i]
            if box is None:
                continue
            if self.skip_hidden and i + 1 < len(mats) and boxes[i + 1] is not None:
                box = _minus_rows(box, self._covered_rows(i + 1, mats[i + 1]))
                if box is None:
                    continue
            x0, y0, x1, y1 = box
            shifted = m.copy()
            shifted[:, 2] += shifted[:, 0] * x0 + shifted[:, 1] * y0
            shifted[0, 2] -= self.offsets[i][0] * self.k
            shifted[1, 2] -= self.offsets[i][1] * self.k
            roi = out[y0:y1, x0:x1]
            if i == 0:
                if not self._copy_still(shifted, roi):
                    cv2.warpAffine(src, shifted, (x1 - x0, y1 - y0), dst=roi, flags=flags, borderMode=cv2.BORDER_REFLECT_101)
                continue
            # by tiles: clear ones are not warped at all, opaque ones straight into the frame (they
            # are the layer itself), mixed ones into scratch and then "over"
            for tx0, ty0, tx1, ty1, kind in self._tiles(i, m, box) if self.skip_hidden else [(x0, y0, x1, y1, 1)]:
                if kind == 0:
                    continue
                part_m = shifted.copy()
                part_m[:, 2] += shifted[:, 0] * (tx0 - x0) + shifted[:, 1] * (ty0 - y0)
                size = (tx1 - tx0, ty1 - ty0)
                rows = out[ty0:ty1, tx0:tx1]
                if kind == 2:
                    cv2.warpAffine(src, part_m, size, dst=rows, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                    continue
                part = cv2.warpAffine(src, part_m, size, dst=self.scratch.get("layer", (h, w, 4))[: size[1], : size[0]],
                                      flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                inv = _inverse_alpha(part, self.scratch.get("inv", (h, w, 4))[: size[1], : size[0]])
                cv2.multiply(rows, inv, dst=rows, scale=1.0 / 255.0)
                cv2.add(rows, part, dst=rows)
        return out

    def _copy_still(self, m: np.ndarray, roi: np.ndarray) -> bool:
        """Fill `roi` from the farthest layer by a plain copy when `m` (roi pixel -> supersampled
        source) moves it by whole pixels only: the warp would give the same bytes (bilinear at
        exact pixels) at about six times the cost (1080p). Frame 0 and static shots (effects
        only) hold still; so does a layer at disparity 0 under a pure truck or pedestal."""
        k = self.k
        if abs(m[0, 0] - k) > 1e-9 or abs(m[1, 1] - k) > 1e-9 or abs(m[0, 1]) > 1e-12 or abs(m[1, 0]) > 1e-12:
            return False
        ox, oy = m[0, 2] / k, m[1, 2] / k
        x, y = round(ox), round(oy)
        h, w = roi.shape[:2]
        if abs(ox - x) > 1e-6 or abs(oy - y) > 1e-6 or x < 0 or y < 0 or y + h > self.plain.shape[0] or x + w > self.plain.shape[1]:
            return False
        np.copyto(roi, self.plain[y : y + h, x : x + w])
        return True

    def _tiles(self, i: int, m: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int, int]]:
        """Tiles (x0, y0, x1, y1, kind) covering output `box` for layer i this frame: kind 0 where
        the layer is clear (nothing to warp), 2 where it is opaque, 1 mixed, by its canvas
        occupancy (`_Occupancy`, widened by the kernel's reach) when its warp keeps rows horizontal;
        else the whole box, mixed. Neighbouring tiles of one kind in a band merge into one span."""
        x0, y0, x1, y1 = box
        occ = self.occupancy[i]
        if occ is None or abs(m[0, 1]) > 1e-12 or abs(m[1, 0]) > 1e-12 or m[1, 1] <= 0 or m[0, 0] <= 0:
            return [(x0, y0, x1, y1, 1)]
        k = self.k
        ox, oy = self.offsets[i]
        cols = list(range(x0, x1, TILE_COLS)) + [x1]
        us = [(m[0, 0] * x + m[0, 2]) / k - ox for x in cols]  # canvas column at each tile edge
        out = []
        for ty0 in range(y0, y1, TILE_ROWS):
            ty1 = min(y1, ty0 + TILE_ROWS)
            v0 = math.floor((m[1, 1] * ty0 + m[1, 2]) / k - oy) - KERNEL_REACH
            v1 = math.ceil((m[1, 1] * (ty1 - 1) + m[1, 2]) / k - oy) + KERNEL_REACH + 1
            for j in range(len(cols) - 1):
                u0 = math.floor(us[j]) - KERNEL_REACH
                u1 = math.ceil(us[j + 1] - m[0, 0] / k) + KERNEL_REACH + 1  # the tile's last column
                kind = occ.kind(u0, v0, u1, v1)
                if out and out[-1][4] == kind and out[-1][1] == ty0 and out[-1][2] == cols[j]:
                    out[-1] = (out[-1][0], ty0, cols[j + 1], ty1, kind)
                else:
                    out.append((cols[j], ty0, cols[j + 1], ty1, kind))
        return out

    def _covered_rows(self, j: int, m: np.ndarray) -> tuple[int, int] | None:
        """Output rows [y0, y1) where layer j has alpha 255 across the whole frame width."""
        band = self.bands[j]
        if band is None or abs(m[0, 1]) > 1e-12 or abs(m[1, 0]) > 1e-12 or m[1, 1] <= 0:
            return None
        v0, v1 = band[0] * self.k, (band[1] - 1) * self.k  # supersampled rows inside the band
        y0 = math.ceil((v0 - m[1, 2]) / m[1, 1])
        y1 = math.floor((v1 - m[1, 2]) / m[1, 1]) + 1
        return (y0, y1) if y1 > y0 else None

    def _box(self, i: int, m: np.ndarray) -> tuple[int, int, int, int] | None:
        """Output box (x0, y0, x1, y1) where layer i (canvas box self.boxes[i]) can land."""
        box = self.boxes[i]
        if box is None:
            return None
        bx0, by0, bx1, by1 = (v * self.k for v in box)
        full = np.vstack([m, [0.0, 0.0, 1.0]])
        fwd = np.linalg.inv(full)[:2]
        corners = np.array([[bx0, by0, 1], [bx1, by0, 1], [bx0, by1, 1], [bx1, by1, 1]], float) @ fwd.T
        w, h = self.size
        x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            return None
        return int(x0), int(y0), int(x1), int(y1)


def _opaque_band(alpha: np.ndarray, guard: int = 4) -> tuple[int, int] | None:
    """The longest run of canvas rows [r0, r1) whose alpha is 255 all the way across, shrunk by
    `guard` rows where it borders other rows (the supersampling kernel's reach)."""
    full = np.flatnonzero(np.all(alpha == 255, axis=1))
    if len(full) == 0:
        return None
    breaks = np.flatnonzero(np.diff(full) > 1)
    starts = np.concatenate([[full[0]], full[breaks + 1]])
    ends = np.concatenate([full[breaks], [full[-1]]]) + 1
    k = int(np.argmax(ends - starts))
    r0, r1 = int(starts[k]), int(ends[k])
    r0 = r0 + guard if r0 > 0 else r0
    r1 = r1 - guard if r1 < alpha.shape[0] else r1
    return (r0, r1) if r1 - r0 > 2 * guard else None


def _inverse_alpha(rgba: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`out` (same shape, uint8) set to 255 - alpha of `rgba` in the colour channels and 255 in the
    alpha channel, like cvtColor(GRAY2RGBA) of the inverted alpha: each pixel as one 32-bit word,
    alpha * 0x00010101 inverted (~2x faster than extract + invert + spread)."""
    if not np.little_endian:
        return cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(rgba, 3)), cv2.COLOR_GRAY2RGBA, dst=out)
    a = rgba.view(np.uint32)[..., 0]
    o = out.view(np.uint32)[..., 0]
    np.right_shift(a, 24, out=o)
    np.multiply(o, np.uint32(0x00010101), out=o)
    np.invert(o, out=o)
    return out


class _Occupancy:
    """Where a layer's alpha is non-zero and where it is 255, on BLOCK x BLOCK blocks of its
    canvas (summed-area tables), so any rectangle is classed clear, opaque or mixed in O(1).
    Conservative: a block is opaque only if all its pixels are, clear only if all are 0."""

    def __init__(self, alpha: np.ndarray) -> None:
        h, w = alpha.shape
        bh, bw = -(-h // BLOCK), -(-w // BLOCK)
        padded = np.zeros((bh * BLOCK, bw * BLOCK), np.uint8)  # beyond the layer: clear
        padded[:h, :w] = alpha
        blocks = padded.reshape(bh, BLOCK, bw, BLOCK)
        self.any = cv2.integral((blocks.max(axis=(1, 3)) > 0).astype(np.uint8))
        self.full = cv2.integral((blocks.min(axis=(1, 3)) == 255).astype(np.uint8))
        self.shape = (h, w)

    def kind(self, u0: int, v0: int, u1: int, v1: int) -> int:
        """0 (clear), 2 (opaque) or 1 (mixed) for canvas columns [u0, u1) and rows [v0, v1);
        parts outside the layer count as clear (the warp's border is transparent)."""
        h, w = self.shape
        cu0, cv0, cu1, cv1 = max(0, u0), max(0, v0), min(w, u1), min(h, v1)
        if cu1 <= cu0 or cv1 <= cv0:
            return 0
        bx0, by0, bx1, by1 = cu0 // BLOCK, cv0 // BLOCK, -(-cu1 // BLOCK), -(-cv1 // BLOCK)

        def total(t: np.ndarray) -> int:
            return int(t[by1, bx1] - t[by0, bx1] - t[by1, bx0] + t[by0, bx0])

        if total(self.any) == 0:
            return 0
        inside = u0 >= 0 and v0 >= 0 and u1 <= w and v1 <= h
        return 2 if inside and total(self.full) == (bx1 - bx0) * (by1 - by0) else 1


def _minus_rows(box: tuple[int, int, int, int], rows: tuple[int, int] | None) -> tuple[int, int, int, int] | None:
    """`box` without output rows [r0, r1) when they cut off its top or bottom (a band in the
    middle is left in: one box stays one warp)."""
    if rows is None:
        return box
    x0, y0, x1, y1 = box
    r0, r1 = rows
    if r0 <= y0 and r1 >= y1:
        return None
    if r1 >= y1 and r0 > y0:
        return (x0, y0, x1, min(y1, r0))
    if r0 <= y0 and r1 > y0:
        return (x0, max(y0, r1), x1, y1)
    return box


def _alpha_box(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of alpha > 0 in canvas pixels."""
    ys = np.flatnonzero(alpha.any(axis=1))
    xs = np.flatnonzero(alpha.any(axis=0))
    if len(xs) == 0:
        return None
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1
