"""ModelEntry: one model described as data (fields, rules, rates) plus the behaviour they imply.

A family module builds entries; nothing here knows a model by name. Every method accepts raw
or already-normalised args (it validates first, which is idempotent), so a caller cannot price
or build a spec from args that skipped validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from stillmotion.catalog.fields import MISSING, Field, describe
from stillmotion.catalog.pricing import Rate, format_amount
from stillmotion.catalog.sizing import output_size, parse_aspect
from stillmotion.domain import FPS, AudioSpec, GenerationSpec, StoredImage, WatermarkSpec
from stillmotion.errors import FieldInvalid

IGNORED_KEY = "_ignored"


# ---- cross-field rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class RefuseWhen:
    """`field` may not be `value` while `when` is `equals` (540p in pro-fast)."""

    field: str
    value: Any
    when: str
    equals: Any
    message: str

    def check(self, args: Mapping[str, Any]) -> None:
        if args.get(self.when) == self.equals and args.get(self.field) == self.value:
            raise FieldInvalid(self.message, field=self.field)

    def schema(self) -> dict[str, Any]:
        return {"if": {"properties": {self.when: {"const": self.equals}}, "required": [self.when]},
                "then": {"properties": {self.field: {"not": {"const": self.value}}}}}


@dataclass(frozen=True)
class RequiredWhen:
    """`field` must be given while `when` is `equals` (voice_id with generate_audio)."""

    field: str
    when: str
    equals: Any
    message: str

    def check(self, args: Mapping[str, Any]) -> None:
        if args.get(self.when) == self.equals and self.field not in args:
            raise FieldInvalid(self.message, field=self.field)

    def schema(self) -> dict[str, Any]:
        return {"if": {"properties": {self.when: {"const": self.equals}}, "required": [self.when]},
                "then": {"required": [self.field]}}


Rule = RefuseWhen | RequiredWhen


def no_audio(args: Mapping[str, Any]) -> AudioSpec:
    return AudioSpec()


@dataclass(frozen=True)
class Prepared:
    """A request validated once, with what follows from it (`ModelEntry.prepare`): what a create
    needs, without validating the same args again for each question. Treat `args` as read-only."""

    entry: ModelEntry
    args: dict[str, Any]  # normalised, without IGNORED_KEY
    ignored: list[str] | None  # unknown keys, in request order; None when there were none
    image_refs: dict[str, str]  # field path -> raw reference, head image first
    mode: str
    price: Decimal
    requested_seed: int | None  # None: absent or 0 (the service picks one)


# ---- the entry ------------------------------------------------------------------------------


@dataclass(eq=False)
class ModelEntry:
    id: str
    task_type: str
    title: str
    fields: tuple[Field, ...]
    rates: dict[str, dict[str, Rate]]  # mode -> resolution -> Rate; mutable for operator overrides
    rules: tuple[Rule, ...] = ()
    fixed_mode: str | None = None  # async models: the mode is the model, not an argument
    audio: Callable[[Mapping[str, Any]], AudioSpec] = no_audio
    off_peak_factor: Decimal = Decimal("0.5")
    engine: str = "motion"
    _by_name: dict[str, Field] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.fields}

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    def requires(self, name: str) -> bool:
        return name in self._by_name and self._by_name[name].required

    # -- validation --

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised args with defaults applied; FieldInvalid on the first problem.

        Unknown keys are ignored (clients of the hosted services send extras) but listed
        under "_ignored" so the service can tell the user what had no effect.
        """
        if not isinstance(args, Mapping):
            raise FieldInvalid(f"must be an object, got {describe(args)}", field="args")
        out: dict[str, Any] = {}
        for f in self.fields:
            value = f.resolve(args)
            if value is not MISSING:
                out[f.name] = value
        for rule in self.rules:
            rule.check(out)
        prior = args.get(IGNORED_KEY)
        carried = isinstance(prior, list) and all(isinstance(k, str) for k in prior)
        ignored = list(prior) if carried else []  # re-validating normalised args keeps the list
        ignored += [str(k) for k in args if k not in self._by_name and not (k == IGNORED_KEY and carried)]
        if ignored:
            out[IGNORED_KEY] = ignored
        return out

    def prepare(self, args: Mapping[str, Any]) -> Prepared:
        """Validate once and answer every question a create asks (refs, mode, price, seed);
        `spec_for` then builds its spec. The same answers as the methods below, which each
        validate first (tests/catalog/test_catalog_spec.py compares them)."""
        a = self.validate(args)
        ignored = a.pop(IGNORED_KEY, None)
        return Prepared(self, a, ignored, self._image_refs(a), self.mode_of(a), self._price(a),
                        a.get("seed") or None)

    def image_refs(self, args: Mapping[str, Any]) -> dict[str, str]:
        """Field path -> raw image reference, in frame order (the head image first)."""
        return self._image_refs(self.validate(args))

    def _image_refs(self, a: Mapping[str, Any]) -> dict[str, str]:
        refs: dict[str, str] = {}
        for f in self.fields:
            if f.name in a:
                refs.update(f.image_refs(a[f.name]))
        return refs

    def mode_of(self, args: Mapping[str, Any]) -> str:
        return self.fixed_mode or args["mode"]

    def requested_seed(self, args: Mapping[str, Any]) -> int | None:
        """The user's seed, or None when absent or 0 (then the service picks one)."""
        return self.validate(args).get("seed") or None

    # -- price --

    def price(self, args: Mapping[str, Any]) -> Decimal:
        return self._price(self.validate(args))

    def _price(self, a: Mapping[str, Any]) -> Decimal:
        mode, res = self.mode_of(a), a["resolution"]
        rate = self.rates.get(mode, {}).get(res)
        if rate is None:  # only reachable if rules and rates disagree
            raise FieldInvalid(f"{res} is not offered in {mode} mode", field="resolution")
        amount = rate.price(a["duration"])
        if a.get("off_peak"):
            amount *= self.off_peak_factor
        return amount

    def price_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {
            "model": self.id,
            "currency": "USD",
            "unit": "per video, by duration in seconds",
            "rule": "price(1) = start; price(2) = two_sec if given, else start + per_sec; "
                    "price(d) = price(2) + per_sec * (d - 2)",
            "rates": {mode: {res: {**r.to_dict(), "text": r.text(),
                                   "examples": {str(d): format_amount(r.price(d)) for d in (1, 2, 5)}}
                             for res, r in by_res.items()}
                      for mode, by_res in self.rates.items()},
        }
        if self.has_field("off_peak"):
            table["off_peak"] = f"price x {format_amount(self.off_peak_factor)} when off_peak is true"
        return table

    # -- spec --

    def build_spec(self, args: Mapping[str, Any], images: Mapping[str, StoredImage],
                   seed: int) -> GenerationSpec:
        a = self.validate(args)
        return self._spec(a, self._image_refs(a), images, seed)

    def spec_for(self, prepared: Prepared, images: Mapping[str, StoredImage], seed: int) -> GenerationSpec:
        """`build_spec` for a request `prepare` validated already."""
        if prepared.entry is not self:
            raise ValueError(f"{self.id}: a request prepared for {prepared.entry.id}")
        return self._spec(prepared.args, prepared.image_refs, images, seed)

    def _spec(self, a: Mapping[str, Any], refs: Mapping[str, str], images: Mapping[str, StoredImage],
              seed: int) -> GenerationSpec:
        missing = [k for k in refs if k not in images]
        if missing:
            raise ValueError(f"{self.id}: no stored image for {', '.join(missing)}")
        head = images[next(iter(refs))]
        aspect = (parse_aspect(a["aspect_ratio"]) if "aspect_ratio" in a
                  else Fraction(head.width, head.height))
        width, height = output_size(a["resolution"], aspect)
        watermark = None
        if a.get("watermark"):
            watermark = WatermarkSpec(position=a.get("wm_position", "bottom-right"),
                                      image_url=a.get("wm_url"))
        duration = a["duration"]
        return GenerationSpec(
            model=self.id,
            mode=self.mode_of(a),
            prompt=a.get("prompt", ""),
            image=head.path,
            image_tail=images["image_tail"].path if "image_tail" in refs else None,
            width=width,
            height=height,
            num_frames=round(duration * FPS),
            duration=duration,
            fps=FPS,
            seed=seed,
            resolution=a["resolution"],
            style=a.get("style", "general"),
            aspect_ratio=a.get("aspect_ratio"),
            audio=self.audio(a),
            watermark=watermark,
            off_peak=bool(a.get("off_peak", False)),
        )

    # -- schema --

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.id,
            "description": self.title,
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": True,  # compat: unknown keys are ignored, not refused
        }
        if self.rules:
            schema["allOf"] = [r.schema() for r in self.rules]
        return schema

