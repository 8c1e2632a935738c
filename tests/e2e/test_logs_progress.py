"""What an operator reads and a client sees while a job runs: one JSON log line per request and per
job transition (no other format mixed in), refusals with their reason; progress that moves at least
every second or 5 % in every dialect, with an ETA while running."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import requests

from tests.helpers import KEY, ROOT, auth, data_uri, free_port, png_bytes, service_env, textured_image, wait_v1

IMAGE = data_uri(png_bytes(textured_image(320, 240)))


def start(tmp_path, **env: str) -> tuple[subprocess.Popen, str, object]:
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    err = open(tmp_path / "stderr.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stillmotion.cli", "serve", "--data-dir", str(data), "--port", str(port)],
        env=service_env(data, STILLMOTION_LOG_LEVEL="info", **env), stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/livez", timeout=1).ok:
                return proc, base, err
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen, err: object) -> None:
    proc.terminate()
    proc.wait(30)
    err.close()  # type: ignore[attr-defined]


def test_json_logs_have_an_access_line_per_request_and_a_line_per_transition(tmp_path):
    proc, base, err = start(tmp_path, STILLMOTION_LOG_FORMAT="json")
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "turbo", "prompt": "zoom in", "image": IMAGE, "duration": 1, "resolution": "540p"}}
        job_id = requests.post(f"{base}/api/v1/job/create", json=body, headers=auth(), timeout=30).json()["job_id"]
        bad = requests.post(f"{base}/api/v1/job/create", headers=auth(), timeout=30,
                            json={**body, "args": {**body["args"], "duration": 99}})
        assert bad.status_code == 400
        assert wait_v1(base, job_id)["status"] == "succeeded"
    finally:
        stop(proc, err)
    lines = [json.loads(line) for line in (tmp_path / "stderr.log").read_text().splitlines() if line.strip()]
    access = [r for r in lines if r["logger"] == "stillmotion.access"]
    create = next(r for r in access if r["path"] == "/api/v1/job/create" and r["status"] == 200)
    assert create["method"] == "POST" and create["key"] == "env" and create["job_id"] == job_id and create["ms"] > 0
    assert any(r["path"] == f"/v1/jobs/{job_id}" and r.get("job_id") == job_id for r in access)
    refused = [r for r in lines if r["msg"].startswith("refused 400 FieldInvalid: duration")]
    assert refused and refused[0]["reason"] == "FieldInvalid"
    assert any(r["path"] == "/api/v1/job/create" and r["status"] == 400 for r in access)
    transitions = [r["msg"] for r in lines if r.get("job_id") == job_id and r["logger"] != "stillmotion.access"]
    assert any(m.startswith(f"job {job_id} queued") for m in transitions)
    assert any(m.startswith(f"job {job_id} started") and "in the queue" in m for m in transitions)
    assert any(m.startswith(f"job {job_id} succeeded") and " s (render " in m for m in transitions)


def test_progress_moves_every_second_with_an_eta_in_every_dialect(tmp_path):
    proc, base, err = start(tmp_path, STILLMOTION_HEARTBEAT_S="5")
    try:
        body = {"model": "vidu/vidu-q3/image-to-video",
                "input": {"mode": "pro", "prompt": "slow zoom in", "image": IMAGE, "duration": 16,
                          "resolution": "1080p"}}
        job_id = requests.post(f"{base}/v1/jobs", json=body, headers=auth(KEY), timeout=30).json()["id"]
        seen: dict[str, list[tuple[int, object]]] = {"v1": [], "job": [], "async": []}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            v1 = requests.get(f"{base}/v1/jobs/{job_id}", headers=auth(), timeout=10).json()
            job = requests.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=10).json()
            task = requests.get(f"{base}/v3/async/task-result", params={"task_id": job_id}, headers=auth(),
                                timeout=10).json()["task"]
            if v1["status"] == "processing":
                seen["v1"].append((v1["progress"], v1["eta"]))
                seen["job"].append((job["data"]["progress"], job["data"]["eta"]))
                seen["async"].append((task["progress_percent"], task["eta"]))
            if v1["status"] in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.15)
        assert v1["status"] == "succeeded"
    finally:
        stop(proc, err)
    for dialect, values in seen.items():
        moving = sorted({p for p, _ in values if 0 < p < 100})
        assert len(moving) >= 3, (dialect, values)  # the heartbeat alone (every 5 s) would show one at most
        assert any(eta for p, eta in values if p > 0), (dialect, values)  # an ETA once the rate is measured
