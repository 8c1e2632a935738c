"""The GPU work in a child process: a CUDA error or out-of-memory fails one job, not the worker.

The child (multiprocessing "spawn", so no CUDA state is inherited) keeps the last pipeline
loaded between jobs, so consecutive jobs on the same weights skip loading. Messages over a
pipe, child to parent: ("step", i, n), ("audio", samples, rate), ("frame", uint8 array) one
per output frame (the pipe's buffer is the backpressure), then ("done", facts), ("canceled",)
or ("error", type, message). A cancel is a shared Event the step callback reads. After an
error the child exits, since a failed CUDA context cannot be trusted again.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from stillmotion.engines.diffusers.plan import PipelineKey, RunPlan, fit_audio, resample_frame, time_positions
from stillmotion.errors import Canceled, GenerationFailed

log = logging.getLogger("stillmotion.engines.diffusers")
CANCEL_WAIT_S = 60.0  # how long a canceled child may take to reach its next step boundary


def child_main(conn: Any, cancel: Any) -> None:
    """Entry point of the child process: serve run requests until told to stop or the pipe closes."""
    from stillmotion.engines.diffusers.pipeline import StepCanceled, load_pipeline, run_plan

    pipes: dict[PipelineKey, Any] = {}
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        plan: RunPlan = msg[1]
        try:
            if plan.key not in pipes:
                pipes.clear()  # one model in memory at a time
                t0 = time.monotonic()
                pipes[plan.key] = load_pipeline(plan.key)
                conn.send(("loaded", round(time.monotonic() - t0, 3)))
            frames, audio, facts = run_plan(pipes[plan.key], plan, lambda i, n: conn.send(("step", i, n)),
                                            cancel.is_set)
            if audio is not None:
                conn.send(("audio", fit_audio(*audio, plan.duration), audio[1]))
            _send_frames(conn, frames, plan)
            conn.send(("done", facts))
        except StepCanceled:
            conn.send(("canceled",))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, then this process ends
            conn.send(("error", type(exc).__name__, str(exc)[:2000], traceback.format_exc()[-4000:]))
            return


def _send_frames(conn: Any, frames: Any, plan: RunPlan) -> None:
    from stillmotion.media.imaging import fit_to_frame

    for pos in time_positions(plan.out_frames, len(frames)):
        frame = resample_frame(frames, float(pos))
        if frame.shape[:2] != (plan.out_height, plan.out_width):
            frame = fit_to_frame(frame, plan.out_width, plan.out_height)
        conn.send(("frame", frame))


class ChildRunner:
    """Parent side: starts the child on first use and again after it died."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._cancel: Any = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _start(self) -> None:
        self.close()
        parent, child = self._ctx.Pipe()
        self._cancel = self._ctx.Event()
        self._proc = self._ctx.Process(target=child_main, args=(child, self._cancel), name="stillmotion-gpu",
                                       daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                try:
                    self._conn.send(("stop",))
                except (OSError, BrokenPipeError):
                    pass
                self._proc.join(5)
                if self._proc.is_alive():
                    self._proc.kill()
                    self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None

    def run(self, plan: RunPlan, should_stop: Callable[[], bool]) -> Iterator[tuple[str, Any]]:
        """Yield the child's messages for one plan; Canceled / GenerationFailed end it."""
        if not self.alive:
            self._start()
        self._cancel.clear()
        self._conn.send(("run", plan))
        finished = False
        try:
            while True:
                msg = self._recv(should_stop)
                if msg[0] == "done":
                    finished = True
                    yield msg
                    return
                if msg[0] == "canceled":
                    finished = True
                    raise Canceled("stopped between denoising steps")
                if msg[0] == "error":
                    finished = True
                    log.error("engine child failed: %s", msg[3])
                    raise GenerationFailed(f"model run failed: {msg[1]}: {msg[2]}")
                yield msg
        finally:
            if not finished:  # the consumer stopped early: make the child stop too
                self._abandon()

    def _recv(self, should_stop: Callable[[], bool]) -> tuple[Any, ...]:
        # The stop is checked before every message, not only while waiting: fast steps keep the
        # pipe busy, and a check only on idle polls would never see the cancel.
        while True:
            if should_stop() and not self._cancel.is_set():
                self._cancel.set()
            if self._conn.poll(0.1):
                break
            if not self._proc.is_alive():
                code = self._proc.exitcode
                self.close()
                raise GenerationFailed(f"model process died (exit code {code}; out of memory or a CUDA error?)")
        try:
            return self._conn.recv()
        except EOFError:
            code = self._proc.exitcode if self._proc else None
            self.close()
            raise GenerationFailed(f"model process died (exit code {code})") from None

    def _abandon(self) -> None:
        """Cancel the child's run and drain it; kill it if it does not stop in time."""
        if not self.alive:
            return
        self._cancel.set()
        deadline = time.monotonic() + CANCEL_WAIT_S
        try:
            while time.monotonic() < deadline:
                if self._conn.poll(0.1):
                    if self._conn.recv()[0] in ("done", "canceled", "error"):
                        return
                elif not self._proc.is_alive():
                    break
        except (EOFError, OSError):
            pass
        self.close()
