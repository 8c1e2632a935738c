"""Capability-aware claims through real workers: two GPU workers advertising different weights
share one queue (memory, SQLite and PostgreSQL); each renders only the jobs routed to weights it
holds, a job routed to weights nobody holds stays queued, and nothing is failed for it."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from stillmotion.catalog import get_model
from stillmotion.domain import StoredImage
from stillmotion.jobs import Database, JobStatus, NewJob
from stillmotion.settings import Settings
from stillmotion.storage import LocalArtifactStore
from stillmotion.worker import Worker

from .support import FakeEngine, must, png

MODEL = "vidu/vidu-q3/image-to-video"


@dataclass(frozen=True)
class Holds:
    """A host's advertised capability (the shape engines/diffusers/capability.py gives)."""

    weights: frozenset[str]
    warm: str | None = None


def test_two_gpu_workers_each_take_the_jobs_for_their_weights(db: Database, tmp_path: Path) -> None:
    artifacts = LocalArtifactStore(tmp_path, b"secret", "http://t", 3600)
    data = png()
    key = artifacts.put_input(data, hashlib.sha256(data).hexdigest(), "png")
    entry = get_model(MODEL)
    req = entry.prepare({"mode": "pro", "prompt": "a cat", "duration": 1, "resolution": "540p",
                         "image": "https://example.com/cat.png"})
    spec = {**entry.spec_for(req, {"image": StoredImage(key, 160, 160)}, 7).to_dict(),
            "width": 64, "height": 64, "num_frames": 4}

    def routed(path: str) -> str:
        new = NewJob(id=f"job-{Path(path).name}", owner="o", model=MODEL, dialect="job", engine="diffusers",
                     amount=req.price, args={}, spec=spec, seed=7,
                     route={"engine": "diffusers", "path": path, "kind": "wan2.1-i2v"})
        return db.jobs.create(new).id

    wan, ltx, nobody = routed("/w/wan"), routed("/w/ltx"), routed("/w/nobody")
    settings = Settings(data_dir=tmp_path, engines="diffusers", max_running_per_key=0)
    seen: dict[str, list[str]] = {}

    def worker(wid: str, holds: Holds) -> Worker:
        engine = FakeEngine()
        engine.name = "diffusers"
        return Worker(settings, db, artifacts, engines=("diffusers",), wid=wid,
                      engine_factory=lambda name: engine, capability=lambda: holds)

    workers = [worker("gpu-wan", Holds(frozenset({"/w/wan"}))), worker("gpu-ltx", Holds(frozenset({"/w/ltx"})))]
    for w in workers:
        while (job := w.claim()) is not None:
            seen.setdefault(w.id, []).append(job.id)
            w.process(job, threading.Event())
    assert seen == {"gpu-wan": [wan], "gpu-ltx": [ltx]}
    assert must(db.jobs.get(wan)).status is JobStatus.SUCCEEDED and must(db.jobs.get(ltx)).status is JobStatus.SUCCEEDED
    waiting = must(db.jobs.get(nobody))
    assert waiting.status is JobStatus.QUEUED and waiting.attempts == 0 and not waiting.refunded
