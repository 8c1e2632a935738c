"""The README's quick start, extracted from README.md and run as written by bash against a real
`stillmotion serve` started the README's way: no --data-dir (a fresh per-user data dir), no keys
configured, so the key is the one the first start prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import requests

from stillmotion.media.video import probe
from tests.helpers import ROOT, free_port

FIRST_KEY = re.compile(r"Created the first API key \(shown once, keep it\): (\S+)")


def quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- quickstart -->", 1)[1].split("<!-- /quickstart -->", 1)[0]
    return block.split("```bash\n", 1)[1].split("```", 1)[0]


def test_readme_quick_start_runs_as_written(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(ROOT), STILLMOTION_LOG_LEVEL="warning")
    out = open(tmp_path / "serve.out", "w")
    proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "serve", "--port", str(port)], env=env,
                            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in (tmp_path / "serve.out").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.out").read_text()
            time.sleep(0.1)
        while True:  # the line is printed just before the socket opens
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        printed = (tmp_path / "serve.out").read_text()
        assert f"keeping data (database, keys, results) in {tmp_path / 'xdg' / 'stillmotion'}" in printed
        key = FIRST_KEY.search(printed).group(1)

        script = quickstart()
        assert "KEY=the-key-serve-printed" in script and "127.0.0.1:8000" in script
        script = script.replace("KEY=the-key-serve-printed", f"KEY={key}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        work = tmp_path / "checkout"  # the repository's folder, as the README assumes, minus the rest
        (work / "examples").mkdir(parents=True)
        shutil.copy(ROOT / "examples" / "cat.jpg", work / "examples" / "cat.jpg")
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                             text=True, timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        clip = probe(work / "cat.mp4")
        assert (clip.width, clip.height, clip.frames) == (812, 540, 72)

        # The placeholder callback URL of the hosted samples gets a plain answer.
        placeholder = requests.post(f"http://127.0.0.1:{port}/api/v1/job/create", timeout=10,
                                    headers={"Authorization": f"Bearer {key}"},
                                    json={"model": "vidu/vidu-q3/image-to-video", "callback_url": "CALLBACK_URL",
                                          "args": {"prompt": "zoom", "image": "https://example.com/cat.png"}})
        assert placeholder.status_code == 400
        assert placeholder.json()["message"] == "callback_url: 'CALLBACK_URL' is not an http(s) URL"
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()
