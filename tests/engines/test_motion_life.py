"""Effects on the right regions, the anime style, framing for every size, beats and morph progress."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from motion_support import flow, make_spec, psnr, render, save_png, textured
from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine
from stillmotion.media.imaging import fit_to_frame

W, H = 320, 180


def _landscape(tmp_path: Path) -> str:
    """Sky on top, green foliage band, blue water at the bottom, a warm fire patch."""
    img = (textured(W, H, seed=4).astype(np.float32) * 0.25).astype(np.uint8)
    img[:60] = (150, 190, 240)
    img[60:110] += np.array([30, 140, 40], np.uint8)
    img[130:] += np.array([20, 70, 160], np.uint8)
    img[100:125, 20:60] = (250, 150, 40)
    return save_png(tmp_path / "land.png", img)


REGIONS = {"clouds": (slice(0, 55), slice(None)), "sway": (slice(65, 100), slice(80, None)),
           "shimmer": (slice(135, None), slice(None)), "flicker": (slice(103, 122), slice(23, 57))}


@pytest.mark.parametrize(
    ("effect", "prompt"),
    [("clouds", "clouds drift across the sky"), ("sway", "trees sway in the wind"),
     ("shimmer", "the lake shimmers"), ("flicker", "a campfire flickers")],
)
def test_effect_lands_on_its_region(tmp_path: Path, effect: str, prompt: str) -> None:
    spec = make_spec(_landscape(tmp_path), f"Static shot. {prompt}", num_frames=36, seed=3)
    ctx = RenderContext()
    frames = render(MotionEngine(), spec, ctx)
    change = np.mean([np.abs(f.astype(np.float32) - frames[0]).mean(axis=-1) for f in frames[15:]], axis=0)
    region = np.zeros((H, W), bool)
    region[REGIONS[effect]] = True
    outside = ~cv2.dilate(region.astype(np.uint8), np.ones((15, 15))).astype(bool)
    assert change[region].mean() > 0.8, effect
    assert change[region].mean() > 4 * change[outside].mean(), effect
    assert [e["name"] for e in ctx.metadata["motion"]["effects"]] == [effect]
    assert psnr(frames[0], fit_to_frame(cv2.imread(spec.image)[..., ::-1], W, H)) > 45  # effects ramp in
    steps = [np.abs(b.astype(np.float32) - a).mean() for a, b in zip(frames[15:], frames[16:])]
    assert max(steps) < 3 * np.median(steps) + 0.5  # smooth in time: no jumps


@pytest.mark.parametrize("kind", ["snow", "rain", "dust"])
def test_particles_are_seeded_and_cover_the_frame(tmp_path: Path, kind: str) -> None:
    path = _landscape(tmp_path)
    a = render(MotionEngine(), make_spec(path, f"static shot, {kind} falling", num_frames=20, seed=5))
    b = render(MotionEngine(), make_spec(path, f"static shot, {kind} falling", num_frames=20, seed=5))
    c = render(MotionEngine(), make_spec(path, f"static shot, {kind} falling", num_frames=20, seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[-1], c[-1])
    lit = (a[-1].astype(int) - a[0]).max(axis=-1) > 10
    assert lit[: H // 2].any() and lit[H // 2 :].any() and lit[:, : W // 2].any() and lit[:, W // 2 :].any()


def test_anime_is_cel_shaded_and_steady(tmp_path: Path) -> None:
    path = save_png(tmp_path / "in.png", textured(W, H, seed=2, cell=24))
    spec = make_spec(path, "static shot", num_frames=8)
    spec = GenerationSpec(**{**spec.to_dict(), "style": "anime", "audio": spec.audio})
    frames = render(MotionEngine(), spec)
    assert all(np.array_equal(frames[0], f) for f in frames)  # steady: no flicker at all
    colours = len(np.unique(frames[0].reshape(-1, 3), axis=0))
    general = render(MotionEngine(), make_spec(path, "static shot", num_frames=1))[0]
    assert colours < len(np.unique(general.reshape(-1, 3), axis=0)) / 4
    pan = GenerationSpec(**{**spec.to_dict(), "prompt": "slow pan left", "audio": spec.audio})
    moving = render(MotionEngine(), pan)
    plain = render(MotionEngine(), make_spec(path, "slow pan left", num_frames=8))

    def steps(frames: list[np.ndarray]) -> list[float]:
        return [float(np.abs(b.astype(np.float32) - a).mean()) for a, b in zip(frames, frames[1:])]

    # Frame-to-frame change comes from the motion alone (as much as without the style), no flicker.
    assert all(x < 1.5 * y + 1.0 for x, y in zip(steps(moving), steps(plain)))


ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "4:3": (4, 3), "3:4": (3, 4), "1:1": (1, 1)}


@pytest.mark.parametrize("aspect", list(ASPECTS))
@pytest.mark.parametrize("short", [540, 720, 1080])
def test_sizes_exact_for_every_aspect_and_resolution(tmp_path: Path, aspect: str, short: int) -> None:
    a, b = ASPECTS[aspect]
    w, h = (round(short * a / b / 2) * 2, short) if a >= b else (short, round(short * b / a / 2) * 2)
    path = save_png(tmp_path / "src.png", textured(300, 200, seed=1))  # another aspect: fitted, no bars
    frames = render(MotionEngine(), make_spec(path, "zoom in", width=w, height=h, num_frames=3, mode="turbo"))
    assert len(frames) == 3 and all(f.shape == (h, w, 3) and f.dtype == np.uint8 for f in frames)
    ref = fit_to_frame(cv2.imread(path)[..., ::-1], w, h)
    assert psnr(frames[0], ref) > 40
    for f in frames:  # no black bars on any side
        for edge in (f[:4], f[-4:], f[:, :4], f[:, -4:]):
            assert edge.mean() > 30


def test_beats_place_zoom_punches(texture_png) -> None:
    spec = make_spec(texture_png(), "static shot", num_frames=48)
    ctx = RenderContext(beats=(0.5, 1.0, 1.5))
    frames = render(MotionEngine(), spec, ctx)
    assert ctx.metadata["motion"]["accents"] == [0.5, 1.5] and ctx.metadata["motion"]["accent_source"] == "beats"
    zoom = [np.trace(np.linalg.lstsq(np.c_[np.mgrid[0:H:4, 0:W:4].reshape(2, -1).T[:, ::-1], np.ones(45 * 80)],
                                     flow(frames[0], f)[::4, ::4].reshape(-1, 2), rcond=None)[0][:2]) for f in frames]
    peak = int(np.argmax(zoom))
    assert abs(peak / 24 - 0.5) < 0.1 or abs(peak / 24 - 1.5) < 0.1
    assert zoom[12] > 0.03 and abs(zoom[0]) < 1e-3


def _square(cx: int) -> np.ndarray:
    gy, gx = np.mgrid[0:H, 0:W]
    img = np.dstack([60 + gx * 0.3, 80 + gy * 0.3, np.full((H, W), 100.0)]).astype(np.uint8)
    img[60:120, cx - 30 : cx + 30] = textured(60, 60, seed=5)
    return img


def _pair(tmp_path: Path, start: int, end: int) -> tuple[str, str]:
    return save_png(tmp_path / "h.png", _square(start)), save_png(tmp_path / "t.png", _square(end))


@pytest.mark.parametrize("mode", ["pro", "turbo"])
def test_morph_progress_quarter_half_three_quarters(tmp_path: Path, mode: str) -> None:
    """A square travels 160 px (well over its own size): frames 1/4, 1/2 and 3/4 of the way show
    it that far along, measured by integrating DIS flow between consecutive frames."""
    head, tail = _pair(tmp_path, 40, 200)
    frames = render(MotionEngine(), make_spec(head, "", image_tail=tail, num_frames=25, mode=mode))
    x = 40.0
    travelled = [0.0]
    for a, b in zip(frames, frames[1:]):
        f = flow(a, b)
        x0 = int(round(x))
        step = float(np.median(f[70:110, x0 - 20 : x0 + 20, 0]))
        x += step
        travelled.append(x - 40.0)
    for k, truth in ((6, 0.25), (12, 0.5), (18, 0.75)):
        assert abs(travelled[k] / 160.0 - truth) < 0.1, (k, travelled[k])
    assert psnr(frames[-1], cv2.imread(tail)[..., ::-1]) > 35


def test_unrelated_frames_fall_back_to_a_transition(tmp_path: Path) -> None:
    head = save_png(tmp_path / "a.png", textured(W, H, seed=1))
    tail = save_png(tmp_path / "b.png", textured(W, H, seed=99))
    ctx = RenderContext()
    frames = render(MotionEngine(), make_spec(head, "", image_tail=tail, num_frames=9), ctx)
    assert ctx.metadata["morph"]["method"] == "crossfade" and ctx.metadata["motion"]["transition"] == "crossfade"
    assert np.array_equal(frames[-1], cv2.imread(tail)[..., ::-1])


def test_start_end_with_camera_move_keeps_both_ends(tmp_path: Path) -> None:
    head, tail = _pair(tmp_path, 100, 140)
    ctx = RenderContext()
    frames = render(MotionEngine(), make_spec(head, "The camera zooms in", image_tail=tail, num_frames=13), ctx)
    assert ctx.metadata["motion"]["applied"] and ctx.metadata["motion"]["envelope"] == "bump"
    assert psnr(frames[0], cv2.imread(head)[..., ::-1]) > 40 and psnr(frames[-1], cv2.imread(tail)[..., ::-1]) > 40
    f = flow(frames[0], frames[6])[16:-16, 16:-16]
    assert (np.gradient(f[..., 0], axis=1) + np.gradient(f[..., 1], axis=0)).mean() > 0.005  # zoomed in mid-way
