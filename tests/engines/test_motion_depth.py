"""Depth and parallax on synthetic scenes whose depth is known, and the optional depth model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from motion_support import flow, make_spec, render, save_png, textured
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine, heuristic_disparity, plan_motion, profile_for
from stillmotion.engines.motion.scene import prepare_scene, subject_disparity

W, H = 320, 180


def _layered() -> tuple[np.ndarray, np.ndarray]:
    """A blurred far wall with a sharp, saturated card in the lower middle, and the truth."""
    far = cv2.GaussianBlur(textured(W, H, seed=5, cell=6), (0, 0), 3.0)
    far = (far.astype(np.float32) * 0.6 + 60).astype(np.uint8)
    img = far.copy()
    near = textured(W, H, seed=9, cell=3)
    box = (slice(80, 170), slice(110, 210))
    img[box] = near[box]
    truth = np.zeros((H, W), np.float32)
    truth[box] = 1.0
    return img, truth


def _region_flow(f: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return f[mask].mean(axis=0)


def test_heuristic_depth_puts_the_sharp_low_card_in_front() -> None:
    img, truth = _layered()
    d = heuristic_disparity(img, 160)
    assert d.shape == truth.shape and 0.0 <= d.min() and d.max() <= 1.0
    inner = cv2.erode(truth, np.ones((9, 9))) > 0
    assert d[inner].mean() > d[truth == 0].mean() + 0.2


def test_sky_is_farthest() -> None:
    img = textured(W, H, seed=2)
    img[: H // 3] = (150, 190, 240)
    d = heuristic_disparity(img, 160)
    assert d[: H // 4].mean() < 0.1 < d[H // 2 :].mean()


@pytest.mark.parametrize("prompt", ["truck right", "orbit left", "crane up", "dolly in"])
def test_near_layer_moves_more_than_far(prompt: str) -> None:
    img, truth = _layered()
    plan = plan_motion(f"the camera {prompt} quickly", 2.0, np.random.default_rng(0))
    scene = prepare_scene(img, plan, (W, H), profile_for("pro"), depth_fn=lambda rgb: _truth_on(rgb, img, truth))
    a = scene.renderer.frame_rgba(0.0)[..., :3].copy()
    b = scene.renderer.frame_rgba(1.0)[..., :3].copy()
    f = flow(a, b)
    near = cv2.erode(truth, np.ones((25, 25))) > 0
    far = cv2.dilate(truth, np.ones((41, 41))) == 0
    far[:12], far[-12:], far[:, :12], far[:, -12:] = False, False, False, False
    if prompt == "dolly in":  # expansion: compare the spread of the near card with the wall's
        assert _divergence(f, near) > _divergence(f, far) + 0.02
    else:
        assert np.linalg.norm(_region_flow(f, near) - _region_flow(f, far)) > 3.0
    assert scene.info["composite"] == "parallax" and scene.info["parallax_scale"] > 0.3


@pytest.mark.parametrize(("prompt", "estimates"), [("dolly in", 1), ("truck right", 1), ("orbit left", 2), ("dolly zoom", 2)])
def test_depth_is_estimated_twice_only_for_moves_that_turn_about_the_subject(prompt: str, estimates: int) -> None:
    """Orbit and dolly zoom frame the shot around the subject's disparity, so it is needed before
    the canvas exists; any other plan gets one estimate, on the canvas, and its pivot from it."""
    img, truth = _layered()
    calls = []

    def depth(rgb: np.ndarray) -> np.ndarray:
        calls.append(rgb.shape)
        return _truth_on(rgb, img, truth)

    plan = plan_motion(f"the camera {prompt} quickly", 2.0, np.random.default_rng(0))
    scene = prepare_scene(img, plan, (W, H), profile_for("turbo"), depth_fn=depth)
    assert len(calls) == estimates and calls[-1] == scene.canvas.shape
    x0, y0 = scene.origin
    fitted = scene.disparity[y0 : y0 + H, x0 : x0 + W]
    assert scene.info["subject_disparity"] == pytest.approx(subject_disparity(fitted), abs=1e-3)


def _truth_on(rgb: np.ndarray, img: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The known depth, placed on the canvas (the fitted frame sits in its middle)."""
    h, w = rgb.shape[:2]
    out = np.zeros((h, w), np.float32)
    y0, x0 = (h - H) // 2, (w - W) // 2
    out[y0 : y0 + H, x0 : x0 + W] = truth
    return out


def _divergence(f: np.ndarray, mask: np.ndarray) -> float:
    dx = np.gradient(f[..., 0], axis=1)
    dy = np.gradient(f[..., 1], axis=0)
    return float((dx + dy)[mask].mean())


def test_truck_direction_near_moves_against_camera() -> None:
    img, truth = _layered()
    plan = plan_motion("truck right", 2.0, np.random.default_rng(0))
    scene = prepare_scene(img, plan, (W, H), profile_for("turbo"), depth_fn=lambda rgb: _truth_on(rgb, img, truth))
    f = flow(scene.renderer.frame_rgba(0.0)[..., :3].copy(), scene.renderer.frame_rgba(1.0)[..., :3].copy())
    near = cv2.erode(truth, np.ones((25, 25))) > 0
    assert _region_flow(f, near)[0] < -3.0  # camera right -> near content left


@pytest.mark.parametrize("mode", ["pro", "pro-fast", "turbo"])
def test_no_holes_when_the_near_card_slides(tmp_path: Path, mode: str) -> None:
    img, _ = _layered()
    img = np.clip(img, 50, 255)  # so a black pixel can only be a hole
    path = save_png(tmp_path / "scene.png", img)
    for prompt in ("the camera quickly trucks left", "orbit right quickly", "pulls back to reveal", "roll left"):
        frames = render(MotionEngine(), make_spec(path, prompt, num_frames=12, mode=mode))
        for fr in frames:
            assert fr.max(axis=-1).min() >= 25, prompt  # no black (empty) pixel anywhere


@pytest.mark.parametrize(
    ("prompt", "check"),
    [
        ("truck left", lambda f: f[..., 0].mean() > 1.0),
        ("truck right", lambda f: f[..., 0].mean() < -1.0),
        ("crane up", lambda f: f[..., 1].mean() > 1.0),
        ("pedestal down", lambda f: f[..., 1].mean() < -1.0),
        ("roll right", lambda f: _curl(f) < -0.002),
        ("roll left", lambda f: _curl(f) > 0.002),
        ("dolly in", lambda f: _divergence(f, np.ones(f.shape[:2], bool)) > 0.01),
        ("pulls back to reveal", lambda f: _divergence(f, np.ones(f.shape[:2], bool)) < -0.01),
    ],
)
def test_named_moves_give_flow_the_right_way(texture_png, prompt: str, check) -> None:
    frames = render(MotionEngine(), make_spec(texture_png(), f"The camera moves: {prompt}", num_frames=24))
    f = flow(frames[0], frames[-1])[16:-16, 16:-16]
    assert check(f), prompt


def _curl(f: np.ndarray) -> float:
    return float((np.gradient(f[..., 1], axis=1) - np.gradient(f[..., 0], axis=0)).mean())


def _tiny_depth_anything(folder: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=56,
        patch_size=14, out_indices=[1, 2, 3, 4], reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16, head_hidden_size=8, patch_size=14,
    )
    import torch

    torch.manual_seed(0)
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=False, ensure_multiple_of=14).save_pretrained(folder)


def test_depth_model_loads_from_a_local_directory(tmp_path: Path, texture_png) -> None:
    pytest.importorskip("transformers")
    from stillmotion.engines.motion import DepthModel

    _tiny_depth_anything(tmp_path / "da")
    model = DepthModel(tmp_path / "da")
    img = textured(120, 80, seed=1)
    d = model(img)
    assert d.shape == (80, 120) and d.dtype == np.float32 and 0.0 <= d.min() and d.max() <= 1.0
    ctx = RenderContext()
    frames = render(MotionEngine(tmp_path / "da"), make_spec(texture_png(), "truck left", num_frames=4), ctx)
    assert len(frames) == 4 and ctx.metadata["motion"]["depth"]["source"] == "model"
    with pytest.raises(FileNotFoundError, match="depth_model_dir"):
        DepthModel(tmp_path / "missing")
