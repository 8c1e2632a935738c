"""Exact-grid supersampling, so that cheap bilinear lookups behave like a sharp kernel.

OpenCV's bicubic remap costs about three times its bilinear remap at 720p. Upsampling the
source 2x once per clip with a Lanczos-4 kernel, then sampling it bilinearly every frame,
comes within a fraction of a dB of per-frame bicubic (and well above per-frame bilinear) at
a third of the per-frame cost. The upsample is aligned so that source pixel (x, y) is
supersampled pixel (2x, 2y) exactly: an identity map reproduces the input bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np


def _half_pixel_lanczos4() -> np.ndarray:
    """Lanczos-4 weights for the point halfway between taps 3 and 4 of 8."""
    x = np.arange(-3, 5, dtype=np.float64) - 0.5
    w = np.sinc(x) * np.sinc(x / 4.0)
    return (w / w.sum()).astype(np.float32)


_HALF = _half_pixel_lanczos4()
_ONE = np.ones((1, 1), np.float32)


def supersample(img: np.ndarray, factor: int) -> np.ndarray:
    """`img` upsampled by `factor` (1 or 2) on the exact grid: out[2y, 2x] == img[y, x]."""
    if factor == 1:
        return img
    if factor != 2:
        raise ValueError("only 1x and 2x supersampling are supported")
    h, w = img.shape[:2]
    rest = img.shape[2:]
    half_x = cv2.sepFilter2D(img, -1, _HALF.reshape(1, -1), _ONE, anchor=(3, 0), borderType=cv2.BORDER_REFLECT_101)
    wide = _interleave_columns(img, half_x)
    half_y = cv2.sepFilter2D(wide, -1, _ONE, _HALF.reshape(-1, 1), anchor=(0, 3), borderType=cv2.BORDER_REFLECT_101)
    return np.stack([wide, half_y], axis=1).reshape(2 * h, 2 * w, *rest)


def _interleave_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Columns a0 b0 a1 b1 ...; RGBA bytes are moved as one 32-bit word per pixel (faster)."""
    h, w = a.shape[:2]
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 4 and a.flags.c_contiguous and b.flags.c_contiguous:
        words = np.stack([a.view(np.uint32)[..., 0], b.view(np.uint32)[..., 0]], axis=2)
        return words.reshape(h, 2 * w).view(np.uint8).reshape(h, 2 * w, 4)
    return np.stack([a, b], axis=2).reshape(h, 2 * w, *a.shape[2:])
