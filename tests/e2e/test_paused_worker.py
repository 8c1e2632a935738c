"""The issue's finding, on real processes sharing one data dir: a worker paused (SIGSTOP) past its
lease and resumed after another worker finished the job must neither change the job nor spoil the
winner's video (before fenced leases and per-attempt keys, both wrote `video.part.mp4` and the
served video decoded to 0 frames)."""

from __future__ import annotations

import io
import signal
import time

import av
import requests

from stillmotion.store import Database
from tests.helpers import Service, auth, data_uri, png_bytes, textured_image, wait_v1

LEASE = "3"
BODY = {"model": "vidu-q3-pro-i2v", "input": {"images": [data_uri(png_bytes(textured_image(640, 480)))],
                                             "prompt": "zoom in", "duration": 8, "resolution": "1080p"}}


def holder_pid(db: Database, job_id: str) -> int | None:
    job = db.jobs.get(job_id)
    if job is None or not job.lease_owner or job.progress < 5:
        return None
    return int(job.lease_owner.split("~")[0].rsplit("-", 2)[1])


def test_a_worker_paused_past_its_lease_cannot_spoil_the_winners_video(tmp_path):
    data = tmp_path / "data"
    env = {"STILLMOTION_LEASE_S": LEASE, "STILLMOTION_SHUTDOWN_GRACE_S": "0.5"}
    api = Service(data, "--workers", "0", **env)
    workers = {}
    db = Database(f"sqlite:///{data / 'stillmotion.db'}")
    try:
        first = Service(data, command="worker", **env)
        workers[first.proc.pid] = first
        job_id = requests.post(f"{api.base}/v1/jobs", json=BODY, headers=auth(), timeout=30).json()["id"]
        deadline = time.monotonic() + 60
        while holder_pid(db, job_id) != first.proc.pid:
            assert time.monotonic() < deadline, "the first worker never got going"
            time.sleep(0.1)
        first.proc.send_signal(signal.SIGSTOP)  # encoder open, mid-video
        second = Service(data, command="worker", **env)
        workers[second.proc.pid] = second
        done = wait_v1(api.base, job_id, timeout=180)
        assert done["status"] == "succeeded", done
        video = requests.get(done["output"]["video_url"], timeout=30).content
        first.proc.send_signal(signal.SIGCONT)  # the paused worker wakes up and goes on writing

        log = data.parent / f"worker-{first.port}.log"
        deadline = time.monotonic() + 90
        while "lease lost" not in log.read_text() and "lease was lost" not in log.read_text():
            assert time.monotonic() < deadline, "the resumed worker never learned it lost the job"
            time.sleep(0.3)
        after = db.jobs.get(job_id)
        assert after is not None and after.status.value == "succeeded" and after.attempts == 2
        again = requests.get(done["output"]["video_url"], timeout=30).content
        assert again == video  # not one byte of the winner's video changed
        with av.open(io.BytesIO(again)) as box:
            assert sum(1 for _ in box.decode(video=0)) == 192  # 8 s at 24 fps, all there
        kept = sorted(p.relative_to(data / "outputs" / job_id).as_posix()
                      for p in (data / "outputs" / job_id).rglob("*") if p.is_file())
        assert len(kept) == 2 and kept[0].startswith("a2-")  # the winner's cover and video only
    finally:
        for worker in workers.values():
            worker.proc.send_signal(signal.SIGCONT)
            worker.stop()
        api.stop()
        db.close()
