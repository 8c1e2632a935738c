"""Effects fire only on nouns whose region the picture has; subject motion is reported, not faked."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from motion_support import make_spec, render, save_png, textured
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion import MotionEngine
from stillmotion.engines.motion.cues import asked_effects, ignored_motion
from stillmotion.engines.motion.effects import Effects
from stillmotion.media.imaging import fit_to_frame, load_rgb

PHOTOS = Path(__file__).parent / "photos"
W, H = 480, 270


@cache
def _image(name: str) -> np.ndarray:
    if name in ("astronaut", "coffee", "rocket", "chelsea"):
        return fit_to_frame(load_rgb(str(PHOTOS / f"{name}.jpg")), W, H)
    noise = (textured(W, H, seed=4).astype(np.float32) * 0.2).astype(np.uint8)
    img = noise.copy()
    if name == "lake":  # sky, a band of trees, a lake, a campfire on the shore
        img[: H // 3] = (150, 190, 240)
        img[H // 3 : H // 2] += np.array([30, 140, 40], np.uint8)
        img[H // 2 :] += np.array([20, 70, 160], np.uint8)
        cv2.ellipse(img, (80, 150), (14, 22), 0, 0, 360, (255, 150, 30), -1)
        cv2.ellipse(img, (80, 154), (6, 10), 0, 0, 360, (255, 235, 120), -1)
    elif name == "room":  # a dim room with a pale lamp on a wooden table
        img += np.array([60, 40, 25], np.uint8)
        img[int(H * 0.65) :] += np.array([70, 40, 15], np.uint8)
        cv2.circle(img, (360, 80), 18, (255, 250, 235), -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return img


def _drawn(prompt: str, image: str) -> set[str]:
    return set(Effects(asked_effects(prompt), _image(image), 5.0, 0.5, seed=1).names)


TABLE = [  # (prompt, image, effects expected, effects that must not be drawn)
    ("she waves at the camera", "astronaut", set(), {"shimmer"}),
    ("the astronaut waves hello", "astronaut", set(), {"shimmer"}),
    ("helmet reflections glint", "astronaut", set(), {"shimmer"}),
    ("waves crash on the shore", "lake", {"shimmer"}, set()),
    ("the lake shimmers", "lake", {"shimmer"}, set()),
    ("the lake shimmers", "astronaut", set(), {"shimmer"}),
    ("the water ripples", "coffee", set(), {"shimmer"}),
    ("rain patters on the window", "coffee", set(), {"rain"}),
    ("rain falls on the lake", "lake", {"rain", "shimmer"}, set()),
    ("it is snowing", "chelsea", set(), {"snow"}),
    ("snow falls over the launch pad", "rocket", {"snow"}, set()),
    ("flames dance in the fireplace", "room", set(), {"flicker"}),
    ("flames", "astronaut", set(), {"flicker"}),
    ("the campfire flickers", "lake", {"flicker"}, set()),
    ("a candle burns", "coffee", set(), {"flicker"}),
    ("the lamp lights glow", "room", {"flicker"}, set()),
    ("her face lights up", "room", set(), {"flicker"}),
    ("clouds drift across the sky", "lake", {"clouds"}, set()),
    ("clouds drift across the sky", "rocket", {"clouds"}, set()),
    ("clouds drift across the sky", "astronaut", set(), {"clouds"}),
    ("clouds drift across the sky", "coffee", set(), {"clouds"}),
    ("trees sway in the wind", "lake", {"sway"}, set()),
    ("trees sway in the wind", "chelsea", set(), {"sway"}),
    ("leaves rustle", "rocket", set(), {"sway"}),
    ("she leaves the room", "room", set(), {"sway"}),
    ("dust motes float in the light", "coffee", {"dust"}, set()),
    ("the cat dusts off its paws", "chelsea", set(), {"dust"}),
    ("a storm rolls over the lake", "lake", {"rain", "shimmer"}, set()),
    ("they storm the castle", "lake", set(), {"rain"}),
    ("the rocket lifts off into the sky", "rocket", {"clouds"}, {"flicker", "shimmer"}),
    ("steam rises from the coffee", "coffee", set(), {"clouds", "shimmer", "dust", "flicker"}),
    ("a cat turns its head and blinks", "chelsea", set(), {"sway", "shimmer", "clouds"}),
    ("the pool glitters under the sky", "coffee", set(), {"shimmer", "clouds"}),
    ("the camera pans over the ocean", "lake", {"shimmer"}, set()),
]


@pytest.mark.parametrize("prompt, image, expected, forbidden", TABLE, ids=[f"{p}@{i}" for p, i, _, _ in TABLE])
def test_effects_fire_only_for_nouns_whose_region_the_picture_has(prompt, image, expected, forbidden) -> None:
    drawn = _drawn(prompt, image)
    assert expected <= drawn, (prompt, image, drawn)
    assert not forbidden & drawn, (prompt, image, drawn)


@pytest.mark.parametrize("prompt, phrases", [
    ("a cat turns its head and blinks", ["a cat turns its head", "blinks"]),
    ("the rocket lifts off", ["the rocket lifts off"]),
    ("steam rises from the coffee", ["steam rises from the coffee"]),
    ("she waves at the camera", ["she waves at the camera"]),
    ("the camera rises over the city", []),
    ("slow zoom in, clouds drift", []),
    ("the camera pushes in while the dog runs across the field", ["the dog runs across the field"]),
])
def test_subject_motion_the_engine_cannot_make_is_listed(prompt: str, phrases: list[str]) -> None:
    assert ignored_motion(prompt) == phrases


def test_metadata_says_what_was_ignored_and_which_effects_were_skipped(tmp_path: Path) -> None:
    path = save_png(tmp_path / "cup.png", _image("coffee"))
    ctx = RenderContext()
    render(MotionEngine(workers=1),
           make_spec(path, "steam rises from the coffee while rain patters on the window", num_frames=6), ctx)
    motion = ctx.metadata["motion"]
    assert motion["ignored"] == ["steam rises from the coffee"]
    assert motion["effects"] == []
    assert motion["effects_skipped"] == [{"name": "rain", "asked_by": "rain",
                                          "reason": "not an outdoor scene: no sky, water or foliage found in the picture"}]
