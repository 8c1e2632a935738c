"""`stillmotion bench gpu`: the real pipeline at full size with random weights (nothing downloaded).

Speed does not depend on the weights' values, so the transformer(s) and VAE are built from
the published configs with random weights, straight on the GPU in bf16. Text and CLIP image
encoders are skipped: random prompt/image embeddings of the right shapes are passed instead
(they cost well under a second on a GPU and would need their own multi-GB weights).
Prints seconds per denoising step, the whole call's wall time and peak GPU memory for each mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from stillmotion.engines.diffusers.kinds import get_kind, model_frames

SIZES = {"480p": (832, 480), "540p": (960, 544), "720p": (1280, 720), "1080p": (1920, 1088)}

# transformer/config.json of the published checkpoints (the fields that set the compute)
WAN_14B = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36,
               out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
               qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
FULL: dict[str, dict[str, Any]] = {
    "wan2.1-i2v": {**WAN_14B, "image_dim": 1280, "added_kv_proj_dim": 5120},
    "wan2.1-flf2v": {**WAN_14B, "image_dim": 1280, "added_kv_proj_dim": 5120, "pos_embed_seq_len": 514},
    "wan2.2-i2v-a14b": dict(WAN_14B),
    "wan2.2-ti2v-5b": {**WAN_14B, "num_attention_heads": 24, "in_channels": 48, "out_channels": 48,
                       "ffn_dim": 14336, "num_layers": 30},
    "ltx-video": dict(in_channels=128, out_channels=128, num_attention_heads=32, attention_head_dim=128,
                      cross_attention_dim=4096, num_layers=48, caption_channels=4096),
}
FULL["ltx-video-distilled"] = FULL["ltx-video"]
TINY: dict[str, dict[str, Any]] = {
    k: {**v, "num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32, "num_layers": 2, "text_dim": 32,
        **({"image_dim": 4, "added_kv_proj_dim": None} if "image_dim" in v else {}),
        **({"pos_embed_seq_len": 34} if "pos_embed_seq_len" in v else {})}
    for k, v in FULL.items() if k.startswith("wan")
}
TINY["wan2.1-i2v"]["added_kv_proj_dim"] = TINY["wan2.1-flf2v"]["added_kv_proj_dim"] = 24  # = heads x head_dim
for _k in ("ltx-video", "ltx-video-distilled"):
    TINY[_k] = dict(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
                    cross_attention_dim=16, num_layers=1, caption_channels=32, patch_size=1, patch_size_t=1)
TINY_LTX_VAE = dict(latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                    layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
                    spatio_temporal_scaling=(True, True, False, False),
                    decoder_spatio_temporal_scaling=(True, True, False, False),
                    decoder_inject_noise=(False, False, False, False, False),
                    upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
                    timestep_conditioning=False, patch_size=1, patch_size_t=1)


def _build(kind_name: str, tiny: bool, device: Any, dtype: Any) -> tuple[Any, dict[str, Any]]:
    """The pipeline with random full-size (or tiny) weights, and the embeddings that replace encoders."""
    import diffusers
    import torch

    kind = get_kind(kind_name)
    cfg = (TINY if tiny else FULL)[kind_name]
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            if kind.family == "wan":
                return _build_wan(kind_name, cfg, tiny, device, dtype)
            transformer = diffusers.LTXVideoTransformer3DModel(**cfg).eval()
            vae = (diffusers.AutoencoderKLLTXVideo(**TINY_LTX_VAE) if tiny else diffusers.AutoencoderKLLTXVideo()).eval()
            pipe = diffusers.LTXConditionPipeline(scheduler=diffusers.FlowMatchEulerDiscreteScheduler(), vae=vae,
                                                  text_encoder=None, tokenizer=None, transformer=transformer)
            text = torch.randn(1, 128, cfg["caption_channels"], device=device, dtype=dtype)
            mask = torch.ones(1, 128, device=device, dtype=torch.long)
            return pipe, dict(prompt_embeds=text, prompt_attention_mask=mask, negative_prompt_embeds=text,
                              negative_prompt_attention_mask=mask)
    finally:
        torch.set_default_dtype(torch.float32)


def _build_wan(kind_name: str, cfg: dict[str, Any], tiny: bool, device: Any, dtype: Any) -> tuple[Any, dict]:
    import diffusers
    import torch

    ti2v = kind_name == "wan2.2-ti2v-5b"
    if ti2v:
        vae_cfg = dict(base_dim=3 if tiny else 160, decoder_base_dim=None if tiny else 256, z_dim=48, in_channels=12,
                       out_channels=12, is_residual=True, patch_size=2, latents_mean=[0.0] * 48,
                       latents_std=[1.0] * 48, scale_factor_spatial=16)
    else:
        vae_cfg = dict(base_dim=3) if tiny else {}
    if tiny:
        vae_cfg.update(dim_mult=[1, 1, 1, 1], num_res_blocks=1)
    vae = diffusers.AutoencoderKLWan(**vae_cfg).to(torch.float32).eval()
    transformer = diffusers.WanTransformer3DModel(**cfg).eval()
    extra: dict[str, Any] = {}
    if kind_name == "wan2.2-i2v-a14b":
        extra = dict(transformer_2=diffusers.WanTransformer3DModel(**cfg).eval(), boundary_ratio=0.875)
    pipe = diffusers.WanImageToVideoPipeline(tokenizer=None, text_encoder=None, vae=vae, transformer=transformer,
                                             scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=5.0),
                                             expand_timesteps=ti2v, **extra)
    text = torch.randn(1, 512, cfg["text_dim"], device=device, dtype=dtype)
    args: dict[str, Any] = dict(prompt_embeds=text, negative_prompt_embeds=text)
    if cfg.get("image_dim"):  # Wan 2.1 takes CLIP ViT-H/14 features of its input image(s)
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        clip = (dict(hidden_size=4, num_hidden_layers=2, num_attention_heads=2, image_size=16, intermediate_size=16,
                     patch_size=4) if tiny else
                dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, image_size=224,
                     intermediate_size=5120, patch_size=14))
        pipe.image_encoder = CLIPVisionModel(CLIPVisionConfig(**clip)).eval()
        pipe.image_processor = CLIPImageProcessor(crop_size=clip["image_size"], size=clip["image_size"])
    return pipe, args


def run_bench(*, kind: str, modes: list[str], seconds: int, resolution: str, tiny: bool, compile_: bool,
              out: Callable[[str], None]) -> list[dict[str, Any]]:
    import numpy as np
    import torch
    from PIL import Image

    cuda = torch.cuda.is_available()
    if not cuda and not tiny:
        raise RuntimeError("no CUDA GPU here: a full-size bench needs one (use --tiny for a CPU smoke test)")
    if kind not in FULL:
        raise RuntimeError(f"no bench config for {kind}; benchable: {', '.join(FULL)}")
    mk = get_kind(kind)
    device, dtype = (torch.device("cuda"), torch.bfloat16) if cuda else (torch.device("cpu"), torch.float32)
    width, height = (64, 32) if tiny else SIZES[resolution]
    width, height = width // mk.size_multiple * mk.size_multiple, height // mk.size_multiple * mk.size_multiple
    frames = model_frames(1 if tiny else seconds, mk)
    pipe, embeds = _build(kind, tiny, device, dtype)
    pipe.set_progress_bar_config(disable=True)
    if compile_:
        pipe.transformer = torch.compile(pipe.transformer, mode="max-autotune-no-cudagraphs")
    image = Image.fromarray((np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8))
    cond = {"image": image} if mk.family == "wan" else {"image": image, "frame_rate": int(mk.fps)}
    if kind == "wan2.1-flf2v":
        cond["last_image"] = image  # FLF2V's transformer expects first and last image features
    out(f"{kind} {'tiny ' if tiny else ''}{width}x{height} x {frames} frames on {torch.cuda.get_device_name() if cuda else 'cpu'}"
        f" ({dtype}); compile={compile_}")
    rows = []
    for mode in modes:
        sched = mk.schedule(mode)
        steps = 2 if tiny else sched.steps
        stamps: list[float] = []
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

        def on_step(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
            if cuda:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
            return kw

        t0 = time.perf_counter()
        with torch.inference_mode():
            pipe(height=height, width=width, num_frames=frames, num_inference_steps=steps,
                 guidance_scale=sched.guidance, generator=torch.Generator(device).manual_seed(0), output_type="np",
                 callback_on_step_end=on_step, **cond, **embeds)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        per_step = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1) if len(stamps) > 1 else wall / steps
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
        rows.append(dict(mode=mode, steps=steps, s_per_step=per_step, wall_s=wall, peak_gib=peak))
        out(f"  {mode:9s} steps={steps:3d}  s/step={per_step:8.3f}  wall={wall:8.1f} s  peak GPU={peak:6.1f} GiB")
    return rows
