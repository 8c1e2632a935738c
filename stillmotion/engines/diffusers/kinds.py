"""What each open model family accepts and how it is driven: plain data, no torch.

Routing reads it at submit (to refuse what a model cannot serve) and the engine reads it at
run time (frame counts, sizes, steps, guidance, negative prompt). Figures follow the model
cards and the diffusers examples for each checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WAN_NEGATIVE = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
    "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
    "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
    "fused fingers, still picture, messy background, three legs, many people in the background, "
    "walking backwards"
)
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"


@dataclass(frozen=True)
class Schedule:
    """Denoising steps and classifier-free guidance for one mode."""

    steps: int
    guidance: float


@dataclass(frozen=True)
class ModelKind:
    """One family of checkpoints: its pipeline class and the shapes it accepts."""

    name: str
    pipeline: str  # diffusers pipeline class name
    family: str  # wan | ltx | ltx2: how arguments are passed
    frame_step: int  # frame counts the model accepts are frame_step * k + 1
    size_multiple: int  # width and height must be multiples of this
    fps: float  # the frame rate the model was trained at; output is resampled to 24
    max_frames: int  # longest clip it makes well
    max_area: int  # pixel area it is trained for (the model size never exceeds it)
    start_end: bool  # can it be given a last frame?
    audio: bool = False
    negative_prompt: str = ""
    schedules: dict[str, Schedule] = field(default_factory=dict)  # mode -> steps/guidance
    # Distilled checkpoints are trained on one fixed sigma schedule: run exactly it, unshifted.
    sigmas: tuple[float, ...] | None = None
    # Rough GPU memory (GiB) to hold the whole pipeline in bf16 and run 720p, for capability
    # checks: without offload a host with less memory does not claim the route.
    min_gpu_gib: float = 0.0

    def schedule(self, mode: str) -> Schedule:
        if self.sigmas is not None:  # every mode runs the trained schedule: the checkpoint is the fast path
            return Schedule(len(self.sigmas), 1.0)
        return self.schedules.get(mode) or self.schedules["pro"]


def _wan(steps: int = 40, guidance: float = 5.0) -> dict[str, Schedule]:
    return {"pro": Schedule(steps, guidance), "pro-fast": Schedule(steps // 2, guidance),
            "turbo": Schedule(max(4, steps // 4), guidance)}


# The trained sigmas of the distilled LTX checkpoints (LTX-Video 0.9.8 distilled and LTX-2
# distilled share them; diffusers.pipelines.ltx2.utils.DISTILLED_SIGMA_VALUES). The scheduler
# appends the final 0.
LTX_DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875)

_HD = 1280 * 720
WAN_480P_AREA = 832 * 480  # what the Wan 2.1 480P checkpoints are trained at
KINDS: dict[str, ModelKind] = {
    k.name: k
    for k in (
        ModelKind("wan2.1-i2v", "WanImageToVideoPipeline", "wan", 4, 16, 16, 81, _HD, False,
                  negative_prompt=WAN_NEGATIVE, schedules=_wan(), min_gpu_gib=48),
        ModelKind("wan2.1-flf2v", "WanImageToVideoPipeline", "wan", 4, 16, 16, 81, _HD, True,
                  negative_prompt=WAN_NEGATIVE, schedules=_wan(), min_gpu_gib=48),
        ModelKind("wan2.2-i2v-a14b", "WanImageToVideoPipeline", "wan", 4, 16, 16, 81, _HD, False,
                  negative_prompt=WAN_NEGATIVE, schedules=_wan(40, 3.5), min_gpu_gib=76),
        # TI2V 5B: 16x VAE and 2x2 patches (multiples of 32), 24 fps, 121 frames; ignores last_image
        ModelKind("wan2.2-ti2v-5b", "WanImageToVideoPipeline", "wan", 4, 32, 24, 121, 1280 * 704, False,
                  negative_prompt=WAN_NEGATIVE, schedules=_wan(50, 5.0), min_gpu_gib=32),
        ModelKind("ltx-video", "LTXConditionPipeline", "ltx", 8, 32, 24, 257, _HD, True,
                  negative_prompt=LTX_NEGATIVE, min_gpu_gib=40,
                  schedules={"pro": Schedule(40, 3.0), "pro-fast": Schedule(20, 3.0), "turbo": Schedule(10, 3.0)}),
        # The distilled checkpoints (ltxv-13b-0.9.8-distilled, ...) run their trained 8-sigma
        # schedule without guidance, whatever the mode.
        ModelKind("ltx-video-distilled", "LTXConditionPipeline", "ltx", 8, 32, 24, 257, _HD, True,
                  negative_prompt=LTX_NEGATIVE, sigmas=LTX_DISTILLED_SIGMAS, min_gpu_gib=40),
        # LTX-2 dev: guidance per generation (2.0 / 2.3 / 2.5, detected from the checkpoint: see
        # ltx2.py); turbo is fewer steps with the same guidance, not the distilled schedule.
        ModelKind("ltx-2", "LTX2ImageToVideoPipeline", "ltx2", 8, 32, 24, 257, 1920 * 1088, True, audio=True,
                  negative_prompt=LTX_NEGATIVE, min_gpu_gib=76,
                  schedules={"pro": Schedule(40, 4.0), "pro-fast": Schedule(20, 4.0), "turbo": Schedule(12, 4.0)}),
        ModelKind("ltx-2-distilled", "LTX2ImageToVideoPipeline", "ltx2", 8, 32, 24, 257, 1920 * 1088, True,
                  audio=True, negative_prompt=LTX_NEGATIVE, sigmas=LTX_DISTILLED_SIGMAS, min_gpu_gib=76),
    )
}


def get_kind(name: str) -> ModelKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown model kind {name!r}; known: {', '.join(KINDS)}") from None


def model_frames(duration: float, kind: ModelKind) -> int:
    """The frame count the model accepts that covers `duration` at its own frame rate."""
    want = max(1, round(duration * kind.fps))
    k = max(1, -(-want // kind.frame_step))  # ceil: the clip is at least as long as asked
    return min(kind.frame_step * k + 1, kind.max_frames)


def max_duration(kind: ModelKind) -> float:
    return (kind.max_frames - 1) / kind.fps


def model_size(width: int, height: int, kind: ModelKind, max_area: int | None = None) -> tuple[int, int]:
    """A size the model accepts with the output's aspect, no larger in area than it is trained for."""
    area_cap = max_area or kind.max_area
    scale = min(1.0, (area_cap / (width * height)) ** 0.5)
    m = kind.size_multiple

    def snap(v: float, floor: bool) -> int:
        q = v * scale / m
        return max(m, (int(q) if floor else int(round(q))) * m)

    w, h = snap(width, False), snap(height, False)
    if w * h > area_cap:  # rounding up went over what the checkpoint is trained for: round down
        w, h = snap(width, True), snap(height, True)
    return w, h
