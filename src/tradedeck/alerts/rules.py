"""What an alert is and when it fires, with no I/O: parsing ``ETH/BTC > 0.09`` and the
crossing rule, so the bot, the REST API and the evaluator cannot disagree.

An alert is a condition on the price (``>``, ``>=``, ``<``, ``<=`` a level), checked on
every candle the market delivers. A candle's high and low count, not only its close: a
price that went through the level and came back inside one candle did cross it, and a
trader who set ``> 0.09`` wants to hear that it traded there. A level the price has
already passed when the alert is made therefore fires on the next candle: the condition
holds, and hearing about it once is what the trader asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import normalize_symbol

MAX_PRICE_CHARS = 40


class Op(StrEnum):
    ABOVE = ">"
    AT_OR_ABOVE = ">="
    BELOW = "<"
    AT_OR_BELOW = "<="

    @property
    def rising(self) -> bool:
        return self in (Op.ABOVE, Op.AT_OR_ABOVE)

    def holds(self, price: Decimal, level: Decimal) -> bool:
        match self:
            case Op.ABOVE:
                return price > level
            case Op.AT_OR_ABOVE:
                return price >= level
            case Op.BELOW:
                return price < level
            case Op.AT_OR_BELOW:
                return price <= level


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What the user asked for, parsed but not yet checked against the market's tick."""

    symbol: str
    op: Op
    price: Decimal


@dataclass(frozen=True, slots=True)
class PriceAlert:
    id: int
    user_id: int
    symbol: str
    op: Op
    price: Decimal
    created_at: datetime
    triggered_at: datetime | None = None
    triggered_price: Decimal | None = None

    @property
    def active(self) -> bool:
        return self.triggered_at is None

    @property
    def condition(self) -> str:
        return f"{self.symbol} {self.op.value} {format(self.price.normalize(), 'f')}"


_EXPRESSION = re.compile(r"^\s*(\S+?)\s*(>=|<=|>|<)\s*(\S+)\s*$")
USAGE = "usage: /alert SYMBOL > PRICE (or <, >=, <=), e.g. /alert ETH/BTC > 0.09"


def parse_op(text: str) -> Op:
    try:
        return Op(text.strip())
    except ValueError:
        raise InvalidInput(
            "invalid_op", f"the condition must be one of >, >=, <, <=, got {text!r}"
        ) from None


def parse_price(text: str) -> Decimal:
    """A positive, finite decimal written out in digits (no exponent, no sign games)."""
    raw = text.strip()
    if not raw or len(raw) > MAX_PRICE_CHARS or not re.fullmatch(r"\d+(\.\d+)?|\.\d+", raw):
        raise InvalidInput("invalid_price", f"the price must be a positive number, got {raw!r}")
    try:
        price = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise InvalidInput("invalid_price", f"the price must be a number, got {raw!r}") from None
    if price <= 0:
        raise InvalidInput("invalid_price", "the price must be greater than zero")
    return price


def parse_expression(text: str) -> AlertSpec:
    """``ETH/BTC > 0.09`` (spaces optional around the operator) as an :class:`AlertSpec`."""
    match = _EXPRESSION.match(text or "")
    if match is None:
        raise InvalidInput("invalid_alert", USAGE)
    symbol, op, price = match.groups()
    return AlertSpec(normalize_symbol(symbol), parse_op(op), parse_price(price))


def crossing_price(alert: PriceAlert | AlertSpec, candle: Candle) -> Decimal | None:
    """The price at which ``candle`` meets the alert's condition, or ``None``.

    The close when it meets the condition itself (the price now), else the extreme of
    the candle that did (the high for a rising alert, the low for a falling one).
    """
    if alert.op.holds(candle.close, alert.price):
        return candle.close
    extreme = candle.high if alert.op.rising else candle.low
    return extreme if alert.op.holds(extreme, alert.price) else None
