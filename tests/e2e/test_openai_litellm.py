"""LiteLLM's `video_generation` pointed at stillmotion as an OpenAI-compatible video server, to
completion: the gateway path (LiteLLM routes `/v1/videos` to self-hosted servers) works unchanged."""

from __future__ import annotations

import io
import time

import pytest
import requests

from stillmotion.media.video import probe
from tests.helpers import KEY, auth, png_bytes, textured_image

litellm = pytest.importorskip("litellm")
from litellm.types.videos.utils import extract_original_video_id  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_litellm_video_generation_runs_to_completion(service, tmp_path, monkeypatch):
    # litellm 1.80.0 does not hand `api_key=` on to its videos handler; its module key is read instead.
    monkeypatch.setattr(litellm, "api_key", KEY)
    where = {"api_base": service.base + "/v1", "custom_llm_provider": "openai"}
    png = png_bytes(textured_image(320, 180))
    made = litellm.video_generation(prompt="pan left", model="sora-2", input_reference=io.BytesIO(png), seconds="1",
                                    size="960x540", extra_body={"audio": False}, **where)
    assert made.status in ("queued", "in_progress") and made.model == "sora-2" and made.size == "960x540"
    video_id = extract_original_video_id(made.id)  # LiteLLM wraps our id with its routing
    deadline = time.monotonic() + 60
    while (seen := litellm.video_status(video_id=made.id, **where)).status not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert seen.status == "completed" and seen.progress == 100 and seen.seconds == "1"
    # litellm.video_content drops its `api_base` argument in this release (it would call api.openai.com),
    # so the bytes come straight from the server.
    job = requests.get(f"{service.base}/v1/jobs/{video_id}", headers=auth(), timeout=10).json()
    assert job["dialect"] == "openai" and job["status"] == "succeeded"
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(requests.get(f"{service.base}/v1/videos/{video_id}/content", headers=auth(), timeout=30).content)
    info = probe(mp4)
    assert (info.width, info.height, info.frames) == (960, 540, 24)
