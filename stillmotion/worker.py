"""Workers: claim a job, render it, store the result, queue its callback.

A run holds a lease that a heartbeat thread extends (carrying progress and ETA). If the
lease is lost (reaped after a stall, or taken back) the run stops without writing; a crash
leaves the lease to expire and the reaper puts the job back, so nothing is lost. On a stop
request the running job gets `shutdown_grace_s` to finish, then is released to the queue.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import replace
from itertools import count
from typing import Any

from stillmotion import observability
from stillmotion.domain import GenerationSpec, Job, JobStatus
from stillmotion.engines import Engine, get_engine
from stillmotion.errors import Canceled, StillmotionError
from stillmotion.offpeak import off_peak_open
from stillmotion.render import render_clip
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.store import Store, final_deliveries

log = logging.getLogger("stillmotion.worker")
_ids = count(1)


def worker_id(prefix: str = "w") -> str:
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}-{next(_ids)}"


class Run:
    """State of one job's run, shared by the render loop and its heartbeat thread."""

    def __init__(self, job: Job, stop: threading.Event, grace_s: float) -> None:
        self.job = job
        self.stop = stop
        self.grace_s = grace_s
        self.started = time.monotonic()
        self.done_frames = 0
        self.total_frames = max(1, int(job.spec.get("num_frames", 1)))
        self.fraction = 0.0  # engine-reported share of the work (diffusion steps), 0..1
        self.lost = False
        self.canceled = False  # the user canceled the job: stop and discard, do not requeue
        self.finished = threading.Event()
        self._stop_seen: float | None = None

    @property
    def done(self) -> float:
        """Share of the run done: frames written, or the engine's own report when it is ahead."""
        return max(self.done_frames / self.total_frames, self.fraction)

    @property
    def progress(self) -> int:
        return min(99, int(100 * self.done))

    @property
    def eta(self) -> int | None:
        done = self.done
        if done <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return max(1, round(elapsed / done * (1 - done)))

    @property
    def released(self) -> bool:
        """True once a stop request has waited out the grace period: give the job back."""
        if not self.stop.is_set():
            return False
        if self._stop_seen is None:
            self._stop_seen = time.monotonic()
        return time.monotonic() - self._stop_seen >= self.grace_s

    def should_stop(self) -> bool:
        return self.lost or self.canceled or self.released


class Worker:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: ArtifactStore,
        *,
        engines: tuple[str, ...] = ("motion",),
        wid: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.engine_names = engines
        self.id = wid or worker_id()
        self._engines: dict[str, Engine] = {}
        self._last_reap = 0.0
        self.current: Job | None = None  # the job being rendered, for a shutdown that cannot wait

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = get_engine(name, self.settings)
        return self._engines[name]

    def run(self, stop: threading.Event) -> None:
        """Claim and process jobs until `stop` is set."""
        log.info("worker %s started", self.id)
        while not stop.is_set():
            try:
                self.maybe_reap()
                job = self.store.claim(
                    self.id, self.settings.lease_s, self.engine_names,
                    off_peak=off_peak_open(self.settings.off_peak_window),
                    default_cap=self.settings.max_running_per_key,
                )
            except Exception:  # a database hiccup must not kill the worker
                log.exception("claim failed")
                stop.wait(1.0)
                continue
            if job is None:
                stop.wait(self.settings.poll_interval_s)
                continue
            self.process(job, stop)
        log.info("worker %s stopped", self.id)

    def maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap >= self.settings.reap_interval_s:
            self._last_reap = now
            result = self.store.reap(self.settings.max_attempts, deliveries=final_deliveries)
            if result.requeued or result.failed:
                log.warning("reaped: requeued %s failed %s", result.requeued, result.failed)

    def process(self, job: Job, stop: threading.Event) -> None:
        self.current = job
        try:
            self._process(job, stop)
        finally:
            self.current = None

    def _process(self, job: Job, stop: threading.Event) -> None:
        run = Run(job, stop, self.settings.shutdown_grace_s)
        beat = threading.Thread(target=self._heartbeat, args=(run,), daemon=True)
        beat.start()
        deliveries = final_deliveries(job)
        token = observability.JOB_ID.set(job.id)
        state = "failed"
        log.info("job %s attempt %d started", job.id, job.attempts)
        try:
            result, metadata = self.render(job, run)
            run.finished.set()
            state = "succeeded"
            if not self.store.finish(job.id, self.id, result, metadata, deliveries):
                log.warning("job %s finished but its lease was lost; result dropped", job.id)
                if self.store.job_status(job.id) == JobStatus.CANCELED:  # canceled at the last frame
                    shutil.rmtree(self.artifacts.path(f"outputs/{job.id}"), ignore_errors=True)
        except Canceled:
            run.finished.set()
            state = "canceled" if run.canceled else "released"
            if run.canceled:  # canceled and refunded by the user's request: leave no files
                shutil.rmtree(self.artifacts.path(f"outputs/{job.id}"), ignore_errors=True)
                log.info("job %s canceled while running; stopped", job.id)
            elif not run.lost:
                self.store.release(job.id, self.id)
                log.info("job %s released to the queue", job.id)
        except StillmotionError as exc:
            run.finished.set()
            self.store.fail(job.id, self.id, exc.reason, exc.message, deliveries)
            log.warning("job %s failed: %s", job.id, exc.message)
        except Exception as exc:  # an engine bug fails the job visibly instead of looping
            run.finished.set()
            log.exception("job %s crashed", job.id)
            self.store.fail(job.id, self.id, "GenerationFailure", f"{type(exc).__name__}: {exc}", deliveries)
        finally:
            run.finished.set()
            beat.join(timeout=5)
            elapsed = time.monotonic() - run.started
            fps = run.done_frames / elapsed if state == "succeeded" and elapsed > 0 else None
            observability.observe_run(job.engine, state, elapsed, fps)
            observability.JOB_ID.reset(token)

    def _heartbeat(self, run: Run) -> None:
        """Extend the lease every heartbeat_s; between beats, watch for a user cancel."""
        tick = min(self.settings.heartbeat_s, self.settings.cancel_poll_s)
        last_beat = time.monotonic()
        while not run.finished.wait(tick):
            try:
                if self.store.job_status(run.job.id) == JobStatus.CANCELED:
                    run.canceled = True  # the engine stops at its next frame or step
                    return
                if time.monotonic() - last_beat < self.settings.heartbeat_s:
                    continue
                last_beat = time.monotonic()
                ok = self.store.heartbeat(run.job.id, self.id, self.settings.lease_s, run.progress, run.eta)
            except Exception:
                log.exception("heartbeat failed")
                continue
            if not ok:
                run.lost = True
                return

    def render(self, job: Job, run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
        """Render the job's clip into its output dir; return the result and metadata."""
        spec = GenerationSpec.from_dict(job.spec)
        spec = replace(
            spec,
            image=str(self.artifacts.path(spec.image)),
            image_tail=str(self.artifacts.path(spec.image_tail)) if spec.image_tail else None,
        )
        out_dir = self.artifacts.output_dir(job.id)

        def on_frame(done: int) -> None:
            run.done_frames = done

        def on_progress(fraction: float) -> None:
            run.fraction = min(1.0, max(run.fraction, fraction))

        out = render_clip(
            self.engine(job.engine),
            spec,
            out_dir / "video.mp4",
            out_dir / "cover.jpg",
            on_frame=on_frame,
            should_stop=run.should_stop,
            on_progress=on_progress,
            metadata=job.metadata,
            tags={"title": f"stillmotion {job.id}"},
            settings=self.settings,
        )
        result = {
            "video": f"outputs/{job.id}/video.mp4",
            "cover": f"outputs/{job.id}/cover.jpg",
            "duration": spec.duration,
            "width": spec.width,
            "height": spec.height,
            "fps": spec.fps,
            "frames": out.frames,
            "has_audio": out.has_audio,
        }
        return result, out.metadata
