"""Image loading and fitting shared by engines (no I/O beyond reading a local file).

Every input becomes 8-bit sRGB the way a colour-managed viewer shows it: EXIF orientation
applied; an embedded ICC profile converted to sRGB (Pillow's ImageCms, perceptual intent);
16-bit samples scaled to 8 bits (not clipped: `convert("RGB")` clips 16-bit greyscale at 255,
a white video); transparency (alpha, or a palette's transparent index) composited on
`BACKGROUND`; CMYK converted through its profile when it has one.

Large JPEGs are decoded through DCT scaling (`draft`) when `max_side` asks for no more than a
fraction of their size, so a 64 MP photo never exists at full size in memory.
"""

from __future__ import annotations

import io
import threading
from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageCms

# Transparent areas are composited on white: what a browser or viewer shows on a page, and
# the choice of the hosted services this mirrors. Documented in docs/reliability.md.
BACKGROUND = (255, 255, 255)
_SRGB = ImageCms.createProfile("sRGB")
_DECODE_SLOTS: threading.BoundedSemaphore | None = None
_SLOTS_LOCK = threading.Lock()


def set_decode_budget(concurrent: int) -> None:
    """At most `concurrent` full decodes at once in this process (0: no limit). Each decode of
    a large image costs several bytes per pixel, so a budget bounds the process's peak."""
    global _DECODE_SLOTS
    with _SLOTS_LOCK:
        _DECODE_SLOTS = threading.BoundedSemaphore(concurrent) if concurrent > 0 else None


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process's decode slots (see `set_decode_budget`)."""
    slots = _DECODE_SLOTS
    if slots is None:
        yield
        return
    with slots:
        yield


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
              7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
_ROWS = 512  # rows converted at a time from 16 to 8 bits


def load_rgb(path: str, max_side: int | None = None) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 sRGB, as a colour-managed viewer shows it.

    `max_side`: the caller needs no more than about this on the longer side. JPEGs are then
    decoded at a reduced DCT scale; other formats are box-reduced by an integer factor right
    after decoding, before any conversion copies them, which bounds a render's memory."""
    with decode_slot(), Image.open(path) as im:
        if max_side and im.format in ("JPEG", "MPO") and max(im.size) > 2 * max_side:
            scale = max_side / max(im.size)
            im.draft(im.mode, (max(1, int(im.width * scale)), max(1, int(im.height * scale))))
        return to_srgb(im, max_side)


def to_srgb(im: Image.Image, max_side: int | None = None) -> np.ndarray:
    """`im` (any mode Pillow opens) as (H, W, 3) uint8 sRGB; see the module docstring."""
    icc = im.info.get("icc_profile")
    orientation = exif_orientation(im)
    im = _eight_bit(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    if max_side and max(im.size) >= 2 * max_side:
        try:
            im = im.reduce(max(im.size) // max_side)
        except ValueError:  # a mode reduce does not take: keep the full size
            pass
    if icc:
        im = _to_srgb_profile(im, icc)
    if im.mode in ("LA", "La", "RGBA", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        im = Image.alpha_composite(background, rgba)
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))  # no second full copy


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8) of an opened image; 1 when it has none or it is unreadable."""
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block only loses the rotation, as in viewers
        return 1


def _eight_bit(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale scaled to 8 bits (Pillow's convert would clip them), a
    block of rows at a time so the wide copy never exists whole."""
    if im.mode.startswith("I;16") or im.mode == "I":
        arr = np.asarray(im)
        top = 255 if im.mode == "I" and int(arr.max(initial=0)) <= 255 else 65535  # 8-bit data stored as I
        out = np.empty(arr.shape, np.uint8)
        for r in range(0, arr.shape[0], _ROWS):
            block = arr[r : r + _ROWS].astype(np.uint32).clip(0, top)
            out[r : r + _ROWS] = (block * 255 + top // 2) // top
        return Image.fromarray(out, "L")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        top = 1.0 if arr.max(initial=0.0) <= 1.0 else 255.0
        return Image.fromarray((arr / top * 255).round().clip(0, 255).astype(np.uint8), "L")
    if im.mode == "1":
        return im.convert("L")
    return im


def _to_srgb_profile(im: Image.Image, icc: bytes) -> Image.Image:
    """Convert through the embedded profile to sRGB; a broken profile is ignored (as viewers do)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
        base = im.convert("RGB") if im.mode in ("RGBA",) else (im.convert("L") if im.mode == "LA" else im)
        out = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
        if out is None:
            return im
        if alpha is not None:
            out.putalpha(alpha)
        return out
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im


def fit_to_frame(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop `img` so it fills a width x height frame with no bars.

    A crop keeps the frame full (what users of hosted services get); the centre is kept
    because a subject is usually there.
    """
    resized, (x0, y0) = scale_to_cover(img, width, height)
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def scale_to_cover(img: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """`img` scaled (uncropped) so it covers a width x height frame, and the corner of the
    centred frame in it: fit_to_frame's crop, and the motion engine's canvas (which keeps the
    rest for pans) from one resize."""
    import cv2

    h, w = img.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(img, (new_w, new_h), interpolation=interp)
    return resized, ((new_w - width) // 2, (new_h - height) // 2)
