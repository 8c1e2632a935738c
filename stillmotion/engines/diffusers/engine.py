"""DiffusersEngine: open image-to-video models (Wan, LTX-Video, LTX-2) behind the Engine protocol.

The route chosen at submit travels with the job (metadata["route"]: weights path, kind,
steps, guidance); the engine turns spec + route into a plan, runs it in its child process,
reports progress per denoising step and streams the frames the child sends back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.diffusers.plan import RuntimeOptions, make_plan
from stillmotion.engines.diffusers.runner import ChildRunner
from stillmotion.errors import GenerationFailed

DENOISE_SHARE = 0.9  # of a run's progress; decoding and streaming frames make the rest


class DiffusersEngine:
    name = "diffusers"

    def __init__(self, options: RuntimeOptions | None = None) -> None:
        self.options = options or RuntimeOptions()
        self.runner = ChildRunner()
        self._lock = threading.Lock()  # one run at a time per engine (one GPU per worker)

    @classmethod
    def from_settings(cls, settings: Any | None) -> DiffusersEngine:
        if settings is None:
            return cls()
        return cls(RuntimeOptions(device=settings.gpu_device, dtype=settings.gpu_dtype,
                                  compile=settings.gpu_compile, offload=settings.gpu_offload,
                                  vae_tiling=settings.gpu_vae_tiling))

    def close(self) -> None:
        self.runner.close()

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        route = ctx.route
        if route is None:
            raise GenerationFailed("job has no diffusers route")
        plan = make_plan(spec, route, self.options)
        facts: dict[str, Any] = {**plan.describe(), "engine": self.name}
        ctx.metadata["diffusers"] = facts
        sent = 0
        with self._lock:
            for msg in self.runner.run(plan, ctx.should_stop):
                kind = msg[0]
                if kind == "step":
                    ctx.on_progress(DENOISE_SHARE * msg[1] / msg[2])
                elif kind == "loaded":
                    facts["load_s"] = msg[1]
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
