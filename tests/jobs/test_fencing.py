"""Fenced leases at the worker: a run paused past its lease (SIGSTOP, a cut link) and resumed
after another worker finished the job must not touch the winner's job row or files.

The issue's finding: both attempts wrote the same `outputs/<job>/video.part.mp4`; the winner
renamed it into place while the paused worker, resumed, kept writing the same inode, and the
served video decoded to 0 frames. Now each claim writes under its own key and only the claim
that still holds the lease promotes its files into the job's result."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from stillmotion.catalog import get_model
from stillmotion.domain import GenerationSpec, StoredImage
from stillmotion.engines.base import RenderContext
from stillmotion.housekeeping import Housekeeper
from stillmotion.jobs import Job, JobStatus, NewJob
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.settings import Settings
from stillmotion.storage import LocalArtifactStore
from stillmotion.worker import Worker, policy_from

from .support import FakeClock, FakeEngine, must, png

MODEL = "vidu/vidu-q3/image-to-video"
FRAMES = 12


class PausedEngine(FakeEngine):
    """Yields its first frames, then stops dead until `resume` is set, as a SIGSTOPped process
    would; its heartbeat is stopped too (the worker gets no heartbeat settings that fire)."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = threading.Event()
        self.resume = threading.Event()

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        for i in range(spec.num_frames):
            if i == 3:
                self.paused.set()
                self.resume.wait(30)
            yield np.full((spec.height, spec.width, 3), (i * 20) % 256, np.uint8)


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as box:
        return sum(1 for _ in box.decode(video=0))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_resumed_zombie_neither_writes_the_job_nor_spoils_the_winners_video(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = MemoryDatabase(clock=clock)
    artifacts = LocalArtifactStore(tmp_path, b"secret", "http://t", 3600)
    data = png()
    key = artifacts.put_input(data, hashlib.sha256(data).hexdigest(), "png")
    entry = get_model(MODEL)
    req = entry.prepare({"mode": "turbo", "prompt": "a cat", "duration": 1, "resolution": "540p",
                         "image": "https://example.com/cat.png"})
    spec = {**entry.spec_for(req, {"image": StoredImage(key, 160, 160)}, 7).to_dict(),
            "width": 64, "height": 64, "num_frames": FRAMES}
    made = db.jobs.create(NewJob(id="job-zombie", owner="o", model=MODEL, dialect="job", engine="motion",
                                 amount=req.price, args=dict(req.args), spec=spec, seed=7))
    frozen = Settings(data_dir=tmp_path, lease_s=30, heartbeat_s=3600, cancel_poll_s=3600, max_attempts=3)
    alive = Settings(data_dir=tmp_path, lease_s=30, heartbeat_s=0.05, cancel_poll_s=0.02, max_attempts=3)
    paused = PausedEngine()
    zombie = Worker(frozen, db, artifacts, engine_factory=lambda name: paused, wid="zombie")
    job = must(zombie.claim())
    thread = threading.Thread(target=zombie.process, args=(job, threading.Event()))
    thread.start()
    assert paused.paused.wait(10)  # mid-video, its encoder open

    clock.advance(31)  # past the lease: the reaper gives the job to another worker
    Housekeeper(alive, db, artifacts, policy_from(alive)).reap()
    assert db.jobs.status(made.id) is JobStatus.QUEUED
    winner = Worker(alive, db, artifacts, engine_factory=lambda name: FakeEngine(), wid="winner")
    winner.process(must(winner.claim()), threading.Event())
    done = must(db.jobs.get(made.id))
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
    video = artifacts.path(must(done.result)["video"])
    before = video.read_bytes()

    paused.resume.set()  # the zombie wakes up and finishes its render
    thread.join(20)
    assert not thread.is_alive()
    after: Job = must(db.jobs.get(made.id))
    assert after.status is JobStatus.SUCCEEDED and after.result == done.result and after.attempts == 2
    assert artifacts.path(must(after.result)["video"]).read_bytes() == before
    assert decoded_frames(artifacts.path(must(after.result)["video"])) == FRAMES
    leftovers = sorted(p.name for p in artifacts.path(f"outputs/{made.id}").rglob("*.mp4"))
    assert leftovers == ["video.mp4"]  # the zombie's own files were removed, the winner's kept
