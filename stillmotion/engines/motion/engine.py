"""MotionEngine: camera moves from the prompt, or a flow morph between start and end frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion.camera import ease_in_out, find_move, plan_camera
from stillmotion.engines.motion.modes import profile_for
from stillmotion.engines.motion.morph import FlowMorph
from stillmotion.engines.motion.warp import CameraRenderer, prepare_canvas
from stillmotion.errors import GenerationFailed
from stillmotion.media.imaging import fit_to_frame, load_rgb


def _load(path: str, field: str) -> np.ndarray:
    try:
        return load_rgb(path)
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


class _EasedMorph:
    """The morph played with ease-in/ease-out timing (t=0.5 is still the midpoint)."""

    def __init__(self, morph: FlowMorph) -> None:
        self.morph = morph

    def frame(self, t: float) -> np.ndarray:
        return self.morph.frame(ease_in_out(t))

    def close(self) -> None:
        self.morph.close()


class MotionEngine:
    """CPU engine: no weights, deterministic for a given spec.

    With only ``spec.image``: a smooth camera move parsed from the prompt (see camera.py for
    the vocabulary and direction conventions), rendered by sub-pixel affine warps of a
    canvas prepared once. With ``spec.image_tail`` too: a bidirectional-flow morph from the
    image to the tail (see morph.py). ``spec.mode`` picks a quality/speed profile (modes.py).
    """

    name = "motion"

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        if spec.num_frames < 1 or spec.width < 2 or spec.height < 2:
            raise GenerationFailed(f"nothing to render: {spec.num_frames} frames of {spec.width}x{spec.height}")
        ctx.check()
        profile = profile_for(spec.mode)
        ctx.metadata.update({"engine": self.name, "mode": profile.name})
        renderer = self._morph(spec, ctx) if spec.image_tail else self._camera(spec, ctx)
        try:
            for t in frame_times(spec.num_frames):
                ctx.check()
                yield renderer.frame(t)
        finally:
            renderer.close()

    def _camera(self, spec: GenerationSpec, ctx: RenderContext) -> CameraRenderer:
        profile = profile_for(spec.mode)
        image = _load(spec.image, "image")
        plan = plan_camera(spec.prompt, spec.num_frames / max(spec.fps, 1), rng_for(spec.seed))
        canvas, plan = prepare_canvas(image, plan, spec.width, spec.height)
        camera = plan.describe()
        camera["synthetic_margin_px"] = list(canvas.synthetic_margin)
        ctx.metadata["camera"] = camera
        return CameraRenderer(canvas, plan, spec.width, spec.height, profile.warp_interp)

    def _morph(self, spec: GenerationSpec, ctx: RenderContext) -> _EasedMorph:
        profile = profile_for(spec.mode)
        head = fit_to_frame(_load(spec.image, "image"), spec.width, spec.height)
        tail = fit_to_frame(_load(spec.image_tail or "", "image_tail"), spec.width, spec.height)
        ctx.check()
        morph = FlowMorph(head, tail, profile)
        ctx.metadata["morph"] = morph.describe()
        named = find_move(spec.prompt or "")
        ctx.metadata["camera"] = {
            "move": "none",
            "source": "start_end",
            "prompt_move": named.move if named else None,  # noted; v1 does not apply it to morphs
        }
        return _EasedMorph(morph)
