"""The Engine protocol: a generator of RGB frames for one GenerationSpec."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from stillmotion.domain import GenerationSpec
from stillmotion.errors import Canceled


@dataclass
class RenderContext:
    """What a run gives an engine: a place to report what it understood, and a stop signal.

    Engines write human-readable facts (the camera plan, the morph method, ...) into
    `metadata` (the motion plan under "motion", with "accents": times in seconds of speed
    pulses or zoom punches, which the audio mix follows); the worker stores them with the job. `check()` raises Canceled when the job
    was canceled or the worker must let it go; engines call it between frames or steps.
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    should_stop: Callable[[], bool] = lambda: False
    # Beat times in seconds from the music track when the user asked for is_rec: the engine
    # places its motion accents on them and reports them as metadata["motion"]["accents"].
    beats: tuple[float, ...] = ()
    # A soundtrack the engine made itself (e.g. LTX-2): (samples float32 (n, channels), rate).
    audio: tuple[np.ndarray, int] | None = None
    # Fraction (0..1) of the work done, for engines whose frames all come at the end (diffusion
    # models denoise the whole clip, then decode it): the worker's progress and ETA follow it.
    on_progress: Callable[[float], None] = lambda fraction: None
    # The operator's route for the job (weights path, kind, steps, ...: `routing.Route.config()`),
    # for engines that serve several models; never part of the job's public metadata.
    route: Mapping[str, Any] | None = None

    def check(self) -> None:
        if self.should_stop():
            raise Canceled("stopped")


class Engine(Protocol):
    """What `render.render_clip` reads of an engine."""

    name: str
    fresh_frames: bool  # every frame is a new array, safe to change in place (no copy before encoding)
    workers: int | None  # frames rendered at once, to size the encoder's threads beside them (None: unknown)

    def opencv_threads(self, spec: GenerationSpec) -> int | None:
        """OpenCV threads while the clip encodes beside the engine (None: OpenCV's default)."""

    def frames(self, spec: GenerationSpec, ctx: RenderContext) -> Iterator[np.ndarray]:
        """Yield exactly spec.num_frames frames, each (height, width, 3) uint8 RGB.

        spec.image / spec.image_tail are absolute file paths here. Frames are produced one
        at a time so the clip is never held whole in memory.
        """


class BaseEngine:
    """The defaults of the `Engine` attributes, for engines that need none of them."""

    name = "engine"
    fresh_frames = False
    workers: int | None = None

    def opencv_threads(self, spec: GenerationSpec) -> int | None:
        return None
        ...
