"""Life in the scene: procedural effects the prompt asks for, each only where the picture has
its region (the prompt's nouns: cues.py).

| effect  | prompt nouns (any)                          | region found in the pixels           | how                               |
| clouds  | cloud(s), sky, cloudscape                   | sky (bright, smooth, touching the top) | drifting fbm wisps, lightened in  |
| shimmer | water, lake, sea, ocean, river, waves, ...  | water (blue/cyan, below the sky)     | ripple displacement + glints      |
| sway    | tree(s), leaves, foliage, grass, wind, ...  | foliage (green)                      | slow sideways displacement        |
| flicker | fire, flame(s), candle, torch, campfire     | flames (saturated orange-red, bright) | brightness noise                 |
| flicker | lights, lamps, neon, lanterns               | light sources (small bright highlights) | brightness noise               |
| snow / rain | snow(ing), rain(ing), storm, ...        | the whole frame, on an outdoor scene (sky, water or foliage found) | particles |
| dust    | dust, particles, embers, sparkles, ...      | the whole frame                      | seeded particles                  |

An effect whose region is not in the picture (less than MIN_REGION of the frame) is not drawn,
and `skipped()` says why, for the job's metadata: no water rippling a suit, no rain over a table.

Every effect is a smooth function of time (sums of sines, noise translated sub-pixel, particles
on straight or sinusoidal paths), seeded from the clip's seed, and ramps in over the first
0.6 s so frame 0 stays the input. Fields are computed at ``profile.effect_scale`` of a 720p frame
(so a 1080p frame gets the same field grid as a 720p one), one cell per whole block of frame
pixels (`field_factor`), and upsampled;
region masks are found once on the fitted frame and follow the background layer's motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from stillmotion.engines.motion.cues import FIRE_WORDS
from stillmotion.engines.motion.depth import sky_mask
from stillmotion.engines.motion.threads import Scratch

RAMP_S = 0.6
FIELD_REFERENCE = 1280  # `scale` is a fraction of a frame this long (720p); larger frames upsample more
PARTICLES = {"snow": 260, "rain": 320, "dust": 140}  # per 1280x720, scaled by area
MIN_REGION = {"clouds": 0.03, "shimmer": 0.03, "sway": 0.03, "flicker": 0.002}  # share of the frame
MAX_FLAME_SHARE = 0.04  # a warm surface larger than this share of the frame is an object, not a flame
WATER_TEXTURE = 0.03  # mean texture (as sky_mask measures it) below which blue joined to the sky is sky
OUTDOOR_SHARE = 0.03  # sky, water or foliage over this share of the frame: rain and snow may fall


def _hsv_mask(small: np.ndarray, name: str, sky: np.ndarray | None = None) -> np.ndarray:
    """Soft mask of the region `name` acts on. Water is blue, below the top 30% and below the
    sky (`sky`: sky_mask on `small`'s grid) in its column: a blue sky must not ripple, even where
    wisps or the sun kept the sky mask off it."""
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    hue, sat, val = hsv[..., 0], hsv[..., 1] / 255, hsv[..., 2] / 255
    h = small.shape[0]
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    if name == "shimmer":
        m = (hue >= 80) & (hue <= 130) & (sat > 0.12) & (val > 0.12) & (ys > 0.3)
        if sky is not None and (sky > 0.5).any():
            is_sky = sky > 0.5
            # blue that runs on from the sky and is mostly as smooth as sky is more sky (the
            # sky test stops at two thirds of the height; the median, so thin towers or wires in a sky
            # do not make it water); water has texture (ripples, reflections)
            # and may meet the sky at a horizon
            grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
            texture = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), 2.0)
            n, labels = cv2.connectedComponents((m | is_sky).astype(np.uint8), connectivity=8)
            for k in np.unique(labels[is_sky]):
                part = (labels == k) & m & ~is_sky
                if part.any() and float(np.median(texture[part])) < WATER_TEXTURE:
                    m &= labels != k
            # below the column's lowest sky pixel, by a margin the sky mask's soft edge may leave out
            lowest = np.where(is_sky.any(axis=0), h - 1 - np.argmax(is_sky[::-1], axis=0), -1)
            m &= np.arange(h)[:, None] > lowest[None, :] + max(1, round(0.04 * h))
        m = _without_specks(m, 0.01)
    elif name == "sway":
        m = (hue >= 30) & (hue <= 90) & (sat > 0.2) & (val > 0.12)
        m = _without_specks(m, 0.005)
    elif name in ("fire", "lights"):  # sources of light: much brighter than their surroundings
        around = cv2.GaussianBlur(val, (0, 0), max(2.0, small.shape[0] / 12))
        glowing = (val > 0.8) & (val - around > 0.12)
        if name == "fire":  # flames glow warm and saturated; a lamp's core is pale
            warm = ((hue <= 30) | (hue >= 170)) & (sat > 0.45)
            glowing &= warm & (val > 0.9) & (val - around > 0.18)
            # ...and are compact: a glowing part of a large warm surface (an orange suit, a red saucer) is not a flame
            n, labels, stats, _ = cv2.connectedComponentsWithStats((warm & (val > 0.5)).astype(np.uint8), connectivity=8)
            large = stats[:, cv2.CC_STAT_AREA] > MAX_FLAME_SHARE * warm.size
            large[0] = False
            glowing &= ~large[labels]
        m = cv2.dilate(_without_specks(glowing, 0.0002).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    else:
        m = np.ones_like(hue, bool)
    return cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.5)


def ambient_mask(rgb: np.ndarray) -> np.ndarray:
    """Where ambient life may move the picture (sky, water, foliage), found as the effects find
    those regions: (h, w) float32 in 0..1 at `rgb`'s size. The artifact score (evaluation) leaves
    these out, so water may ripple and leaves sway, and nothing else."""
    sky = sky_mask(rgb)
    return np.maximum(sky, np.maximum(_hsv_mask(rgb, "shimmer", sky), _hsv_mask(rgb, "sway")))


def _without_specks(mask: np.ndarray, least: float) -> np.ndarray:
    """`mask` without its connected parts smaller than `least` of the frame (stray pixels of the
    right colour are not a lake)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= least * mask.size
    big[0] = False  # the background label
    return big[labels]


def _fbm(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Tileable-enough smooth noise in [0, 1] (octaves of upsampled random grids)."""
    out = np.zeros((h, w), np.float32)
    for octave, amp in ((4, 0.5), (8, 0.3), (16, 0.2)):
        grid = rng.random((max(2, h * octave // w + 1), octave)).astype(np.float32)
        grid = np.hstack([grid, grid[:, :1]])  # wrap horizontally
        out += amp * cv2.resize(grid, (w + w // octave, h), interpolation=cv2.INTER_CUBIC)[:, :w]
    return np.clip(out, 0, 1)


@dataclass
class _Particles:
    kind: str
    pos: np.ndarray  # (n, 2) start positions in output pixels (wrapping domain)
    vel: np.ndarray  # (n, 2) pixels per second
    size: np.ndarray  # (n,) radius / streak length
    phase: np.ndarray  # (n,)
    bright: np.ndarray  # (n,)


class Effects:
    """Per-frame application of the chosen effects to an RGBA output frame (in place)."""

    def __init__(self, asked: dict[str, str] | list[str], fitted: np.ndarray, seconds: float, scale: float, seed: int) -> None:
        h, w = fitted.shape[:2]
        self.size = (w, h)
        asked = dict(asked) if isinstance(asked, dict) else {name: name for name in asked}
        names = list(asked)
        self.seconds = seconds
        self.rng = np.random.default_rng(seed + 7919)
        scale = min(scale, scale * FIELD_REFERENCE / max(w, h))  # above 720p, fields stay at 720p's size
        r = self.factor = field_factor(scale, w, h)
        sw, sh = -(-w // r), -(-h // r)
        self.small_size = (sw, sh)
        # the frame padded to whole cells: each small pixel is the mean of an r x r block
        padded = cv2.copyMakeBorder(fitted, 0, sh * r - h, 0, sw * r - w, cv2.BORDER_REPLICATE)
        small = cv2.resize(padded, (sw, sh), interpolation=cv2.INTER_AREA)
        self.masks: dict[str, np.ndarray] = {}
        self.skipped: list[dict[str, Any]] = []
        outdoor = {"snow", "rain"} & set(names)
        sky = sky_mask(padded, (sw, sh)) if {"clouds", "shimmer"} & set(names) or outdoor else None
        for name in list(names):
            if name == "clouds":
                self.masks[name] = sky
            elif name == "flicker":
                self.masks[name] = _hsv_mask(small, "fire" if FIRE_WORDS.search(asked[name]) else "lights")
            elif name in ("shimmer", "sway"):
                self.masks[name] = _hsv_mask(small, name, sky)
            if name in MIN_REGION and float(self.masks[name].mean()) < MIN_REGION[name]:
                del self.masks[name]
                names.remove(name)
                self.skipped.append({"name": name, "asked_by": asked[name],
                                     "reason": f"no {_REGION_WORDS[name] if name != 'flicker' else _flicker_region(asked[name])} "
                                               "found in the picture"})
        if outdoor:
            shares = [float(sky.mean())] + [float(_hsv_mask(small, k, sky).mean()) for k in ("shimmer", "sway")]
            if max(shares) < OUTDOOR_SHARE:
                for name in sorted(outdoor, key=names.index):
                    names.remove(name)
                    self.skipped.append({"name": name, "asked_by": asked[name],
                                         "reason": "not an outdoor scene: no sky, water or foliage found in the picture"})
        self.names = names
        self.flicker_region = "flames" if FIRE_WORDS.search(asked.get("flicker", "")) else "light_sources"
        self.clouds = _fbm(self.rng, sh, sw * 2) if "clouds" in names else None
        self.phase = self.rng.uniform(0, 2 * math.pi, (sh, sw)).astype(np.float32)
        self.phase = cv2.GaussianBlur(self.phase, (0, 0), 3.0)
        self.flicker_noise = self.rng.uniform(0, 2 * math.pi, 6)
        self.particles = [self._spawn(k) for k in names if k in PARTICLES]
        ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
        self.gx, self.gy = xs, ys
        self.scratch = Scratch()  # the particle layer, per thread (frames render in parallel)

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names:
            m = self.masks.get(name)
            region = self.flicker_region if name == "flicker" else _REGION[name]
            out.append({"name": name, "region": region, "share": round(float(m.mean()), 3) if m is not None else 1.0})
        return out

    def _spawn(self, kind: str) -> _Particles:
        w, h = self.size
        n = max(8, round(PARTICLES[kind] * w * h / (1280 * 720)))
        r = self.rng
        unit = h / 720.0
        pos = r.uniform(0, 1, (n, 2)) * [w * 1.2, h * 1.2] - [w * 0.1, h * 0.1]
        if kind == "snow":
            vel = np.stack([r.normal(8, 6, n), r.uniform(35, 80, n)], 1) * unit
            size = r.uniform(1.0, 3.2, n) * unit
        elif kind == "rain":
            vel = np.stack([np.full(n, 90.0), r.uniform(700, 1000, n)], 1) * unit
            size = r.uniform(10, 22, n) * unit
        else:
            vel = r.normal(0, 6, (n, 2)) * unit
            size = r.uniform(0.8, 2.0, n) * unit
        return _Particles(kind, pos, vel, size, r.uniform(0, 2 * math.pi, n), r.uniform(0.4, 1.0, n))

    def apply(self, frame: np.ndarray, t: float, background: np.ndarray) -> None:
        """Add the effects at normalised time t to `frame` (RGBA uint8, modified in place).

        `background` is the 2x3 map from output to fitted-frame pixels of the farthest layer,
        so region masks stay on their content while the camera moves. Each region effect is
        computed over the box where its own mask is non-zero only (its fields on the small grid,
        and the full-resolution upsampling, displacement or gain), one after the other; their
        lights are gathered on the small grid and added in one screen pass afterwards, over
        the rows and columns where some light is on (`_screen`). Safe to call from several
        threads at once on different frames.
        """
        secs = float(t * self.seconds)
        ramp = min(1.0, secs / RAMP_S)
        ramp = ramp * ramp * (3 - 2 * ramp)
        if ramp <= 0.0 or not self.names:
            return
        sw, sh = self.small_size
        w, h = self.size
        to_small = np.diag([1.0 / self.factor, 1.0 / self.factor, 1.0])
        m_small = (to_small @ np.vstack([background, [0, 0, 1]]) @ np.linalg.inv(to_small))[:2]
        masks = {k: cv2.warpAffine(v, m_small, (sw, sh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE) for k, v in self.masks.items()}
        dark = None  # lights on the small grid: the product of (1 - light) (screen(screen(f, a), b) = screen(f, 1-(1-a)(1-b)))
        for name, mask in masks.items():  # each region effect only over its own region's box
            box = _mask_box(mask, self.factor, (w, h))
            if box is None:
                continue
            light = self._regional(frame, name, mask, box, secs, ramp)
            if light is not None:
                (sx0, sy0, sx1, sy1), _ = box
                if dark is None:
                    dark = np.ones((sh, sw), np.float32)
                dark[sy0:sy1, sx0:sx1] *= np.float32(1.0) - np.clip(light, 0, 1).astype(np.float32)
        if dark is not None:
            self._screen(frame, dark)
        if self.particles:  # light particles: drawn on a black layer, added (never darken)
            layer = self.scratch.get("particles", (h, w, 4))
            layer[...] = 0
            for p in self.particles:
                self._draw(layer, p, secs, ramp)
            cv2.add(frame, layer, dst=frame)

    def _screen(self, frame: np.ndarray, dark: np.ndarray) -> None:
        """Screen the lights (1 - dark, small grid) onto `frame`: frame + (255 - frame) * light.

        Only over the blocks of small-grid rows (and, in each, the columns) where some light
        rounds above zero, each with one all-zero row or column of context around it, so the
        upsampled light there is what upsampling the whole field would give: the frame is the
        same, bit for bit, as one pass over everything (tested), at a fraction of the cost when
        the lights are sparse (cloud wisps, glints). Spans are upsampled by the whole field factor
        and cut at the frame's edge, where the grid's last cell may reach past it.
        """
        r = self.factor
        w, h = self.size
        small8 = ((np.float32(1.0) - dark) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
        for (sy0, sy1), (y0, y1) in _lit_spans(small8.any(axis=1), r, h):
            rows = small8[sy0:sy1]
            for (sx0, sx1), (x0, x1) in _lit_spans(rows.any(axis=0), r, w, split=False):
                # upsampled as one channel, then spread to four (the same bytes as resizing four, ~3x cheaper)
                up = cv2.resize(rows[:, sx0:sx1], ((sx1 - sx0) * r, (sy1 - sy0) * r), interpolation=cv2.INTER_LINEAR)
                a8 = cv2.cvtColor(up[: y1 - y0, : x1 - x0], cv2.COLOR_GRAY2RGBA)
                roi = frame[y0:y1, x0:x1]
                cv2.add(roi, cv2.multiply(cv2.bitwise_not(roi), a8, scale=1.0 / 255.0), dst=roi)

    def _regional(self, frame: np.ndarray, name: str, mask: np.ndarray, box, secs: float, ramp: float) -> np.ndarray | None:
        """One region effect (displacement or flicker gain), inside `box` only; returns its light
        on the small grid's box (or None), for the one screen pass of all lights."""
        (sx0, sy0, sx1, sy1), (x0, y0, x1, y1) = box
        sw, sh = self.small_size
        w, h = self.size
        cut = (slice(sy0, sy1), slice(sx0, sx1))
        m = mask[cut] * ramp
        gx, gy, phase = self.gx[cut], self.gy[cut], self.phase[cut]
        dx = dy = light = gain = None
        unit = h / 720.0
        if name == "shimmer":
            wave = np.sin(gy * (0.9 * 720 / h / unit * sh / 180) + secs * 2.6 + phase * 2.0)
            dx = m * (1.6 * unit) * wave  # frame pixels
            dy = m * (0.8 * unit) * np.sin(gx * 0.21 + secs * 1.9 + phase)
            light = m * 0.22 * np.clip(np.sin(gx * 0.5 + gy * 0.9 + secs * 3.1 + 3 * phase) - 0.7, 0, 1)
        elif name == "sway":
            dx = m * (2.2 * unit) * np.sin(secs * 1.3 + phase * 0.8 + gy * 0.02)
            dy = np.zeros_like(dx)
        elif name == "clouds" and self.clouds is not None:
            shift = (secs * 0.02 * sw) % sw
            c = cv2.warpAffine(self.clouds, np.float64([[1, 0, shift + sx0], [0, 1, sy0]]), (sx1 - sx0, sy1 - sy0),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_WRAP)
            light = m * (0.45 * 2.0) * np.clip(c - 0.45, 0, 1)
        elif name == "flicker":
            f = self.flicker_noise
            wob = sum(0.5 ** i * math.sin(secs * (5.3 + 3.7 * i) + f[i]) for i in range(3)) / 1.75
            gain = 1.0 + m * (0.10 * wob + 0.05 * np.sin(phase * 3 + secs * 7.1))
        roi = frame[y0:y1, x0:x1]

        def up(field: np.ndarray) -> np.ndarray:  # by the whole factor, then cut to the frame
            r = self.factor
            big = cv2.resize(field.astype(np.float32), ((sx1 - sx0) * r, (sy1 - sy0) * r), interpolation=cv2.INTER_LINEAR)
            return big[: y1 - y0, : x1 - x0]

        if dx is not None and dy is not None:
            off = up(cv2.merge([dx.astype(np.float32), dy.astype(np.float32)]))
            cv2.remap(roi.copy(), off, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP, dst=roi, borderMode=cv2.BORDER_REFLECT_101)
        if gain is not None:
            # the frame's alpha is 255 and dropped after the effects, so it may be scaled too
            cv2.multiply(roi, cv2.cvtColor(up(gain), cv2.COLOR_GRAY2RGBA), dst=roi, dtype=cv2.CV_8U)
        return light  # screened with the other lights in one pass (apply)

    def _draw(self, frame: np.ndarray, p: _Particles, secs: float, ramp: float) -> None:
        w, h = self.size
        span = np.array([w * 1.2, h * 1.2])
        pos = p.pos + p.vel * secs
        if p.kind == "snow":
            pos[:, 0] += np.sin(secs * 1.1 + p.phase) * 6 * h / 720
        elif p.kind == "dust":
            pos += np.stack([np.sin(secs * 0.7 + p.phase), np.cos(secs * 0.5 + 2 * p.phase)], 1) * 5 * h / 720
        pos = (pos + [w * 0.1, h * 0.1]) % span - [w * 0.1, h * 0.1]
        shift = 4
        for (x, y), size, br, ph in zip(pos, p.size, p.bright, p.phase):
            level = br * ramp * (0.75 + 0.25 * math.sin(secs * 2.0 + ph) if p.kind == "dust" else 1.0)
            base = (235, 235, 240) if p.kind != "rain" else (110, 115, 125)
            colour = tuple(int(c * level) for c in base) + (0,)
            if p.kind == "rain":
                dx, dy = 0.09 * size, size
                cv2.line(frame, (int(x * 16), int(y * 16)), (int((x - dx) * 16), int((y - dy) * 16)), colour, 1, cv2.LINE_AA, shift)
            else:
                cv2.circle(frame, (int(x * 16), int(y * 16)), max(1, int(size * 16)), colour, -1, cv2.LINE_AA, shift)


def _mask_box(mask: np.ndarray, factor: int, full: tuple[int, int]):
    """Small-grid box and full-resolution box (x0, y0, x1, y1) where the mask exceeds 1e-3
    (with a margin), or None when it is empty this frame. Small pixel i covers full pixels
    [i * factor, (i + 1) * factor), so upsampling the box's fields by the factor lands exactly
    where upsampling the whole grid's would (the last cell may reach past the frame: cut)."""
    on = mask > 1e-3
    rows = np.flatnonzero(on.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(on.any(axis=0))
    out_small, out_full = [], []
    for lo, hi, n_small, n_full in ((cols[0], cols[-1], mask.shape[1], full[0]), (rows[0], rows[-1], mask.shape[0], full[1])):
        s0, s1 = max(0, int(lo) - 2), min(n_small, int(hi) + 3)
        out_small.append((s0, s1))
        out_full.append((s0 * factor, min(n_full, s1 * factor)))
    (sx0, sx1), (sy0, sy1) = out_small
    (x0, x1), (y0, y1) = out_full
    return (sx0, sy0, sx1, sy1), (x0, y0, x1, y1)


def field_factor(scale: float, w: int, h: int) -> int:
    """The whole number of frame pixels per effect-field cell for `scale` (1/2 -> 2, 1/3 -> 3),
    at most a sixteenth of the frame's shorter side (tiny frames keep a usable grid). A whole
    factor lets a box of the grid upsample to exact frame pixels; with a fractional one (1280
    px at 1/3) each effect had to be computed over the whole frame."""
    return max(1, min(round(1.0 / max(scale, 1e-6)), min(w, h) // 16))


_REGION_WORDS = {"clouds": "sky", "shimmer": "water", "sway": "foliage"}


def _flicker_region(word: str) -> str:
    return "flames" if FIRE_WORDS.search(word) else "light sources"


_REGION = {"clouds": "sky", "shimmer": "water", "sway": "foliage", "flicker": "light_sources",
           "snow": "frame", "rain": "frame", "dust": "frame"}


def _lit_spans(lit: np.ndarray, factor: int, n_full: int, *, split: bool = True):
    """Spans of the small axis to screen, with their full-resolution spans: ((s0, s1), (f0, f1)).

    `lit`: per small row (or column), whether any light rounds above zero there. Each run of lit
    entries gets one unlit entry of context on each side (bilinear upsampling by a whole factor
    reads one neighbour); runs closer than three unlit entries merge, so no context entry is
    shared. `split=False` gives one span from the first to the last lit entry. Full spans are
    cut at the frame's edge (the grid's last cell may reach past it).
    """
    on = np.flatnonzero(lit)
    if len(on) == 0:
        return []
    n_small = len(lit)
    if split:
        cuts = np.flatnonzero(np.diff(on) > 3)
        starts, ends = np.concatenate([[on[0]], on[cuts + 1]]), np.concatenate([on[cuts], [on[-1]]])
    else:
        starts, ends = on[:1], on[-1:]
    spans = []
    for a, b in zip(starts, ends):
        s0, s1 = max(0, int(a) - 1), min(n_small, int(b) + 2)
        spans.append(((s0, s1), (s0 * factor, min(n_full, s1 * factor))))
    return spans
