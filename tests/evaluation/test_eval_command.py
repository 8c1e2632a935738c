"""`stillmotion eval` on a clip rendered by the engine: once as a real process, then in-process
through the same CLI entry point (starting Python per case costs seconds on a loaded machine)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from stillmotion.cli import main
from stillmotion.domain import GenerationSpec
from stillmotion.engines import get_engine
from stillmotion.evaluation import evaluate_video
from stillmotion.render import render_clip
from tests.evaluation.synth import texture
from tests.helpers import ROOT


def stillmotion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stillmotion.cli", "eval", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    image, tail = d / "in.png", d / "tail.png"
    Image.fromarray(texture(320, 200, seed=1)).save(image)
    Image.fromarray(texture(320, 200, seed=2)).save(tail)
    spec = GenerationSpec(model="vidu/vidu-q3/image-to-video", mode="pro", prompt="The camera zooms in slowly.",
                          image=str(image), width=256, height=160, num_frames=24, duration=1, seed=7,
                          resolution="160p")
    render_clip(get_engine("motion"), spec, d / "v.mp4", d / "v.jpg")
    return d / "v.mp4", image, tail


def test_eval_json_reports_every_metric(rendered):
    video, image, tail = rendered
    res = stillmotion(str(video), "--image", str(image), "--tail", str(tail), "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert (r["width"], r["height"], r["frames"], r["fps"]) == (256, 160, 24, 24.0)
    assert r["first_psnr"] > 30 and r["first_ssim"] > 0.9  # frame 0 is the input, through x264
    assert r["last_psnr"] < 20  # a zoom clip's last frame is not the unrelated tail image
    assert r["flicker"] > 0.98 and r["smoothness"] > 0.98
    assert r["camera"]["divergence"] > 0 and r["camera"]["total_zoom"] > 1.005  # "zooms in"
    assert set(r["dynamic"]) >= {"moving", "pairs_over", "pairs_needed", "threshold_px", "mean_top5_px"}
    assert r["artifacts"]["score"] < 0.01 and r["artifacts"]["sampled"] >= 5  # a clean zoom: nothing a viewer rejects
    assert set(r["artifacts"]) >= {"worst_frame", "residual", "wobble", "unsourced", "ambient"}


def test_eval_text_output_and_api_agree(rendered, capsys):
    video, image, _ = rendered
    assert main(["eval", str(video), "--image", str(image)]) == 0
    out = capsys.readouterr().out
    report = evaluate_video(video, image=image)
    assert f"PSNR {report.first_psnr:.2f} dB" in out
    assert f"flicker      {report.flicker:.4f}" in out
    assert f"artifacts    {report.artifacts.score:.4f}" in out
    assert "last frame" not in out  # no --tail given
    for word in ("smoothness", "dynamic", "camera", "jitter"):
        assert word in out


@pytest.mark.parametrize(("args", "message"), [
    (["{tmp}/nope.mp4", "--image", "{image}"], "video: no such file"),
    (["{video}", "--tail", "{tmp}/nope.png"], "tail: no such file"),
    (["{video}", "--max-side", "4"], "--max-side: must be at least 16"),
    (["{tmp}/junk.mp4"], "error: "),
])
def test_eval_errors_name_the_argument(rendered, tmp_path, capsys, args, message):
    video, image, _ = rendered
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    argv = [a.format(tmp=tmp_path, image=image, video=video) for a in args]
    assert main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
