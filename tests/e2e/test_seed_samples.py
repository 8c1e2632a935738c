"""The seed pages' own samples (curl with bash, Python requests, JavaScript fetch) run against a real
server, unchanged except the base URL, the key, the image URLs and the callback URL.

`seed_samples/` holds each sample with its line breaks back (the seed text has them flattened);
`test_samples_are_the_seeds_own` proves the copies say exactly what the seeds say.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import KEY, wait_job

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
SAMPLES = Path(__file__).parent / "seed_samples"
LANGS = {"bash": "sh", "python": "py", "javascript": "mjs"}
HOSTED = "https://api.shortapi.ai"
ASSETS = "https://file.shortapi.ai"
PHOTO = Path(__file__).resolve().parents[1] / "engines" / "photos" / "astronaut.jpg"


def seed_blocks(prefix: str) -> dict[str, str]:
    """The code blocks of a seed page, by language, whitespace as the page has it."""
    text = next(SEEDS.glob(f"{prefix}_*.txt")).read_text()
    return {lang: code for lang, code in re.findall(r"```(bash|javascript|python) (.*?)```", text, re.S)}


def squash(text: str) -> str:
    return " ".join(text.split())


def image_bytes(path: str) -> tuple[bytes, str]:
    """A real photo in the format the sample's URL names (the Q3 seed links a WebP)."""
    fmt, mime = ("WEBP", "image/webp") if path.endswith(".webp") else ("PNG", "image/png")
    buf = io.BytesIO()
    Image.open(PHOTO).convert("RGB").resize((640, 360)).save(buf, format=fmt)
    return buf.getvalue(), mime


pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"no seed pages at {SEEDS}")
CASES = [(seed, lang) for seed in ("000", "001", "002") for lang in LANGS]


@pytest.mark.parametrize("seed", ["000", "001", "002"])
def test_samples_are_the_seeds_own(seed):
    blocks = seed_blocks(seed)
    assert set(blocks) == set(LANGS)
    for lang, ext in LANGS.items():
        assert squash((SAMPLES / f"{seed}.{ext}").read_text()) == squash(blocks[lang])


def run_sample(seed: str, lang: str, base: str, files, tmp_path: Path) -> str:
    """Run one sample with the four substitutions a user makes; return what it printed."""
    code = (SAMPLES / f"{seed}.{LANGS[lang]}").read_text()
    for path in sorted(set(re.findall(re.escape(ASSETS) + r'(/[^"]+)', code))):
        files.add_bytes(path, *image_bytes(path))
    code = (code.replace(HOSTED, base).replace(ASSETS, files.url(""))
            .replace("CALLBACK_URL", files.url(f"/cb/{seed}/{lang}")))
    env = {"PATH": "/usr/bin:/bin", "SHORTAPI_KEY": KEY}
    if lang == "bash":
        cmd = ["bash", "-c", code]
    elif lang == "python":
        # The page's Python and JavaScript read the key from a variable the reader defines.
        script = tmp_path / f"{seed}.py"
        script.write_text('import os\nSHORTAPI_KEY = os.environ["SHORTAPI_KEY"]\n' + code)
        cmd = [sys.executable, str(script)]
    else:
        script = tmp_path / f"{seed}.mjs"
        script.write_text("const SHORTAPI_KEY = process.env.SHORTAPI_KEY;\n" + code)
        cmd = ["node", str(script)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def printed_job(lang: str, out: str) -> dict:
    """The query response the sample printed (Python prints a dict, node an object literal)."""
    if lang == "bash":
        return json.loads(out)
    if lang == "python":
        match = re.search(r"'job_id': '([0-9a-f-]{36})'", out)
    else:
        match = re.search(r"job_id: '([0-9a-f-]{36})'", out)
    assert match, out
    assert ("'code': 0" if lang == "python" else "code: 0") in out, out
    return {"code": 0, "data": {"job_id": match.group(1)}}


def test_seed_samples_run_unchanged(service, files, tmp_path):
    ran: dict[tuple[str, str], str] = {}
    for seed, lang in CASES:
        if lang == "javascript" and shutil.which("node") is None:
            print(f"skipping the JavaScript sample of seed {seed}: node is not installed")
            continue
        body = printed_job(lang, run_sample(seed, lang, service.base, files, tmp_path))
        assert body["code"] == 0, body
        ran[(seed, lang)] = body["data"]["job_id"]
    assert len(set(ran.values())) == len(ran)  # each sample made its one job; none lost its id
    for (seed, lang), job_id in ran.items():
        data = wait_job(service.base, job_id, timeout=240)
        assert data["status"] == 2, (seed, lang, data)
        assert data["result"]["images"][0]["url"] == data["result"]["videos"][0]["url"]
    posts = files.wait_posts(len(ran), timeout=60)
    called = {path for path, _ in posts}
    assert called >= {f"/cb/{seed}/{lang}" for seed, lang in ran}
