"""Sound scenes: chosen from the prompt, stereo, seeded, seamless loops, following the motion."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.audio.dsp import RATE, lowpass, make_loop, rms_envelope, tile
from stillmotion.audio.effects import Motion, choose_scenes, effects_layer, motion_layer
from stillmotion.audio.scenes import LOOP_S, SCENES

PROMPTS = {
    "rain": "Heavy rain pours down", "wind": "A windy hilltop", "ocean_waves": "Waves on the beach",
    "flowing_water": "A mountain river", "fire": "A campfire glows", "birds": "Birds in a spring garden",
    "thunder": "Thunder rolls", "city_traffic": "Downtown traffic", "crowd": "A busy market",
    "footsteps": "A man walks along", "engine": "The truck engine idles", "applause": "The audience applauds",
    "crickets": "Crickets chirp at night",
}


def test_at_least_twelve_scenes_each_named_by_a_prompt():
    assert len(set(PROMPTS)) >= 12
    for name, prompt in PROMPTS.items():
        assert choose_scenes(prompt)[0] == name, prompt
    assert choose_scenes("Rain on a city street, then thunder") == ["rain", "city_traffic", "thunder"]
    assert choose_scenes("A portrait of a smiling woman") == ["ambience"]


@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene_is_seeded_stereo_sound(name):
    n = 3 * RATE
    a = SCENES[name](np.random.default_rng(7), n, ())
    b = SCENES[name](np.random.default_rng(7), n, ())
    c = SCENES[name](np.random.default_rng(8), n, ())
    assert a.shape == (n, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert float(np.abs(a).max()) > 0.05
    corr = np.corrcoef(a[:, 0], a[:, 1])[0, 1]
    assert corr < 0.999  # a real stereo image, not mono copied twice


def _jumps_at(x: np.ndarray, seams: list[int]) -> float:
    d = np.abs(np.diff(x, axis=0)).max(axis=1)
    return max(float(d[s - 1]) for s in seams) / float(np.percentile(d, 99.9))


def test_loop_seam_has_no_jump():
    rng = np.random.default_rng(0)
    # a drifting signal: naive tiling jumps from its end back to its start
    x = (lowpass(rng.standard_normal((RATE, 2)).astype(np.float32), 300) * 5
         + np.linspace(0, 1, RATE, dtype=np.float32)[:, None])
    xf = RATE // 8
    loop = make_loop(x, xf)
    assert len(loop) == RATE - xf
    looped = tile(loop, 4 * len(loop))
    naive = tile(x[: len(loop)], 4 * len(loop))
    seams = [len(loop) * k for k in (1, 2, 3)]
    assert _jumps_at(looped, seams) < 1.0 < _jumps_at(naive, seams)


@pytest.mark.parametrize("name", ["rain", "fire", "crowd", "flowing_water", "ambience"])
def test_looped_beds_do_not_click_at_loop_points(name):
    n = int(3 * LOOP_S * RATE)
    x = SCENES[name](np.random.default_rng(3), n, ())
    period = int(LOOP_S * RATE)
    assert np.allclose(x[100: 1000], x[period + 100: period + 1000])  # it really loops
    assert _jumps_at(x, [period, 2 * period]) < 1.0


def test_fast_move_gets_a_whoosh_slow_move_none():
    n = 4 * RATE
    fast = Motion(({"move": "zoom_in", "start": 1.0, "end": 3.0, "speed": "fast"},))
    slow = Motion(({"move": "zoom_in", "start": 1.0, "end": 3.0, "speed": "slow"},))
    layer, events = motion_layer(np.random.default_rng(0), n, fast)
    assert events == [{"sound": "whoosh", "move": "zoom_in", "at_s": 2.0}]
    env = rms_envelope(layer, 0.1)
    assert env[int(1.9 * RATE)] > 10 * max(env[int(0.5 * RATE)], 1e-6)
    assert motion_layer(np.random.default_rng(0), n, slow)[1] == []


def test_pan_whoosh_travels_across_the_stereo_field():
    motion = Motion(({"move": "pan_right", "start": 0.0, "end": 2.0, "speed": "very_fast"},))
    layer, _ = motion_layer(np.random.default_rng(0), 2 * RATE, motion)
    early, late = layer[int(0.3 * RATE): int(0.8 * RATE)], layer[int(1.3 * RATE): int(1.8 * RATE)]
    # camera pans right -> the picture moves left -> the sound goes right to left
    assert np.abs(early[:, 1]).mean() > np.abs(early[:, 0]).mean()
    assert np.abs(late[:, 0]).mean() > np.abs(late[:, 1]).mean()


def test_motion_metadata_read_from_engine_plan_or_camera():
    meta = {"motion": {"accents": [0.5, {"t": 1.5}, 9.0], "segments": [{"move": "pan_left", "start": 0, "end": 2,
                                                                       "speed": "fast"}]}}
    m = Motion.from_metadata(meta, 4.0)
    assert m.accents == (0.5, 1.5) and m.segments[0]["move"] == "pan_left"
    cam = Motion.from_metadata({"camera": {"move": "zoom_out", "speed": "fast"}}, 3.0)
    assert cam.segments == ({"move": "zoom_out", "start": 0.0, "end": 3.0, "speed": "fast"},)


def test_effects_follow_motion_rhythm_when_asked():
    n = 4 * RATE
    accents = (0.6, 1.4, 2.2, 3.0)
    motion = Motion((), accents)
    on, facts = effects_layer("A man walks down the road", n, 5, motion, rhythm=True)
    off, facts_off = effects_layer("A man walks down the road", n, 5, motion, rhythm=False)
    assert facts["scenes"][0] == "footsteps" and facts["on_motion_rhythm"] and not facts_off["on_motion_rhythm"]
    assert [e["at_s"] for e in facts["motion_sounds"]] == list(accents)
    env = rms_envelope(on, 0.02)
    quiet = float(np.median(env))
    for t in accents:  # a step (and the accent's thump) sounds on every accent
        near = env[int((t - 0.02) * RATE): int((t + 0.08) * RATE)]
        assert near.max() > 4 * quiet
    assert not np.array_equal(on, off)
