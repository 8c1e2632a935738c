"""Each metric on synthetic clips whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stillmotion.evaluation.camera import camera_motion, jitter
from stillmotion.evaluation.metrics import (
    PSNR_CAP,
    dynamic_degree,
    motion_smoothness,
    psnr,
    ssim,
    temporal_flickering,
)
from tests.evaluation.synth import H, W, clip, texture, warp


def test_psnr_known_values():
    a = texture(W, H)
    assert psnr(a, a) == PSNR_CAP
    b = a.astype(np.int16)
    b[::2] += 4  # half the rows off by 4: MSE 8
    b = b.clip(0, 255).astype(np.uint8)
    mse = float(np.mean((a.astype(float) - b) ** 2))
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / mse))
    with pytest.raises(ValueError, match="differ in size"):
        psnr(a, a[:-2])


def test_ssim_is_one_for_identical_and_drops_with_noise_and_blur():
    a = texture(W, H)
    noise = (a + np.random.default_rng(1).normal(0, 15, a.shape)).clip(0, 255).astype(np.uint8)
    shifted = warp(texture(), shift=(3, 0))
    assert ssim(a, a) == pytest.approx(1.0)
    assert 0.3 < ssim(a, noise) < 0.95
    assert ssim(a, shifted) < ssim(a, a)


def test_static_clip_flicker_one_not_dynamic_no_motion():
    frames = clip(12)
    assert temporal_flickering(frames) == 1.0
    assert motion_smoothness(frames) == pytest.approx(1.0, abs=1e-6)
    dyn = dynamic_degree(frames, fps=24)
    assert dyn.moving is False and dyn.pairs_over == 0
    cam = camera_motion(frames, fps=24)
    assert abs(cam.zoom_per_s) < 1e-3 and max(map(abs, cam.mean_flow)) < 0.02


def test_noisy_flicker_scores_lower():
    base = clip(12)
    rng = np.random.default_rng(2)
    noisy = [(f + rng.normal(0, 10, f.shape)).clip(0, 255).astype(np.uint8) for f in base]
    bright = [(f.astype(int) + (15 if i % 2 else 0)).clip(0, 255).astype(np.uint8) for i, f in enumerate(base)]
    smooth_motion = clip(12, step=(0.5, 0))
    scores = [temporal_flickering(x) for x in (base, smooth_motion, noisy, bright)]
    assert scores[0] == 1.0 > scores[1] > 0.98  # slow motion barely registers
    assert scores[2] < scores[1] and scores[3] < scores[1]
    assert scores[3] == pytest.approx((255 - 15) / 255, abs=0.005)  # every step changes by 15


@pytest.mark.parametrize("step", [(2.0, 0.0), (0.0, -3.0), (1.5, 1.0), (0.5, 0.0)])
def test_known_translation_gives_its_mean_flow(step):
    cam = camera_motion(clip(6, step=step), fps=24)
    assert cam.mean_flow == pytest.approx(step, abs=0.06)
    assert cam.translation == pytest.approx(step, abs=0.06)
    assert abs(cam.divergence) < 1e-3 and cam.total_zoom == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize("zoom", [0.004, -0.004])
def test_known_zoom_gives_divergence_of_its_sign(zoom):
    n = 8
    cam = camera_motion(clip(n, zoom=zoom), fps=24)
    assert math.copysign(1, cam.divergence) == math.copysign(1, zoom)
    assert cam.divergence == pytest.approx(2 * zoom, rel=0.1)
    assert cam.total_zoom == pytest.approx((1 + zoom) ** (n - 1), abs=0.004)
    assert cam.zoom_per_s == pytest.approx(zoom * 24, rel=0.1)
    assert max(map(abs, cam.translation)) < 0.05


def test_known_rotation():
    cam = camera_motion(clip(6, rot_deg=0.3), fps=24)
    assert cam.rotation_deg_per_s == pytest.approx(0.3 * 24, rel=0.1)
    assert abs(cam.divergence) < 1e-3


def test_jerky_motion_is_less_smooth_than_smooth_motion():
    smooth = clip(13, steps=[1.5])
    jerky = clip(13, steps=[0.0, 3.0])  # the same average speed, in bursts
    s_smooth, s_jerky = motion_smoothness(smooth), motion_smoothness(jerky)
    assert s_smooth > s_jerky
    assert s_smooth > 0.995 and s_jerky < 0.99
    cam_s, cam_j = camera_motion(smooth, 24), camera_motion(jerky, 24)
    assert cam_j.translation_jitter_px > 10 * cam_s.translation_jitter_px
    assert cam_j.translation_jitter_px == pytest.approx(1.5 * 2 / math.sqrt(1.5), rel=0.15)


def test_dynamic_degree_follows_vbench_threshold():
    fast = clip(13, step=(2.0, 0.0))  # sampled every 3rd frame at 24 fps: 6 px per pair
    slow = clip(13, step=(0.3, 0.0))  # 0.9 px per pair
    threshold = 6.0 * min(W, H) / 256
    d_fast, d_slow = dynamic_degree(fast, fps=24), dynamic_degree(slow, fps=24)
    assert d_fast.threshold_px == pytest.approx(threshold)
    assert d_fast.pairs == 4 and d_fast.pairs_needed == 1  # 5 sampled frames: round(4 * 5 / 16)
    assert d_fast.mean_top5_px == pytest.approx(6.0, abs=0.5) and d_fast.moving
    assert d_slow.mean_top5_px == pytest.approx(0.9, abs=0.3) and not d_slow.moving
    # at 8 fps every frame is sampled, so the same clip moves 2 px per pair: under 2.6 px
    assert not dynamic_degree(fast, fps=8).moving


def test_jitter_estimates_noise_level_and_ignores_smooth_trends():
    t = np.linspace(0, 1, 200)
    eased = 3 * t**2 - 2 * t**3
    noise = np.random.default_rng(3).normal(0, 0.01, t.size)
    assert jitter(eased) < 1e-4
    assert jitter(eased + noise) == pytest.approx(0.01, rel=0.15)
    assert jitter([1.0, 2.0]) == 0.0


def test_metrics_refuse_too_short_clips():
    one = clip(1)
    for fn in (temporal_flickering, motion_smoothness):
        with pytest.raises(ValueError, match="at least"):
            fn(one)
    with pytest.raises(ValueError, match="at least 2 sampled"):
        dynamic_degree(clip(3), fps=24)
