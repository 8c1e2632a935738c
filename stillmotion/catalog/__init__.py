"""The model catalog: every model's arguments, limits, defaults, price and spec builder.

Wire-neutral (no HTTP, no database). A dialect hands a model id and its args here; it gets
back normalised args, the image references to fetch, the price and, once the images are
stored, the engine-neutral GenerationSpec. Adding a model is adding one `ModelEntry` to a
family module (vidu_q3, vidu_q2, vidu_async) and listing that module in `_FAMILIES`.

Decisions where API.md and the seeds are silent (API.md stays authoritative):

Validation
- Errors: FieldInvalid(message, field=NAME); the message reads "NAME: reason, got VALUE",
  and type errors name the expected JSON type ("duration: must be an integer or a string of
  digits, got number 5.5"). The first problem in field order wins, then cross-field rules.
- null is not "absent": a null optional field is a type error ("got null"); a null required
  field reads "is required, got null". Exception (compat): "" for the async pro URL fields
  `audio` and `wm_url` means "not given", as Go-style clients send empty strings.
- Job-dialect `duration` accepts an integer or a string of ASCII digits ("5", "05"); "5.5",
  " 5", "-1", floats and booleans are refused. Async `duration` and `seed` are JSON integers only.
- `prompt`: required and non-blank on the job dialect (q3 and, since no limit is stated for
  q2, q2 too: at most 5000 characters); optional on the async dialect (default "", blank
  allowed; pro at most 1500, turbo at most 5000). Lengths count Unicode code points. The text
  is kept as sent (not stripped).
- `generate_audio` accepts true/false and the strings "true"/"false" in any case (the page
  lists them as string options). `voice_id` must be one of the ids in
  `stillmotion.audio.voices` (GET /v1/voices) when given ("unknown voice_id ...; valid: ...");
  it is required when generate_audio is true and kept (unused) otherwise.
- Image references (`image`, `image_tail`, `images[i]`) must be non-empty strings; they are
  stripped of surrounding whitespace. Fetching, format and aspect checks belong to media.
- `images` must be an array of exactly one entry; errors about one entry name `images[0]`.
- `wm_position` accepts the four corner names or 1-4 (integer or digit string; 1 top-left,
  2 top-right, 3 bottom-left, 4 bottom-right) and is normalised to the name. `watermark`
  true without `wm_url` is allowed (the engine uses its own mark).
- `audio` on the pro async model must be an http(s) URL; `true` (the turbo meaning) is refused
  with the expected type. On turbo, `audio` is a boolean.
- Enumerations are exact and case-sensitive ("720p", not "720P").
- Extension: the job models accept an optional integer `seed` (0-2147483647, 0 = random) so
  the CLI and API users can reproduce a clip; the hosted job dialect has no seed.
- Unknown keys are ignored and listed, in request order, under "_ignored" in the normalised
  args; the key is present only when something was ignored. An "_ignored" list of names in
  the input is carried over, so validating normalised args again gives the same dict
  (validate is idempotent, and every other method validates first, so raw args are safe to
  pass anywhere).
- Optional fields without a default (seed, voice_id, audio URL, wm_url) are left out of the
  normalised args when absent; fields with a default are always present.
- `get_model(id, among=...)` optionally restricts the lookup to the ids an endpoint serves (each
  dialect module names its own), so the job endpoint refuses an async model id with the list of
  its own ids. The catalog itself names no endpoint.

Prices
- One curve for every model: price(1) = start; price(2) = two_sec or start + per_sec;
  price(d) = price(2) + per_sec * (d - 2). A flat per-second rate is start = per_sec.
- The async pro/turbo models price with q3's pro/turbo rates; off_peak multiplies by 0.5
  (no rounding: 0.032 -> 0.016). Amounts are exact Decimals; `format_amount` prints at least
  two decimals and no trailing zeros beyond them.
- Operator overrides (`Catalog.load(price_file)`, built once by the runtime; the module's
  `MODELS` keep the built-in prices): JSON, or TOML by file suffix, shaped
  {model_id: {mode: {resolution: {"per_sec": "0.1", "start": "0.2", "two_sec": "0.3"}},
  "off_peak_factor": "0.5"}}. Async models use their fixed mode ("pro" / "turbo") as the
  mode key. Omitted keys keep their value; unknown models, modes or resolutions (e.g. 540p in
  pro-fast), negative or non-decimal values raise ValueError and nothing is applied.
  Prefer strings for amounts (TOML/JSON floats are converted via their shortest repr).

Specs
- Output size: 'Np' is the short side, the long side follows the aspect, both rounded to the
  nearest even number (halves up); the aspect is clamped to 1:4 .. 4:1. The aspect comes from
  `aspect_ratio` when the model has it (async pro, default 16:9), else from the head image.
- Audio: q2 generate_audio -> AudioSpec(kind="all", voice_id); turbo audio true ->
  AudioSpec(kind=audio_type, is_rec), false -> kind "none"; pro with an audio URL ->
  AudioSpec(kind="music", music_url, is_rec); pro without one and the q3 job model -> none.
- Watermark: WatermarkSpec(wm_position, wm_url) only when watermark is true.
- task_type: VIDU_Q3_I2V, VIDU_Q2_I2V, VIDU_Q2_START_END (job); VIDU_Q3_PRO_I2V,
  VIDU_Q3_TURBO_I2V (async). Every model is served by the 'motion' engine by default.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from stillmotion.catalog import vidu_async, vidu_q2, vidu_q3
from stillmotion.catalog.entry import IGNORED_KEY, ModelEntry, Prepared, RefuseWhen, RequiredWhen
from stillmotion.catalog.fields import describe
from stillmotion.catalog.pricing import Rate, apply_price_overrides, format_amount, read_price_file
from stillmotion.catalog.sizing import output_size
from stillmotion.errors import FieldInvalid

__all__ = [
    "IGNORED_KEY",
    "MODELS",
    "ModelEntry",
    "Prepared",
    "Rate",
    "RefuseWhen",
    "RequiredWhen",
    "Catalog",
    "apply_price_overrides",
    "build_models",
    "format_amount",
    "get_model",
    "load_price_overrides",
    "output_size",
]

_FAMILIES = (vidu_q3, vidu_q2, vidu_async)


def build_models() -> dict[str, ModelEntry]:
    """A fresh registry (own rate tables), e.g. for tests that apply overrides."""
    models: dict[str, ModelEntry] = {}
    for family in _FAMILIES:
        for entry in family.entries():
            if entry.id in models:
                raise RuntimeError(f"duplicate model id {entry.id!r}")
            models[entry.id] = entry
    return models


_MODELS = build_models()
MODELS: Mapping[str, ModelEntry] = MappingProxyType(_MODELS)


def get_model(model_id: Any, among: Collection[str] | None = None) -> ModelEntry:
    """The entry for `model_id` (one of `among` when given); FieldInvalid(field="model") naming the
    known ids otherwise."""
    known = [m for m in MODELS if among is None or m in among]
    if not isinstance(model_id, str):
        raise FieldInvalid(f"must be a string, one of {', '.join(known)}, got {describe(model_id)}",
                           field="model")
    entry = MODELS.get(model_id)
    if entry is None or (among is not None and model_id not in among):
        raise FieldInvalid(f"unknown model {model_id!r}; known models: {', '.join(known)}",
                           field="model")
    return entry


def load_price_overrides(path: str | Path, models: Mapping[str, ModelEntry]) -> None:
    """Apply an operator's price file to `models` (a registry of its own); see the module notes."""
    apply_price_overrides(read_price_file(path), models)


class Catalog:
    """The models a running service sells, at the operator's prices: one per runtime, so a
    price file changes this service's registry and never the module's `MODELS`.

    The price file is re-read when its modification time changes, so an edit reaches every
    process on the host at its next request (as the routes file does); an edit that does not
    parse keeps the last good prices and is logged."""

    def __init__(self, models: Mapping[str, ModelEntry], price_file: str | Path | None = None) -> None:
        self._models: Mapping[str, ModelEntry] = MappingProxyType(dict(models))
        self.price_file = Path(price_file) if price_file else None
        self._stamp = _mtime(self.price_file)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, price_file: str | Path | None = None) -> Catalog:
        models = build_models()
        if price_file:
            load_price_overrides(price_file, models)  # a bad file stops the start
        return cls(models, price_file)

    @property
    def models(self) -> Mapping[str, ModelEntry]:
        if self.price_file is not None and _mtime(self.price_file) != self._stamp:
            with self._lock:
                stamp = _mtime(self.price_file)
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        models = build_models()
                        load_price_overrides(self.price_file, models)
                        self._models = MappingProxyType(models)
                    except Exception:
                        logging.getLogger("stillmotion").exception(
                            "price file %s changed but cannot be used; keeping the last good prices", self.price_file)
        return self._models

    def get(self, model_id: Any, among: Collection[str] | None = None) -> ModelEntry:
        """The entry for `model_id` (one of `among` when given); FieldInvalid(field="model") naming
        the known ids otherwise."""
        return self.models[get_model(model_id, among).id]  # get_model refuses unknown ids, naming the known ones

    def entries(self) -> list[ModelEntry]:
        return list(self.models.values())


def _mtime(path: Path | None) -> float:
    try:
        return path.stat().st_mtime_ns if path else 0.0
    except OSError:
        return -1.0
