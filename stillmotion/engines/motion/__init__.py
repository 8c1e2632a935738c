"""The `motion` engine: CPU camera moves and start-end morphs from still images.

Public surface:

- ``MotionEngine``: the Engine (``frames(spec, ctx)`` yields uint8 RGB frames one at a time).
- ``CameraPlan``, ``plan_camera``, ``find_move``, ``MOVES``: prompt -> camera plan, with
  ``CameraPlan.pose(t, width, height)`` -> 2x3 affine (output pixel -> fitted-frame point).
- ``FlowMorph``: bidirectional-flow morph between two fitted frames, ``frame(t)``.
- ``ModeProfile``, ``PROFILES``, ``profile_for``: what each ``spec.mode`` trades.
"""

from stillmotion.engines.motion.camera import MOVES, CameraPlan, ease_in_out, find_move, plan_camera
from stillmotion.engines.motion.engine import MotionEngine, frame_times
from stillmotion.engines.motion.modes import PROFILES, ModeProfile, profile_for
from stillmotion.engines.motion.morph import FlowMorph
from stillmotion.engines.motion.warp import CameraRenderer, prepare_canvas

__all__ = [
    "MOVES",
    "PROFILES",
    "CameraPlan",
    "CameraRenderer",
    "FlowMorph",
    "ModeProfile",
    "MotionEngine",
    "ease_in_out",
    "find_move",
    "frame_times",
    "plan_camera",
    "prepare_canvas",
    "profile_for",
]
