"""Mean reversion on RSI: buy when an oversold market turns back up, sell once it is rich.

Entering on the cross back above the oversold line, rather than on the first dip below
it, waits for the selling to pause instead of catching a falling knife.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from tradedeck.strategies import indicators
from tradedeck.strategies.base import BoolArray, FloatArray, Strategy, StrategyParams


class RsiReversionParams(StrategyParams):
    period: int = Field(default=14, ge=2, le=500)
    oversold: float = Field(default=30.0, gt=0, lt=100)
    overbought: float = Field(default=70.0, gt=0, lt=100)

    @model_validator(mode="after")
    def _bands_in_order(self) -> RsiReversionParams:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold ({self.oversold:g}) must be below overbought ({self.overbought:g})"
            )
        return self


class RsiReversion(Strategy):
    name = "rsi_reversion"
    description = (
        "Enter when RSI crosses back above the oversold line, exit when it crosses above "
        "the overbought line"
    )
    Params = RsiReversionParams
    params: RsiReversionParams

    @property
    def warmup(self) -> int:
        return self.params.period + 1

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["rsi"] = indicators.rsi(frame["close"].to_numpy(), self.params.period)
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        rsi = frame["rsi"]
        return (rsi >= self.params.oversold) & (rsi.shift(1) < self.params.oversold)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        rsi = frame["rsi"]
        return (rsi >= self.params.overbought) & (rsi.shift(1) < self.params.overbought)

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        """+1 at the oversold line or below, -1 at the overbought line or above, linear
        between: the cheaper the market by RSI, the stronger the case for reversion."""
        rsi = frame["rsi"].to_numpy()
        low, high = self.params.oversold, self.params.overbought
        middle, half = (low + high) / 2, (high - low) / 2
        return np.clip((middle - rsi) / half, -1.0, 1.0)
