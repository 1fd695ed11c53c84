"""Candles into chart frames, and a frame into a larger timeframe.

The candle store keeps each market in the timeframe it is recorded in; a chart of a larger
timeframe is aggregated here with pandas, bucketed on UTC boundaries (weeks start on
Monday), so a 1h candle is the same hour whatever window it was cut from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle
from tradedeck.domain.errors import InvalidInput

# A Monday: every timeframe up to a week divides the time since it evenly.
_ORIGIN: Final = pd.Timestamp("1970-01-05", tz="UTC")
_AGGREGATE: Final = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def check_timeframe(timeframe: str, native: str, symbol: str) -> int:
    """How many native candles make one candle of ``timeframe``; refuses what cannot be
    built from the recorded candles, saying what can."""
    if timeframe not in TIMEFRAME_SECONDS:
        raise InvalidInput(
            "invalid_timeframe",
            f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAME_SECONDS)}",
        )
    wanted, recorded = TIMEFRAME_SECONDS[timeframe], TIMEFRAME_SECONDS[native]
    if wanted < recorded or wanted % recorded:
        raise InvalidInput(
            "unsupported_timeframe",
            f"{symbol} is recorded in {native} candles, so a chart can show "
            f"{', '.join(usable_timeframes(native))}, not {timeframe}",
        )
    return wanted // recorded


def usable_timeframes(native: str) -> list[str]:
    """The timeframes a market recorded in ``native`` candles can be charted in."""
    recorded = TIMEFRAME_SECONDS[native]
    return [tf for tf, s in TIMEFRAME_SECONDS.items() if s >= recorded and s % recorded == 0]


def frame_of(candles: Sequence[Candle]) -> pd.DataFrame:
    """Stored candles as the frame strategies and charts use (see ``candle_frame``)."""
    index = pd.DatetimeIndex([c.opened_at for c in candles], name="time")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return pd.DataFrame(
        {
            "open": np.array([float(c.open) for c in candles], dtype=np.float64),
            "high": np.array([float(c.high) for c in candles], dtype=np.float64),
            "low": np.array([float(c.low) for c in candles], dtype=np.float64),
            "close": np.array([float(c.close) for c in candles], dtype=np.float64),
            "volume": np.array([float(c.volume) for c in candles], dtype=np.float64),
        },
        index=index,
    )


def resample(frame: pd.DataFrame, timeframe: str, *, native: str) -> pd.DataFrame:
    """``frame`` (in ``native`` candles) aggregated to ``timeframe``.

    Gaps stay gaps (no invented flat candles). The first bucket is dropped when the window
    starts inside it, since its open and range would be wrong; the last one is kept even if
    it is still forming, as on any exchange's chart.
    """
    if timeframe == native or frame.empty:
        return frame
    seconds = TIMEFRAME_SECONDS[timeframe]
    factor = seconds // TIMEFRAME_SECONDS[native]
    buckets = frame.resample(f"{seconds}s", origin=_ORIGIN, label="left", closed="left")
    result = buckets.agg(_AGGREGATE)
    counts = buckets["close"].count()
    keep = counts > 0
    if len(counts) and counts.iloc[0] < factor:
        keep.iloc[0] = False
    result = result[keep.to_numpy()]
    result.index.name = "time"
    return result.astype(np.float64)
