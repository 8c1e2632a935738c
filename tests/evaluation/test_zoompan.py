"""The zoompan baseline: what it makes, and the whole-pixel jitter the benchmark is about."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.evaluation.camera import camera_motion
from stillmotion.evaluation.zoompan import zoompan_frames, zoompan_video
from stillmotion.media.video import rgb_to_i420
from tests.evaluation.synth import H, W, clip, texture, warp


def test_zoompan_makes_the_frames_asked_for_starting_on_the_image():
    img = warp(texture())
    frames = list(zoompan_frames(img, 10, 1.05))
    assert len(frames) == 10 and all(f.shape == (H, W, 3) for f in frames)
    assert (frames[0] == img).all()


def test_zoompan_reaches_the_zoom_but_jitters_where_a_subpixel_zoom_does_not():
    n, zoom_end = 24, 1.06
    img = warp(texture())
    cam_zp = camera_motion(zoompan_frames(img, n, zoom_end), fps=24)
    assert cam_zp.total_zoom == pytest.approx(zoom_end, abs=0.01)
    rate = zoom_end ** (1 / (n - 1)) - 1
    cam_smooth = camera_motion(clip(n, zoom=rate), fps=24)
    assert cam_smooth.total_zoom == pytest.approx(zoom_end, abs=0.01)
    assert cam_zp.zoom_jitter > 3 * cam_smooth.zoom_jitter
    assert cam_zp.translation_jitter_px > 3 * cam_smooth.translation_jitter_px


def test_zoompan_refuses_no_frames():
    with pytest.raises(ValueError, match="num_frames"):
        list(zoompan_frames(warp(texture()), 0, 1.1))


def test_zoompan_in_yuv420p_starts_on_the_converted_image_and_zooms_alike():
    img = warp(texture())
    planes = [f.to_ndarray() for f in zoompan_video(img, 10, 1.05, pix_fmt="yuv420p")]
    assert len(planes) == 10 and all(p.shape == (H * 3 // 2, W) for p in planes)
    assert (planes[0] == rgb_to_i420(img)).all()
    rgb_last = rgb_to_i420(list(zoompan_frames(img, 10, 1.05))[-1])
    assert np.abs(planes[-1][:H].astype(int) - rgb_last[:H]).mean() < 2  # the same zoom, in Y
    assert np.abs(planes[-1][:H].astype(int) - planes[0][:H]).mean() > 2


def test_zoompan_refuses_an_unknown_pixel_format():
    with pytest.raises(ValueError, match="pix_fmt"):
        list(zoompan_video(warp(texture()), 3, 1.1, pix_fmt="nv12"))
