"""From a GenerationSpec and its route to the exact arguments of one pipeline run (no torch).

The plan is a plain picklable value: the parent process builds it, the child process that
holds the pipeline runs it. Model-side numbers (frames the model accepts, sizes that are
multiples of 16 or 32) and output-side numbers (round(duration*24) frames, the exact output
size) are both here, so the mapping between them is in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from stillmotion.domain import GenerationSpec
from stillmotion.engines.diffusers.kinds import WAN_480P_AREA, ModelKind, get_kind, model_frames, model_size
from stillmotion.engines.diffusers.ltx2 import ltx2_generation
from stillmotion.errors import GenerationFailed

OUT_FPS = 24.0
HD_AREA = 1280 * 720
CACHES = ("none", "fbc", "taylorseer", "magcache")


@dataclass(frozen=True)
class RuntimeOptions:
    """How the worker holds pipelines (from Settings, some overridable per route).

    A route can change `compile` and `fp8` (they change the loaded pipeline, so they are part
    of its key); attention, caches and VAE tiling are set per run on the warm pipeline.
    """

    device: str = "auto"  # auto = cuda:0 and nothing else: a host without CUDA refuses GPU work
    dtype: str = "auto"
    compile: bool = False  # regional compile (compile_repeated_blocks) of the transformer(s)
    offload: str = "none"
    vae_tiling: str = "auto"  # auto: tiles above 720p; "true" / "false"
    attention: str = "auto"  # auto: the fastest installed backend for the card (speed.pick_attention)
    fp8: bool = False  # FP8 weights through torchao (Hopper / Ada and later)
    compile_backend: str = "inductor"
    watchdog_s: float = 900.0  # a child silent this long while denoising is killed, its job released
    load_watchdog_s: float = 3600.0  # ... while loading, compiling or warming up


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
    num_frames: int  # frames the model makes
    end_frame: int  # the model frame that is the clip's last (LTX-2 start-end: the end image)
    steps: int
    guidance: float
    seed: int
    frame_rate: float
    out_width: int
    out_height: int
    out_frames: int
    duration: float
    sigmas: tuple[float, ...] | None = None  # a distilled checkpoint's trained schedule
    generation: str | None = None  # LTX-2: "2.0" | "2.3" | "2.5"
    cache: str = "none"  # "fbc[:threshold]" | "taylorseer[:interval]" | "magcache" (with mag_ratios)
    mag_ratios: tuple[float, ...] | None = None
    vae_tiling: bool = False
    warm_shapes: tuple[tuple[int, int, int], ...] = ()  # (width, height, frames) to compile for at load

    def describe(self) -> dict[str, Any]:
        """Facts for the job's metadata: what the model was actually asked for."""
        facts = {"kind": self.key.kind, "model_size": [self.width, self.height], "model_frames": self.num_frames,
                 "steps": self.steps, "guidance": self.guidance, "seed": self.seed}
        if self.generation:
            facts["generation"] = self.generation
        if self.cache != "none":
            facts["cache"] = self.cache
        return facts


def checkpoint_max_area(path: str | Path, kind: ModelKind) -> int:
    """The pixel area the checkpoint is trained for: Wan 2.1 480P checkpoints say so in their name."""
    if kind.family == "wan" and "480p" in Path(path).name.lower():
        return WAN_480P_AREA
    return kind.max_area


def _flag(value: Any, default: bool) -> bool:
    return default if value is None else bool(value)


def _cache(route: dict[str, Any]) -> str:
    cache = str(route.get("cache") or "none")
    if cache.split(":")[0] not in CACHES:
        raise GenerationFailed(f"unknown cache {cache!r} in the route (one of {', '.join(CACHES)})")
    return cache


def make_plan(spec: GenerationSpec, route: dict[str, Any], options: RuntimeOptions) -> RunPlan:
    """The run for `spec` on the route stored with its job at submit."""
    if not route.get("path") or not route.get("kind"):
        raise GenerationFailed("job has no diffusers route (path and kind): was it routed to this engine?")
    kind: ModelKind = get_kind(route["kind"])
    if spec.image_tail and not kind.start_end:
        raise GenerationFailed(f"{kind.name} cannot take an end frame")
    path = str(route["path"])
    options = replace(options, compile=_flag(route.get("compile"), options.compile),
                      fp8=_flag(route.get("fp8"), options.fp8),
                      attention=str(route.get("attention") or options.attention))
    schedule = kind.schedule(spec.mode)
    max_area = route.get("max_area") or checkpoint_max_area(path, kind)
    width, height = model_size(spec.width, spec.height, kind, max_area)
    num_frames = model_frames(spec.duration, kind)
    end_frame = num_frames - 1
    if kind.family == "ltx2" and spec.image_tail:
        # LTX-2 conditions on latent indices: the last latent of an 8k+1 clip starts at pixel
        # frame 8k-7, 7 frames (~0.3 s) before the end. Make 8 frames more and end the clip on
        # the frame the end image sits on.
        if num_frames + 8 > kind.max_frames:
            num_frames -= 8
        end_frame = num_frames
        num_frames += 8
    generation = ltx2_generation(path) if kind.family == "ltx2" else None
    guidance = route.get("guidance")
    if guidance is None:
        guidance = schedule.guidance if kind.family != "ltx2" or kind.sigmas else _ltx2_default(generation)
    vae_tiling = str(route.get("vae_tiling", options.vae_tiling)).lower()
    tiles = width * height > HD_AREA if vae_tiling == "auto" else vae_tiling in ("true", "1", "yes")
    return RunPlan(
        key=PipelineKey(path, kind.name, options),
        prompt=spec.prompt,
        negative_prompt=route.get("negative_prompt") or kind.negative_prompt,
        image=spec.image,
        last_image=spec.image_tail,
        width=width,
        height=height,
        num_frames=num_frames,
        end_frame=end_frame,
        steps=len(kind.sigmas) if kind.sigmas else int(route.get("steps") or schedule.steps),
        guidance=float(guidance),
        seed=spec.seed,
        frame_rate=kind.fps,
        out_width=spec.width,
        out_height=spec.height,
        out_frames=spec.num_frames,
        duration=float(spec.duration),
        sigmas=kind.sigmas,
        generation=generation,
        cache=_cache(route),
        mag_ratios=tuple(route["mag_ratios"]) if route.get("mag_ratios") else None,
        vae_tiling=tiles,
        warm_shapes=tuple(tuple(s) for s in route.get("warm_shapes") or ()),  # type: ignore[misc]
    )


def _ltx2_default(generation: str | None) -> float:
    from stillmotion.engines.diffusers.ltx2 import GUIDANCE

    return float(GUIDANCE[generation or "2.0"]["guidance"])


def frame_indices(n_out: int, n_model: int, model_fps: float, *, end_frame: int | None = None,
                  keep_end: bool = False, out_fps: float = OUT_FPS) -> np.ndarray:
    """The model frame shown as each output frame: the nearest in time, never a blend.

    At equal rates this is 1:1; from 16 fps it is a 2:3-style pulldown (each model frame shown
    once or twice). `keep_end` puts the last output frame exactly on `end_frame` (a start-end
    clip must end on its end image).
    """
    last = n_model - 1 if end_frame is None else min(end_frame, n_model - 1)
    idx = np.floor(np.arange(n_out) * (model_fps / out_fps) + 0.5).astype(np.int64)
    idx = np.minimum(idx, last)
    if keep_end and n_out > 1:
        idx[-1] = last
    return idx


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """A float frame in [0, 1] as uint8 RGB."""
    return (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def fit_audio(samples: np.ndarray, rate: int, duration: float) -> np.ndarray:
    """(n, channels) float32 trimmed or padded with silence to exactly the clip's length."""
    want = int(round(duration * rate))
    if len(samples) >= want:
        return np.ascontiguousarray(samples[:want], dtype=np.float32)
    pad = np.zeros((want - len(samples), samples.shape[1]), np.float32)
    return np.concatenate([samples.astype(np.float32), pad])
