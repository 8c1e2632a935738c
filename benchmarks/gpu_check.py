"""Device check for the diffusers engine (run by gpu_check.sh on one GPU; never in CI).

1. Wan2.1-I2V-14B at full size with random weights (nothing downloaded): seconds per denoising
   step at 480p and 720p, 81 frames, CFG on (two transformer passes per step, as in the published
   comparisons), after a warm-up step, for each speed option the engine offers: attention
   backend, regional compile, First Block Cache, FP8 (torchao, when installed). Peak GPU memory
   includes the full-size UMT5-XXL text encoder and CLIP ViT-H image encoder, resident as in the
   engine (no offload).
2. The engine's real child-process path on CUDA with a tiny Wan model: one job, then a bad
   input, then a good job again (same process, still warm), then an out-of-memory job.

Every section reports and goes on after a failure; a time budget skips what would overrun.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engines"), str(ROOT / "tests" / "engines" / "diffusers")]

SIZES = {"480p": (832, 480), "720p": (1280, 720)}
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def build_wan14b(device: Any, dtype: Any) -> tuple[Any, Any]:
    """The I2V pipeline at full size (transformer, VAE, CLIP) and the full UMT5-XXL text encoder."""
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    from stillmotion.engines.diffusers.bench import _build

    pipe, _ = _build("wan2.1-i2v", False, device, dtype)
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # google/umt5-xxl encoder: 24 layers, d_model 4096, 5.7B params
            text = UMT5EncoderModel(UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
                                               num_heads=64, relative_attention_num_buckets=32,
                                               feed_forward_proj="gated-gelu")).eval()
    finally:
        torch.set_default_dtype(torch.float32)
    pipe.image_encoder.to(torch.float32)  # as the engine loads it
    return pipe, text


def step_times(pipe: Any, embeds: dict[str, Any], size: tuple[int, int], steps: int, image: Any) -> list[float]:
    import torch

    stamps: list[float] = []

    def on_step(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return kw

    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        pipe(image=image, height=size[1], width=size[0], num_frames=81, num_inference_steps=steps, guidance_scale=5.0,
             generator=torch.Generator("cpu").manual_seed(0), output_type="latent", callback_on_step_end=on_step,
             **embeds)
    marks = [start, *stamps]
    return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def bench_wan(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from stillmotion.engines.diffusers.speed import (CacheHooks, cache_config, compile_regions, quantize_fp8,
                                                     set_attention)

    device, dtype = torch.device("cuda"), torch.bfloat16
    log(f"GPU {torch.cuda.get_device_name()} cap {torch.cuda.get_device_capability()}; torch {torch.__version__}")
    pipe, text_encoder = build_wan14b(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    log(f"built: transformer {sum(p.numel() for p in pipe.transformer.parameters()) / 1e9:.1f}B params, "
        f"text encoder {sum(p.numel() for p in text_encoder.parameters()) / 1e9:.1f}B; "
        f"allocated {torch.cuda.memory_allocated() / 2**30:.1f} GiB")
    with torch.inference_mode():  # the prompt through the real-size encoder, as a job does
        ids = torch.randint(0, 256384, (2, 512), device=device)
        text = text_encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    embeds = dict(prompt_embeds=text[:1], negative_prompt_embeds=text[1:])
    rows: list[str] = []

    def measure(label: str, res: str, steps: int = 3) -> None:
        if time.monotonic() - T0 > args.budget_s:
            log(f"skip {label} {res}: time budget")
            return
        size = SIZES[res]
        image = Image.fromarray((np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8))
        torch.cuda.reset_peak_memory_stats()
        try:
            times = step_times(pipe, embeds, size, steps, image)
        except Exception as exc:  # noqa: BLE001 - report and go on
            log(f"{label} {res}: FAILED {type(exc).__name__}: {str(exc)[:300]}")
            torch.cuda.empty_cache()
            return
        warm, timed = times[0], times[1:]
        peak = torch.cuda.max_memory_allocated() / 2**30
        row = (f"{res} {label:28s} s/step {np.mean(timed):7.2f} (steps {', '.join(f'{t:.2f}' for t in timed)}; "
               f"first {warm:.1f})  peak {peak:5.1f} GiB")
        rows.append(row)
        log(row)

    chosen = set_attention(pipe, "auto", device)
    measure(f"attention auto={chosen}", "480p")
    measure(f"attention auto={chosen}", "720p")
    for backend in ("native", "_native_cudnn", "_native_flash", "_flash_3", "sage"):
        if backend == chosen:
            continue
        if set_attention(pipe, backend, device) == backend:
            measure(f"attention {backend}", "480p")
    set_attention(pipe, "auto", device)
    for spec in ("fbc:0.05", "taylorseer:5"):
        with CacheHooks(pipe, cache_config(spec, 8, None)):
            measure(f"cache {spec} (random weights)", "480p", steps=8)
    if not args.skip_compile:
        compile_regions(pipe, "inductor")
        measure(f"regional compile + {chosen}", "480p", steps=4)  # first step includes compiling
        measure(f"regional compile + {chosen}", "720p", steps=3)
    if args.fp8:
        try:
            quantize_fp8(pipe)
            measure("fp8 (torchao) + compile", "480p", steps=4)
        except Exception as exc:  # noqa: BLE001
            log(f"fp8: {type(exc).__name__}: {exc}")
    log("SUMMARY Wan2.1-I2V-14B, 81 frames, CFG 5.0, bf16, text+image encoders resident:")
    for row in rows:
        print("  " + row, flush=True)
    del pipe, text_encoder
    torch.cuda.empty_cache()


def engine_path(device: str = "auto") -> None:
    """The engine's real child-process path on CUDA with a tiny model."""
    from motion_support import save_png, textured
    from tiny_pipelines import save_tiny

    from stillmotion.domain import GenerationSpec
    from stillmotion.engines.base import RenderContext
    from stillmotion.engines.diffusers import DiffusersEngine
    from stillmotion.engines.diffusers.plan import RuntimeOptions
    from stillmotion.errors import GenerationFailed

    root = Path(tempfile.mkdtemp())
    model = save_tiny("wan2.1-i2v", root / "wan")
    image = save_png(root / "a.png", textured(96, 54, 1))
    route = {"path": str(model), "kind": "wan2.1-i2v", "steps": 4, "max_area": 64 * 48}
    engine = DiffusersEngine(RuntimeOptions(device=device))

    def job(img: str, width: int = 72, height: int = 40, area: int = 64 * 48) -> dict[str, Any]:
        spec = GenerationSpec(model="m", mode="pro", prompt="the camera pans left", image=img, image_tail=None,
                              width=width, height=height, num_frames=24, duration=1, seed=1, resolution="540p")
        ctx = RenderContext(metadata={"route": {**route, "max_area": area}})
        frames = list(engine.frames(spec, ctx))
        return {"frames": len(frames), **ctx.metadata["diffusers"], "pid": engine.runner.pid}

    try:
        log(f"engine job 1: {job(image)}")
        try:
            job("/nonexistent.png")
        except GenerationFailed as exc:
            log(f"engine bad input: {exc.message[:120]}")
        log(f"engine job 2 (same pid, no load_s): {job(image)}")
        if device == "cpu":
            return
        try:  # a frame far too big for any GPU: must fail this job only
            job(image, 7680, 4320, area=7680 * 4320)
            log("engine huge job: ran (no OOM on this card)")
        except GenerationFailed as exc:
            log(f"engine huge job: {exc.message[:160]}")
        log(f"engine job 3 after OOM (same pid): {job(image)}")
    except Exception:  # noqa: BLE001
        log("engine path FAILED:\n" + traceback.format_exc())
    finally:
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop starting measurements after this")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--fp8", action="store_true", help="also FP8 through torchao (if installed)")
    parser.add_argument("--only", choices=["wan", "engine"], default=None)
    parser.add_argument("--device", default="auto", help="engine path only: cpu for a smoke test without a GPU")
    args = parser.parse_args()
    import torch

    if args.device == "cpu" and args.only == "engine":
        engine_path("cpu")
        return 0
    if not torch.cuda.is_available():
        print("no CUDA GPU: this check runs on a device machine only", file=sys.stderr)
        return 2
    if args.only != "wan":
        engine_path()  # first: small and quick, so its result comes back even if the bench overruns
    if args.only != "engine":
        try:
            bench_wan(args)
        except Exception:  # noqa: BLE001
            log("Wan bench FAILED:\n" + traceback.format_exc())
    log("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
