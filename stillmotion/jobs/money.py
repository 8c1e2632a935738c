"""Money and time as every repository hands them back: exact micro-dollars shown with at least two
places, and aware UTC datetimes (SQL columns and the memory repositories share these rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

MICROS = 1_000_000
_TWO_PLACES = Decimal("0.01")


def as_utc(value: datetime) -> datetime:
    """Aware UTC from any datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_micros(amount: Decimal | int) -> int:
    """Exact micro-dollars; refuses floats and sub-micro fractions instead of rounding."""
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"money must be a Decimal or int, not {type(amount).__name__}")
    micros = Decimal(amount).scaleb(6)
    if not micros.is_finite() or micros != micros.to_integral_value():
        raise ValueError(f"money amount {amount} is not a whole number of micro-dollars")
    return int(micros)


def from_micros(micros: int | Decimal) -> Decimal:
    """A Decimal with at least two places ("0.60", "0.032"), the way prices are written."""
    value = (Decimal(int(micros)) / MICROS).normalize()
    if value.as_tuple().exponent > -2:  # type: ignore[operator]
        value = value.quantize(_TWO_PLACES)
    return value
