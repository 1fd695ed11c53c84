"""One OHLCV candle; the time is its open time, UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Candle:
    """Read-only by convention, not frozen: a frozen dataclass sets every field through
    ``object.__setattr__`` (five times the cost), and every price the engine sees is one."""

    symbol: str
    timeframe: str
    opened_at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def __init__(
        self,
        symbol: str,
        timeframe: str,
        opened_at: datetime,
        open: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Decimal,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.symbol = symbol
        self.timeframe = timeframe
        self.opened_at = opened_at
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume


TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
    "1w": 604800,
}


def check_timeframe(value: str | None) -> str | None:
    """``value`` if it names a known timeframe (or is None); a ValueError saying which
    ones exist otherwise, for validators to turn into their own error."""
    if value is not None and value not in TIMEFRAME_SECONDS:
        raise ValueError(
            f"unknown timeframe {value!r}; expected one of " + ", ".join(TIMEFRAME_SECONDS)
        )
    return value


def ms_to_datetime(ms: int) -> datetime:
    """Exact (integer) conversion: float seconds would drift by a microsecond now and then."""
    return _EPOCH + timedelta(milliseconds=ms)
