"""Field kinds: each one coerces one wire value, knows its default and writes its JSON Schema.

A model's arguments are a tuple of these; the entry walks them in order so the first problem
is the one reported. Every error names the field (FieldInvalid prefixes it) and says what was
expected and what came, in JSON terms, because the client wrote JSON, not Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stillmotion.errors import FieldInvalid

# Returned by `Field.resolve` for an optional field that is absent and has no default: the
# normalised args then simply lack the key.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

_DIGITS = re.compile(r"[0-9]{1,18}")
_TRUE_FALSE = {"true": True, "false": False}
IMAGE_HINT = "an http(s) URL, a data URI or base64"


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def describe(value: Any) -> str:
    """Name a wire value as the client sent it: its JSON type and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {_short(value)}"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def shown(value: Any) -> str:
    """How a value appears after "got" in a range or options error."""
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return describe(value)
    return str(value)


@dataclass(frozen=True, kw_only=True)
class Field:
    """One argument. `default=None` means "no default": an absent optional field is omitted."""

    name: str
    description: str = ""
    required: bool = False
    default: Any = None

    def resolve(self, args: Mapping[str, Any]) -> Any:
        if self.name not in args:
            if self.required:
                raise self.error("is required")
            return MISSING if self.default is None else self.default
        value = args[self.name]
        if value is None and self.required:
            raise self.error("is required, got null")
        return self.coerce(value)

    def coerce(self, value: Any) -> Any:
        raise NotImplementedError

    def error(self, message: str, name: str | None = None) -> FieldInvalid:
        return FieldInvalid(message, field=name or self.name)

    def image_refs(self, value: Any) -> dict[str, str]:
        return {}

    def schema(self) -> dict[str, Any]:
        out = self._schema()
        if self.description:
            out["description"] = self.description
        if self.default is not None:
            out["default"] = self.default
        return out

    def _schema(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class IntField(Field):
    """An integer in [minimum, maximum]; JSON booleans are refused although Python calls them ints.

    `digit_strings` admits "5" as well as 5 (the job dialect documents duration as a string).
    """

    minimum: int
    maximum: int
    digit_strings: bool = False

    def coerce(self, value: Any) -> int:
        bounds = f"between {self.minimum} and {self.maximum}"
        ok_type = (str, int) if self.digit_strings else (int,)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            kind = "an integer or a string of digits" if self.digit_strings else "an integer"
            raise self.error(f"must be {kind}, got {describe(value)}")
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value):
                raise self.error(f"must be an integer {bounds}, got {shown(value)}")
            value = int(value)
        if not self.minimum <= value <= self.maximum:
            raise self.error(f"must be an integer {bounds}, got {value}")
        return value

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        if self.digit_strings:
            out["type"] = ["integer", "string"]
            out["pattern"] = "^[0-9]+$"
        return out


@dataclass(frozen=True, kw_only=True)
class StrField(Field):
    """Free text. Length counts Unicode code points, as the hosted pages' "length limit" reads."""

    max_length: int | None = None
    non_blank: bool = False

    def coerce(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.error(f"must be a string, got {describe(value)}")
        if self.non_blank and not value.strip():
            raise self.error("must not be empty")
        if self.max_length is not None and len(value) > self.max_length:
            raise self.error(f"must be at most {self.max_length} characters, got {len(value)}")
        return value

    def _schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.non_blank:
            out["minLength"] = 1
            out["pattern"] = r"\S"
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        return out


@dataclass(frozen=True, kw_only=True)
class ChoiceField(Field):
    """One of fixed string options; `aliases` maps other accepted spellings to an option."""

    options: tuple[str, ...]
    aliases: Mapping[Any, str] = field(default_factory=dict)

    def coerce(self, value: Any) -> str:
        if isinstance(value, str) and value in self.options:
            return value
        if not isinstance(value, bool) and isinstance(value, (str, int)) and value in self.aliases:
            return self.aliases[value]
        choices = ", ".join(self.options)
        if self.aliases:
            numbers = sorted({a for a in self.aliases if isinstance(a, int)})
            if numbers:
                choices += f" (or {numbers[0]}-{numbers[-1]})"
        numeric_alias = self.aliases and isinstance(value, int) and not isinstance(value, bool)
        if not isinstance(value, str) and not numeric_alias:
            raise self.error(f"must be a string, one of {choices}, got {describe(value)}")
        raise self.error(f"must be one of {choices}, got {shown(value)}")

    def _schema(self) -> dict[str, Any]:
        return {"enum": [*self.options, *self.aliases]}


@dataclass(frozen=True, kw_only=True)
class BoolField(Field):
    """true/false; `strings` also admits "true"/"false" (any case) where a page lists them."""

    strings: bool = False

    def coerce(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if self.strings and isinstance(value, str) and value.lower() in _TRUE_FALSE:
            return _TRUE_FALSE[value.lower()]
        kind = 'a boolean (true/false or "true"/"false")' if self.strings else "a boolean (true or false)"
        raise self.error(f"must be {kind}, got {describe(value)}")

    def _schema(self) -> dict[str, Any]:
        if self.strings:
            return {"anyOf": [{"type": "boolean"},
                              {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"}]}
        return {"type": "boolean"}


def _image_ref(f: Field, value: Any, name: str) -> str:
    """An image reference is only shape-checked here; fetching and decoding happen in media."""
    if not isinstance(value, str):
        raise f.error(f"must be a string ({IMAGE_HINT}), got {describe(value)}", name)
    value = value.strip()
    if not value:
        raise f.error(f"must not be empty ({IMAGE_HINT})", name)
    return value


@dataclass(frozen=True, kw_only=True)
class ImageField(Field):
    def coerce(self, value: Any) -> str:
        return _image_ref(self, value, self.name)

    def image_refs(self, value: Any) -> dict[str, str]:
        return {self.name: value}

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


@dataclass(frozen=True, kw_only=True)
class ImageListField(Field):
    """An array of exactly `count` image references; an element's errors name it `images[i]`."""

    count: int = 1

    def coerce(self, value: Any) -> list[str]:
        noun = "image" if self.count == 1 else "images"
        if not isinstance(value, (list, tuple)):
            raise self.error(f"must be an array of {self.count} {noun}, got {describe(value)}")
        if len(value) != self.count:
            raise self.error(f"must hold exactly {self.count} {noun}, got {len(value)}")
        return [_image_ref(self, v, f"{self.name}[{i}]") for i, v in enumerate(value)]

    def image_refs(self, value: Any) -> dict[str, str]:
        return {f"{self.name}[{i}]": v for i, v in enumerate(value)}

    def _schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "minLength": 1},
                "minItems": self.count, "maxItems": self.count}


@dataclass(frozen=True, kw_only=True)
class UrlField(Field):
    """An http(s) URL that the worker fetches later (music, watermark image).

    compat: "" reads as "not given", since clients of the hosted service send empty strings
    for unset optional text.
    """

    what: str = "URL"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.error(f"must be a string (an http(s) {self.what}), got {describe(value)}")
        value = value.strip()
        if not value:
            return MISSING
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise self.error(f"must be an http(s) {self.what}, got {shown(value)}")
        return value

    def _schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "uri", "pattern": "^(https?://.+)?$"}


@dataclass(frozen=True, kw_only=True)
class VoiceField(StrField):
    """A voice id from the audio voice table (GET /v1/voices lists them with descriptions)."""

    non_blank: bool = True

    def coerce(self, value: Any) -> str:
        from stillmotion.audio.voices import BY_ID, voice_ids  # plain data; no speech library

        value = super().coerce(value)
        if value not in BY_ID:
            raise self.error(f"unknown voice_id {shown(value)}; valid: {', '.join(voice_ids())}")
        return value

    def _schema(self) -> dict[str, Any]:
        from stillmotion.audio.voices import voice_ids

        return {"type": "string", "enum": voice_ids()}
