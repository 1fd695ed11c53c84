"""Volatility breakout: ride a close above the upper Bollinger Band back to the middle.

A close outside the bands after a quiet stretch often starts a move; the middle band (the
SMA) is the natural line where the breakout has failed or run its course.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from tradedeck.strategies import indicators
from tradedeck.strategies.base import BoolArray, FloatArray, Strategy, StrategyParams


class BollingerBreakoutParams(StrategyParams):
    period: int = Field(default=20, ge=2, le=1000)
    stddev: float = Field(default=2.0, gt=0, le=6)


class BollingerBreakout(Strategy):
    name = "bollinger_breakout"
    description = (
        "Enter when the close breaks above the upper Bollinger Band, exit when it falls "
        "back below the middle band"
    )
    Params = BollingerBreakoutParams
    params: BollingerBreakoutParams

    @property
    def warmup(self) -> int:
        return self.params.period

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        upper, middle, lower = indicators.bollinger(
            frame["close"].to_numpy(), self.params.period, self.params.stddev
        )
        frame["bb_upper"], frame["bb_middle"], frame["bb_lower"] = upper, middle, lower
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        above = frame["close"] > frame["bb_upper"]
        return above & ~above.shift(1, fill_value=True)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        below = frame["close"] < frame["bb_middle"]
        return below & ~below.shift(1, fill_value=True)

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        """Where the close sits between the bands: +1 at the upper band or beyond, 0 at the
        middle, -1 at the lower band or below."""
        close = frame["close"].to_numpy()
        middle, upper = frame["bb_middle"].to_numpy(), frame["bb_upper"].to_numpy()
        width = upper - middle
        position = np.zeros_like(close)
        np.divide(close - middle, width, out=position, where=width > 0)
        return np.clip(position, -1.0, 1.0)
