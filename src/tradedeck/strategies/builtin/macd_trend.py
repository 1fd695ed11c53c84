"""Trend following on MACD: long while the MACD line is above its signal line.

An optional ADX floor skips crossings in a market without a trend, where MACD whipsaws.
Strength is the histogram measured in ATRs, so it ranks markets of any price level alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from tradedeck.strategies import indicators
from tradedeck.strategies.base import BoolArray, FloatArray, Strategy, StrategyParams


class MacdTrendParams(StrategyParams):
    fast: int = Field(default=12, ge=2, le=500)
    slow: int = Field(default=26, ge=3, le=1000)
    signal: int = Field(default=9, ge=1, le=500)
    adx_min: float = Field(
        default=0.0, ge=0, le=100, description="enter only when ADX is at least this; 0 = off"
    )
    adx_period: int = Field(default=14, ge=2, le=500)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MacdTrendParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class MacdTrend(Strategy):
    name = "macd_trend"
    description = (
        "Enter when MACD crosses above its signal line (optionally only when ADX shows a "
        "trend), exit when it crosses below"
    )
    Params = MacdTrendParams
    params: MacdTrendParams

    @property
    def warmup(self) -> int:
        p = self.params
        macd_lookback = p.slow + p.signal - 1
        return max(macd_lookback, 2 * p.adx_period) if p.adx_min > 0 else macd_lookback

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        close = frame["close"].to_numpy()
        frame["macd"], frame["macd_signal"], frame["macd_hist"] = indicators.macd(
            close, p.fast, p.slow, p.signal
        )
        high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
        frame["atr"] = indicators.atr(high, low, close, 14)
        if p.adx_min > 0:
            frame["adx"] = indicators.adx(high, low, close, p.adx_period)
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        above = frame["macd_hist"] > 0
        crossed = above & ~above.shift(1, fill_value=True)
        if self.params.adx_min > 0:
            crossed &= frame["adx"] >= self.params.adx_min
        return crossed

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        below = frame["macd_hist"] < 0
        return below & ~below.shift(1, fill_value=True)

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        """tanh of the histogram in ATRs: near ±1 once MACD leads its signal by an ATR."""
        hist, atr = frame["macd_hist"].to_numpy(), frame["atr"].to_numpy()
        scaled = np.zeros_like(hist)
        np.divide(hist, atr, out=scaled, where=atr > 0)
        return np.asarray(np.tanh(np.nan_to_num(scaled)), dtype=np.float64)
