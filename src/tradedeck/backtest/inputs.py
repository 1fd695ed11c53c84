"""A backtest request, from any face, turned into what the engine runs.

The CLI, the REST API and the bot take the same request (strategy, params, symbol,
timeframe, fee, slippage, amount or risk); everything a user can get wrong is refused
here with a domain error, before any work starts, so the faces only format the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from os import PathLike
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tradedeck.backtest.engine import BacktestConfig
from tradedeck.domain.candles import check_timeframe
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market, parse_symbol
from tradedeck.marketdata.catalog import load_bundled_catalog
from tradedeck.marketdata.loaders import CandleSeries, MarketDataError, load_candles
from tradedeck.strategies.base import Strategy
from tradedeck.strategies.registry import StrategyRegistry

_MAX_DECIMALS = 8
_DEFAULT_STEP = Decimal("0.00000001")


class BacktestRequest(BaseModel):
    """One backtest as a face asks for it; the candles are the symbol's stored ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(min_length=1, max_length=40)
    params: dict[str, Any] = Field(default_factory=dict)
    symbol: str = Field(min_length=3, max_length=40)
    timeframe: str | None = Field(
        default=None, description="must be the series' own timeframe; None = that one"
    )
    fee: Decimal = Field(
        default=Decimal("0.001"), ge=0, lt=1, description="per fill, 0.001 = 0.1 %"
    )
    slippage_bps: Decimal = Field(default=Decimal(5), ge=0, lt=10_000)
    amount: Decimal | None = Field(default=None, gt=0, description="base amount per entry")
    risk_percent: Decimal | None = Field(
        default=None, gt=0, le=100, description="equity % at risk per entry (to the stop-loss)"
    )
    cash: Decimal = Field(default=Decimal(10_000), gt=0, description="starting quote balance")

    @field_validator("strategy")
    @classmethod
    def _strategy_name(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return check_timeframe(value)

    @model_validator(mode="after")
    def _one_size(self) -> BacktestRequest:
        if self.amount is not None and self.risk_percent is not None:
            raise ValueError("give either amount or risk_percent, not both")
        return self


def make_request(**fields: Any) -> BacktestRequest:
    """A request from loose fields; a bad one is an InvalidInput naming the field."""
    try:
        return BacktestRequest.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise InvalidInput("invalid_request", f"{where}: {first['msg']}") from None


def normalize_symbol_text(raw: str) -> str:
    """``BTC/USDT``, ``btc-usdt`` and ``BTC_USDT`` all name the same market."""
    base, quote = parse_symbol(raw.strip().replace("-", "/").replace("_", "/"))
    return f"{base}/{quote}"


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["fast=10", "slow=30"]`` from a command line or a chat message; the strategy's
    own parameter model then coerces and checks the values."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InvalidInput(
                "invalid_param", f"a parameter must look like name=value, got {pair!r}"
            )
        if key in params:
            raise InvalidInput("invalid_param", f"parameter {key!r} is given twice")
        params[key] = value
    return params


def build_strategy(registry: StrategyRegistry, name: str, params: dict[str, Any]) -> Strategy:
    """The named strategy with checked params (InvalidInput names what is wrong)."""
    return registry.create(name, params)


def load_series(path: str | PathLike[str], symbol: str, timeframe: str | None) -> CandleSeries:
    """A candle file as a series labelled ``symbol``; a missing or unreadable file and
    candles that cannot be trusted are refusals that name the file (and row)."""
    try:
        series = load_candles(path, symbol=symbol, timeframe=timeframe or "")
    except FileNotFoundError:
        raise InvalidInput("data_not_found", f"no candle file at {path}") from None
    except IsADirectoryError:
        raise InvalidInput("data_not_found", f"{path} is a directory, not a candle file") from None
    except OSError as error:
        raise InvalidInput("data_unreadable", f"cannot read {path}: {error.strerror}") from None
    except (MarketDataError, ValueError) as error:
        raise InvalidInput("invalid_data", str(error)) from None
    if timeframe and len(series) > 1:
        spacing = int(np.median(np.diff(series.ts)))
        if spacing != series.timeframe_ms:
            raise InvalidInput(
                "invalid_timeframe",
                f"the candles in {path} are {spacing // 1000} s apart, not {timeframe}",
            )
    return series


def market_for(symbol: str, series: CandleSeries) -> Market:
    """The bundled market's rules when there is one, else rules read off the data.

    For a file of some other market the price tick is the finest decimal the prices use
    (capped at 8 places) and amounts may have 8 decimals, with no minimum order value,
    so no order is refused for a precision the data never had.
    """
    for bundled in load_bundled_catalog():
        if bundled.symbol == symbol:
            return bundled.market
    base, quote = parse_symbol(symbol)
    return Market(
        symbol=symbol,
        base=base,
        quote=quote,
        price_tick=_price_tick(series),
        amount_step=_DEFAULT_STEP,
        min_amount=_DEFAULT_STEP,
        min_notional=Decimal(0),
    )


def _price_tick(series: CandleSeries) -> Decimal:
    prices = np.concatenate([series.open, series.high, series.low, series.close])
    for decimals in range(_MAX_DECIMALS + 1):
        scaled = prices * 10.0**decimals
        noise = 8 * np.spacing(np.abs(scaled))  # what float arithmetic alone leaves behind
        if bool(np.all(np.abs(scaled - np.rint(scaled)) <= noise)):
            return Decimal(1).scaleb(-decimals)
    return Decimal(1).scaleb(-_MAX_DECIMALS)


def config_for(request: BacktestRequest, market: Market) -> BacktestConfig:
    return BacktestConfig(
        market=market,
        cash=request.cash,
        fee_rate=request.fee,
        slippage_bps=request.slippage_bps,
        amount=request.amount,
        risk_percent=request.risk_percent,
    )
