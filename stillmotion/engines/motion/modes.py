"""Quality/speed profiles selected by `GenerationSpec.mode`.

Each profile is a handful of knobs read by the warp and morph code; nothing else in the
engine branches on the mode name. Unknown or missing modes get ``pro``.

- ``pro`` (best): camera moves warped with bicubic interpolation. Morphs estimate optical
  flow on the full-resolution frames (DIS "medium", ORB matching on up to 1280 px) and
  resample from 2x Lanczos-supersampled sources, which matches per-frame bicubic quality at
  a third of its cost (resample.py).
- ``pro-fast`` (middle): the same bicubic camera warp as ``pro`` (it is cheap); morph flow at
  half resolution with DIS "fast" and bilinear resampling. Slightly softer morph frames and
  motion boundaries; morphs render about 1.6x as fast as in ``pro``.
- ``turbo`` (fastest): bilinear everywhere; morph flow at quarter resolution with DIS
  "ultrafast", splatted on a coarser grid. Softer frames and rougher edges around moving
  subjects; camera moves about 2.3x and morphs about 2.2x as fast as in ``pro``.

Measured with ``python -m stillmotion.engines.motion.bench`` (1280x720, 120 frames, 2 cores):
camera moves ~100 fps (pro, pro-fast) and ~230 fps (turbo); morphs ~31, ~50 and ~68 fps.

Lanczos straight in cv2.warpAffine would be sharper still for camera moves, but costs ~4x
bicubic and would break the 60 fps-at-720p budget, so no mode uses it per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class ModeProfile:
    name: str
    warp_interp: int  # cv2 interpolation flag for the camera warp
    morph_interp: int  # cv2 interpolation flag for the morph's per-frame remaps
    morph_supersample: int  # 2: remap a 2x Lanczos-supersampled source (near-bicubic, cheaper)
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
        morph_interp=cv2.INTER_LINEAR,
        morph_supersample=2,
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
        morph_supersample=1,
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
        morph_supersample=1,
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
