"""Prompt -> camera plan parsing and the plan's pose (pure functions, no images)."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.engines.motion import CameraPlan, find_move, plan_camera


def plan(prompt: str, seconds: float = 5.0, seed: int = 0) -> CameraPlan:
    return plan_camera(prompt, seconds, np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("prompt", "move"),
    [
        ("The camera zooms in, and the character slowly emerges from the water.", "zoom_in"),
        ("The drone camera pulls steadily backward, revealing a wide-angle view of the valley.", "zoom_out"),
        ("zoom in on her face", "zoom_in"),
        ("Slow push in toward the door", "zoom_in"),
        ("A slow push-in on the lighthouse", "zoom_in"),
        ("the camera dollies in", "zoom_in"),
        ("camera moves forward through the forest", "zoom_in"),
        ("Zoom out to show the city", "zoom_out"),
        ("The camera pulls back from the table", "zoom_out"),
        ("dolly out slowly", "zoom_out"),
        ("The camera pans left across the skyline", "pan_left"),
        ("camera slowly pans to the right", "pan_right"),
        ("Pan right over the mountains", "pan_right"),
        ("The camera tilts up to the sky", "tilt_up"),
        ("camera tilts down to the street", "tilt_down"),
        ("Static shot of a cat sleeping", "static"),
        ("still camera, leaves rustle", "static"),
        ("A locked-off shot of the sea", "static"),
        ("fixed camera on a tripod", "static"),
        ("The camera remains still while the crowd moves", "static"),
    ],
)
def test_prompt_names_move(prompt: str, move: str) -> None:
    p = plan(prompt)
    assert p.move == move
    assert p.source == "prompt"
    assert p.matched


def test_first_named_move_wins() -> None:
    assert plan("The camera pans left, then zooms in").move == "pan_left"
    assert plan("Zoom in, then pan left").move == "zoom_in"


def test_negated_move_is_ignored() -> None:
    assert plan("no zoom in, the camera pans right").move == "pan_right"


def test_no_move_is_gentle_default_push_in() -> None:
    p = plan("A cat sleeps on a sofa in warm light.")
    assert (p.move, p.source, p.matched) == ("zoom_in", "default", None)
    assert 1.0 < p.zoom < 1.12
    assert find_move("A cat sleeps on a sofa in warm light.") is None
    assert plan("") .source == "default"


def test_default_is_seeded() -> None:
    assert plan("a cat", seed=3) == plan("a cat", seed=3)
    assert plan("a cat", seed=3) != plan("a cat", seed=4)


def test_seed_prompt_zoom_in_is_normal_speed() -> None:
    # "slowly" belongs to the character, not the camera (another clause).
    p = plan("The camera zooms in, and the character slowly emerges from the water.")
    assert p.speed == "normal"
    assert p.matched.lower() == "zooms in"


def test_seed_prompt_pull_backward_is_zoom_out() -> None:
    p = plan("The drone camera pulls steadily backward, revealing a wide-angle view...")
    assert p.move == "zoom_out" and p.zoom < 1.0
    assert "pulls steadily backward" in p.matched


@pytest.mark.parametrize("move_words", ["zooms in", "pans left", "tilts up", "pulls back"])
def test_speed_words_scale_amount(move_words: str) -> None:
    normal = plan(f"The camera {move_words}.").amount
    slow = plan(f"The camera slowly {move_words}.").amount
    fast = plan(f"The camera {move_words} quickly.").amount
    assert slow < normal < fast
    assert plan(f"The camera gently {move_words}.").speed == "slow"
    assert plan(f"The camera {move_words} fast").speed == "fast"


def test_longer_clips_move_further() -> None:
    assert plan("zoom in", seconds=10).amount > plan("zoom in", seconds=5).amount


@pytest.mark.parametrize("prompt", ["zoom in", "zoom out", "pan left", "tilt down", "static", "a dog"])
def test_pose_starts_at_identity(prompt: str) -> None:
    m = plan(prompt).pose(0.0, 320, 180)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_pose_directions() -> None:
    # The pose maps an output pixel to the fitted-frame point it shows.
    w, h = 320, 180
    centre = np.array([(w - 1) / 2, (h - 1) / 2, 1.0])
    corner = np.array([0.0, 0.0, 1.0])
    zin = plan("zoom in").pose(1.0, w, h)
    zout = plan("zoom out").pose(1.0, w, h)
    assert (zin @ corner)[0] > 0  # a zoom-in shows less: the corner samples inside
    assert (zout @ corner)[0] < 0
    np.testing.assert_allclose(zin @ centre, centre[:2])
    assert (plan("pan left").pose(1.0, w, h) @ centre)[0] < centre[0]  # window slides left
    assert (plan("pan right").pose(1.0, w, h) @ centre)[0] > centre[0]
    assert (plan("tilt up").pose(1.0, w, h) @ centre)[1] < centre[1]
    assert (plan("tilt down").pose(1.0, w, h) @ centre)[1] > centre[1]
    np.testing.assert_allclose(plan("static").pose(1.0, w, h), [[1, 0, 0], [0, 1, 0]])


def test_pose_is_eased() -> None:
    p = plan("pan right")
    xs = [p.pose(t, 320, 180)[0, 2] for t in np.linspace(0, 1, 101)]
    steps = np.diff(xs)
    assert steps[0] < steps[50] / 10 and steps[-1] < steps[50] / 10  # starts and ends at rest
    assert np.all(steps >= 0)


def test_pan_compensation_keeps_window_on_real_content() -> None:
    p = plan("pan left")
    w, h = 320, 180
    fitted = p.fitted_to(w, h, (0, 0, 0, 0))
    assert fitted.compensation > 1.0
    for t in np.linspace(0, 1, 21):
        m = fitted.pose(t, w, h)
        xs = (m @ np.array([[0, 0, 1], [w - 1, h - 1, 1]], float).T)[0]
        assert xs.min() >= -1e-6 and xs.max() <= w - 1 + 1e-6
    # With enough spare content beside the frame, no compensation is needed.
    assert p.fitted_to(w, h, (200, 0, 200, 0)).compensation == 1.0
