"""Loading a diffusers pipeline from a directory and running one plan on it (child process side).

This is the only module (with speed.py) that imports torch and diffusers, and it runs only
inside the engine's child process, so the service and its CPU workers never load them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from stillmotion.engines.diffusers.kinds import get_kind
from stillmotion.engines.diffusers.ltx2 import ltx2_call_args
from stillmotion.engines.diffusers.plan import PipelineKey, RunPlan, RuntimeOptions
from stillmotion.engines.diffusers.speed import (CacheHooks, cache_config, compile_regions, quantize_fp8,
                                                 set_attention)
from stillmotion.media.imaging import fit_to_frame, load_rgb

COMPONENTS = ("transformer", "transformer_2", "text_encoder", "image_encoder", "vae", "audio_vae", "connectors",
              "vocoder")


class StepCanceled(Exception):
    """Raised from the step callback: ends the pipeline call between two denoising steps."""


class DeviceUnavailable(RuntimeError):
    """This host cannot run GPU work as configured (device=auto and no CUDA)."""


def resolve_device(options: RuntimeOptions) -> tuple[Any, Any]:
    """(device, dtype). `auto` means the first CUDA GPU: a 14B model is never run on a CPU by accident."""
    import torch

    device = options.device
    if device in ("auto", "cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable("no CUDA GPU on this host (gpu_device=auto); set gpu_device=cpu only for tests")
        device = "cuda:0"
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if options.dtype == "auto":
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    else:
        dtype = dtypes[options.dtype]
    return torch.device(device), dtype


def release_memory(device: Any | None = None) -> None:
    """Collect reference cycles (pipelines hold some) and give cached GPU blocks back."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_pipeline(key: PipelineKey) -> Any:
    """The kind's pipeline class from `key.path`, placed and tuned as the options say."""
    import diffusers
    import torch

    kind = get_kind(key.kind)
    device, dtype = resolve_device(key.options)
    cls = getattr(diffusers, kind.pipeline)
    extra: dict[str, Any] = {}
    if kind.family == "wan" and dtype != torch.float32:
        # The Wan VAE loses detail in half precision, and the CLIP image encoder is run in fp32
        # in the model cards; both are small.
        extra["vae"] = diffusers.AutoencoderKLWan.from_pretrained(key.path, subfolder="vae", dtype=torch.float32)
        if _has_component(key.path, "image_encoder"):
            from transformers import CLIPVisionModel

            extra["image_encoder"] = CLIPVisionModel.from_pretrained(key.path, subfolder="image_encoder",
                                                                     dtype=torch.float32)
    pipe = cls.from_pretrained(key.path, dtype=dtype, **extra)
    for name in COMPONENTS:
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "eval"):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    if kind.sigmas is not None:
        pipe.scheduler = distilled_scheduler(pipe.scheduler)
    if key.options.fp8:
        quantize_fp8(pipe)
    if key.options.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif key.options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe._stillmotion_attention = set_attention(pipe, key.options.attention, device)
    if key.options.compile:
        compile_regions(pipe, key.options.compile_backend)
    return pipe


def _has_component(path: str, name: str) -> bool:
    import json
    from pathlib import Path

    index = json.loads((Path(path) / "model_index.json").read_text())
    entry = index.get(name)
    return isinstance(entry, list) and entry[0] is not None


class WarmPipeline:
    """The one pipeline this child holds. A different key frees the old one before loading."""

    def __init__(self, loader: Callable[[PipelineKey], Any] = load_pipeline) -> None:
        self.key: PipelineKey | None = None
        self.pipe: Any = None
        self.loader = loader
        self.warmed: set[tuple[int, int, int]] = set()

    def get(self, key: PipelineKey) -> tuple[Any, bool]:
        """(pipeline, whether it was loaded now)."""
        if key == self.key:
            return self.pipe, False
        self.drop()
        self.pipe = self.loader(key)
        self.key = key
        return self.pipe, True

    def drop(self) -> None:
        self.pipe = self.key = None
        self.warmed = set()
        release_memory()


def _image(path: str, width: int, height: int) -> Any:
    from PIL import Image

    return Image.fromarray(fit_to_frame(load_rgb(path), width, height))


def distilled_scheduler(scheduler: Any) -> Any:
    """The scheduler with shifting off, so a distilled checkpoint's trained sigmas are used as they are."""
    return type(scheduler).from_config(scheduler.config, use_dynamic_shifting=False, shift=1.0, shift_terminal=None)


def call_args(pipe: Any, plan: RunPlan, first: Any = None, last: Any = None) -> tuple[Any, dict[str, Any]]:
    """The pipeline to call (LTX-2 start-end uses its condition variant) and its arguments."""
    kind = get_kind(plan.key.kind)
    first = first if first is not None else _image(plan.image, plan.width, plan.height)
    if last is None and plan.last_image:
        last = _image(plan.last_image, plan.width, plan.height)
    args: dict[str, Any] = dict(
        prompt=plan.prompt, negative_prompt=plan.negative_prompt, height=plan.height, width=plan.width,
        num_frames=plan.num_frames, num_inference_steps=plan.steps, guidance_scale=plan.guidance,
        output_type="np", return_dict=True,
    )
    target = pipe
    if kind.family == "wan":
        args.update(image=first, last_image=last)
    elif kind.family == "ltx":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        conditions = [LTXVideoCondition(image=first, frame_index=0)]
        if last is not None:
            conditions.append(LTXVideoCondition(image=last, frame_index=plan.num_frames - 1))
        args.update(conditions=conditions, frame_rate=int(round(plan.frame_rate)), decode_timestep=0.05,
                    decode_noise_scale=0.025)
        if plan.sigmas is not None:  # this pipeline takes timesteps only; unshifted, they are the sigmas
            args.update(timesteps=[s * 1000 for s in plan.sigmas], guidance_rescale=0.0)
    else:  # ltx2: video and audio in one pass, guidance as its generation was trained
        scale, extra = ltx2_call_args(plan.generation or "2.0", plan.guidance)
        args.update(frame_rate=float(plan.frame_rate), guidance_scale=scale, **extra)
        if plan.sigmas is not None:
            args.update(sigmas=list(plan.sigmas))
        if last is None:
            args.update(image=first)
        else:
            from diffusers import LTX2ConditionPipeline
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            # The condition pipeline shares the warm modules; `dtype` keeps them as loaded (without
            # it from_pipe casts every shared module to float32, in place).
            target = LTX2ConditionPipeline.from_pipe(target, dtype=pipe.transformer.dtype)
            target.set_progress_bar_config(disable=True)
            args.update(conditions=[LTX2VideoCondition(frames=first, index=0),
                                    LTX2VideoCondition(frames=last, index=-1)])  # a latent index: see plan.end_frame
    return target, args


def seed_generator(seed: int) -> Any:
    """A CPU generator: the same seed gives the same clip on any device and offload setting."""
    import torch

    return torch.Generator(device="cpu").manual_seed(seed)


def run_plan(
    pipe: Any, plan: RunPlan, on_step: Callable[[int, int], None], canceled: Callable[[], bool]
) -> tuple[np.ndarray, tuple[np.ndarray, int] | None, dict[str, Any]]:
    """Denoise and decode: (frames (N, H, W, 3) float in [0, 1], audio or None, facts)."""
    import torch

    target, args = call_args(pipe, plan)

    def step_end(p: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        on_step(i + 1, plan.steps)
        if canceled():
            p._interrupt = True  # the pipelines' own flag, should the exception be swallowed
            raise StepCanceled(f"canceled after step {i + 1} of {plan.steps}")
        return kwargs

    device, _ = resolve_device(plan.key.options)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    vae = getattr(pipe, "vae", None)
    if vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling() if plan.vae_tiling else vae.disable_tiling()
    t0 = time.monotonic()
    try:
        with torch.inference_mode(), CacheHooks(pipe, cache_config(plan.cache, plan.steps, plan.mag_ratios)):
            out = target(generator=seed_generator(plan.seed), callback_on_step_end=step_end, **args)
    except BaseException:
        # A cancel or an error skips the pipeline's own end-of-call offload: put the models back
        # on the CPU now, or the transformer stays resident on the GPU.
        target.maybe_free_model_hooks()
        raise
    frames = np.asarray(out.frames[0], dtype=np.float32)
    audio = None
    if getattr(out, "audio", None) is not None:
        wave = out.audio[0].float().cpu().numpy()  # (channels, samples)
        audio = (np.ascontiguousarray(wave.T, dtype=np.float32), int(target.vocoder.config.output_sampling_rate))
    facts: dict[str, Any] = {"denoise_s": round(time.monotonic() - t0, 3), "device": str(device)}
    if getattr(pipe, "_stillmotion_attention", None):
        facts["attention"] = pipe._stillmotion_attention
    if device.type == "cuda":
        facts["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return frames, audio, facts


def warm_up(pipe: Any, plan: RunPlan, shapes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """One-step runs at each (width, height, frames) so a compiled pipeline compiles before jobs wait."""
    from dataclasses import replace

    from PIL import Image

    done = []
    for width, height, frames in shapes:
        image = Image.new("RGB", (width, height), (128, 128, 128))
        shaped = replace(plan, width=width, height=height, num_frames=frames, steps=1, cache="none",
                         sigmas=None, vae_tiling=plan.vae_tiling)
        target, args = call_args(pipe, shaped, first=image, last=image if plan.last_image else None)
        args.update(output_type="latent")
        import torch

        with torch.inference_mode():
            target(generator=seed_generator(0), **args)
        done.append((width, height, frames))
    return done
