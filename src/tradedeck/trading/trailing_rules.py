"""What a trader's trailing stop is and when it fires, with no I/O, so the bot, the REST
API and the evaluator read ``/trail ETH/BTC 3%`` and judge a candle the same way.

A trailing stop protects a position: on a long it remembers the highest price seen since
it was set (the peak) and sells when the price falls ``trail`` percent below it; on a
perpetual short it remembers the lowest price (stored in the same ``peak`` field) and
buys back when the price rises ``trail`` percent above it. The trail is always
written as a percentage (``3%`` or ``3``; ``0.5`` is half a percent), never as a fraction,
so one number cannot mean two things.

A candle is often seen more than once: the live feed shows the forming candle on every
poll and then once more when it closes, and a stop may be set in the middle of a candle.
Its high and low are extremes of the whole candle, so only an extreme beyond what the stop
already saw of that candle is news. A low from before the stop was set, or from before
the high it now measures from, must not sell anything; the close always counts, being
the price of now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import normalize_symbol
from tradedeck.domain.money import fmt

HUNDRED = Decimal(100)
MAX_TRAIL_PERCENT = Decimal(50)
MAX_NUMBER_CHARS = 40
USAGE = "usage: /trail SYMBOL PERCENT [AMOUNT], e.g. /trail ETH/BTC 3% or /trail ETH/BTC 3% 0.5"

_NUMBER = re.compile(r"\d+(\.\d+)?|\.\d+")


class StopStatus(StrEnum):
    ACTIVE = "active"
    TRIGGERED = "triggered"


class Guards(StrEnum):
    """Which way the protected position points, and so which way the stop trails."""

    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, slots=True)
class TrailSpec:
    """What the trader asked for; the amount is ``None`` for "the whole position"."""

    symbol: str
    trail_percent: Decimal
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TrailingStop:
    id: int
    user_id: int
    symbol: str
    trail_percent: Decimal
    amount: Decimal | None
    peak: Decimal
    created_at: datetime
    triggered_at: datetime | None = None
    trigger_price: Decimal | None = None
    order_id: str | None = None
    reason: str | None = None
    guards: Guards = Guards.LONG

    @property
    def status(self) -> StopStatus:
        return StopStatus.ACTIVE if self.triggered_at is None else StopStatus.TRIGGERED

    @property
    def level(self) -> Decimal:
        """The price at or below which a long's stop sells (at or above which a short's
        buys back)."""
        return stop_level(self.peak, self.trail_percent, self.guards)


def parse_trail(text: str) -> Decimal:
    """``3%``, ``3`` or ``2.5 %`` as the percentage it names, checked to be in range."""
    raw = text.strip().removesuffix("%").rstrip()
    if not raw or len(raw) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(raw):
        raise InvalidInput(
            "invalid_trail", f"the trail must be a percentage such as 3% or 2.5, got {text!r}"
        )
    return check_trail(Decimal(raw))


def check_trail(percent: Decimal) -> Decimal:
    if not percent.is_finite() or not 0 < percent < MAX_TRAIL_PERCENT:
        raise InvalidInput(
            "invalid_trail",
            f"the trail must be more than 0% and less than {MAX_TRAIL_PERCENT}%, "
            f"got {fmt(percent)}%",
        )
    return percent


def parse_amount(text: str) -> Decimal:
    """A positive amount written out in digits (no sign, no exponent)."""
    raw = text.strip()
    if not raw or len(raw) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(raw):
        raise InvalidInput("invalid_amount", f"the amount must be a positive number, got {raw!r}")
    amount = Decimal(raw)
    if amount <= 0:
        raise InvalidInput("invalid_amount", "the amount must be greater than zero")
    return amount


def parse_command(text: str) -> TrailSpec:
    """``ETH/BTC 3% [0.5]`` (the arguments of /trail) as a :class:`TrailSpec`."""
    parts = (text or "").split()
    if len(parts) not in (2, 3):
        raise InvalidInput("invalid_trailing_stop", USAGE)
    amount = parse_amount(parts[2]) if len(parts) == 3 else None
    return TrailSpec(normalize_symbol(parts[0]), parse_trail(parts[1]), amount)


def stop_level(peak: Decimal, trail_percent: Decimal, guards: Guards = Guards.LONG) -> Decimal:
    """``peak * (1 - trail)``: where a long's stop with this peak sells; for a short,
    ``low * (1 + trail)``, where it buys back."""
    if guards is Guards.SHORT:
        return peak * (1 + trail_percent / HUNDRED)
    return peak * (1 - trail_percent / HUNDRED)


def improves(guards: Guards, price: Decimal, than: Decimal) -> bool:
    """Whether ``price`` moves the stop's peak: higher for a long, lower for a short."""
    return price < than if guards is Guards.SHORT else price > than


def best(guards: Guards, a: Decimal, b: Decimal) -> Decimal:
    return b if improves(guards, b, a) else a


def extreme_name(guards: Guards) -> str:
    """What the stored peak is, in words: a long's high, a short's low."""
    return "low" if guards is Guards.SHORT else "peak"


@dataclass(frozen=True, slots=True)
class Extremes:
    """The parts of a candle's range a stop has not seen yet (``None``: nothing new)."""

    high: Decimal | None
    low: Decimal | None


def new_extremes(seen: Candle | None, candle: Candle) -> Extremes | None:
    """What ``candle`` tells a stop that last saw ``seen``; ``None`` for a candle older than
    that (it is not the price of now). A stop that has seen nothing of the market yet (it
    was just loaded) takes the close alone: the range may be from before it was watching.
    """
    if seen is None or candle.symbol != seen.symbol:
        return Extremes(None, None)
    if candle.opened_at < seen.opened_at:
        return None
    if candle.opened_at > seen.opened_at:
        return Extremes(candle.high, candle.low)
    return Extremes(
        candle.high if candle.high > seen.high else None,
        candle.low if candle.low < seen.low else None,
    )


@dataclass(frozen=True, slots=True)
class Step:
    """A stop after one candle: its peak, and the price that triggered it, if one did."""

    peak: Decimal
    trigger: Decimal | None = None


def follow(
    peak: Decimal,
    trail_percent: Decimal,
    close: Decimal,
    fresh: Extremes,
    guards: Guards = Guards.LONG,
) -> Step:
    """Move a stop through one candle.

    Inside a candle the order of high and low is unknown, so a new low is first judged
    against the level of the peak the stop already had; only then does the peak rise to
    the new high (or the close), and the close, which comes after both, is judged against
    the level of the risen peak. The trigger price is the close when the close is at or
    below the level, else the low that went through it. A short's stop is the mirror:
    a new high judged first, then the low lowers its peak.
    """
    if guards is Guards.SHORT:
        return _follow_short(peak, trail_percent, close, fresh)
    before = stop_level(peak, trail_percent)
    if close <= before:
        return Step(peak, close)
    if fresh.low is not None and fresh.low <= before:
        return Step(peak, fresh.low)
    risen = max(peak, close, fresh.high if fresh.high is not None else peak)
    if close <= stop_level(risen, trail_percent):
        return Step(risen, close)
    return Step(risen)


def _follow_short(low: Decimal, trail_percent: Decimal, close: Decimal, fresh: Extremes) -> Step:
    before = stop_level(low, trail_percent, Guards.SHORT)
    if close >= before:
        return Step(low, close)
    if fresh.high is not None and fresh.high >= before:
        return Step(low, fresh.high)
    fallen = min(low, close, fresh.low if fresh.low is not None else low)
    if close >= stop_level(fallen, trail_percent, Guards.SHORT):
        return Step(fallen, close)
    return Step(fallen)
