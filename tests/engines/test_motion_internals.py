"""Building blocks of the motion engine: canvas, resampling, flow, mode profiles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from motion_support import textured
from stillmotion.engines.motion import PROFILES, plan_motion, profile_for
from stillmotion.engines.motion.flow import estimate_flows
from stillmotion.engines.motion.resample import supersample
from stillmotion.engines.motion.scene import prepare_scene
from stillmotion.media.imaging import fit_to_frame, scale_to_cover


def test_profiles() -> None:
    assert set(PROFILES) == {"pro", "pro-fast", "turbo"}
    assert profile_for("TURBO").name == "turbo"
    assert profile_for(None).name == "pro"
    assert profile_for("something-else").name == "pro"


def test_supersample_keeps_the_exact_grid() -> None:
    img = textured(64, 48, seed=2)
    up = supersample(img, 2)
    assert up.shape == (96, 128, 3)
    assert np.array_equal(up[::2, ::2], img)
    assert supersample(img, 1) is img
    # In-between samples interpolate their neighbours.
    mid = up[1::2, 1::2][4:-4, 4:-4].astype(float)
    ref = img[4:-4, 4:-4].astype(float)
    assert np.abs(mid - ref).mean() < 40


def test_scale_to_cover_window_is_fit_to_frame() -> None:
    img = textured(400, 300, seed=3)
    scaled, (x0, y0) = scale_to_cover(img, 320, 180)
    assert scaled.shape[1] == 320 and scaled.shape[0] >= 180
    assert np.array_equal(scaled[y0 : y0 + 180, x0 : x0 + 320], fit_to_frame(img, 320, 180))


@pytest.mark.parametrize(
    "prompt", ["zoom out", "pan left", "tilt up", "zoom in", "static", "orbit", "truck right", "roll left", "dolly zoom",
               "pulls back to reveal", "crane up"],
)
def test_canvas_covers_every_warp_pose(prompt: str) -> None:
    img = textured(320, 180, seed=1)
    plan = plan_motion(f"the camera {prompt} quickly", 5.0, np.random.default_rng(0))
    scene = prepare_scene(img, plan, (320, 180), profile_for("turbo"))
    r = scene.renderer
    h, w = scene.canvas.shape[:2]
    for t in np.linspace(0, 1, 11):
        m = r.source_map(scene.plan.state(float(t))) / r.k
        assert m[..., 0].min() >= 1 and m[..., 0].max() <= w - 2, (prompt, t)
        assert m[..., 1].min() >= 1 and m[..., 1].max() <= h - 2, (prompt, t)
    assert np.array_equal(r.frame_rgba(0.0)[..., :3], img)


def test_flow_finds_a_large_displacement() -> None:
    """A subject moving further than its own size is found (plain DIS alone misses it)."""
    bg = np.full((180, 320, 3), 90, np.uint8)
    a, b = bg.copy(), bg.copy()
    patch = textured(50, 50, seed=7)
    a[60:110, 20:70] = patch
    b[60:110, 220:270] = patch
    pool_free = estimate_flows(a, b, (320, 180), (320, 180), cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 1000, _Inline())
    assert pool_free.layers >= 1
    assert pool_free.forward[85, 45, 0] == pytest.approx(200, abs=3)
    assert pool_free.backward[85, 245, 0] == pytest.approx(-200, abs=3)
    assert abs(pool_free.forward[20, 300]).max() < 1  # the background stays


class _Inline:
    """An executor that runs work on the spot (for tests)."""

    def submit(self, fn, *args):
        result = fn(*args)

        class Done:
            def result(self):
                return result

        return Done()


def test_bench_runs_on_a_tiny_clip(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import motion as bench

    bench.main(["--width", "96", "--height", "64", "--frames", "3", "--repeat", "1"])
    out = capsys.readouterr().out
    assert all(mode in out for mode in ("pro", "pro-fast", "turbo")) and "morph fps" in out
