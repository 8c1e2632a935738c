"""Disparity (1 = nearest, 0 = farthest) for one image, with or without a model.

Without weights, depth comes from cues photographers rely on, computed at a few hundred
pixels: position in the frame (lower is nearer on a ground plane), focus (sharp detail is
where the lens focused, usually the near subject; blur is background), saliency (colour
contrast against the image mean) with a centre prior, and a sky detector (bright, smooth,
touching the top: farthest). The blend is then smoothed with a guided filter that follows
the image's own edges, so layer boundaries sit on object outlines, not on blur blobs.

With ``depth_model_dir`` set, a Depth Anything V2 checkpoint saved there (config, weights and
image processor, as ``save_pretrained`` writes them) is loaded through ``transformers`` once
per engine and used instead; its relative disparity is normalised the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

DepthFn = Callable[[np.ndarray], np.ndarray]


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): smooths `src` except across `guide`'s edges."""
    k = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.boxFilter(guide, -1, k)
    mean_p = cv2.boxFilter(src, -1, k)
    cov = cv2.boxFilter(guide * src, -1, k) - mean_i * mean_p
    var = cv2.boxFilter(guide * guide, -1, k) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return cv2.boxFilter(a, -1, k) * guide + cv2.boxFilter(b, -1, k)


def _normalised(x: np.ndarray, lo: float = 2.0, hi: float = 98.0) -> np.ndarray:
    a, b = np.percentile(x, [lo, hi])
    return np.clip((x - a) / max(b - a, 1e-6), 0.0, 1.0).astype(np.float32)


SKY_TOP_SPAN = 0.3  # share of the top row one connected sky must touch
SKY_SIDE = 640  # the sky test's working size (longest side); its texture threshold is tuned for it


def sky_mask(rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Soft mask (0..1) of sky: bright, smooth, blue-grey regions connected to the top edge.

    Computed on a copy at most SKY_SIDE pixels long, then resized to `size` ((w, h); default:
    `rgb`'s own). The texture test depends on scale: the bench landscape's sky (45 % of the
    frame at 640 px) read as 22 % at 320 px and vanished at 160, so turbo's small grids found
    almost no sky and rippled a blue sky as water.
    """
    h, w = rgb.shape[:2]
    out_w, out_h = size or (w, h)
    s = min(1.0, SKY_SIDE / max(h, w))
    if s < 1.0:
        rgb = cv2.resize(rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    img = rgb.astype(np.float32) / 255.0
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    texture = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), 2.0)
    blueish = (img[..., 2] >= img[..., 0] - 0.02).astype(np.float32)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # float: hue in degrees
    dusk = (hsv[..., 0] >= 195) & (hsv[..., 0] <= 260) & (hsv[..., 1] > 0.3) & (hsv[..., 2] > 0.12)  # deep blue
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    lit = (grey > 0.45) * np.maximum(blueish, (grey > 0.75))
    score = np.maximum(lit, dusk) * (texture < 0.03) * (ys < 0.65)
    n, labels = cv2.connectedComponents(score.astype(np.uint8), connectivity=4)
    # a sky spans the top: parts touching it over at least SKY_TOP_SPAN of the width (a studio
    # backdrop between a flag and a model touches it in pieces)
    counts = np.bincount(labels[0], minlength=n)
    top = [k for k in range(1, n) if counts[k] >= SKY_TOP_SPAN * w]
    keep = np.isin(labels, top) if top else np.zeros_like(score, bool)
    if keep.mean() < 0.02:
        return np.zeros((out_h, out_w), np.float32)
    mask = cv2.GaussianBlur(keep.astype(np.float32), (0, 0), 1.5)
    if (w, h) != (out_w, out_h):
        interp = cv2.INTER_AREA if out_w < w else cv2.INTER_LINEAR
        mask = np.clip(cv2.resize(mask, (out_w, out_h), interpolation=interp), 0.0, 1.0)
    return mask


def heuristic_disparity(rgb: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Disparity from image cues, at `rgb`'s size (computed at most `max_side` pixels long)."""
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    sw, sh = max(16, round(w * s)), max(16, round(h * s))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    ys = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, sw, dtype=np.float32)[None, :]
    position = np.broadcast_to(ys, (sh, sw))
    sigma = max(2.0, min(sw, sh) / 24.0)
    focus = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3)), (0, 0), sigma)
    focus = _normalised(focus, 5, 95) if focus.max() > 1e-4 else np.zeros_like(grey)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    contrast = np.linalg.norm(cv2.GaussianBlur(lab, (0, 0), sigma) - lab.reshape(-1, 3).mean(0), axis=-1)
    centre = np.exp(-(xs**2) * 1.5 - ((ys - 0.55) ** 2) * 4.0)
    saliency = _normalised(contrast) * (0.5 + 0.5 * centre)
    disparity = 0.40 * position + 0.35 * focus + 0.25 * saliency
    disparity = disparity * (1.0 - sky_mask(rgb, (sw, sh)))
    disparity = guided_filter(grey, disparity.astype(np.float32), max(2, round(min(sw, sh) / 40)), 1e-3)
    disparity = _normalised(disparity)
    return cv2.resize(disparity, (w, h), interpolation=cv2.INTER_LINEAR)


class DepthModel:
    """A Depth Anything (V2) model loaded once from a local directory (never downloaded)."""

    def __init__(self, directory: str | Path, device: str = "cpu") -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        path = Path(directory)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"depth_model_dir {path}: no config.json (expected a save_pretrained folder)")
        self._torch = torch
        self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model: Any = AutoModelForDepthEstimation.from_pretrained(path, local_files_only=True).to(device).eval()
        self.device = device
        self.name = getattr(self.model.config, "_name_or_path", "") or path.name

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Normalised disparity at `rgb`'s size (the model predicts relative inverse depth)."""
        h, w = rgb.shape[:2]
        inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            predicted = self.model(**inputs).predicted_depth
        out = predicted.squeeze().float().cpu().numpy()
        out = cv2.resize(out.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return _normalised(out)


_MODELS: dict[str, DepthModel] = {}


def depth_source(model_dir: str | Path | None) -> tuple[str, DepthFn | None]:
    """("model", fn) when a model directory is configured (loaded once per process),
    else ("heuristic", None)."""
    if not model_dir:
        return "heuristic", None
    key = str(Path(model_dir).resolve())
    if key not in _MODELS:
        _MODELS[key] = DepthModel(key)
    return "model", _MODELS[key]
