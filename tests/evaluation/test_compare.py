"""The engine-vs-zoompan benchmark runs end to end (tiny size: figures come from the real run)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from stillmotion.evaluation.camera import camera_motion
from benchmarks.compare import ARRANGEMENTS, main, zoompan_clip
from stillmotion.evaluation.scenes import SCENES
from stillmotion.media.video import probe, read_frames


@pytest.mark.parametrize("name", list(SCENES))
def test_scenes_are_deterministic_and_textured(name):
    make = SCENES[name]
    a, b = make(320, 180, 0), make(320, 180, 0)
    assert a.shape == (180, 320, 3) and a.dtype == np.uint8 and (a == b).all()
    assert not (make(320, 180, 5) == a).all()
    grad = np.abs(np.diff(a.astype(int), axis=1)).mean()
    assert 1.0 < grad < 40  # detail everywhere, but not noise


def test_zoompan_clip_is_encoded_like_the_engine(tmp_path):
    from PIL import Image

    img = tmp_path / "s.png"
    Image.fromarray(SCENES["city"](400, 240, 0)).save(img)
    for arrangement in ARRANGEMENTS:
        seconds = zoompan_clip(img, tmp_path / f"{arrangement}.mp4", "pro", 192, 108, 12, 1.1, arrangement=arrangement)
        info = probe(tmp_path / f"{arrangement}.mp4")
        assert seconds > 0 and (info.width, info.height, info.frames) == (192, 108, 12)
        assert info.profile == "High" and info.pix_fmt == "yuv420p"
    first, last = (f for i, f in enumerate(read_frames(tmp_path / "prefetch.mp4")) if i in (0, 11))
    assert np.abs(first.astype(int) - last).mean() > 2  # it zoomed
    # rgb24 converted on either thread: the same file
    assert [f.tobytes() for f in read_frames(tmp_path / "encoder.mp4")] == [f.tobytes() for f in read_frames(tmp_path / "prefetch.mp4")]
    # in yuv420p the same zoom (its whole-pixel steps fall on other frames, so frames differ)
    for arrangement in ("prefetch", "yuv420p"):
        assert camera_motion(read_frames(tmp_path / f"{arrangement}.mp4"), fps=24).total_zoom == pytest.approx(1.1, abs=0.02)
    with pytest.raises(ValueError, match="arrangement"):
        zoompan_clip(img, tmp_path / "x.mp4", "pro", 192, 108, 12, 1.1, arrangement="gpu")


def test_benchmark_prints_times_metrics_and_verdict(capsys):
    assert main(["--size", "192x108", "--seconds", "1", "--scenes", "1", "--modes", "turbo", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"turbo +engine +[\d.]+ s .*x real time\) +zoompan rgb24 +[\d.]+ s, yuv420p +[\d.]+ s", out)
    assert re.search(r"engine/turbo +psnr0 +[\d.]+ +ssim0", out) and re.search(r"zoompan +psnr0", out)
    assert re.search(r"verdict \(turbo\): faster=(True|False) smoother=(True|False)", out)


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "big"], "--size"),
    (["--modes", "fast"], "--modes"),
    (["--repeat", "0"], "--repeat"),
])
def test_benchmark_refuses_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
