"""Quality/speed profiles selected by `GenerationSpec.mode`.

Each profile is a handful of knobs read by the scene, warp, effects and morph code; nothing
else in the engine branches on the mode name. Unknown or missing modes get ``pro``. Depth,
parallax, effects and morphs run in every mode: the modes trade the resolution of internal
computations.

- ``pro`` (best): depth at 384 px, the depth warp solved every 8 px and sampled bilinearly from
  a 2x Lanczos-supersampled copy (near-bicubic sharpness at about a third of bicubic's cost, see
  resample.py), effect fields at half of 720p. Morphs estimate flow on full-resolution
  frames (DIS "medium", ORB matching on up to 1280 px) and resample from 2x copies.
- ``pro-fast`` (middle): depth at 256 px, the warp solved every 16 px, bilinear, fields at a third; morph
  flow at half resolution with DIS "fast".
- ``turbo`` (fastest): depth at 160 px, the warp solved every 16 px, fields at a quarter; morph flow at quarter
  resolution with DIS "ultrafast", splatted on a coarser grid.

Figures: ``python -m benchmarks.motion [--clips]`` and docs/motion.md. Lanczos
straight in cv2.warpAffine (or bicubic, ~9x bilinear at 720p) would be sharper still but far
too slow per frame, so no mode uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class ModeProfile:
    name: str
    morph_interp: int  # cv2 interpolation flag for the morph's per-frame remaps
    morph_supersample: int  # 2: remap a 2x Lanczos-supersampled source (near-bicubic, cheaper)
    flow_scale: float  # resolution (fraction of the frame) at which optical flow is estimated
    splat_scale: float  # resolution of the grid on which flow is splatted to time t
    dis_preset: int  # cv2.DISOPTICAL_FLOW_PRESET_*
    flow_max_side: int  # cap on the flow image's longer side, whatever the frame size
    features: int  # ORB keypoints per frame for large-displacement matching
    feature_max_side: int  # cap on the longer side of the image features are found on
    depth_max_side: int = 320  # heuristic depth is estimated at most this many pixels long
    node_step: int = 8  # output pixels between the nodes the camera warp is solved on
    parallax_supersample: int = 1  # 2: the canvas remapped from a 2x Lanczos copy (near-bicubic)
    effect_scale: float = 0.25  # resolution of the procedural effects' fields
    anime_scale: float = 0.5  # resolution of the anime style's smoothing


PROFILES: dict[str, ModeProfile] = {
    "pro": ModeProfile(
        name="pro",
        morph_interp=cv2.INTER_LINEAR,
        morph_supersample=2,
        flow_scale=1.0,
        splat_scale=0.25,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        flow_max_side=1920,
        features=2000,
        feature_max_side=1280,
        depth_max_side=384,
        node_step=8,
        parallax_supersample=2,
        effect_scale=0.5,
        anime_scale=1.0,
    ),
    "pro-fast": ModeProfile(
        name="pro-fast",
        morph_interp=cv2.INTER_LINEAR,
        morph_supersample=1,
        flow_scale=0.5,
        splat_scale=0.25,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_FAST,
        flow_max_side=1280,
        features=1500,
        feature_max_side=960,
        depth_max_side=256,
        node_step=16,
        parallax_supersample=1,
        effect_scale=0.33,
        anime_scale=0.5,
    ),
    "turbo": ModeProfile(
        name="turbo",
        morph_interp=cv2.INTER_LINEAR,
        morph_supersample=1,
        flow_scale=0.25,
        splat_scale=1 / 6,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        flow_max_side=640,
        features=1000,
        feature_max_side=640,
        depth_max_side=160,
        node_step=16,
        parallax_supersample=1,
        effect_scale=0.25,
        anime_scale=0.5,
    ),
}

DEFAULT_MODE = "pro"


def profile_for(mode: str | None) -> ModeProfile:
    """The profile for a mode name; unknown or missing names get the default (``pro``)."""
    return PROFILES.get((mode or "").strip().lower(), PROFILES[DEFAULT_MODE])
