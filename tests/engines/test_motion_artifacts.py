"""No torn frames: real photos through every named move, and depth maps that are wrong."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from motion_support import make_spec, render, save_png, textured
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine
from stillmotion.evaluation.artifacts import VIEWER_BOUND, artifact_score
from stillmotion.evaluation.flow import FlowEstimator, fit_camera
from stillmotion.media.imaging import load_rgb, scale_to_cover

PHOTOS = Path(__file__).parent / "photos"
W, H = 480, 270
MOVES = [  # (move, prompt, check on the camera fitted between the first and last frame)
    ("zoom_in", "the camera zooms in", lambda c: c.zoom > 0.002),
    ("zoom_out", "the camera zooms out", lambda c: c.zoom < -0.002),
    ("dolly_in", "the camera pushes in", lambda c: c.zoom > 0.002),
    ("dolly_out", "the camera pulls back", lambda c: c.zoom < -0.002),
    ("reveal", "the camera pulls back to reveal the scene", lambda c: c.zoom < -0.002),
    ("pan_left", "the camera pans left", lambda c: c.tx > 2),
    ("pan_right", "the camera pans right", lambda c: c.tx < -2),
    ("tilt_up", "the camera tilts up", lambda c: c.ty > 2),
    ("tilt_down", "the camera tilts down", lambda c: c.ty < -2),
    ("truck_left", "the camera trucks left", lambda c: c.tx > 2),
    ("truck_right", "the camera trucks right", lambda c: c.tx < -2),
    ("pedestal_up", "the camera cranes up", lambda c: c.ty > 2),
    ("pedestal_down", "the camera cranes down", lambda c: c.ty < -2),
    ("orbit_left", "the camera orbits left", None),
    ("orbit_right", "the camera orbits right", None),
    ("roll_left", "the camera rolls left", lambda c: c.rot > 0.003),
    ("roll_right", "the camera rolls right", lambda c: c.rot < -0.003),
    ("dolly_zoom", "a dolly zoom on the subject", None),
    ("fly_over", "the drone flies over the scene", lambda c: c.zoom > 0.002),
]
PHOTO_NAMES = ["astronaut.jpg", "coffee.jpg", "rocket.jpg", "chelsea.jpg"]


def _measured(frames: list[np.ndarray]):
    est = FlowEstimator(W)
    a, b = est.gray(frames[0]), est.gray(frames[-1])
    return fit_camera(est.flow(a, b), est.scale_for(frames[0].shape)), float(np.abs(est.flow(a, b)).mean())


@pytest.mark.parametrize("mode", ["pro", "turbo"])
@pytest.mark.parametrize("i", range(len(MOVES)), ids=[m[0] for m in MOVES])
def test_real_photos_through_every_named_move_stay_clean_and_move_as_named(i: int, mode: str) -> None:
    move, prompt, check = MOVES[i]
    photo = str(PHOTOS / PHOTO_NAMES[i % len(PHOTO_NAMES)])
    ctx = RenderContext()
    frames = render(MotionEngine(workers=1), make_spec(photo, prompt, width=W, height=H, num_frames=16,
                                                                         mode=mode), ctx)
    assert ctx.metadata["motion"]["segments"][0]["move"].split("+")[0] == move
    reference, origin = scale_to_cover(load_rgb(photo), W, H)
    score = artifact_score(frames, reference=reference, origin=origin, stride=3)
    assert score.score < VIEWER_BOUND, (move, mode, score)
    cam, mean_flow = _measured(frames)
    # the camera moves; a dolly zoom is parallax alone (the subject keeps its size), so on a depth
    # map the warp distrusts (parallax_scale, here the rocket's) it fades with the parallax
    least = 0.1 if move == "dolly_zoom" else 0.5
    assert mean_flow > least, (move, mode, ctx.metadata["motion"]["depth"])
    if check is not None:
        assert check(cam), (move, mode, cam)


def _cut_object(cut: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A plain wall with a smooth round object, and its depth map: true (the object near), or one
    that cuts the object in two (its left half near, its right half as far as the wall): the
    heuristic's typical mistake."""
    wall = cv2.GaussianBlur(textured(W, H, seed=11, cell=8), (0, 0), 2.0)
    img = (wall.astype(np.float32) * 0.5 + 70).astype(np.uint8)
    obj = np.zeros((H, W), np.uint8)
    cv2.circle(obj, (W // 2, H // 2), 80, 1, -1)
    shade = textured(W, H, seed=12, cell=12).astype(np.float32) * 0.3 + np.array([150, 60, 40], np.float32)
    img[obj > 0] = np.clip(shade, 0, 255).astype(np.uint8)[obj > 0]
    depth = np.full((H, W), 0.2, np.float32)
    near = (obj > 0) & (np.arange(W)[None, :] < W // 2) if cut else obj > 0
    depth[near] = 1.0
    return img, depth


@pytest.mark.parametrize("cut", [True, False], ids=["cut_in_two", "true_depth"])
@pytest.mark.parametrize("prompt", ["the camera trucks right quickly", "the camera orbits left", "the camera pushes in fast"])
def test_a_depth_map_that_cuts_an_object_in_two_never_tears_it(tmp_path: Path, prompt: str, cut: bool) -> None:
    img, depth = _cut_object(cut)
    path = save_png(tmp_path / "cut.png", img)

    def wrong_depth(rgb: np.ndarray) -> np.ndarray:  # the cut, placed on whatever canvas the engine asks about
        out = np.full(rgb.shape[:2], 0.2, np.float32)
        h, w = rgb.shape[:2]
        y0, x0 = (h - H) // 2, (w - W) // 2
        out[y0 : y0 + H, x0 : x0 + W] = depth
        return out

    engine = MotionEngine(workers=1)
    engine.depth_model_dir = "wrong"
    ctx = RenderContext()
    import stillmotion.engines.motion.engine as engine_module

    original = engine_module.depth_source
    engine_module.depth_source = lambda _dir: ("model", wrong_depth)
    try:
        frames = render(engine, make_spec(str(path), prompt, width=W, height=H, num_frames=16), ctx)
    finally:
        engine_module.depth_source = original
    info = ctx.metadata["motion"]["depth"]
    if cut:
        assert info["edge_agreement"] < 0.8 and info["trust"] < 1.0  # the cut is not trusted fully
    else:
        assert info["edge_agreement"] > 0.8 and info["trust"] == 1.0 and info["parallax_scale"] > 0.2  # the outline is
    score = artifact_score(frames, stride=3)
    assert score.score < VIEWER_BOUND, (prompt, info, score)
