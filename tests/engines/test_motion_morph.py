"""Start-end clips: a flow-guided morph, not a crossfade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motion_support import make_spec, psnr, render, save_png, textured
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine
from stillmotion.errors import Canceled
from stillmotion.media.imaging import fit_to_frame, load_rgb

W, H, SIDE = 320, 180, 60


def background() -> np.ndarray:
    gy, gx = np.mgrid[0:H, 0:W]
    bg = np.empty((H, W, 3), np.uint8)
    bg[..., 0] = 60 + gx * 0.3
    bg[..., 1] = 80 + gy * 0.3
    bg[..., 2] = 100
    return bg


def square_at(cx: int) -> np.ndarray:
    """A textured square centred at x=cx on a smooth background."""
    img = background()
    x0, y0 = cx - SIDE // 2, H // 2 - SIDE // 2
    img[y0 : y0 + SIDE, x0 : x0 + SIDE] = textured(SIDE, SIDE, seed=5)
    return img


@pytest.fixture(scope="module")
def square_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("pair")
    return save_png(d / "a.png", square_at(40)), save_png(d / "b.png", square_at(200))


def column_energy(frame: np.ndarray) -> np.ndarray:
    """Mean deviation from the background per column, over the square's rows."""
    rows = slice(H // 2 - SIDE // 2, H // 2 + SIDE // 2)
    return np.abs(frame[rows].astype(int) - background()[rows].astype(int)).sum(axis=-1).mean(axis=0)


@pytest.mark.parametrize("mode", ["pro", "pro-fast", "turbo"])
def test_square_travels_instead_of_crossfading(square_pair, mode: str) -> None:
    a, b = square_pair
    ctx = RenderContext()
    frames = render(MotionEngine(), make_spec(a, "", image_tail=b, num_frames=25, mode=mode), ctx)
    mid = frames[12]  # t = 0.5 (the easing is symmetric)
    energy = column_energy(mid)
    solid = column_energy(square_at(120))
    xs = np.arange(W)
    centroid = (energy * xs).sum() / energy.sum()
    assert abs(centroid - 120) < 12
    inside = energy[120 - SIDE // 2 + 5 : 120 + SIDE // 2 - 5].mean()
    assert inside > 0.7 * solid[120 - SIDE // 2 + 5 : 120 + SIDE // 2 - 5].mean()  # opaque, not half
    # A crossfade would leave two half-transparent squares at the ends; there is none.
    for end in (40, 200):
        assert energy[end - SIDE // 2 + 5 : end + SIDE // 2 - 5].mean() < 0.2 * inside
    assert ctx.metadata["morph"]["method"] == "bidirectional_flow"


def test_square_moves_monotonically(square_pair) -> None:
    a, b = square_pair
    frames = render(MotionEngine(), make_spec(a, "", image_tail=b, num_frames=13))
    xs = np.arange(W)
    centroids = [(column_energy(f) * xs).sum() / column_energy(f).sum() for f in frames]
    assert centroids[0] == pytest.approx(40, abs=3) and centroids[-1] == pytest.approx(200, abs=3)
    assert np.all(np.diff(centroids) > -2)


@pytest.mark.parametrize("mode", ["pro", "pro-fast", "turbo"])
def test_first_and_last_frames_are_the_fitted_images(texture_png, mode: str) -> None:
    head = texture_png(400, 300, seed=1, name="head.png")
    tail = texture_png(400, 300, seed=2, name="tail.png")
    frames = render(MotionEngine(), make_spec(head, "zoom in", image_tail=tail, num_frames=24, mode=mode))
    assert len(frames) == 24
    assert psnr(frames[0], fit_to_frame(load_rgb(head), W, H)) > 40
    assert psnr(frames[-1], fit_to_frame(load_rgb(tail), W, H)) > 40


def test_tail_with_another_aspect_is_fitted_to_the_heads_frame(texture_png) -> None:
    head = texture_png(640, 360, seed=1, name="head.png")
    tail = texture_png(300, 400, seed=2, name="tail.png")
    frames = render(MotionEngine(), make_spec(head, "", image_tail=tail, width=W, height=H, num_frames=10))
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)
    assert psnr(frames[-1], fit_to_frame(load_rgb(tail), W, H)) > 40


@pytest.mark.parametrize(("width", "height"), [(180, 320), (192, 192)])
def test_morph_frame_sizes(texture_png, width: int, height: int) -> None:
    head = texture_png(300, 300, seed=1, name="head.png")
    tail = texture_png(300, 300, seed=2, name="tail.png")
    frames = render(MotionEngine(), make_spec(head, "", image_tail=tail, width=width, height=height, num_frames=24))
    assert len(frames) == 24 and all(f.shape == (height, width, 3) for f in frames)


def test_morph_is_deterministic(square_pair) -> None:
    a, b = square_pair
    one = render(MotionEngine(), make_spec(a, "", image_tail=b, num_frames=12, seed=9))
    two = render(MotionEngine(), make_spec(a, "", image_tail=b, num_frames=12, seed=9))
    assert all(x.tobytes() == y.tobytes() for x, y in zip(one, two, strict=True))


def test_identical_images_stay_still(tmp_path: Path) -> None:
    img = save_png(tmp_path / "same.png", textured(W, H, seed=4))
    frames = render(MotionEngine(), make_spec(img, "", image_tail=img, num_frames=8))
    first = frames[0].astype(int)
    assert max(np.abs(f.astype(int) - first).max() for f in frames) <= 2


def test_morph_metadata(square_pair) -> None:
    a, b = square_pair
    ctx = RenderContext()
    render(MotionEngine(), make_spec(a, "The camera zooms in", image_tail=b, num_frames=4), ctx)
    assert ctx.metadata["engine"] == "motion"
    assert ctx.metadata["morph"]["method"] == "bidirectional_flow"
    assert ctx.metadata["morph"]["motion_layers"] >= 1
    assert ctx.metadata["camera"]["source"] == "start_end"
    assert ctx.metadata["camera"]["prompt_move"] == "zoom_in"


def test_cancel_stops_the_morph(square_pair) -> None:
    a, b = square_pair
    produced = []
    ctx = RenderContext(should_stop=lambda: len(produced) >= 2)
    with pytest.raises(Canceled):
        for frame in MotionEngine().frames(make_spec(a, "", image_tail=b, num_frames=24), ctx):
            produced.append(frame)
    assert len(produced) == 2


@pytest.mark.parametrize("grid, size", [((320, 180), (1280, 720)), ((53, 40), (160, 96)), ((427, 240), (1280, 720))])
def test_grid_base_gives_the_supersampled_coordinates_plus_the_upsampled_flow(grid, size) -> None:
    import cv2

    from stillmotion.engines.motion.morph import _GridBase

    (gw, gh), (w, h) = grid, size
    flow = np.random.default_rng(0).normal(0, 3, (gh, gw, 2)).astype(np.float32)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32) * 2, np.arange(h, dtype=np.float32) * 2)
    want = np.dstack([xs, ys]) + cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    got = _GridBase(grid, size, 2).absolute(flow, np.empty((h, w, 2), np.float32))
    assert np.abs(got - want).max() < 2e-3  # float rounding only, edges included
