"""Decimal helpers: money never passes through float on its way to an exchange."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

from tradedeck.domain.errors import InvalidInput

ZERO = Decimal(0)
ONE = Decimal(1)


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Parse a user or data value into a finite Decimal, or refuse with a clear sentence."""
    if isinstance(value, bool):
        raise InvalidInput("invalid_number", f"{field} must be a number, not a boolean")
    try:
        if isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, Decimal | int | str):
            result = Decimal(value)
        else:
            raise InvalidInput("invalid_number", f"{field} must be a number")
    except InvalidOperation:
        raise InvalidInput("invalid_number", f"{field} is not a number: {value!r}") from None
    if not result.is_finite():
        raise InvalidInput("invalid_number", f"{field} must be finite")
    return result


def from_float(value: float) -> Decimal:
    """Shortest exact decimal of a data float (candles are stored as floats)."""
    return Decimal(repr(float(value)))


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Round towards zero to a multiple of ``step`` (amounts must never round up)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Round to the nearest multiple of ``step`` (prices after slippage)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` has no more precision than ``step`` allows."""
    if step <= 0:
        return True
    return (value % step) == 0


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation for integers."""
    if value == 0:
        return ZERO
    n = value.normalize()
    exponent = n.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return n.quantize(ONE)
    return n


def fmt(value: Decimal | None) -> str | None:
    """Plain string for JSON: no exponent, no trailing zeros."""
    if value is None:
        return None
    return format(normalize(value), "f")
