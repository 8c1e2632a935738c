"""Helpers for the motion engine tests: synthetic images, specs and flow measurements."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext


def textured(width: int, height: int, seed: int = 0, cell: int = 4) -> np.ndarray:
    """Smooth random texture: every patch is distinctive, so optical flow is well posed."""
    rng = np.random.default_rng(seed)
    small = (rng.random((max(2, height // cell), max(2, width // cell), 3)) * 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def save_png(path: Path, img: np.ndarray) -> str:
    Image.fromarray(img).save(path)
    return str(path)


def make_spec(image: str, prompt: str = "", *, width: int = 320, height: int = 180, num_frames: int = 24,
              seed: int = 1, mode: str = "pro", image_tail: str | None = None) -> GenerationSpec:
    return GenerationSpec(
        model="test-model", mode=mode, prompt=prompt, image=image, width=width, height=height,
        num_frames=num_frames, duration=max(1, round(num_frames / 24)), seed=seed, resolution="test",
        image_tail=image_tail,
    )


def render(engine, spec: GenerationSpec, ctx: RenderContext | None = None) -> list[np.ndarray]:
    return list(engine.frames(spec, ctx or RenderContext()))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow a -> b (a(x) ~ b(x + f(x))), measured independently of the engine."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    return dis.calc(ga, gb, None)


def affine_fit(f: np.ndarray, border: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares f(x) = A (x - c) + b over the interior; returns (A, b)."""
    h, w = f.shape[:2]
    ys, xs = np.mgrid[border : h - border : 2, border : w - border : 2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    X = np.stack([xs.ravel() - cx, ys.ravel() - cy, np.ones(xs.size)], axis=1)
    fx = f[ys, xs, 0].ravel()
    fy = f[ys, xs, 1].ravel()
    px, *_ = np.linalg.lstsq(X, fx, rcond=None)
    py, *_ = np.linalg.lstsq(X, fy, rcond=None)
    return np.array([[px[0], px[1]], [py[0], py[1]]]), np.array([px[2], py[2]])
