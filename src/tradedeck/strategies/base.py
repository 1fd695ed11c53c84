"""The strategy API: typed parameters, one vectorised pass, entry and exit rules.

A strategy never loops over candles and never places orders. It adds indicator columns
to a candle frame in one vectorised call, then marks the closed candles where it would
enter or leave a long position. The backtester, the live runner and the scanner all read
the same :class:`Signals`, so a strategy behaves the same way wherever it runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tradedeck.domain.errors import InvalidInput
from tradedeck.marketdata.loaders import CandleSeries

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class StrategyParams(BaseModel):
    """Parameters every strategy has; a strategy subclasses this with its own fields.

    Protective exits are fractions of the entry price (0.02 is 2 %); None means none.
    Values typed on a command line (``fast=10``) are coerced to the declared types.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stop_loss: float | None = Field(default=None, gt=0, lt=1)
    take_profit: float | None = Field(default=None, gt=0)
    trailing_stop: float | None = Field(default=None, gt=0, lt=1)


@dataclass(frozen=True, slots=True)
class Signals:
    """What a strategy concluded for each closed candle of a frame.

    ``entry[i]``/``exit[i]`` are decided on the close of candle ``i``; acting on them is
    the caller's business (a backtest fills market orders at candle ``i + 1``'s open).
    ``strength[i]`` is in [-1, 1]: positive leans long, negative leans out, 0 is no view.
    """

    entry: BoolArray
    exit: BoolArray
    strength: FloatArray
    frame: pd.DataFrame

    def __len__(self) -> int:
        return int(self.entry.shape[0])


class Strategy(ABC):
    """Subclass, name it, declare ``Params``, and implement the three rules."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | Mapping[str, Any] | None = None) -> None:
        if isinstance(params, StrategyParams):
            if not isinstance(params, self.Params):
                raise InvalidInput(
                    "invalid_params", f"{self.name} takes {self.Params.__name__}, not {params!r}"
                )
            self.params: StrategyParams = params
        else:
            self.params = self.parse_params(params or {})

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any]) -> StrategyParams:
        """Typed parameters from loose input (CLI ``k=v``, JSON, a Telegram message)."""
        try:
            return cls.Params.model_validate(dict(raw))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: "
                + str(e["msg"]).removeprefix("Value error, ")
                for e in error.errors()
            )
            raise InvalidInput("invalid_params", f"{cls.name}: {problems}") from None

    @property
    def warmup(self) -> int:
        """Candles needed before the first signal can be trusted (the longest lookback)."""
        return 0

    @abstractmethod
    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add indicator columns to ``frame`` (vectorised) and return it."""

    @abstractmethod
    def entry(self, frame: pd.DataFrame) -> pd.Series:
        """True on the closed candles where a long position should be opened."""

    @abstractmethod
    def exit(self, frame: pd.DataFrame) -> pd.Series:
        """True on the closed candles where an open long position should be closed."""

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        """How strong the view is on each candle, for ranking markets; override to grade."""
        return entry.astype(np.float64) - exit.astype(np.float64)

    def signals(self, frame: pd.DataFrame) -> Signals:
        """Populate, then evaluate the rules; undefined indicators (NaN) never signal."""
        frame = self.populate(frame)
        entry = _as_bool(self.entry(frame), len(frame))
        exit_ = _as_bool(self.exit(frame), len(frame))
        if self.warmup:
            entry[: self.warmup] = False
            exit_[: self.warmup] = False
        strength = np.clip(
            np.nan_to_num(np.asarray(self.strength(frame, entry, exit_), dtype=np.float64)),
            -1.0,
            1.0,
        )
        return Signals(entry=entry, exit=exit_, strength=strength, frame=frame)


def _as_bool(values: pd.Series | BoolArray, length: int) -> BoolArray:
    array = np.asarray(pd.Series(values).fillna(False), dtype=np.bool_)
    if array.shape != (length,):
        raise ValueError(f"a rule must give one value per candle ({length}), got {array.shape}")
    return array.copy()


def candle_frame(series: CandleSeries) -> pd.DataFrame:
    """A candle series as the frame strategies work on: float64 OHLCV columns and a UTC
    DatetimeIndex of open times, named ``time``. The arrays are copied once here, so a
    strategy may add columns freely without touching the shared read-only series."""
    index = pd.DatetimeIndex(
        pd.to_datetime(np.asarray(series.ts), unit="ms", utc=True), name="time"
    )
    return pd.DataFrame(
        {
            "open": np.array(series.open),
            "high": np.array(series.high),
            "low": np.array(series.low),
            "close": np.array(series.close),
            "volume": np.array(series.volume),
        },
        index=index,
    )
