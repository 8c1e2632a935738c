"""DiffusersEngine: open image-to-video models (Wan, LTX-Video, LTX-2) behind the Engine protocol.

The route chosen at submit travels with the job (`Job.route`, given as `RenderContext.route`: weights path, kind,
steps, guidance, speed options); the engine turns spec + route into a plan, runs it in the
child process of its GPU (shared with the other worker threads' engines), reports progress per
denoising step and streams the frames the child sends back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import BaseEngine, RenderContext
from stillmotion.engines.diffusers.errors import WeightsUnavailable
from stillmotion.engines.diffusers.models import weights_present
from stillmotion.engines.diffusers.plan import RuntimeOptions, make_plan
from stillmotion.engines.diffusers.runner import ChildRunner, child_main, release_runner, shared_runner
from stillmotion.errors import GenerationFailed

DENOISE_SHARE = 0.9  # of a run's progress; decoding and streaming frames make the rest


def options_from_settings(settings: Any) -> RuntimeOptions:
    return RuntimeOptions(
        device=settings.gpu_device, dtype=settings.gpu_dtype, compile=settings.gpu_compile,
        offload=settings.gpu_offload, vae_tiling=settings.gpu_vae_tiling, attention=settings.gpu_attention,
        fp8=settings.gpu_fp8, watchdog_s=settings.gpu_watchdog_s, load_watchdog_s=settings.gpu_load_watchdog_s,
    )


class DiffusersEngine(BaseEngine):
    name = "diffusers"

    def __init__(self, options: RuntimeOptions | None = None, *,
                 child: Callable[[Any, Any], None] = child_main) -> None:
        self.options = options or RuntimeOptions()
        self.runner: ChildRunner = shared_runner(self.options.device, child, watchdog_s=self.options.watchdog_s,
                                                 load_watchdog_s=self.options.load_watchdog_s)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any | None) -> DiffusersEngine:
        if settings is None:
            return cls()
        return cls(options_from_settings(settings))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release_runner(self.runner)

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        route = ctx.route
        if route is None:
            raise GenerationFailed("job has no diffusers route")
        plan = make_plan(spec, route, self.options)
        if not weights_present(plan.key.path):
            # Another host may hold these weights: give the job back rather than fail it for good.
            raise WeightsUnavailable(f"weights {plan.key.path} are not on this host")
        facts: dict[str, Any] = {**plan.describe(), "engine": self.name}
        ctx.metadata["diffusers"] = facts
        sent = 0
        for msg in self.runner.run(plan, ctx.should_stop):
            kind = msg[0]
            if kind == "step":
                ctx.on_progress(DENOISE_SHARE * msg[1] / msg[2])
            elif kind == "loaded":
                facts["load_s"] = msg[1]
            elif kind == "warmed":
                facts["warmed_shapes"] = [list(s) for s in msg[1]]
            elif kind == "audio":
                ctx.audio = (msg[1], msg[2])  # set before the first frame, as render expects
                facts["audio_rate"] = msg[2]
            elif kind == "frame":
                sent += 1
                ctx.on_progress(DENOISE_SHARE + (1 - DENOISE_SHARE) * sent / plan.out_frames)
                yield msg[1]
            elif kind == "done":
                facts.update(msg[1])
        if sent != spec.num_frames:
            raise GenerationFailed(f"model run gave {sent} frames, expected {spec.num_frames}")
