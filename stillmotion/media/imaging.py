"""Image loading and fitting shared by engines (no I/O beyond reading a local file)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def load_rgb(path: str) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, honouring EXIF orientation as viewers do."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGB"))


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
