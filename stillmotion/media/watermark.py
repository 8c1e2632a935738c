"""Watermarks: a mark image (the user's `wm_url`, or one drawn in code) blended into a corner.

The mark is scaled to the output's short side, so it reads the same at 540p and 1080p, and is
blended once into a premultiplied patch; per frame only that small corner region is touched,
so a watermark costs microseconds a frame whatever the resolution.

The user's image is fetched at render time (not at submit: the catalog stores only the URL)
through the same SSRF guard as input images. A logo may be small or very wide, so the input
limits that apply are the ones that protect the service (bytes, format, pixel count before
decoding), not the minimum side or the 1:4-4:1 aspect that an input frame must meet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from stillmotion.domain import WatermarkSpec
from stillmotion.errors import GenerationFailed, StillmotionError
from stillmotion.media.inputs import sniff_format
from stillmotion.media.netguard import fetch_url, size_text
from stillmotion.settings import Settings

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
MAX_MARK_BYTES = 10 * 1024 * 1024  # API.md: wm_url is at most 10 MB
_FORMATS = ("JPEG", "PNG", "WEBP")

# Fractions of the frame's short side (so the mark scales with the resolution).
MARGIN = 0.03
BOX_HEIGHT = 0.10  # a user's mark fits in a box this high ...
BOX_WIDTH = 0.30  # ... and this wide
TEXT_HEIGHT = 0.045  # the default mark is at most twice this high ...
DEFAULT_WIDTH = 0.15  # ... and this wide (like the hosted services' marks: ~15 % of the frame's width)
DEFAULT_TEXT = "AI \u00b7 stillmotion"
DEFAULT_OPACITY = 0.85


@dataclass(frozen=True)
class Watermark:
    """A mark ready to blend: premultiplied colour and alpha, and where it goes in the frame."""

    premultiplied: np.ndarray  # (h, w, 3) float32: colour * alpha, 0-255
    alpha: np.ndarray  # (h, w, 1) float32 in [0, 1]
    x: int
    y: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the patch in the frame."""
        h, w = self.alpha.shape[:2]
        return self.x, self.y, w, h

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Blend the mark into `frame` ((H, W, 3) uint8 RGB) in place; returns it."""
        h, w = self.alpha.shape[:2]
        region = frame[self.y : self.y + h, self.x : self.x + w]
        blended = region * (1.0 - self.alpha) + self.premultiplied
        region[...] = (blended + 0.5).astype(np.uint8)
        return frame


def build_watermark(
    spec: WatermarkSpec, width: int, height: int, *, settings: Settings | None = None
) -> Watermark:
    """The mark for one clip: fetch `spec.image_url` (or draw the default), scale, place.

    A mark that cannot be fetched or decoded raises GenerationFailed naming `wm_url`, so the
    job fails visibly instead of silently shipping an unmarked video.
    """
    if spec.position not in POSITIONS:
        raise GenerationFailed(f"unknown position {spec.position!r}; expected one of {', '.join(POSITIONS)}",
                               field="wm_position")
    short = min(width, height)
    if spec.image_url:
        settings = settings or Settings.defaults()
        rgba = decode_mark(fetch_mark(spec.image_url, settings), settings)
        rgba = scale_into(rgba, round(BOX_WIDTH * short), round(BOX_HEIGHT * short))
    else:
        rgba = default_mark(short)
    return place(rgba, spec.position, width, height)


def fetch_mark(url: str, settings: Settings) -> bytes:
    """GET the mark through the SSRF guard; works whether or not an event loop runs here."""
    limit = min(settings.max_image_bytes, MAX_MARK_BYTES)

    def run() -> bytes:
        return asyncio.run(fetch_url(url, field="wm_url", settings=settings, max_bytes=limit))

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # not inside a running loop
            return pool.submit(run).result()
    except StillmotionError as exc:
        reason = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
        raise GenerationFailed(f"watermark image could not be fetched ({reason})", field="wm_url") from exc


def decode_mark(data: bytes, settings: Settings) -> np.ndarray:
    """Decode a mark to (h, w, 4) uint8 RGBA, refusing bombs from the header before decoding."""
    if len(data) > MAX_MARK_BYTES:
        raise GenerationFailed(f"watermark image is larger than the {size_text(MAX_MARK_BYTES)} limit",
                               field="wm_url")
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
            if im.width * im.height > settings.max_image_pixels:
                raise GenerationFailed(f"watermark image has too many pixels ({im.width}x{im.height})",
                                       field="wm_url")
            im.load()
            return np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))
    except GenerationFailed:
        raise
    except Image.UnidentifiedImageError:
        other = sniff_format(data)
        what = f"unsupported format {other}" if other else "not an image"
        raise GenerationFailed(f"watermark image: {what} (use png, jpg or webp)", field="wm_url") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise GenerationFailed(f"watermark image is truncated or corrupt ({exc})", field="wm_url") from None


def scale_into(rgba: np.ndarray, box_w: int, box_h: int) -> np.ndarray:
    """Scale (up or down) to fit box_w x box_h, keeping the aspect; colour premultiplied first
    so transparent pixels do not bleed dark fringes into the edge."""
    import cv2

    h, w = rgba.shape[:2]
    scale = min(box_w / w, box_h / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([rgba[..., :3].astype(np.float32) * alpha, alpha * 255.0], axis=2)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = np.clip(cv2.resize(premult, size, interpolation=interp), 0.0, 255.0)
    a = out[..., 3:4]
    rgb = np.where(a > 0, out[..., :3] * 255.0 / np.maximum(a, 1e-6), 0.0)
    return np.concatenate([rgb, a], axis=2).clip(0, 255).round().astype(np.uint8)


def default_mark(short_side: int) -> np.ndarray:
    """White text with a dark outline: readable on light and dark frames. Drawn large, then
    scaled to `DEFAULT_WIDTH` of the short side (so at most that of the frame's width), which
    keeps its size proportional to the resolution however small the frame."""
    size = 96
    stroke = round(size / 14)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(DEFAULT_TEXT, stroke_width=stroke)
    pad = stroke * 2
    canvas = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    origin = (pad - left, pad - top)
    draw.text(origin, DEFAULT_TEXT, font=font, fill=(255, 255, 255, 255),
              stroke_width=stroke, stroke_fill=(20, 20, 20, 255))
    rgba = np.asarray(canvas).copy()
    rgba[..., 3] = (rgba[..., 3].astype(np.float32) * DEFAULT_OPACITY).round().astype(np.uint8)
    width = max(8, round(DEFAULT_WIDTH * short_side))
    return scale_into(rgba, width, max(1, round(TEXT_HEIGHT * 2 * short_side)))


def place(rgba: np.ndarray, position: str, width: int, height: int) -> Watermark:
    """Put the mark in its corner, `MARGIN` of the short side from both edges (cropped to fit)."""
    margin = round(MARGIN * min(width, height))
    rgba = rgba[: max(1, height - 2 * margin), : max(1, width - 2 * margin)]
    h, w = rgba.shape[:2]
    x = margin if position.endswith("left") else width - margin - w
    y = margin if position.startswith("top") else height - margin - h
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    premult = rgba[..., :3].astype(np.float32) * alpha
    return Watermark(premultiplied=premult, alpha=alpha, x=max(0, x), y=max(0, y))
