"""Plain value types of a generation: the stored inputs and the engine-neutral spec
(the job and its status live in `stillmotion.jobs`).

The spec is engine-neutral: it says what to make (frames, size, seed, images, camera and
audio intent) and nothing about wire formats, so any engine can serve any dialect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FPS = 24


@dataclass(frozen=True)
class StoredImage:
    """An input image accepted at submit: where it is kept (relative to the data dir) and its size."""

    path: str
    width: int
    height: int


@dataclass(frozen=True)
class AudioSpec:
    """What sound the user asked for (made by the audio issue; validated now)."""

    kind: str = "none"  # none | all | speech_only | sound_effect_only | music
    voice_id: str | None = None
    music_url: str | None = None
    is_rec: bool = False


@dataclass(frozen=True)
class WatermarkSpec:
    position: str = "bottom-right"  # top-left | top-right | bottom-left | bottom-right
    image_url: str | None = None


@dataclass(frozen=True)
class GenerationSpec:
    """Everything an engine needs to render one clip, and nothing else.

    `image` and `image_tail` are paths of stored input files relative to the data dir; the
    worker resolves them to absolute paths before an engine sees the spec.
    """

    model: str
    mode: str  # pro | turbo | pro-fast: the quality/speed trade-off
    prompt: str
    image: str
    width: int
    height: int
    num_frames: int
    duration: int
    seed: int
    resolution: str
    fps: int = FPS
    image_tail: str | None = None
    style: str = "general"
    aspect_ratio: str | None = None
    audio: AudioSpec = field(default_factory=AudioSpec)
    watermark: WatermarkSpec | None = None
    off_peak: bool = False

    def to_dict(self) -> dict[str, Any]:
        """As `dataclasses.asdict` (the same dict, keys in field order), without its deep copies:
        every create stores one (tests/catalog/test_catalog_spec.py compares the two)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationSpec:
        data = dict(data)
        data["audio"] = AudioSpec(**(data.get("audio") or {}))
        wm = data.get("watermark")
        data["watermark"] = WatermarkSpec(**wm) if wm else None
        return cls(**data)


_SCALARS = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(obj: Any) -> dict[str, Any]:
    """`dataclasses.asdict` for dataclasses of scalars and nested dataclasses (a fresh dict each
    time); anything else, e.g. a list field, goes to `asdict` itself."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if type(value) in _SCALARS:
            out[name] = value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[name] = _plain(value)
        else:
            return dataclasses.asdict(obj)
    return out
