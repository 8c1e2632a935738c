"""The `motion` engine: CPU camera moves as one continuous depth warp, and start-end morphs, from stills.

Public surface:

- ``MotionEngine``: the Engine (``frames(spec, ctx)`` yields uint8 RGB frames one at a time).
- ``plan_motion``, ``MotionPlan``, ``Segment``: prompt -> timed camera moves and accents.
- ``MOVES``, ``CameraState``: the move vocabulary (moves.py).
- ``heuristic_disparity``, ``DepthModel``: depth without and with weights.
- ``FlowMorph``: bidirectional-flow morph between two fitted frames, ``frame(t)``.
- ``ModeProfile``, ``PROFILES``, ``profile_for``: what each ``spec.mode`` trades.
"""

from stillmotion.engines.motion.depth import DepthModel, heuristic_disparity
from stillmotion.engines.motion.engine import MotionEngine, frame_times
from stillmotion.engines.motion.modes import PROFILES, ModeProfile, profile_for
from stillmotion.engines.motion.morph import FlowMorph
from stillmotion.engines.motion.moves import MOVES, CameraState
from stillmotion.engines.motion.plan import MotionPlan, Segment, ease, plan_motion

__all__ = [
    "MOVES",
    "PROFILES",
    "CameraState",
    "DepthModel",
    "FlowMorph",
    "ModeProfile",
    "MotionEngine",
    "MotionPlan",
    "Segment",
    "ease",
    "frame_times",
    "heuristic_disparity",
    "plan_motion",
    "profile_for",
]
