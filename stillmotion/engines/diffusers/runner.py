"""The GPU work in a child process: one child per GPU, shared by every worker thread of the process.

The child (multiprocessing "spawn", so no CUDA state is inherited) keeps the last pipeline
loaded between jobs, so consecutive jobs on the same weights start warm. Messages over a pipe,
child to parent: ("loading",), ("loaded", s), ("warming",), ("step", i, n), ("audio", samples,
rate), ("frame", uint8 array) one per output frame (the pipe's buffer is the backpressure), then
("done", facts), ("canceled",) or ("error", severity, type, message, traceback).

Errors by severity: "job" (bad input, a ValueError, a missing file) fails that job and the child
keeps its warm pipeline; "oom" (out of GPU memory) also frees the allocator's cache first;
"fatal" (a CUDA fault: the context cannot be trusted again) makes the child exit, and the next
job starts a fresh one; "unavailable" (no GPU as configured) gives the job back.
A child silent for longer than the watchdog period is killed and its job given back.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from stillmotion.engines.diffusers.errors import DeviceUnavailable, ModelProcessHung
from stillmotion.engines.diffusers.plan import PipelineKey, RunPlan, fit_audio, frame_indices, to_uint8
from stillmotion.errors import Canceled, GenerationFailed

log = logging.getLogger("stillmotion.engines.diffusers")
CANCEL_WAIT_S = 60.0  # how long a canceled child may take to reach its next step boundary
PIPE_ERRORS = (EOFError, OSError)  # BrokenPipeError and ConnectionResetError are OSErrors

FATAL_MARKERS = ("cuda error", "illegal memory access", "device-side assert", "cublas_status", "cudnn_status",
                 "unspecified launch failure", "nccl error", "uncorrectable ecc")


def classify_error(exc: BaseException) -> str:
    """'oom' | 'fatal' | 'unavailable' | 'job': what an exception in the child means for the child."""
    from stillmotion.engines.diffusers.pipeline import DeviceUnavailable as ChildDeviceUnavailable

    if isinstance(exc, ChildDeviceUnavailable):
        return "unavailable"
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return "oom"
        accelerator_error = getattr(torch, "AcceleratorError", None)
        if accelerator_error is not None and isinstance(exc, accelerator_error):
            return "fatal"
    except ImportError:
        pass
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit, MemoryError-like exits
        return "fatal"
    text = str(exc).lower()
    if "out of memory" in text and "cuda" in text:
        return "oom"
    if isinstance(exc, RuntimeError) and any(m in text for m in FATAL_MARKERS):
        return "fatal"
    return "job"


def child_main(conn: Any, cancel: Any) -> None:
    """Entry point of the child process: serve run requests until told to stop or the pipe closes."""
    from stillmotion.engines.diffusers import pipeline

    warm = pipeline.WarmPipeline(lambda key: pipeline.load_pipeline(key))
    while True:
        try:
            msg = conn.recv()
        except PIPE_ERRORS:
            return
        if msg[0] == "stop":
            return
        plan: RunPlan = msg[1]
        try:
            if plan.key != warm.key:
                conn.send(("loading",))
                t0 = time.monotonic()
                warm.get(plan.key)
                conn.send(("loaded", round(time.monotonic() - t0, 3)))
            pipe = warm.pipe
            shapes = [s for s in plan.warm_shapes if s not in warm.warmed] if plan.key.options.compile else []
            if shapes:
                conn.send(("warming",))
                warm.warmed.update(pipeline.warm_up(pipe, plan, shapes))
                conn.send(("warmed", sorted(warm.warmed)))
            frames, audio, facts = pipeline.run_plan(pipe, plan, lambda i, n: conn.send(("step", i, n)),
                                                     cancel.is_set)
            if audio is not None:
                conn.send(("audio", fit_audio(*audio, plan.duration), audio[1]))
            _send_frames(conn, frames, plan)
            conn.send(("done", facts))
        except pipeline.StepCanceled:
            _send(conn, ("canceled",))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent; the child lives on unless fatal
            severity = classify_error(exc)
            report = ("error", severity, type(exc).__name__, str(exc)[:2000], traceback.format_exc()[-4000:])
            del exc  # the traceback holds the failed call's frames (and their GPU tensors)
            if severity == "oom":
                pipeline.release_memory()
            if not _send(conn, report) or severity == "fatal":
                return


def _send(conn: Any, msg: tuple[Any, ...]) -> bool:
    try:
        conn.send(msg)
        return True
    except PIPE_ERRORS:
        return False


def _send_frames(conn: Any, frames: Any, plan: RunPlan) -> None:
    from stillmotion.media.imaging import fit_to_frame

    keep_end = plan.last_image is not None or plan.end_frame != plan.num_frames - 1
    for i in frame_indices(plan.out_frames, len(frames), plan.frame_rate, end_frame=plan.end_frame,
                           keep_end=keep_end):
        frame = to_uint8(frames[int(i)])
        if frame.shape[:2] != (plan.out_height, plan.out_width):
            frame = fit_to_frame(frame, plan.out_width, plan.out_height)
        conn.send(("frame", frame))


class ChildRunner:
    """Parent side: starts the child on first use and again after it died. One run at a time
    (`lock`): engines on several worker threads share one runner per GPU."""

    def __init__(self, target: Callable[[Any, Any], None] = child_main, *, watchdog_s: float = 900.0,
                 load_watchdog_s: float = 3600.0) -> None:
        self._ctx = mp.get_context("spawn")
        self._target = target
        self._proc: Any = None
        self._conn: Any = None
        self._cancel: Any = None
        self.lock = threading.Lock()  # a plain Lock: a generator may be closed on another thread
        self.watchdog_s = watchdog_s
        self.load_watchdog_s = load_watchdog_s
        self.warm_key: PipelineKey | None = None  # what the child holds, as far as the parent knows
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        self.close()
        parent, child = self._ctx.Pipe()
        self._cancel = self._ctx.Event()
        self._proc = self._ctx.Process(target=self._target, args=(child, self._cancel), name="stillmotion-gpu",
                                       daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        self.starts += 1

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                try:
                    self._conn.send(("stop",))
                except PIPE_ERRORS:
                    pass
                self._proc.join(5)
                if self._proc.is_alive():
                    self._proc.kill()
                    self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None
        self.warm_key = None

    def kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self.close()

    def _send_plan(self, plan: RunPlan) -> None:
        """Send a plan; a child that died since its last job (the pipe is broken) is replaced once."""
        for attempt in (1, 2):
            if not self.alive:
                self._start()
            self._cancel.clear()
            try:
                self._conn.send(("run", plan))
                return
            except PIPE_ERRORS:
                self.kill()
                if attempt == 2:
                    raise GenerationFailed("model process could not be started") from None

    def run(self, plan: RunPlan, should_stop: Callable[[], bool]) -> Iterator[tuple[Any, ...]]:
        """Yield the child's messages for one plan; Canceled / GenerationFailed end it."""
        with self.lock:
            yield from self._run(plan, should_stop)

    def _run(self, plan: RunPlan, should_stop: Callable[[], bool]) -> Iterator[tuple[Any, ...]]:
        self._send_plan(plan)
        finished = False
        phase = "run"
        try:
            while True:
                msg = self._recv(should_stop, self.load_watchdog_s if phase == "load" else self.watchdog_s)
                kind = msg[0]
                if kind in ("loading", "warming"):
                    phase = "load"
                    self.warm_key = None
                elif kind in ("loaded", "warmed"):
                    phase = "run"
                    self.warm_key = plan.key
                if kind == "done":
                    finished = True
                    self.warm_key = plan.key
                    yield msg
                    return
                if kind == "canceled":
                    finished = True
                    raise Canceled("stopped between denoising steps")
                if kind == "error":
                    finished = True
                    self._raise_error(msg, plan)
                yield msg
        finally:
            if not finished:  # the consumer stopped early: make the child stop too
                self._abandon()

    def _raise_error(self, msg: tuple[Any, ...], plan: RunPlan) -> None:
        _, severity, name, text, tb = msg
        log.error("engine child failed (%s): %s", severity, tb)
        if severity == "oom":
            raise GenerationFailed(f"out of GPU memory at {plan.width}x{plan.height}, {plan.num_frames} frames "
                                   f"({name}: {text[:300]}); try a smaller resolution or a shorter clip")
        if severity == "fatal":
            self.kill()  # it is exiting; the next job starts a fresh child
            raise GenerationFailed(f"CUDA fault in the model process, restarting it: {name}: {text}")
        if severity == "unavailable":
            raise DeviceUnavailable(text)
        raise GenerationFailed(f"model run failed: {name}: {text}")

    def _recv(self, should_stop: Callable[[], bool], silence_limit: float) -> tuple[Any, ...]:
        # The stop is checked before every message, not only while waiting: fast steps keep the
        # pipe busy, and a check only on idle polls would never see the cancel.
        since = time.monotonic()
        while True:
            if should_stop() and not self._cancel.is_set():
                self._cancel.set()
            if self._conn.poll(0.1):
                break
            if not self._proc.is_alive():
                code = self._proc.exitcode
                self.close()
                raise GenerationFailed(f"model process died (exit code {code}; out of memory or a CUDA error?)")
            if time.monotonic() - since > silence_limit:
                self.kill()
                raise ModelProcessHung(f"model process silent for {silence_limit:g} s: killed, job given back")
        try:
            return self._conn.recv()
        except PIPE_ERRORS:
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
        except PIPE_ERRORS:
            pass
        self.kill()


# One runner per GPU for the whole process: every Worker thread's DiffusersEngine shares it, so
# a GPU holds one copy of the model however many worker threads claim GPU jobs.
_runners: dict[tuple[str, Any], ChildRunner] = {}
_users: dict[tuple[str, Any], int] = {}
_registry_lock = threading.Lock()


def device_slot(device: str) -> str:
    """The GPU a device setting means: auto and cuda are cuda:0."""
    if device in ("auto", "cuda"):
        return "cuda:0"
    return device


def shared_runner(device: str, target: Callable[[Any, Any], None] = child_main, **kwargs: Any) -> ChildRunner:
    """The process-wide runner of this device (created on first use); pair with release_runner."""
    key = (device_slot(device), target)
    with _registry_lock:
        runner = _runners.get(key)
        if runner is None:
            runner = _runners[key] = ChildRunner(target, **kwargs)
        _users[key] = _users.get(key, 0) + 1
        return runner


def release_runner(runner: ChildRunner) -> None:
    """One user fewer; the last one stops the child."""
    with _registry_lock:
        for key, r in list(_runners.items()):
            if r is runner:
                _users[key] -= 1
                if _users[key] <= 0:
                    del _runners[key], _users[key]
                    runner.close()
                return
    runner.close()


def shared_runners() -> list[ChildRunner]:
    with _registry_lock:
        return list(_runners.values())
