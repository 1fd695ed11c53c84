"""Stored candles into frames, and frames into larger timeframes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tradedeck.charts.frames import check_timeframe, frame_of, resample, usable_timeframes
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput

HOUR = datetime(2024, 3, 4, 10, tzinfo=UTC)  # a Monday


def five_minute_frame(start: datetime, count: int) -> pd.DataFrame:
    """Candle k opens at k, closes at k + 0.5, trades k + 1 units."""
    k = np.arange(count, dtype=np.float64)
    index = pd.DatetimeIndex([start + timedelta(minutes=5 * i) for i in range(count)], name="time")
    return pd.DataFrame(
        {"open": k, "high": k + 2, "low": k - 1, "close": k + 0.5, "volume": k + 1}, index=index
    )


def test_hour_candles_from_five_minute_ones() -> None:
    frame = five_minute_frame(HOUR, 24)
    hourly = resample(frame, "1h", native="5m")
    assert list(hourly.index) == [HOUR, HOUR + timedelta(hours=1)]
    first = hourly.iloc[0]
    assert (first.open, first.high, first.low, first.close) == (0.0, 13.0, -1.0, 11.5)
    assert first.volume == sum(range(1, 13))
    assert hourly.iloc[1].open == 12.0 and hourly.iloc[1].close == 23.5
    assert all(dtype == np.float64 for dtype in hourly.dtypes)
    assert str(hourly.index.tz) == "UTC" and hourly.index.name == "time"


def test_a_window_starting_mid_bucket_drops_that_bucket_but_keeps_the_forming_one() -> None:
    frame = five_minute_frame(HOUR + timedelta(minutes=20), 20)  # 10:20 .. 11:55
    hourly = resample(frame, "1h", native="5m")
    assert list(hourly.index) == [HOUR + timedelta(hours=1)]
    frame = five_minute_frame(HOUR, 15)  # 10:00 .. 11:10: 11:00 is still forming
    hourly = resample(frame, "1h", native="5m")
    assert list(hourly.index) == [HOUR, HOUR + timedelta(hours=1)]
    assert hourly.iloc[1].volume == 13 + 14 + 15


def test_gaps_stay_gaps() -> None:
    frame = pd.concat(
        [five_minute_frame(HOUR, 12), five_minute_frame(HOUR + timedelta(hours=3), 12)]
    )
    hourly = resample(frame, "1h", native="5m")
    assert list(hourly.index) == [HOUR, HOUR + timedelta(hours=3)]


def test_weeks_start_on_monday() -> None:
    index = pd.DatetimeIndex(
        [HOUR.replace(hour=0) + timedelta(days=d) for d in range(-7, 14)], name="time"
    )
    daily = pd.DataFrame(
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1.0}, index=index
    )
    weekly = resample(daily, "1w", native="1d")
    assert [t.day_name() for t in weekly.index] == ["Monday"] * 3
    assert weekly["volume"].tolist() == [7.0, 7.0, 7.0]


def test_native_timeframe_is_unchanged() -> None:
    frame = five_minute_frame(HOUR, 5)
    assert resample(frame, "5m", native="5m") is frame


def test_timeframe_checks() -> None:
    assert check_timeframe("1h", "5m", "ETH/BTC") == 12
    assert check_timeframe("5m", "5m", "ETH/BTC") == 1
    with pytest.raises(InvalidInput) as unknown:
        check_timeframe("7m", "5m", "ETH/BTC")
    assert unknown.value.code == "invalid_timeframe"
    assert "'7m'" in unknown.value.detail and "1h" in unknown.value.detail
    with pytest.raises(InvalidInput) as smaller:
        check_timeframe("1m", "5m", "ETH/BTC")
    assert smaller.value.code == "unsupported_timeframe"
    assert smaller.value.detail == (
        "ETH/BTC is recorded in 5m candles, so a chart can show "
        "5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d, 1w, not 1m"
    )
    with pytest.raises(InvalidInput, match="recorded in 3m candles"):
        check_timeframe("5m", "3m", "X/Y")  # not a whole number of 3m candles
    assert usable_timeframes("1h") == ["1h", "2h", "4h", "6h", "12h", "1d", "1w"]


def test_frame_of_stored_candles() -> None:
    candles = [
        Candle(
            "ETH/BTC",
            "5m",
            HOUR + timedelta(minutes=5 * k),
            Decimal("0.1"),
            Decimal("0.12"),
            Decimal("0.09"),
            Decimal("0.11"),
            Decimal(k),
        )
        for k in range(3)
    ]
    frame = frame_of(candles)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame["close"].tolist() == [0.11] * 3 and frame["volume"].tolist() == [0.0, 1.0, 2.0]
    assert str(frame.index.tz) == "UTC" and frame.index[0] == HOUR
