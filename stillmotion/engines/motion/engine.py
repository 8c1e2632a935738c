"""MotionEngine: depth-layered camera moves from the prompt, or a flow morph between two frames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import BaseEngine, RenderContext
from stillmotion.engines.motion.cues import asked_effects, ignored_motion
from stillmotion.engines.motion.depth import depth_source
from stillmotion.engines.motion.effects import Effects
from stillmotion.engines.motion.modes import ModeProfile, profile_for
from stillmotion.engines.motion.morph import FlowMorph
from stillmotion.engines.motion.parallax import layer_matrix
from stillmotion.engines.motion.plan import MotionPlan, ease, plan_motion
from stillmotion.engines.motion.scene import prepare_scene
from stillmotion.engines.motion.style import style_for
from stillmotion.engines.motion.threads import frame_workers, ordered_map
from stillmotion.errors import GenerationFailed
from stillmotion.media.imaging import fit_to_frame, load_rgb

UNRELATED_RATIO = 0.5  # flow-compensated error / plain error above this...
UNRELATED_MIN_ERROR = 20.0  # ...and this many grey levels of error left after the flow: unrelated frames


def _load(path: str, field: str, spec: GenerationSpec | None = None) -> np.ndarray:
    """The input as sRGB; a huge JPEG decoded at no more than about twice the frame's size
    (the canvas keeps room for pans), which bounds a render's memory."""
    max_side = 2 * max(spec.width, spec.height) if spec is not None else None
    try:
        return load_rgb(path, max_side=max_side)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # missing, unreadable, not an image
        raise GenerationFailed(f"cannot read input image: {exc}", field=field) from exc


def frame_times(num_frames: int) -> list[float]:
    """Normalised time of each frame: 0 for the first, 1 for the last."""
    if num_frames <= 1:
        return [0.0] * max(num_frames, 0)
    return [i / (num_frames - 1) for i in range(num_frames)]


def rng_for(seed: int) -> np.random.Generator:
    """The clip's only source of randomness (never the global RNG)."""
    return np.random.default_rng(int(seed) % (2**64))


class MotionEngine(BaseEngine):
    """CPU engine: no weights needed, deterministic for a given spec.

    With only ``spec.image``: the prompt's motion plan (plan.py) rendered as one continuous depth-driven warp
    (scene.py, depthwarp.py), with procedural effects (effects.py) and the optional style
    (style.py). With ``spec.image_tail`` too: a bidirectional-flow morph (morph.py), with the
    prompt's camera move as a rise-and-settle overlay so both end frames stay exact.
    ``spec.mode`` picks a quality/speed profile (modes.py). ``depth_model_dir``: a local
    Depth Anything V2 checkpoint used instead of the heuristic depth (none: heuristic depth).
    ``workers``: frames rendered at once (default: the usable cores, at most 4; threads.py); the
    output does not depend on it. `engines.get_engine` passes both from the settings.
    """

    name = "motion"
    fresh_frames = True  # every frame is a new array (render.prefetch need not copy it)

    def __init__(self, depth_model_dir: str | Path | None = None, *, workers: int | None = None) -> None:
        self.depth_model_dir = str(depth_model_dir) if depth_model_dir else None
        self.workers = frame_workers() if workers is None else max(1, int(workers))

    def opencv_threads(self, spec: GenerationSpec) -> int | None:
        """OpenCV threads while render_clip encodes beside the engine (None: OpenCV's default).

        One: the engine renders whole frames in parallel instead (threads.py), which uses the
        cores without OpenCV's per-call waiting; with a single frame worker (one core) OpenCV
        keeps its default."""
        return 1 if self.workers > 1 else None

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        if spec.num_frames < 1 or spec.width < 2 or spec.height < 2:
            raise GenerationFailed(f"nothing to render: {spec.num_frames} frames of {spec.width}x{spec.height}")
        ctx.check()
        profile = profile_for(spec.mode)
        ctx.metadata.update({"engine": self.name, "mode": profile.name})
        render = self._morph(spec, ctx, profile) if spec.image_tail else self._camera(spec, ctx, profile)
        frames = ordered_map(render, frame_times(spec.num_frames), self.workers)
        try:
            for frame in frames:
                ctx.check()
                yield frame
        finally:
            frames.close()  # a stop or an error: pending frames are dropped, running ones finish

    def _plan(self, spec: GenerationSpec, ctx: RenderContext) -> MotionPlan:
        return plan_motion(spec.prompt, spec.num_frames / max(spec.fps, 1), rng_for(spec.seed), tuple(ctx.beats))

    def _camera(self, spec: GenerationSpec, ctx: RenderContext, profile: ModeProfile):
        image = _load(spec.image, "image", spec)
        size = (spec.width, spec.height)
        plan = self._plan(spec, ctx)
        depth_kind, depth_fn = depth_source(self.depth_model_dir)
        scene = prepare_scene(image, plan, size, profile, depth_fn, style_for(spec.style, profile.anime_scale))
        ctx.check()
        x0, y0 = scene.origin
        fitted = scene.canvas[y0 : y0 + spec.height, x0 : x0 + spec.width]
        effects = Effects(asked_effects(spec.prompt), fitted, plan.seconds, profile.effect_scale, spec.seed)
        ctx.metadata["motion"] = {
            **scene.plan.describe(), "depth": {"source": depth_kind, **scene.info},
            "effects": effects.describe(), "effects_skipped": effects.skipped, "style": spec.style or "general",
            "ignored": ignored_motion(spec.prompt),
        }
        ctx.metadata["camera"] = _camera_summary(scene.plan)
        renderer = scene.renderer

        def render(t: float) -> np.ndarray:
            rgba = renderer.frame_rgba(t)
            if effects.names:
                effects.apply(rgba, t, renderer.background_matrix(t))
            return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)

        return render

    def _morph(self, spec: GenerationSpec, ctx: RenderContext, profile: ModeProfile):
        size = (spec.width, spec.height)
        head = fit_to_frame(_load(spec.image, "image", spec), *size)
        tail = fit_to_frame(_load(spec.image_tail or "", "image_tail", spec), *size)
        ctx.check()
        morph = FlowMorph(head, tail, profile)
        unrelated = morph.residual > UNRELATED_MIN_ERROR and morph.residual > UNRELATED_RATIO * morph.plain_error
        info = morph.describe()
        if unrelated:
            info.update(method="crossfade", reason="unrelated frames: flow explains too little of the change")
        ctx.metadata["morph"] = info
        plan = self._plan(spec, ctx)
        moving = any(s.amount > 0 for s in plan.segments) and plan.source == "prompt"
        plan = MotionPlan(plan.segments, plan.seconds, plan.source, plan.accents, plan.accent_source, envelope="bump")
        ctx.metadata["motion"] = {**plan.describe(), "applied": moving, "transition": "crossfade" if unrelated else "flow_morph"}
        ctx.metadata["camera"] = {**_camera_summary(plan), "source": "start_end", "prompt_move": _camera_summary(plan)["move"] if plan.source == "prompt" else None}

        def render(t: float) -> np.ndarray:
            if unrelated:
                e = ease(t)
                frame = cv2.addWeighted(head, 1.0 - e, tail, e, 0.0) if 0.0 < t < 1.0 else (head if t <= 0 else tail).copy()
            else:
                frame = morph.frame(t)
            if moving and 0.0 < t < 1.0:
                m = layer_matrix(plan.state(t), 0.5, size, 0.5)
                frame = cv2.warpAffine(frame, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101)
            return frame

        return render


def _camera_summary(plan: MotionPlan) -> dict[str, Any]:
    """The first move, for quick reading (the full plan is metadata["motion"])."""
    first = plan.segments[0] if plan.segments else None
    return {
        "move": first.moves[0] if first else "static",
        "source": plan.source,
        "speed": first.speed if first else "normal",
        "matched": first.matched if first else None,
    }
