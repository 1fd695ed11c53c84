"""Trend following in its simplest form: long while the fast SMA is above the slow one."""

from __future__ import annotations

import pandas as pd
import talib
from pydantic import Field, model_validator

from tradedeck.strategies.base import Strategy, StrategyParams


class SmaCrossParams(StrategyParams):
    fast: int = Field(default=10, ge=2, le=1000)
    slow: int = Field(default=30, ge=3, le=5000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class SmaCross(Strategy):
    name = "sma_cross"
    description = "Enter when the fast SMA crosses above the slow SMA, exit when it crosses below"
    Params = SmaCrossParams
    params: SmaCrossParams

    @property
    def warmup(self) -> int:
        return self.params.slow

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        close = frame["close"].to_numpy()
        frame["sma_fast"] = talib.SMA(close, timeperiod=self.params.fast)
        frame["sma_slow"] = talib.SMA(close, timeperiod=self.params.slow)
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        above = frame["sma_fast"] > frame["sma_slow"]
        return above & ~above.shift(1, fill_value=True)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        below = frame["sma_fast"] < frame["sma_slow"]
        return below & ~below.shift(1, fill_value=True)
