"""MotionEngine camera moves: frame count/size, frame 0, directions, smoothness, determinism.

Direction convention under test (documented in stillmotion/engines/motion/camera.py): moves
are named as the camera operator names them, so "pan left" makes the scene appear to move
right (measured optical flow x > 0), "tilt up" makes it move down (flow y > 0), a zoom-in
makes flow point outward (positive divergence).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motion_support import affine_fit, flow, make_spec, psnr, render, save_png, textured
from stillmotion.engines import get_engine
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine
from stillmotion.errors import Canceled, GenerationFailed
from stillmotion.media.imaging import fit_to_frame, load_rgb


@pytest.fixture(scope="module")
def texture(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_png(tmp_path_factory.mktemp("img") / "texture.png", textured(320, 180, seed=0))


def test_get_engine_builds_motion() -> None:
    engine = get_engine("motion")
    assert isinstance(engine, MotionEngine) and engine.name == "motion"


@pytest.mark.parametrize(
    ("width", "height", "num_frames"),
    [(320, 180, 24), (180, 320, 24), (192, 192, 48), (256, 144, 1), (320, 180, 7)],
)
@pytest.mark.parametrize("prompt", ["zoom in", "pan right", "a quiet lake"])
def test_exact_frame_count_and_size(texture_png, width: int, height: int, num_frames: int, prompt: str) -> None:
    src = texture_png(400, 300)
    frames = MotionEngine().frames(make_spec(src, prompt, width=width, height=height, num_frames=num_frames), RenderContext())
    count = 0
    for frame in frames:
        assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
        count += 1
    assert count == num_frames


@pytest.mark.parametrize("mode", ["pro", "pro-fast", "turbo"])
@pytest.mark.parametrize(
    ("src_size", "frame_size"), [((320, 180), (320, 180)), ((500, 500), (320, 180)), ((400, 300), (180, 320))]
)
@pytest.mark.parametrize("prompt", ["zoom out", "pan left", "tilt up", "the sea"])
def test_frame_zero_is_the_fitted_input(texture_png, mode, src_size, frame_size, prompt) -> None:
    src = texture_png(*src_size)
    w, h = frame_size
    first = next(MotionEngine().frames(make_spec(src, prompt, width=w, height=h, mode=mode), RenderContext()))
    assert psnr(first, fit_to_frame(load_rgb(src), w, h)) > 40


def _end_flow(texture: str, prompt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow from the first to the last frame, and its affine fit (A, b)."""
    frames = render(MotionEngine(), make_spec(texture, prompt))
    f = flow(frames[0], frames[-1])
    a, b = affine_fit(f)
    return f, a, b


def test_zoom_in_flow_points_outward(texture: str) -> None:
    _, a, b = _end_flow(texture, "The camera zooms in")
    assert np.trace(a) > 0.05
    assert np.abs(b).max() < 1.0  # about the centre


def test_zoom_out_flow_points_inward(texture: str) -> None:
    _, a, b = _end_flow(texture, "The camera pulls back")
    assert np.trace(a) < -0.05
    assert np.abs(b).max() < 1.0


@pytest.mark.parametrize(
    ("prompt", "axis", "sign"),
    [("pans left", 0, +1), ("pans right", 0, -1), ("tilts up", 1, +1), ("tilts down", 1, -1)],
)
def test_pan_and_tilt_move_content_the_named_way(texture: str, prompt: str, axis: int, sign: int) -> None:
    f, _, _ = _end_flow(texture, f"The camera slowly {prompt}")
    mean = f[16:-16, 16:-16].reshape(-1, 2).mean(axis=0)
    assert sign * mean[axis] > 2.0  # pixels
    assert abs(mean[1 - axis]) < 0.5


def test_static_does_not_move(texture: str) -> None:
    frames = render(MotionEngine(), make_spec(texture, "Static shot of a wall"))
    assert all(np.array_equal(frames[0], f) for f in frames)
    assert np.abs(flow(frames[0], frames[-1])).max() < 0.05


def test_unprompted_clip_is_gentle_default_push_in(texture: str) -> None:
    ctx = RenderContext()
    frames = render(MotionEngine(), make_spec(texture, "A quiet lake at dawn"), ctx)
    cam = ctx.metadata["camera"]
    assert ctx.metadata["engine"] == "motion"
    assert cam["move"] in ("push_in", "drift", "orbit_right") and cam["source"] == "default"
    assert ctx.metadata["motion"]["source"] == "default"
    f = flow(frames[0], frames[-1])
    assert 0.2 < np.linalg.norm(f, axis=-1).mean() < 8.0  # gentle, but moving


def test_metadata_reports_the_prompt_plan(texture: str) -> None:
    ctx = RenderContext()
    render(MotionEngine(), make_spec(texture, "The camera zooms in, and the character slowly emerges from the water."), ctx)
    cam = ctx.metadata["camera"]
    assert (cam["move"], cam["source"], cam["matched"]) == ("zoom_in", "prompt", "zooms in")
    assert ctx.metadata["motion"]["segments"][0]["amount"] > 0
    assert ctx.metadata["mode"] == "pro"


def test_zoom_is_smooth_without_jitter(texture: str) -> None:
    """The per-frame zoom factor measured by flow follows the eased plan, with no steps."""
    spec = make_spec(texture, "zoom in")
    frames = render(MotionEngine(), spec)
    measured = np.array([1 + np.trace(affine_fit(flow(frames[0], f))[0]) / 2 for f in frames])
    assert measured[-1] > 1.04
    # Whole-pixel stepping would give second differences ~1/160 here.
    assert np.abs(np.diff(measured, 2)).max() < 0.003
    assert np.all(np.diff(measured) > -0.001)  # monotonic


def test_pan_is_smooth_without_jitter(texture: str) -> None:
    frames = render(MotionEngine(), make_spec(texture, "pan right", num_frames=24))
    shifts = np.array([affine_fit(flow(frames[0], f))[1][0] for f in frames])
    steps = np.diff(shifts)
    assert np.all(steps < 0.05)  # content keeps moving left, never back
    assert np.abs(np.diff(shifts, 2)).max() < 0.25  # px; rounding to whole pixels gives ~1


@pytest.mark.parametrize("prompt", ["zoom out", "pan left", "tilt up", "zoom in"])
def test_moves_never_show_empty_borders(texture_png, prompt: str) -> None:
    src = texture_png(320, 180)
    for frame in render(MotionEngine(), make_spec(src, f"The camera {prompt} quickly")):
        edges = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        assert (edges.max(axis=-1) == 0).mean() < 0.01  # no black bars
        assert edges.std() > 5  # real or soft-mirrored content, not a flat fill


def test_same_seed_gives_identical_bytes(texture: str) -> None:
    for prompt in ["zoom in", "a cat"]:
        a = render(MotionEngine(), make_spec(texture, prompt, seed=5))
        b = render(MotionEngine(), make_spec(texture, prompt, seed=5))
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


def test_default_move_varies_with_seed(texture: str) -> None:
    a = render(MotionEngine(), make_spec(texture, "a cat", seed=1, num_frames=4))
    b = render(MotionEngine(), make_spec(texture, "a cat", seed=2, num_frames=4))
    assert not np.array_equal(a[-1], b[-1])


@pytest.mark.parametrize("mode", ["pro", "pro-fast", "turbo", "unknown"])
def test_every_mode_renders(texture: str, mode: str) -> None:
    ctx = RenderContext()
    frames = render(MotionEngine(), make_spec(texture, "zoom in", mode=mode, num_frames=6), ctx)
    assert len(frames) == 6
    assert ctx.metadata["mode"] == ("pro" if mode == "unknown" else mode)


def test_cancel_stops_the_generator(texture: str) -> None:
    produced = []
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return len(produced) >= 3

    gen = MotionEngine().frames(make_spec(texture, "zoom in", num_frames=24), RenderContext(should_stop=should_stop))
    with pytest.raises(Canceled):
        for frame in gen:
            produced.append(frame)
    assert len(produced) == 3


def test_cancel_before_start(texture: str) -> None:
    gen = MotionEngine().frames(make_spec(texture, "zoom in"), RenderContext(should_stop=lambda: True))
    with pytest.raises(Canceled):
        next(gen)


def test_unreadable_image_fails_visibly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(GenerationFailed):
        next(MotionEngine().frames(make_spec(str(bad), "zoom in"), RenderContext()))
    with pytest.raises(GenerationFailed):
        next(MotionEngine().frames(make_spec(str(tmp_path / "missing.png"), "zoom in"), RenderContext()))


def test_metadata_is_json_serialisable(texture: str, tmp_path: Path) -> None:
    import json

    tail = save_png(tmp_path / "tail.png", textured(320, 180, seed=8))
    for image_tail in (None, tail):
        ctx = RenderContext()
        render(MotionEngine(), make_spec(texture, "pan left", num_frames=3, image_tail=image_tail), ctx)
        assert json.loads(json.dumps(ctx.metadata)) == ctx.metadata
