"""Workers: claim a job, render it, store the result (the repository queues its callbacks).

A run holds a lease that a heartbeat thread extends (carrying progress and ETA). Every write
for the job carries the claim's own token (a fresh one per claim, stored as the lease owner),
so a run whose lease was taken over, even one resumed after a pause or a cut link, is refused
by the database. It renders under its own key (`outputs/<job>/<attempt>/`), and only a finish
the database accepts promotes those files into the job's result; a refused run deletes them,
so a late upload never replaces the winner's. If the
lease is lost (reaped after a stall, or taken back) the run stops without writing; a crash
leaves the lease to expire and the reaper puts the job back, so nothing is lost. A failed
run goes where the `RetryPolicy` says: back to the queue after a backoff (an engine crash), or
failed and refunded (a bad input). On a stop request the running job gets `shutdown_grace_s`
to finish, then is released to the queue. No exception ends the claim loop.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from itertools import count
from typing import Any

from stillmotion import observability
from stillmotion.domain import GenerationSpec
from stillmotion.engines import Engine, get_engine
from stillmotion.errors import Canceled, StillmotionError
from stillmotion.jobs import Capability, ClaimRules, Database, FailureCode, Job, JobStatus, RetryPolicy
from stillmotion.render import render_clip
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

FINAL_WRITE_TRIES = 5
PROGRESS_STEP = 5  # percent of the run between progress writes, at most one per PROGRESS_MIN_S
PROGRESS_MIN_S = 1.0  # a final write that meets a locked or lost database is tried again

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


def attempt_prefix(job: Job) -> str:
    """Where one claim's files go: its own key under the job, never shared with another attempt."""
    tag = (job.lease_owner or "x").rsplit("~", 1)[-1]
    return f"outputs/{job.id}/a{job.attempts}-{tag}"


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.max_attempts, backoff_s=settings.retry_backoff_s)


class Worker:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        artifacts: ArtifactStore,
        *,
        engines: tuple[str, ...] = ("motion",),
        wid: str | None = None,
        engine_factory: Callable[[str], Engine] | None = None,
        capability: Callable[[], Capability] | None = None,
    ) -> None:
        """`capability`: what this host can serve now (weights present, the warm ones), read
        before each claim so jobs routed to weights this host lacks stay for another."""
        self.settings = settings
        self.db = db
        self.artifacts = artifacts
        self.engine_names = engines
        self.id = wid or worker_id()
        self.policy = policy_from(settings)
        self.rules = ClaimRules(settings.off_peak_window, settings.max_running_per_key)
        self._make_engine = engine_factory or (lambda name: get_engine(name, settings))
        self._engines: dict[str, Engine] = {}
        self._capability = capability
        self.current: Job | None = None  # the job being rendered, for a shutdown that cannot wait

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = self._make_engine(name)
        return self._engines[name]

    def run(self, stop: threading.Event) -> None:
        """Claim and process jobs until `stop` is set; nothing raised in between ends the loop."""
        log.info("worker %s started", self.id)
        while not stop.is_set():
            try:
                job = self.claim()
                if job is None:
                    stop.wait(self.settings.poll_interval_s)
                    continue
                self.process(job, stop)
            except Exception:  # a database or storage hiccup must not kill the worker
                log.exception("worker %s: claim or final write failed; the lease will return the job", self.id)
                stop.wait(1.0)
        log.info("worker %s stopped", self.id)

    def claim(self) -> Job | None:
        """The next job this worker can serve, leased to it under a fresh claim token (the
        job's `lease_owner`), which every later write for this run carries."""
        rules = self.rules
        if self._capability is not None:
            can = self._capability()
            rules = replace(rules, weights=can.weights, warm=can.warm)
        token = f"{self.id}~{secrets.token_hex(4)}"
        return self.db.jobs.claim(token, self.settings.lease_s, self.engine_names, rules)

    def process(self, job: Job, stop: threading.Event) -> None:
        self.current = job
        try:
            self._process(job, stop)
        except Exception:  # logged once, with its job; the loop goes on claiming
            log.exception("job %s: its final write failed %d times; the reaper returns it to the queue when "
                          "its lease ends", job.id, FINAL_WRITE_TRIES, extra={"job_id": job.id})
        # not in a `finally`: a BaseException that ends the thread leaves `current` set, so the
        # supervisor that restarts the thread can give the job back at once
        self.current = None

    def _process(self, job: Job, stop: threading.Event) -> None:
        run = Run(job, stop, self.settings.shutdown_grace_s)
        token = job.lease_owner or self.id  # the claim's token: every write below carries it
        prefix = attempt_prefix(job)
        beat = threading.Thread(target=self._heartbeat, args=(run,), daemon=True)
        beat.start()
        log_token = observability.JOB_ID.set(job.id)
        state = "unrecorded"  # a final write that never landed: the metrics count nothing ended
        waited = (job.started_at - job.created_at).total_seconds() if job.started_at else 0.0
        log.info("job %s started: attempt %d on %s, after %.1f s in the queue", job.id, job.attempts, job.engine, waited)
        try:
            try:
                result, metadata = self.render(job, run, prefix)
            finally:
                run.finished.set()
        except Canceled:
            state = "canceled" if run.canceled else "released"
            self._discard(prefix)
            if run.canceled:  # canceled and refunded by the user's request: leave no files
                self._discard(f"outputs/{job.id}")
                log.info("job %s canceled while running; stopped", job.id)
            elif not run.lost:
                self._final_write(lambda: self.db.jobs.release(job.id, token))
                log.info("job %s released to the queue", job.id)
            else:
                log.warning("job %s: lease lost to another claim; run abandoned, its files removed", job.id)
        except StillmotionError as exc:
            self._discard(prefix)
            state = self._failed(job, token, FailureCode.of(exc.reason), exc.message)
        except Exception as exc:  # an engine bug: retried by policy, then failed visibly
            log.exception("job %s crashed", job.id)
            self._discard(prefix)
            state = self._failed(job, token, FailureCode.ENGINE_CRASHED, f"{type(exc).__name__}: {exc}")
        else:  # a final write that keeps failing propagates: the lease returns the job, video kept
            if self._final_write(lambda: self.db.jobs.finish(job.id, token, result, metadata)):
                state = "succeeded"
                took = time.monotonic() - run.started
                log.info("job %s succeeded: %d frames in %.2f s (render %.2f s), %s", job.id, result["frames"], took,
                         metadata.get("render_s") or 0.0, result["video"])
            else:
                state = "refused"
                log.warning("job %s finished but its lease was lost; result dropped, its upload removed", job.id)
                self._discard(prefix)  # another claim owns the job now: its files, not ours, are the result
                if self.db.jobs.status(job.id) == JobStatus.CANCELED:  # canceled at the last frame
                    self._discard(f"outputs/{job.id}")
        finally:
            run.finished.set()
            beat.join(timeout=5)
            elapsed = time.monotonic() - run.started
            fps = run.done_frames / elapsed if state == "succeeded" and elapsed > 0 else None
            observability.observe_run(job.engine, state, elapsed, fps)
            observability.JOB_ID.reset(log_token)

    def _discard(self, prefix: str) -> None:
        """Delete an attempt's (or a canceled job's) files; a store outage leaves them to retention."""
        try:
            self.artifacts.delete_prefix(prefix)
        except Exception:
            log.warning("could not delete %s; retention will", prefix, exc_info=True)

    def _failed(self, job: Job, token: str, code: FailureCode, message: str) -> str:
        """Store the failure as the policy says; the state the metrics count ("retried", "failed",
        or "unrecorded" when the lease was lost)."""
        decision = self.policy.decide(code, job.attempts, message)
        if decision.retry:
            note = f"attempt {job.attempts}: {code}: {message}"
            if self._final_write(lambda: self.db.jobs.retry(job.id, token, decision.delay_s, note)):
                log.warning("job %s failed (%s); retried in %.1f s", job.id, message, decision.delay_s)
                return "retried"
        elif self._final_write(lambda: self.db.jobs.fail(job.id, token, decision.code, decision.message)):
            log.warning("job %s failed: %s", job.id, decision.message)
            return "failed"
        log.warning("job %s failed (%s) but its lease was lost to another claim; nothing recorded", job.id, message)
        return "unrecorded"

    def _final_write(self, write: Callable[[], bool]) -> bool:
        """A job's last write, tried again on a transient database error (a lock, a dropped
        connection) before it is given up; then the lease returns the job."""
        for attempt in range(FINAL_WRITE_TRIES):
            try:
                return write()
            except Exception as exc:
                if attempt == FINAL_WRITE_TRIES - 1:
                    raise
                log.warning("final write failed (%s: %s); trying again", type(exc).__name__, str(exc)[:200])
                time.sleep(0.2 * 2**attempt)
        return False

    def _heartbeat(self, run: Run) -> None:
        """Extend the lease every heartbeat_s, and store progress and ETA whenever the run has
        moved PROGRESS_STEP % since the last write and PROGRESS_MIN_S have passed (whichever is
        rarer: a 5 s clip reports every second, a 5 min one every 5 %); between writes, watch
        for a user cancel."""
        tick = min(self.settings.heartbeat_s, self.settings.cancel_poll_s)
        last_beat, last_progress = time.monotonic(), 0
        while not run.finished.wait(tick):
            try:
                if self.db.jobs.status(run.job.id) == JobStatus.CANCELED:
                    run.canceled = True  # the engine stops at its next frame or step
                    return
                since = time.monotonic() - last_beat
                moved = run.progress - last_progress >= PROGRESS_STEP and since >= PROGRESS_MIN_S
                if since < self.settings.heartbeat_s and not moved:
                    continue
                last_beat, last_progress = time.monotonic(), run.progress
                token = run.job.lease_owner or self.id
                ok = self.db.jobs.heartbeat(run.job.id, token, self.settings.lease_s, run.progress, run.eta)
            except Exception:
                log.exception("heartbeat failed")
                continue
            if not ok:
                run.lost = True
                return

    def _still_held(self, job: Job, run: Run) -> None:
        """Upload only while the claim still holds the lease: a run resumed after its lease was
        taken over learns it here and uploads nothing (its finish would be refused anyway)."""
        if not (run.lost or run.canceled):
            token = job.lease_owner or self.id
            held = self._final_write(
                lambda: self.db.jobs.heartbeat(job.id, token, self.settings.lease_s, run.progress, run.eta))
            run.lost = not held
        if run.lost or run.canceled:
            raise Canceled("the run lost its lease or was canceled before its upload")

    @contextmanager
    def _inputs(self, spec: GenerationSpec) -> Iterator[GenerationSpec]:
        """The spec with its input images as local files (downloaded from an object store)."""
        with ExitStack() as stack:
            image = stack.enter_context(self.artifacts.local_input(spec.image))
            tail = stack.enter_context(self.artifacts.local_input(spec.image_tail)) if spec.image_tail else None
            yield replace(spec, image=str(image), image_tail=str(tail) if tail else None)

    def render(self, job: Job, run: Run, prefix: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Render the job's clip into a workspace and publish it under the attempt's `prefix`;
        return the result (the keys it published) and metadata."""
        prefix = prefix or attempt_prefix(job)
        stored = GenerationSpec.from_dict(job.spec)

        def on_frame(done: int) -> None:
            run.done_frames = done

        def on_progress(fraction: float) -> None:
            run.fraction = min(1.0, max(run.fraction, fraction))

        with self._inputs(stored) as spec, self.artifacts.workspace(prefix) as out_dir:
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
                route=job.route,
            )
            self._still_held(job, run)
            self.artifacts.publish(out_dir, prefix)
        result = {
            "video": f"{prefix}/video.mp4",
            "cover": f"{prefix}/cover.jpg",
            "duration": spec.duration,
            "width": spec.width,
            "height": spec.height,
            "fps": spec.fps,
            "frames": out.frames,
            "has_audio": out.has_audio,
        }
        return result, out.metadata
