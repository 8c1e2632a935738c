"""Loading a diffusers pipeline from a directory and running one plan on it (child process side).

This is the only module that imports torch and diffusers, and it runs only inside the
engine's child process, so the service and its CPU workers never load them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from stillmotion.engines.diffusers.kinds import get_kind
from stillmotion.engines.diffusers.plan import PipelineKey, RunPlan, RuntimeOptions
from stillmotion.media.imaging import fit_to_frame, load_rgb


class StepCanceled(Exception):
    """Raised from the step callback: ends the pipeline call between two denoising steps."""


def resolve_device(options: RuntimeOptions) -> tuple[Any, Any]:
    """(device, dtype): bf16 on a GPU, fp32 on the CPU unless the operator says otherwise."""
    import torch

    device = options.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if options.dtype == "auto":
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    else:
        dtype = dtypes[options.dtype]
    return torch.device(device), dtype


def load_pipeline(key: PipelineKey) -> Any:
    """The kind's pipeline class from `key.path`, placed and tuned as the options say."""
    import diffusers
    import torch

    kind = get_kind(key.kind)
    device, dtype = resolve_device(key.options)
    cls = getattr(diffusers, kind.pipeline)
    extra: dict[str, Any] = {}
    if kind.family == "wan" and dtype != torch.float32:
        # The Wan VAE loses detail in half precision; the model cards load it in fp32.
        extra["vae"] = diffusers.AutoencoderKLWan.from_pretrained(key.path, subfolder="vae", torch_dtype=torch.float32)
    pipe = cls.from_pretrained(key.path, torch_dtype=dtype, **extra)
    for name in ("transformer", "transformer_2", "text_encoder", "image_encoder", "vae", "audio_vae",
                 "connectors", "vocoder"):
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "eval"):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    if key.options.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif key.options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if key.options.vae_tiling and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    if key.options.compile:
        for name in ("transformer", "transformer_2"):
            if getattr(pipe, name, None) is not None:
                setattr(pipe, name, torch.compile(getattr(pipe, name), mode="max-autotune-no-cudagraphs"))
    return pipe


def _image(path: str, width: int, height: int) -> Any:
    from PIL import Image

    return Image.fromarray(fit_to_frame(load_rgb(path), width, height))


def call_args(pipe: Any, plan: RunPlan) -> tuple[Any, dict[str, Any]]:
    """The pipeline to call (LTX-2 start-end uses its condition variant) and its arguments."""
    kind = get_kind(plan.key.kind)
    first = _image(plan.image, plan.width, plan.height)
    last = _image(plan.last_image, plan.width, plan.height) if plan.last_image else None
    args: dict[str, Any] = dict(
        prompt=plan.prompt, negative_prompt=plan.negative_prompt, height=plan.height, width=plan.width,
        num_frames=plan.num_frames, num_inference_steps=plan.steps, guidance_scale=plan.guidance,
        output_type="np", return_dict=True,
    )
    if kind.family == "wan":
        args.update(image=first, last_image=last)
    elif kind.family == "ltx":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        conditions = [LTXVideoCondition(image=first, frame_index=0)]
        if last is not None:
            conditions.append(LTXVideoCondition(image=last, frame_index=plan.num_frames - 1))
        args.update(conditions=conditions, frame_rate=int(round(plan.frame_rate)), decode_timestep=0.05,
                    decode_noise_scale=0.025)
    else:  # ltx2: video and audio in one pass
        args.update(frame_rate=float(plan.frame_rate))
        if plan.guidance <= 1.0:  # distilled few-step schedules: no guidance passes of any kind
            args.update(stg_scale=0.0, modality_scale=1.0, audio_guidance_scale=1.0, audio_stg_scale=0.0,
                        audio_modality_scale=1.0)
        if last is None:
            args.update(image=first)
        else:
            from diffusers import LTX2ConditionPipeline
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            pipe = LTX2ConditionPipeline.from_pipe(pipe)
            pipe.set_progress_bar_config(disable=True)
            args.update(conditions=[LTX2VideoCondition(frames=first, index=0),
                                    LTX2VideoCondition(frames=last, index=-1)])  # a latent index: the last
    return pipe, args


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
    generator = torch.Generator(device="cpu" if plan.key.options.offload != "none" else device)
    t0 = time.monotonic()
    with torch.inference_mode():
        out = target(generator=generator.manual_seed(plan.seed), callback_on_step_end=step_end, **args)
    frames = np.asarray(out.frames[0], dtype=np.float32)
    audio = None
    if getattr(out, "audio", None) is not None:
        wave = out.audio[0].float().cpu().numpy()  # (channels, samples)
        audio = (np.ascontiguousarray(wave.T, dtype=np.float32), int(target.vocoder.config.output_sampling_rate))
    facts = {"denoise_s": round(time.monotonic() - t0, 3), "device": str(device)}
    if device.type == "cuda":
        facts["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return frames, audio, facts
