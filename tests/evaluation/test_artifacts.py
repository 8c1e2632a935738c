"""The artifact score: low on clean smooth warps of real photos, high on planted defects."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from stillmotion.evaluation.artifacts import VIEWER_BOUND, artifact_score
from stillmotion.media.imaging import fit_to_frame, load_rgb

PHOTOS = Path(__file__).parents[1] / "engines" / "photos"
W, H, N = 480, 270, 13


def _clean(photo: str, move: str) -> list[np.ndarray]:
    """A smooth camera move over a real photo: each frame one affine warp of the fitted photo."""
    img = fit_to_frame(load_rgb(str(PHOTOS / photo)), W, H)
    frames = []
    for i in range(N):
        t = i / (N - 1)
        zoom = 1 + (0.08 * t if move == "zoom" else 0.02 * t)
        dx = 10 * t if move == "pan" else 0.0
        rot = 1.5 * t if move == "roll" else 0.0
        m = cv2.getRotationMatrix2D(((W - 1) / 2, (H - 1) / 2), rot, zoom)
        m[0, 2] += dx
        frames.append(cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    return frames


def _tear(f: np.ndarray) -> np.ndarray:
    """An object sliced in two with the pieces offset (a depth edge through it, cards apart)."""
    out = f.copy()
    mask = np.zeros(f.shape[:2], np.uint8)
    cv2.ellipse(mask, (W // 2, H // 2), (90, 70), 0, 0, 360, 1, -1)
    mask[:, : W // 2] = 0  # the right half of the object moves, the left stays
    shifted = np.roll(f, (3, 7), axis=(0, 1))
    out[mask > 0] = shifted[mask > 0]
    return out


def _ghost(f: np.ndarray) -> np.ndarray:
    """A doubled edge: a faint copy of the content, offset, over a region."""
    out = f.astype(np.float32)
    ghost = np.roll(f, 9, axis=1).astype(np.float32)
    region = (slice(H // 4, 3 * H // 4), slice(W // 4, 3 * W // 4))
    out[region] = 0.6 * out[region] + 0.4 * ghost[region]
    return out.astype(np.uint8)


def _ripple(f: np.ndarray, t: float) -> np.ndarray:
    """The water shimmer on things that are not water: the lower 30 % wobbles."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    amp = np.where(ys > 0.7 * H, 1.6 * H / 720 * 2, 0.0).astype(np.float32)  # twice the shimmer's sway at this size
    mx = xs + amp * np.sin(ys * 0.55 + t * 9.0)
    my = ys + 0.5 * amp * np.sin(xs * 0.21 + t * 7.0)
    return cv2.remap(f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _mirror_smear(f: np.ndarray) -> np.ndarray:
    """Margins filled by mirroring the picture's own edge (a pull-back's old fill)."""
    out = f.copy()
    m = 36
    out[:, :m] = out[:, m : 2 * m][:, ::-1]
    out[-m:] = out[-2 * m : -m][::-1]
    return out


@pytest.mark.parametrize("photo, move", [("coffee.jpg", "zoom"), ("rocket.jpg", "pan"), ("astronaut.jpg", "roll"),
                                         ("chelsea.jpg", "zoom")])
def test_clean_warps_score_under_the_bound(photo: str, move: str) -> None:
    score = artifact_score(_clean(photo, move), stride=2)
    assert score.score < VIEWER_BOUND / 2, score


@pytest.mark.parametrize("defect", ["tear", "ghost", "ripple", "mirror_smear"])
@pytest.mark.parametrize("photo", ["coffee.jpg", "astronaut.jpg", "rocket.jpg"])
def test_planted_defects_score_over_the_bound(photo: str, defect: str) -> None:
    frames = _clean(photo, "zoom")
    plant = {"tear": lambda f, t: _tear(f), "ghost": lambda f, t: _ghost(f), "ripple": _ripple,
             "mirror_smear": lambda f, t: _mirror_smear(f)}[defect]
    bad = frames[:1] + [plant(f, i / N) for i, f in enumerate(frames[1:], 1)]
    score = artifact_score(bad, stride=2)
    assert score.score > VIEWER_BOUND, (defect, score)
    clean = artifact_score(frames, stride=2)
    assert score.score > 3 * clean.score


def test_a_ripple_is_found_by_its_misalignment_not_as_unsourced() -> None:
    frames = _clean("coffee.jpg", "zoom")
    ripple = artifact_score(frames[:1] + [_ripple(f, i / N) for i, f in enumerate(frames[1:], 1)], stride=3)
    assert ripple.wobble + ripple.residual > ripple.unsourced


def test_real_content_a_pan_reveals_is_explained_by_the_uncropped_image() -> None:
    from stillmotion.media.imaging import scale_to_cover

    wide, origin = scale_to_cover(load_rgb(str(PHOTOS / "rocket.jpg")), W, 180)  # a tall photo in a wide frame
    frames = [np.ascontiguousarray(wide[origin[1] - round(2 * i) : origin[1] - round(2 * i) + 180, :W]) for i in range(N)]
    assert artifact_score(frames, reference=wide, origin=origin, stride=2).score < VIEWER_BOUND


def _lake() -> np.ndarray:
    """A smooth sky, a far shore of trees, a lake: the espresso photo's wood grain, tinted blue, as the
    water's texture."""
    grain = cv2.cvtColor(fit_to_frame(load_rgb(str(PHOTOS / "coffee.jpg")), W, H), cv2.COLOR_RGB2GRAY).astype(np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[: H // 3] = np.linspace(235, 200, H // 3)[:, None, None] * np.float32([0.7, 0.85, 1.0])
    img[H // 3 :] = grain[H // 3 :, :, None] * np.float32([0.3, 0.6, 1.1]) + np.float32([10, 30, 60])
    img[H // 3 : H // 3 + 14] = grain[H // 3 : H // 3 + 14, :, None] * np.float32([0.2, 0.5, 0.2]) + np.float32([10, 40, 10])
    return np.clip(img, 0, 255).astype(np.uint8)


def test_ripples_on_water_are_life_and_ripples_elsewhere_are_defects() -> None:
    lake = _lake()
    frames = [lake] + [_ripple(lake, i / N) for i in range(1, N)]  # the lower 30 %: the lake
    on_water = artifact_score(frames, stride=2)
    assert on_water.ambient > 0.3 and on_water.score < VIEWER_BOUND / 2, on_water
    assert artifact_score(frames, stride=2, ambient=False).score > VIEWER_BOUND  # judged as a picture, it ripples
