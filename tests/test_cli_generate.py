"""`stillmotion` as a user types it (a child process): generate from a path, a URL and a data URI
with the API's arguments, checked in the decoded MP4; errors naming the flag with no progress bar;
help texts listing choices and defaults; the per-user data dir said at the first start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stillmotion.media.video import probe, read_frames
from tests.helpers import ROOT, data_uri

CAT = ROOT / "examples" / "cat.jpg"


def stillmotion(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "stillmotion.cli", *args], capture_output=True, text=True,
                          env=full, cwd=cwd or ROOT, timeout=240)


def test_generate_from_a_path_with_the_pro_flags(tmp_path):
    flags = ["--prompt", "static shot", "--aspect-ratio", "1:1", "--style", "anime", "--resolution", "540p",
             "--duration", "1", "--seed", "7"]
    marked, plain = tmp_path / "marked.mp4", tmp_path / "plain.mp4"
    r = stillmotion("generate", str(CAT), *flags, "--watermark", "--wm-position", "top-left", "-o", str(marked))
    assert r.returncode == 0, r.stderr
    assert "model vidu-q3-pro-i2v: 540x540" in r.stderr  # the model that takes every flag given
    assert stillmotion("generate", str(CAT), *flags, "-o", str(plain)).returncode == 0
    info = probe(marked)
    assert (info.width, info.height, info.frames) == (540, 540, 24)
    a, b = (next(iter(read_frames(p))).astype(int) for p in (marked, plain))
    changed = np.abs(a - b).max(axis=2) > 40  # the mark: only in the top-left corner
    ys, xs = np.nonzero(changed)
    assert xs.size > 100 and xs.max() < 270 and ys.max() < 135, (xs.max(), ys.max())
    assert (tmp_path / "marked.jpg").is_file()


def test_generate_from_a_url_with_the_turbo_audio_flags(tmp_path, files):
    url = files.add_bytes("/cat.jpg", CAT.read_bytes(), "image/jpeg")  # loopback: the CLI fetches as the user
    out = tmp_path / "turbo.mp4"
    r = stillmotion("generate", url, "--prompt", "A man says hello.", "--audio", "true", "--audio-type", "speech_only",
                    "--is-rec", "--duration", "1", "--resolution", "540p", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "model vidu-q3-turbo-i2v" in r.stderr and "audio yes" in r.stdout
    info = probe(out)
    assert info.frames == 24 and info.has_audio


def test_generate_from_a_data_uri_with_an_end_frame(tmp_path):
    uri = data_uri(CAT.read_bytes(), "image/jpeg")
    out = tmp_path / "se.mp4"
    r = stillmotion("generate", uri, "--tail", str(CAT), "--prompt", "morph", "--mode", "turbo", "--duration", "1",
                    "--resolution", "540p", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "vidu/vidu-q2/start-end-to-video" in r.stderr and probe(out).frames == 24


def test_errors_name_the_flag_and_show_no_progress_bar(tmp_path):
    r = stillmotion("generate", str(CAT), "--prompt", "zoom in", "--duration", "40", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --duration: must be an integer between 1 and 16, got 40"
    r = stillmotion("generate", "http:/127.0.0.1/cat.png", "--prompt", "zoom in", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and r.stderr.startswith("error: IMAGE: ") and "rendering" not in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_generate_says_what_the_model_ignored(tmp_path):
    r = stillmotion("generate", str(CAT), "--model", "vidu/vidu-q3/image-to-video", "--style", "anime",
                    "--prompt", "pan left", "--duration", "1", "--resolution", "540p", "-o", str(tmp_path / "q3.mp4"))
    assert r.returncode == 0, r.stderr
    assert "ignored: --style (vidu/vidu-q3/image-to-video does not take it)" in r.stderr


@pytest.mark.parametrize("command, expected", [
    (["generate"], ["16:9", "9:16", "anime", "speech_only", "top-left", "1080p", "pro-fast", "1-16", "1-8",
                    "default 720p", "vidu-q3-pro-i2v"]),
    (["serve"], ["default 127.0.0.1", "default 8000", "default 1", "default motion", "STILLMOTION_DATA_DIR",
                 ".local/share/stillmotion"]),
    (["worker"], ["default 1", "STILLMOTION_DATABASE_URL"]),
    (["keys", "create"], ["--balance", "--rpm", "default 6000", "--max-running", "default 5"]),
    (["keys", "set"], ["KEY_ID", "--unlimited"]),
])
def test_help_lists_choices_and_defaults(command, expected):
    r = stillmotion(*command, "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for word in expected:
        assert word in text, f"{' '.join(command)} --help lacks {word!r}"
    if command[0] == "keys":
        assert "{create,list,set,revoke}" not in text  # its own help, not its parent's


def test_data_dir_defaults_to_the_xdg_dir_and_the_first_start_says_so(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "STILLMOTION_DATA_DIR": ""}
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    first = stillmotion("keys", "create", "me", env=env, cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    where = tmp_path / "xdg" / "stillmotion"
    assert f"first start; keeping data (database, keys, results) in {where}" in first.stdout
    assert (where / "stillmotion.db").is_file() and not (elsewhere / "data").exists()
    listed = stillmotion("keys", "list", env=env)  # from another directory: the same database
    assert listed.returncode == 0 and "\tme\t" in listed.stdout and "first start" not in listed.stdout
    empty = stillmotion("models", "list", env=env)
    assert empty.returncode == 0 and "no models registered" in empty.stdout


def test_generate_echoes_the_subject_motion_it_cannot_make(tmp_path):
    r = stillmotion("generate", str(CAT), "--prompt", "the cat turns its head while the camera pans left",
                    "--duration", "1", "--resolution", "540p", "--mode", "turbo", "-o", str(tmp_path / "c.mp4"))
    assert r.returncode == 0, r.stderr
    assert "not moved (the motion engine moves the camera, not the subject): " in r.stderr
    assert "turns its head" in r.stderr.split("not moved", 1)[1]
