"""LTX-2 generations (2.0, 2.3, 2.5) and the guidance each was trained with (plain data, no torch).

diffusers 0.42's LTX-2 pipelines default to the LTX-2.3/2.5 reference (cross-modality
timestep, STG on block 28, modality isolation and a separate audio guidance). LTX-2.0 weights
were trained without the cross timestep and sampled with plain CFG for video and audio, so the
generation is read from the checkpoint's configs and its own argument set is passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ltx2_generation(model_dir: str | Path) -> str:
    """"2.0", "2.3" or "2.5" from the pipeline directory's configs.

    2.5 ships a duration head or a dedicated prompt enhancer; 2.3 added cross-attention
    modulation in the transformer and per-modality projections in the text connectors.
    """
    root = Path(model_dir)
    index = _config(root / "model_index.json")
    if any(isinstance(index.get(k), list) and index[k][0] for k in ("duration_head", "prompt_enhancer")):
        return "2.5"
    transformer = _config(root / "transformer" / "config.json")
    connectors = _config(root / "connectors" / "config.json")
    if transformer.get("cross_attn_mod") or connectors.get("per_modality_projections"):
        return "2.3"
    return "2.0"


# Guidance sets per generation (diffusers' LTX-2 docs and pipeline docstrings): `guidance` is
# the video CFG scale when the route or kind does not set one.
GUIDANCE: dict[str, dict[str, Any]] = {
    "2.0": dict(guidance=4.0, use_cross_timestep=False, stg_scale=0.0, modality_scale=1.0, guidance_rescale=0.0,
                audio_guidance_scale=None, audio_stg_scale=0.0, audio_modality_scale=1.0,
                audio_guidance_rescale=0.0, spatio_temporal_guidance_blocks=[29]),
    "2.3": dict(guidance=3.0, use_cross_timestep=True, stg_scale=1.0, modality_scale=3.0, guidance_rescale=0.7,
                audio_guidance_scale=7.0, audio_stg_scale=1.0, audio_modality_scale=3.0,
                audio_guidance_rescale=0.7, spatio_temporal_guidance_blocks=[28]),
}
GUIDANCE["2.5"] = dict(GUIDANCE["2.3"])

# Distilled schedules (guidance <= 1): one model pass per step, no guidance of any kind.
NO_GUIDANCE = dict(stg_scale=0.0, modality_scale=1.0, guidance_rescale=0.0, audio_guidance_scale=1.0,
                   audio_stg_scale=0.0, audio_modality_scale=1.0, audio_guidance_rescale=0.0)


def ltx2_call_args(generation: str, guidance: float | None) -> tuple[float, dict[str, Any]]:
    """(video guidance scale, the other guidance arguments) for one run on `generation` weights."""
    preset = dict(GUIDANCE[generation])
    default = preset.pop("guidance")
    scale = float(default if guidance is None else guidance)
    if scale <= 1.0:
        preset.update(NO_GUIDANCE)
    elif preset["audio_guidance_scale"] is None:  # 2.0: audio follows the video scale
        preset["audio_guidance_scale"] = scale
    return scale, preset
