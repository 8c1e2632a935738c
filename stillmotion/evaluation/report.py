"""Every metric of one MP4, as a report (printed by `stillmotion eval`, see command.py).

The file is decoded once per metric (decoding is cheap next to flow), so no pass holds more
than three frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
from stillmotion.media.video import probe, read_frames


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
    first_psnr: float | None = None
    first_ssim: float | None = None
    last_psnr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("camera", "dynamic")}
        out["dynamic"] = asdict(self.dynamic)
        out["camera"] = self.camera.to_dict()
        return out


def evaluate_video(
    video: str | Path, *, image: str | Path | None = None, tail: str | Path | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
) -> VideoReport:
    """All metrics of `video`; frame-0 PSNR/SSIM against `image` and last-frame PSNR against
    `tail` when given (each fitted to the frame as the engine fits its inputs)."""
    info = probe(video)
    if info.frames < 3:
        raise ValueError(f"{video}: {info.frames} frames; the temporal metrics need at least 3")
    first = last = None
    for i, frame in enumerate(read_frames(video)):
        if i == 0:
            first = frame
        last = frame
    assert first is not None and last is not None
    first_psnr = first_ssim = last_psnr = None
    if image is not None:
        ref = reference_frame(str(image), info.width, info.height)
        first_psnr, first_ssim = psnr(first, ref), ssim(first, ref)
    if tail is not None:
        last_psnr = psnr(last, reference_frame(str(tail), info.width, info.height))
    est = FlowEstimator(max_side)
    return VideoReport(
        video=str(video), width=info.width, height=info.height, fps=info.fps, frames=info.frames,
        flicker=temporal_flickering(read_frames(video)),
        smoothness=motion_smoothness(read_frames(video), est),
        dynamic=dynamic_degree(read_frames(video), info.fps, est),
        camera=camera_motion(read_frames(video), info.fps, est),
        first_psnr=first_psnr, first_ssim=first_ssim, last_psnr=last_psnr,
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
    return "\n".join(lines)
