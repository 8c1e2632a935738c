"""Prompt -> motion plan: the move vocabulary, sequences, speed words, defaults and accents."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.engines.motion import plan_motion

SEED_PROMPTS = {
    # seeds 000-002 example prompts -> what a camera operator would do
    "The little parrot looked around, flew out of the screen, and landed on the palm of a hand; "
    "the masterful camera work created a sense of realism.": None,  # no camera move named
    "Astronaut snowboarding directly on dense clouds, snowboard visibly pressing and gliding across cloud "
    "surface, compressing clouds slightly underfoot. Astronaut actively carves smooth turns. Clouds drift "
    "slowly around. The drone camera pulls steadily backward, revealing a wide-angle view of the astronaut "
    "snowboarding across the endless cloudscape. Ultra-realistic lighting, cinematic depth of field": ["reveal"],
    "The camera zooms in, and the character slowly emerges from the water.": ["zoom_in"],
}


def _moves(prompt: str, seconds: float = 5.0) -> list[str]:
    return [s.describe(seconds)["move"] for s in plan_motion(prompt, seconds, np.random.default_rng(0)).segments]


@pytest.mark.parametrize(("prompt", "expected"), list(SEED_PROMPTS.items()))
def test_seed_prompts_give_sensible_plans(prompt: str, expected: list[str] | None) -> None:
    plan = plan_motion(prompt, 5.0, np.random.default_rng(3))
    if expected is None:
        assert plan.source == "default" and plan.segments[0].speed == "slow"
    else:
        assert plan.source == "prompt" and _moves(prompt) == expected
        assert plan.segments[0].speed == "normal"  # "steadily" / "slowly emerges" do not slow the camera


@pytest.mark.parametrize(
    ("prompt", "move"),
    [
        ("The camera zooms in on her face", "zoom_in"), ("zoom out", "zoom_out"), ("dolly in", "dolly_in"),
        ("the camera pushes in", "dolly_in"), ("camera dollies back", "dolly_out"), ("pan left", "pan_left"),
        ("pans to the right", "pan_right"), ("tilt up to the sky", "tilt_up"), ("tilts down", "tilt_down"),
        ("truck left", "truck_left"), ("the camera tracks right", "truck_right"), ("crane up", "pedestal_up"),
        ("pedestal down", "pedestal_down"), ("orbit left around the statue", "orbit_left"),
        ("arc right", "orbit_right"), ("the camera rolls clockwise", "roll_right"),
        ("roll counter-clockwise", "roll_left"), ("dolly zoom", "dolly_zoom"), ("Vertigo shot", "dolly_zoom"),
        ("pulls back to reveal the valley", "reveal"), ("the drone flies over the forest", "fly_over"),
        ("static shot", "static"), ("locked-off camera", "static"),
    ],
)
def test_each_named_move(prompt: str, move: str) -> None:
    assert _moves(prompt) == [move]


def test_handheld_adds_smooth_shake() -> None:
    plan = plan_motion("handheld shot of a street", 5.0, np.random.default_rng(0))
    assert plan.handheld > 0
    xs = np.array([plan.state(t).shift[0] for t in np.linspace(0, 1, 121)])
    assert xs[0] == 0 and np.ptp(xs) > 0.002 and np.abs(np.diff(xs, 2)).max() < 1e-3


def test_sequences_play_in_order() -> None:
    plan = plan_motion("The camera zooms in, then pans left. Finally it tilts up quickly", 6.0, np.random.default_rng(0))
    segs = [s.describe(6.0) for s in plan.segments]
    assert [s["move"] for s in segs] == ["zoom_in", "pan_left", "tilt_up"]
    assert [(s["start"], s["end"]) for s in segs] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    assert segs[2]["speed"] == "fast"
    mid1, mid2 = plan.state(1 / 6), plan.state(0.5)
    assert mid1.zoom > 0 and mid1.shift[0] == 0  # only zooming in the first third
    assert mid2.shift[0] < 0  # panning left in the second
    assert plan.accents == (2.0, 4.0, 5.0)  # segment starts + the fast segment's peak speed


def test_simultaneous_moves_in_one_clause() -> None:
    assert _moves("zooms in while panning left") == ["zoom_in+pan_left"]


def test_negated_and_speed_words() -> None:
    assert _moves("no zoom, pan right") == ["pan_right"]
    slow = plan_motion("the camera slowly zooms in", 5.0, np.random.default_rng(0)).state(1.0).zoom
    normal = plan_motion("the camera zooms in", 5.0, np.random.default_rng(0)).state(1.0).zoom
    fast = plan_motion("the camera quickly zooms in", 5.0, np.random.default_rng(0)).state(1.0).zoom
    assert slow < normal < fast


def test_deterministic_and_seed_picks_default() -> None:
    a = plan_motion("a quiet lake", 5.0, np.random.default_rng(1))
    assert a == plan_motion("a quiet lake", 5.0, np.random.default_rng(1))
    picks = {plan_motion("a quiet lake", 5.0, np.random.default_rng(s)).segments[0].moves for s in range(12)}
    assert len(picks) > 1


def test_accents_sit_on_beats() -> None:
    beats = (0.1, 0.5, 1.0, 1.2, 2.0, 3.1, 4.9)
    plan = plan_motion("zooms in", 5.0, np.random.default_rng(0), beats)
    assert plan.accent_source == "beats" and plan.accents == (0.5, 2.0, 3.1)
    bump = plan.state(2.0 / 5.0).zoom - plan_motion("zooms in", 5.0, np.random.default_rng(0)).state(2.0 / 5.0).zoom
    assert bump > 0.02  # a zoom punch on the beat
    assert plan.state(0.0).zoom == 0.0
    d = plan.describe()
    assert d["accents"] == [0.5, 2.0, 3.1] and d["segments"][0]["move"] == "zoom_in"


def test_no_beats_no_fast_move_no_accents() -> None:
    plan = plan_motion("zooms in", 5.0, np.random.default_rng(0))
    assert plan.accents == () and plan.accent_source == "none"
