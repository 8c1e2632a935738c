"""From a GenerationSpec and its route to the exact arguments of one pipeline run (no torch).

The plan is a plain picklable value: the parent process builds it, the child process that
holds the pipeline runs it. Model-side numbers (frames the model accepts, sizes that are
multiples of 16 or 32) and output-side numbers (round(duration*24) frames, the exact output
size) are both here, so the mapping between them is in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stillmotion.domain import GenerationSpec
from stillmotion.engines.diffusers.kinds import ModelKind, get_kind, model_frames, model_size
from stillmotion.errors import GenerationFailed


@dataclass(frozen=True)
class RuntimeOptions:
    """How the worker holds pipelines (from Settings): one warm pipeline per set of options."""

    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    offload: str = "none"
    vae_tiling: bool = False


@dataclass(frozen=True)
class PipelineKey:
    path: str
    kind: str
    options: RuntimeOptions


@dataclass(frozen=True)
class RunPlan:
    key: PipelineKey
    prompt: str
    negative_prompt: str
    image: str
    last_image: str | None
    width: int  # model size
    height: int
    num_frames: int  # model frames
    steps: int
    guidance: float
    seed: int
    frame_rate: float
    out_width: int
    out_height: int
    out_frames: int
    duration: float

    def describe(self) -> dict[str, Any]:
        """Facts for the job's metadata: what the model was actually asked for."""
        return {"kind": self.key.kind, "model_size": [self.width, self.height], "model_frames": self.num_frames,
                "steps": self.steps, "guidance": self.guidance, "seed": self.seed}


def make_plan(spec: GenerationSpec, route: dict[str, Any], options: RuntimeOptions) -> RunPlan:
    """The run for `spec` on the route stored with its job at submit."""
    if not route.get("path") or not route.get("kind"):
        raise GenerationFailed("job has no diffusers route (path and kind): was it routed to this engine?")
    kind: ModelKind = get_kind(route["kind"])
    if spec.image_tail and not kind.start_end:
        raise GenerationFailed(f"{kind.name} cannot take an end frame")
    schedule = kind.schedule(spec.mode)
    width, height = model_size(spec.width, spec.height, kind, route.get("max_area"))
    return RunPlan(
        key=PipelineKey(str(route["path"]), kind.name, options),
        prompt=spec.prompt,
        negative_prompt=route.get("negative_prompt", kind.negative_prompt),
        image=spec.image,
        last_image=spec.image_tail,
        width=width,
        height=height,
        num_frames=model_frames(spec.duration, kind),
        steps=int(route.get("steps") or schedule.steps),
        guidance=float(route["guidance"]) if route.get("guidance") is not None else schedule.guidance,
        seed=spec.seed,
        frame_rate=kind.fps,
        out_width=spec.width,
        out_height=spec.height,
        out_frames=spec.num_frames,
        duration=float(spec.duration),
    )


def time_positions(n_out: int, n_model: int) -> np.ndarray:
    """Where each output frame falls among the model's frames: first on first, last on last.

    Stretching the model's span over the output keeps a start-end clip's last frame on the
    end image, whatever frame rate the model was trained at.
    """
    if n_out <= 1 or n_model <= 1:
        return np.zeros(max(n_out, 1))
    return np.arange(n_out) * ((n_model - 1) / (n_out - 1))


def resample_frame(frames: np.ndarray, pos: float) -> np.ndarray:
    """Frame at fractional position `pos` of (N, H, W, 3) float frames in [0, 1], as uint8."""
    i = int(np.floor(pos))
    j = min(i + 1, len(frames) - 1)
    w = float(pos - i)
    frame = frames[i] if w < 1e-6 else frames[i] * (1 - w) + frames[j] * w
    return (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def fit_audio(samples: np.ndarray, rate: int, duration: float) -> np.ndarray:
    """(n, channels) float32 trimmed or padded with silence to exactly the clip's length."""
    want = int(round(duration * rate))
    if len(samples) >= want:
        return np.ascontiguousarray(samples[:want], dtype=np.float32)
    pad = np.zeros((want - len(samples), samples.shape[1]), np.float32)
    return np.concatenate([samples.astype(np.float32), pad])
