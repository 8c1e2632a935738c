"""Every metric of one MP4, as a report (printed by `stillmotion eval`, see command.py).

The file is decoded once; each metric reads the frames from its own short queue on its own
thread (`fan_out`), so the metrics' optical flows (OpenCV, which releases the GIL) run side
by side on the cores, and at most QUEUE_FRAMES frames per metric are held at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stillmotion.evaluation.artifacts import ArtifactScore, artifact_score

from stillmotion.evaluation.camera import CameraMotion, camera_motion
from stillmotion.evaluation.flow import DEFAULT_MAX_SIDE, FlowEstimator
from stillmotion.evaluation.metrics import (
    DynamicDegree,
    dynamic_degree,
    motion_smoothness,
    psnr,
    reference_frame,
    ssim,
    temporal_flickering,
)
from stillmotion.media.imaging import load_rgb, scale_to_cover
from stillmotion.media.video import probe, read_frames

QUEUE_FRAMES = 4
_END = object()


@dataclass(frozen=True)
class VideoReport:
    video: str
    width: int
    height: int
    fps: float
    frames: int
    flicker: float
    smoothness: float
    dynamic: DynamicDegree
    camera: CameraMotion
    artifacts: ArtifactScore | None = None
    first_psnr: float | None = None
    first_ssim: float | None = None
    last_psnr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("camera", "dynamic", "artifacts")}
        out["dynamic"] = asdict(self.dynamic)
        if self.artifacts is not None:
            out["artifacts"] = {k: v for k, v in asdict(self.artifacts).items() if k != "per_frame"}
        out["camera"] = self.camera.to_dict()
        return out


def fan_out(frames: Iterable[np.ndarray], consumers: dict[str, Callable[[Iterable[np.ndarray]], Any]]) -> dict[str, Any]:
    """Run each consumer over the same frames, each on its own thread, decoding them once.

    A consumer that fails keeps draining its queue (so the others finish) and its error is
    raised once all are done."""
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    queues = {name: queue.Queue(maxsize=QUEUE_FRAMES) for name in consumers}

    def work(name: str) -> None:
        q = queues[name]
        ended = False

        def stream() -> Iterator[np.ndarray]:
            nonlocal ended
            while (item := q.get()) is not _END:
                yield item
            ended = True

        try:
            results[name] = consumers[name](stream())
        except BaseException as exc:  # noqa: BLE001 - reported below, after the others finish
            errors.append(exc)
        while not ended:  # drain whatever the consumer left
            ended = q.get() is _END

    threads = [threading.Thread(target=work, args=(name,), daemon=True) for name in consumers]
    for t in threads:
        t.start()
    try:
        for frame in frames:
            for q in queues.values():
                q.put(frame)
    finally:
        for q in queues.values():
            q.put(_END)
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return results


def evaluate_video(
    video: str | Path, *, image: str | Path | None = None, tail: str | Path | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
) -> VideoReport:
    """All metrics of `video`; frame-0 PSNR/SSIM against `image` and last-frame PSNR against
    `tail` when given (each fitted to the frame as the engine fits its inputs). The artifact
    score takes the image, uncropped, as its reference when given (real content a pan
    reveals is then explained), else frame 0."""
    info = probe(video)
    if info.frames < 3:
        raise ValueError(f"{video}: {info.frames} frames; the temporal metrics need at least 3")
    reference, origin = None, (0, 0)
    if image is not None:
        reference, origin = scale_to_cover(load_rgb(str(image)), info.width, info.height)
    ends: dict[str, np.ndarray] = {}

    def first_and_last(frames: Iterable[np.ndarray]) -> None:
        for frame in frames:
            ends.setdefault("first", frame)
            ends["last"] = frame

    got = fan_out(read_frames(video), {
        "ends": first_and_last,
        "flicker": temporal_flickering,
        "smoothness": lambda f: motion_smoothness(f, FlowEstimator(max_side)),
        "dynamic": lambda f: dynamic_degree(f, info.fps, FlowEstimator(max_side, finest_scale=1)),
        "camera": lambda f: camera_motion(f, info.fps, FlowEstimator(max_side)),
        "artifacts": lambda f: artifact_score(f, reference=reference, origin=origin),
    })
    first, last = ends["first"], ends["last"]
    first_psnr = first_ssim = last_psnr = None
    if image is not None:
        ref = reference_frame(str(image), info.width, info.height)
        first_psnr, first_ssim = psnr(first, ref), ssim(first, ref)
    if tail is not None:
        last_psnr = psnr(last, reference_frame(str(tail), info.width, info.height))
    return VideoReport(
        video=str(video), width=info.width, height=info.height, fps=info.fps, frames=info.frames,
        flicker=got["flicker"], smoothness=got["smoothness"], dynamic=got["dynamic"], camera=got["camera"],
        artifacts=got["artifacts"], first_psnr=first_psnr, first_ssim=first_ssim, last_psnr=last_psnr,
    )


def format_report(r: VideoReport) -> str:
    """The report as aligned lines for people."""
    cam, dyn = r.camera, r.dynamic
    lines = [f"video        {r.video}: {r.width}x{r.height}, {r.frames} frames at {r.fps:g} fps"]
    if r.first_psnr is not None:
        lines.append(f"frame 0      PSNR {r.first_psnr:.2f} dB, SSIM {r.first_ssim:.4f} (vs the image, fitted)")
    if r.last_psnr is not None:
        lines.append(f"last frame   PSNR {r.last_psnr:.2f} dB (vs the tail image, fitted)")
    lines += [
        f"flicker      {r.flicker:.4f}  (VBench temporal flickering; 1 = no change between frames)",
        f"smoothness   {r.smoothness:.4f}  (VBench motion smoothness, DIS-flow interpolation)",
        f"dynamic      {'yes' if dyn.moving else 'no'}  ({dyn.pairs_over}/{dyn.pairs} sampled pairs over "
        f"{dyn.threshold_px:.2f} px, {dyn.pairs_needed} needed; mean top-5% flow {dyn.mean_top5_px:.2f} px)",
        f"camera       mean flow ({cam.mean_flow[0]:+.3f}, {cam.mean_flow[1]:+.3f}) px/frame; "
        f"zoom {cam.zoom_per_s * 100:+.2f} %/s (x{cam.total_zoom:.4f} overall, divergence "
        f"{cam.divergence:+.2e}/frame); rotation {cam.rotation_deg_per_s:+.3f} deg/s",
        f"jitter       zoom rate {cam.zoom_jitter:.2e}/frame (variance {cam.zoom_rate_variance:.2e}); "
        f"translation {cam.translation_jitter_px:.3f} px/frame",
    ]
    if r.artifacts is not None:
        a = r.artifacts
        lines.append(
            f"artifacts    {a.score:.4f}  (share of the worst frame, {a.worst_frame}, that a smooth warp of the "
            f"{'image' if r.first_psnr is not None else 'first frame'} cannot explain: residual {a.residual:.4f}, "
            f"wobble {a.wobble:.4f}, unsourced {a.unsourced:.4f}; mean {a.mean:.4f} over {a.sampled} frames)")
    return "\n".join(lines)
