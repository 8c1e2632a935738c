"""Prices: one step-rate shape covers every model, exact Decimal arithmetic throughout.

Both pricing schemes of the seeds are the same curve: a first-second price, an optional
2-second price, then a rate per further second. A flat per-second rate is that curve with
start = per_sec, so an operator override has one shape for every model.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stillmotion.catalog.entry import ModelEntry

_CENT = Decimal("0.01")
_RATE_KEYS = ("per_sec", "start", "two_sec")
OFF_PEAK_KEY = "off_peak_factor"


@dataclass(frozen=True)
class Rate:
    """price(1) = start; price(2) = two_sec or start + per_sec; then + per_sec a second.

    `start=None` means the first second costs per_sec (a flat per-second rate).
    """

    per_sec: Decimal
    start: Decimal | None = None
    two_sec: Decimal | None = None

    @property
    def first(self) -> Decimal:
        return self.per_sec if self.start is None else self.start

    def price(self, seconds: int) -> Decimal:
        if seconds <= 1:
            return self.first
        at_two = self.two_sec if self.two_sec is not None else self.first + self.per_sec
        return at_two + self.per_sec * (seconds - 2)

    def text(self) -> str:
        if self.start is None and self.two_sec is None:
            return f"{format_amount(self.per_sec)} per second"
        out = f"{format_amount(self.first)} for 1 s"
        if self.two_sec is not None:
            out += f" ({format_amount(self.two_sec)} at 2 s)"
        return out + f", plus {format_amount(self.per_sec)} per further second"

    def to_dict(self) -> dict[str, str]:
        out = {"per_sec": format_amount(self.per_sec), "start": format_amount(self.first)}
        if self.two_sec is not None:
            out["two_sec"] = format_amount(self.two_sec)
        return out


def rate(per_sec: str, start: str | None = None, two_sec: str | None = None) -> Rate:
    """Literal rates in model modules read as the seeds print them."""
    return Rate(Decimal(per_sec), None if start is None else Decimal(start),
                None if two_sec is None else Decimal(two_sec))


def format_amount(amount: Decimal | int | str) -> str:
    """A decimal string with at least two decimals and no float noise: 0.6 -> "0.60", 0.032 -> "0.032"."""
    d = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    d = d.normalize()
    if d.as_tuple().exponent > -2:  # type: ignore[operator]
        d = d.quantize(_CENT)
    return f"{d:f}"


# ---- operator overrides -------------------------------------------------------------------


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{where}: must be a decimal string, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: must be a decimal string, got {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{where}: must be a non-negative decimal, got {value!r}")
    return d


def _override_rate(current: Rate, spec: Any, where: str) -> Rate:
    if not isinstance(spec, Mapping) or not spec:
        raise ValueError(f"{where}: must be a table with per_sec/start/two_sec")
    unknown = set(spec) - set(_RATE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; expected {', '.join(_RATE_KEYS)}")
    changes = {k: _decimal(v, f"{where}.{k}") for k, v in spec.items()}
    return replace(current, **changes)


def apply_price_overrides(data: Mapping[str, Any], models: Mapping[str, ModelEntry]) -> None:
    """Check the whole override table first, then apply it, so a bad file changes nothing.

    Shape: {model_id: {mode: {resolution: {"per_sec", "start", "two_sec"}}, "off_peak_factor": "0.5"}}.
    Keys left out keep their current value; only existing (mode, resolution) pairs can be priced,
    because a pair the model refuses (540p in pro-fast) can never be charged.
    """
    if not isinstance(data, Mapping):
        raise ValueError("price overrides: must be a table keyed by model id")
    new_rates: list[tuple[ModelEntry, str, str, Rate]] = []
    new_factors: list[tuple[ModelEntry, Decimal]] = []
    for model_id, modes in data.items():
        entry = models.get(model_id)
        if entry is None:
            raise ValueError(f"price overrides: unknown model {model_id!r}; known: {', '.join(models)}")
        if not isinstance(modes, Mapping):
            raise ValueError(f"price overrides: {model_id}: must be a table keyed by mode")
        for mode, resolutions in modes.items():
            where = f"price overrides: {model_id}.{mode}"
            if mode == OFF_PEAK_KEY:
                new_factors.append((entry, _decimal(resolutions, where)))
                continue
            if mode not in entry.rates:
                raise ValueError(f"{where}: unknown mode; known: {', '.join(entry.rates)}")
            if not isinstance(resolutions, Mapping):
                raise ValueError(f"{where}: must be a table keyed by resolution")
            known = entry.rates[mode]
            for res, spec in resolutions.items():
                if res not in known:
                    raise ValueError(f"{where}.{res}: unknown resolution; known: {', '.join(known)}")
                new_rates.append((entry, mode, res, _override_rate(known[res], spec, f"{where}.{res}")))
    for entry, mode, res, r in new_rates:
        entry.rates[mode][res] = r
    for entry, factor in new_factors:
        entry.off_peak_factor = factor


def read_price_file(path: str | Path) -> dict[str, Any]:
    """JSON, or TOML when the name ends in .toml (write model ids as quoted keys there)."""
    p = Path(path)
    if p.suffix.lower() == ".toml":
        with p.open("rb") as fh:
            return tomllib.load(fh)
    with p.open(encoding="utf-8") as fh:
        return json.load(fh)
