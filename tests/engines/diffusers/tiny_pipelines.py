"""Tiny diffusers pipelines built in code from configs (no hub), saved with save_pretrained.

The architectures are the real ones (Wan, LTX-Video, LTX-2) shrunk to a few channels so a
whole denoising run takes well under a second on a CPU; the weights are random, so the
frames are noise-like, but shapes, conditioning, schedulers and loading are exercised for
real. Shared by the engine, routing and end-to-end tests through a session fixture (conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WORDS = (
    "a the cat dog camera zooms in out slowly pans left right moves person walks runs sky sea "
    "light dark red blue green robot dancing monkey city night day worst quality blurry static "
    "low inconsistent motion jittery distorted"
).split()


def tiny_tokenizer(model_max_length: int = 64) -> Any:
    """A word-level tokenizer built with `tokenizers`, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "<bos>": 3}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        bos_token="<bos>", model_max_length=model_max_length,
    )


def _umt5(d_model: int = 32) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    cfg = UMT5Config(vocab_size=64, d_model=d_model, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                     relative_attention_num_buckets=8)
    return UMT5EncoderModel(cfg).eval()


def _t5(d_model: int = 32) -> Any:
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=64, d_model=d_model, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                   relative_attention_num_buckets=8)
    return T5EncoderModel(cfg).eval()


def _wan_transformer(in_channels: int, out_channels: int, image_dim: int | None = None,
                     pos_embed_seq_len: int | None = None) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=out_channels, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32, image_dim=image_dim,
        pos_embed_seq_len=pos_embed_seq_len,
    ).eval()


def build_wan(kind: str) -> Any:
    """Wan I2V / FLF2V (one expert + CLIP image encoder), A14B (two experts) or TI2V 5B."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    extra: dict[str, Any] = {"image_encoder": None, "image_processor": None, "transformer_2": None}
    if kind == "wan2.2-ti2v-5b":
        vae = AutoencoderKLWan(
            base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
            latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
        ).eval()
        transformer = _wan_transformer(48, 48)
        extra["expand_timesteps"] = True
    else:
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True]).eval()
        if kind == "wan2.2-i2v-a14b":
            transformer = _wan_transformer(36, 16)
            extra["transformer_2"] = _wan_transformer(36, 16)
            extra["boundary_ratio"] = 0.875
        else:  # wan2.1-i2v / wan2.1-flf2v: CLIP image embeddings condition the transformer
            # FLF2V embeds the first and last images side by side: 2 x (16 patches + CLS) positions
            transformer = _wan_transformer(36, 16, image_dim=4,
                                           pos_embed_seq_len=34 if kind == "wan2.1-flf2v" else None)
            extra["image_encoder"] = CLIPVisionModel(CLIPVisionConfig(
                hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2,
                image_size=16, intermediate_size=16, patch_size=4)).eval()
            extra["image_processor"] = CLIPImageProcessor(crop_size=16, size=16)
    return WanImageToVideoPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=_umt5(), vae=vae, transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), **extra,
    )


def build_ltx() -> Any:
    """LTX-Video with first/last frame conditions (LTXConditionPipeline)."""
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline,
                           LTXVideoTransformer3DModel)

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    ).eval()
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    ).eval()
    return LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=_t5(),
                                tokenizer=tiny_tokenizer(), transformer=transformer)


def _gemma3() -> Any:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(vocab_size=64, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
                            num_attention_heads=2, num_key_value_heads=1, head_dim=8, sliding_window=16,
                            max_position_embeddings=128)
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, image_size=16, patch_size=4)
    cfg = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4, image_token_index=63,
                       boi_token_index=62, eoi_token_index=61)
    return Gemma3ForConditionalGeneration(cfg).eval()


def build_ltx2() -> Any:
    """LTX-2 image-to-video with its own audio (transformer, audio VAE and vocoder shrunk)."""
    import torch
    from diffusers import (AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler,
                           LTX2ImageToVideoPipeline, LTX2VideoTransformer3DModel)
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    torch.manual_seed(0)
    text_encoder = _gemma3()
    hidden, layers = text_encoder.config.text_config.hidden_size, text_encoder.config.text_config.num_hidden_layers
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=2, qk_norm="rms_norm_across_heads",
        caption_channels=hidden, rope_double_precision=False, rope_type="split",
    ).eval()
    connectors = LTX2TextConnectors(
        caption_channels=hidden, text_proj_in_factor=layers + 1, video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8, video_connector_num_layers=1,
        video_connector_num_learnable_registers=None, audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split",
    ).eval()
    vae = AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8,), decoder_block_out_channels=(8,),
        layers_per_block=(1,), decoder_layers_per_block=(1, 1), spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,), decoder_inject_noise=(False, False), downsample_type=("spatial",),
        upsample_residual=(False,), upsample_factor=(1,), timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False,
    ).eval()
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=8,
    ).eval()
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins, hidden_channels=32,
        out_channels=2, upsample_kernel_sizes=[4, 4], upsample_factors=[2, 2], resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1, output_sampling_rate=16000,
    ).eval()
    return LTX2ImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae, text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(), connectors=connectors, transformer=transformer, vocoder=vocoder,
    )


BUILDERS = {
    "wan2.1-i2v": lambda: build_wan("wan2.1-i2v"),
    "wan2.1-flf2v": lambda: build_wan("wan2.1-flf2v"),
    "wan2.2-i2v-a14b": lambda: build_wan("wan2.2-i2v-a14b"),
    "wan2.2-ti2v-5b": lambda: build_wan("wan2.2-ti2v-5b"),
    "ltx-video": build_ltx,
    "ltx-2": build_ltx2,
}


def save_tiny(kind: str, directory: Path) -> Path:
    """Build the tiny pipeline of `kind` and save it as a diffusers directory."""
    directory.mkdir(parents=True, exist_ok=True)
    BUILDERS[kind]().save_pretrained(str(directory))
    return directory
