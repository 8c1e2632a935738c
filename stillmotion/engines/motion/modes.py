"""Quality/speed profiles selected by `GenerationSpec.mode`.

Each profile is a handful of knobs read by the warp and morph code; nothing else in the
engine branches on the mode name.

- ``pro``: bicubic resampling for the camera warp and the morph; optical flow estimated on
  the full-resolution frames with DIS "medium" (finest pyramid level, variational refinement)
  and splatted to intermediate times on a half-resolution grid. Best edges around moving
  objects; the morph costs the most here.
- ``pro-fast``: bicubic camera warp (same look as ``pro`` for camera moves), flow estimated
  at half resolution with DIS "fast" and splatted on a third-resolution grid; bilinear morph
  resampling. Near-``pro`` quality at a fraction of the morph cost.
- ``turbo``: bilinear resampling everywhere; flow estimated at quarter resolution with DIS
  "ultrafast" and splatted on a quarter-resolution grid. Slightly softer frames and rougher
  motion boundaries, the fastest by far.

(Lanczos would be sharper still but costs ~4x bicubic in cv2.warpAffine, which breaks the
"well faster than real time" budget at 720p, so no mode uses it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class ModeProfile:
    name: str
    warp_interp: int  # cv2 interpolation flag for the camera warp
    morph_interp: int  # cv2 interpolation flag for the morph's per-frame remaps
    flow_scale: float  # resolution (fraction of the frame) at which optical flow is estimated
    splat_scale: float  # resolution of the grid on which flow is splatted to time t
    dis_preset: int  # cv2.DISOPTICAL_FLOW_PRESET_*
    flow_max_side: int  # cap on the flow image's longer side, whatever the frame size
    features: int  # ORB keypoints per frame for large-displacement matching
    feature_max_side: int  # cap on the longer side of the image features are found on


PROFILES: dict[str, ModeProfile] = {
    "pro": ModeProfile(
        name="pro",
        warp_interp=cv2.INTER_CUBIC,
        morph_interp=cv2.INTER_CUBIC,
        flow_scale=1.0,
        splat_scale=0.25,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        flow_max_side=1920,
        features=2000,
        feature_max_side=1280,
    ),
    "pro-fast": ModeProfile(
        name="pro-fast",
        warp_interp=cv2.INTER_CUBIC,
        morph_interp=cv2.INTER_LINEAR,
        flow_scale=0.5,
        splat_scale=0.25,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_FAST,
        flow_max_side=1280,
        features=1500,
        feature_max_side=960,
    ),
    "turbo": ModeProfile(
        name="turbo",
        warp_interp=cv2.INTER_LINEAR,
        morph_interp=cv2.INTER_LINEAR,
        flow_scale=0.25,
        splat_scale=1 / 6,
        dis_preset=cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        flow_max_side=640,
        features=1000,
        feature_max_side=640,
    ),
}

DEFAULT_MODE = "pro"


def profile_for(mode: str | None) -> ModeProfile:
    """The profile for a mode name; unknown or missing names get the default (``pro``)."""
    return PROFILES.get((mode or "").strip().lower(), PROFILES[DEFAULT_MODE])
