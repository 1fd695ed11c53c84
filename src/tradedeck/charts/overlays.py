"""What to draw over the candles, and the indicator values behind it.

The chart, its caption and the REST image all read the same numbers from here, and they
come from the strategies' own TA-Lib wrappers, so the SMA in a caption is exactly the line
on the photo above it and the value a strategy saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradedeck.strategies import indicators

FloatArray = npt.NDArray[np.float64]

RSI_OVERSOLD = 30.0
RSI_OVERBOUGHT = 70.0


@dataclass(frozen=True, slots=True)
class Overlays:
    """Indicators drawn on a candle chart.

    ``sma``/``ema`` are periods of moving averages on the price panel, ``bollinger`` the
    period of 2σ Bollinger bands, ``rsi`` the period of an RSI panel under the volume.
    ``columns`` names columns already in the frame (a strategy's own indicators, added by
    ``Strategy.populate``) to draw on the price panel as they are. None/empty turns a
    layer off; a line the data is too short for is left out instead of drawn empty.
    """

    sma: tuple[int, ...] = (20, 50)
    ema: tuple[int, ...] = ()
    bollinger: int | None = 20
    volume: bool = True
    rsi: int | None = 14
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        periods = [*self.sma, *self.ema]
        periods += [p for p in (self.bollinger, self.rsi) if p is not None]
        if any(p < 2 for p in periods):
            raise ValueError(f"indicator periods must be at least 2, got {periods}")


PLAIN = Overlays(sma=(), bollinger=None, rsi=None)


def closes(frame: pd.DataFrame) -> FloatArray:
    return np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))


def sma(close: FloatArray, period: int) -> FloatArray:
    return indicators.sma(close, period)


def ema(close: FloatArray, period: int) -> FloatArray:
    return indicators.ema(close, period)


def rsi(close: FloatArray, period: int) -> FloatArray:
    return indicators.rsi(close, period)


def bollinger(close: FloatArray, period: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Upper, middle and lower band at two standard deviations."""
    return indicators.bollinger(close, period, 2.0)


def last_defined(values: FloatArray) -> float | None:
    """The newest value, or None while the indicator is still warming up."""
    if values.shape[0] == 0 or not np.isfinite(values[-1]):
        return None
    return float(values[-1])


def has_values(values: FloatArray) -> bool:
    return bool(np.isfinite(values).any())
