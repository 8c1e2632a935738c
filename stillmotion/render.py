"""One clip from spec to files: engine frames streamed into the MP4 encoder, plus the cover.

Shared by the worker and `stillmotion generate`, so a job and a local run make the same file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from stillmotion.engines.allocator import keep_freed_memory
from stillmotion.audio.soundtrack import ClipAudio
from stillmotion.engines.cores import usable_cores
from stillmotion.domain import GenerationSpec
from stillmotion.engines import Engine, RenderContext
from stillmotion.errors import GenerationFailed
from stillmotion.media.video import VideoWriter, rgb_to_yuv_frame, write_cover
from stillmotion.media.watermark import Watermark, build_watermark
from stillmotion.settings import Settings

# Standard MP4 tags every output carries; they win over caller tags so no job can drop them.
AI_TAGS = {"comment": "AI-generated", "description": "AI-generated video made by stillmotion"}


@dataclass
class RenderOutput:
    video: Path
    cover: Path
    frames: int
    seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)
    has_audio: bool = False


_END = object()


def prefetch(
    frames: Iterator[np.ndarray], depth: int = 3, *, copy: bool = True, prepare: Callable[[np.ndarray], Any] | None = None,
) -> Iterator[Any]:
    """Run the engine one step ahead in a thread, so rendering overlaps encoding.

    OpenCV and x264 both release the GIL, so on two cores the engine's next frame is made
    while the encoder works on this one. At most `depth` frames wait: memory stays bounded.
    `copy=False` when the engine hands out a new array for every frame (``fresh_frames``).
    `prepare(frame)`, when given, also runs in that thread and its result is handed on instead
    of the frame: render_clip marks and converts each frame for the encoder there, which keeps
    the encoder's thread to encoding (it was the slower side of a light clip, see for_encoder).
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        """Queue `item` for the consumer; False once it has stopped listening. Every put waits
        this way: a consumer that stopped (a cancel it saw itself) leaves the box full, and a
        blocking put of the engine's own Canceled would hold its join for the whole timeout."""
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if copy:
                    frame = frame.copy()  # the engine may reuse its output buffer for the next frame
                if not hand(frame if prepare is None else prepare(frame)):
                    return
            hand(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            hand(exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # a generator engine cleans up here, in its own thread, not whenever it is collected

    thread = threading.Thread(target=produce, name="engine-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


@contextmanager
def _opencv_threads(count: int | None) -> Iterator[None]:
    """OpenCV's thread count for the engine while a clip renders (None: leave it as it is).

    An engine may ask for fewer threads than cores (``engine.opencv_threads(spec)``) when the
    encoder keeps the other cores busy: OpenCV's workers then mostly wait on each other, which
    costs CPU time for no gain. The previous count is restored afterwards."""
    if count is None:
        yield
        return
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def encoder_threads(engine: Engine) -> int:
    """x264 threads beside `engine`: the cores its frame workers (``engine.workers``) leave free,
    at least one; 0 (x264's own choice, about 1.5 per core) when the engine does not say.

    On 2 cores beside the motion engine's two frame workers, one x264 thread instead of x264's
    choice took 0.83-0.85x the CPU (frame threads waiting on each other and on the engine) and
    0.84-0.89x the wall time of a 5 s 720p clip (turbo, pro); with more cores than workers the
    encoder still gets the rest."""
    workers = engine.workers
    if not workers:
        return 0
    return max(1, usable_cores() - int(workers))


def for_encoder(mark: Watermark | None = None) -> Callable[[np.ndarray], tuple[np.ndarray, av.VideoFrame]]:
    """What prefetch does to each frame before the encoder gets it: the mark blended in (the
    frame is a copy or a fresh array, safe to change in place), then the yuv420p frame x264
    takes (`rgb_to_yuv_frame`: converted straight into it).

    In the engine's prefetch thread rather than the encoder's: a pure zoom in turbo renders in
    about 5 ms a frame on two workers while conversion and x264 took 8 ms on the one encoding
    thread, the busier side (0.97x the wall time of a 5 s 720p turbo clip, docs/decisions.md)."""

    def prepare(frame: np.ndarray) -> tuple[np.ndarray, av.VideoFrame]:
        if mark is not None:
            mark.apply(frame)
        return frame, rgb_to_yuv_frame(frame)

    return prepare


def render_clip(
    engine: Engine,
    spec: GenerationSpec,
    video: Path,
    cover: Path,
    *,
    on_frame: Callable[[int], None] = lambda done: None,
    should_stop: Callable[[], bool] = lambda: False,
    metadata: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[float], None] = lambda fraction: None,
    route: Mapping[str, Any] | None = None,
) -> RenderOutput:
    """Render `spec` (image paths absolute) to `video` and `cover`; the video appears only when whole."""
    keep_freed_memory()  # once per process: frames stop paying page faults (allocator.py)
    part = video.with_name(video.stem + ".part" + video.suffix)
    # Music is fetched and beat-tracked before the engine runs: a bad URL fails before any frame,
    # and an is_rec render hands the beats to the engine.
    settings = settings or Settings.defaults()  # benchmarks and tests: the built-in defaults, no environment
    audio = ClipAudio(spec, settings)
    ctx = RenderContext(metadata=dict(metadata or {}), should_stop=should_stop, on_progress=on_progress,
                        beats=audio.beats, route=route)
    mark = _watermark(spec, ctx, settings)  # before the file opens: a bad wm_url leaves nothing behind
    done = 0
    t0 = time.monotonic()
    try:
        with VideoWriter(part, spec.width, spec.height, spec.fps, mode=spec.mode, metadata={**(tags or {}), **AI_TAGS},
                         threads=encoder_threads(engine)) as writer:
            fresh = engine.fresh_frames
            threads = engine.opencv_threads(spec)
            with _opencv_threads(threads):
                for frame, yuv in prefetch(engine.frames(spec, ctx), copy=not fresh, prepare=for_encoder(mark)):
                    if done == 0:
                        write_cover(frame, cover)
                        # the engine has reported its plan (and any audio of its own) by its first frame
                        audio.attach(writer, ctx.metadata, ctx.audio)
                    writer.write_frame(yuv)
                    done += 1
                    on_frame(done)
                    ctx.check()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if done != spec.num_frames:
        part.unlink(missing_ok=True)
        raise GenerationFailed(f"engine produced {done} frames, expected {spec.num_frames}")
    os.replace(part, video)
    seconds = time.monotonic() - t0
    ctx.metadata["render_s"] = round(seconds, 3)
    ctx.metadata["render_fps"] = round(done / seconds, 1) if seconds else None
    return RenderOutput(video, cover, done, seconds, ctx.metadata, has_audio=audio.has_audio)


def _watermark(spec: GenerationSpec, ctx: RenderContext, settings: Settings) -> Watermark | None:
    """Build the clip's mark once (fetching wm_url if given) and say in the metadata what it is."""
    if spec.watermark is None:
        return None
    mark = build_watermark(spec.watermark, spec.width, spec.height, settings=settings)
    ctx.metadata["watermark"] = {
        "position": spec.watermark.position,
        "source": "wm_url" if spec.watermark.image_url else "default",
        "box": list(mark.box),
    }
    return mark
