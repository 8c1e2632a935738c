"""Speed options diffusers 0.42 ships, applied in the child process: attention backend, regional
compile, cache hooks and FP8 weights. Each is opt-in or picked per card; see docs/gpu.md for the
quality trade-off of each.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

log = logging.getLogger("stillmotion.engines.diffusers")

TRANSFORMERS = ("transformer", "transformer_2")


def transformers_of(pipe: Any) -> list[Any]:
    return [m for m in (getattr(pipe, n, None) for n in TRANSFORMERS) if m is not None]


def attention_candidates(requested: str, device_type: str, capability: tuple[int, int] | None) -> list[str]:
    """Backends to try, best first. `auto` never picks a lossy one (Sage quantizes Q/K to int8)."""
    if requested != "auto":
        return [requested, "native"]
    if device_type != "cuda":
        return []  # the CPU keeps the default SDPA
    out: list[str] = []
    if capability and capability[0] == 9 and importlib.util.find_spec("flash_attn_interface"):
        out.append("_flash_3")  # FlashAttention 3: Hopper only
    if importlib.util.find_spec("flash_attn"):
        out.append("flash")
    if capability and capability >= (8, 0):
        out.append("_native_cudnn")  # cuDNN SDPA: the fastest built-in kernel on Hopper
    out.append("native")
    return out


def set_attention(pipe: Any, requested: str, device: Any) -> str | None:
    """Set the first backend that works on every transformer; returns its name (None: default)."""
    import torch

    cap = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    for name in attention_candidates(requested, device.type, cap):
        try:
            for module in transformers_of(pipe):
                module.set_attention_backend(name)
            return name
        except Exception as exc:  # noqa: BLE001 - a missing package or an unsupported card: try the next
            log.warning("attention backend %s unavailable: %s", name, exc)
    return None


def compile_regions(pipe: Any, backend: str) -> int:
    """Regional compile: each repeated transformer block once (not the whole model, not max-autotune).

    Blocks share one compiled graph, so compiling takes seconds to a minute instead of many
    minutes, and a new frame count or size recompiles only the block graph. Returns how many
    transformers were compiled.
    """
    import torch

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    count = 0
    for module in transformers_of(pipe):
        module.compile_repeated_blocks(fullgraph=True, backend=backend)
        count += 1
    return count


def quantize_fp8(pipe: Any) -> None:
    """FP8 weights and activations (per-row scales) for the transformer(s), through torchao."""
    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_
    except ImportError:
        raise RuntimeError("fp8 = true needs torchao (pip install torchao); this host does not have it") from None
    for module in transformers_of(pipe):
        quantize_(module, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))


def cache_config(spec: str, steps: int, mag_ratios: tuple[float, ...] | None) -> Any:
    """A diffusers cache-hook config from a route's `cache` value, or None for "none".

    fbc[:threshold]: First Block Cache (skip the rest of the blocks while the first block's
    output barely changes); taylorseer[:interval]: TaylorSeer (predict features between full
    steps); magcache: MagCache with the route's per-checkpoint `mag_ratios`.
    """
    name, _, arg = spec.partition(":")
    if name == "none":
        return None
    from diffusers import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

    if name == "fbc":
        return FirstBlockCacheConfig(threshold=float(arg or 0.05))
    if name == "taylorseer":
        return TaylorSeerCacheConfig(cache_interval=int(arg or 5), disable_cache_before_step=3, max_order=1)
    if name == "magcache":
        if not mag_ratios:
            raise ValueError("cache = \"magcache\" needs the route's mag_ratios (calibrated per checkpoint)")
        return MagCacheConfig(threshold=float(arg or 0.06), num_inference_steps=steps, mag_ratios=list(mag_ratios))
    raise ValueError(f"unknown cache {spec!r}")


class CacheHooks:
    """Cache hooks on for one run, off afterwards (the warm pipeline stays hook-free between jobs)."""

    def __init__(self, pipe: Any, config: Any) -> None:
        self.modules = transformers_of(pipe) if config is not None else []
        self.config = config

    def __enter__(self) -> CacheHooks:
        for module in self.modules:
            module.enable_cache(self.config)
        return self

    def __exit__(self, *exc: object) -> None:
        for module in self.modules:
            try:
                module.disable_cache()
            except Exception:  # noqa: BLE001 - never mask the run's own error
                log.exception("disable_cache failed")
