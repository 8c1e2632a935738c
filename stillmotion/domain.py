"""Plain value types shared by every layer: the job, its status and the generation spec.

The spec is engine-neutral: it says what to make (frames, size, seed, images, camera and
audio intent) and nothing about wire formats, so any engine can serve any dialect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

FPS = 24


class JobStatus(IntEnum):
    """Numbered as the job dialect numbers them on the wire."""

    QUEUED = 0
    PROCESSING = 1
    SUCCEEDED = 2
    FAILED = 3
    CANCELED = 4

    @property
    def final(self) -> bool:
        return self >= JobStatus.SUCCEEDED


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


@dataclass(frozen=True)
class Job:
    """A job as stored; dialects shape it into their own wire bodies."""

    id: str
    owner: str
    model: str
    dialect: str
    status: JobStatus
    progress: int
    amount: Decimal
    refunded: bool
    args: dict[str, Any]
    spec: dict[str, Any]
    seed: int
    created_at: datetime
    attempts: int = 0
    eta: int | None = None
    callback_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    off_peak: bool = False
    engine: str = "motion"

    @classmethod
    def from_fields(cls, **fields: Any) -> Job:
        """A Job from every one of its fields, without the frozen `__init__` (one
        `object.__setattr__` per field): the sqlite3 fast paths build one per read and create.
        Every field must be given (tests/store/test_store_fastread.py and test_store_fastwrite.py
        compare such Jobs with `__init__`-built ones field by field)."""
        if fields.keys() != _JOB_FIELDS:
            raise TypeError(f"Job.from_fields needs every field: {sorted(_JOB_FIELDS ^ fields.keys())}")
        job = object.__new__(cls)
        job.__dict__.update(fields)
        return job

    def with_eta(self, eta: int | None) -> Job:
        """`dataclasses.replace(self, eta=eta)` without running `__init__` over every field again
        (every query of a queued job makes one)."""
        job = object.__new__(Job)
        job.__dict__.update(self.__dict__)
        job.__dict__["eta"] = eta
        return job


_JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(Job))
