"""Markets, tickers and candles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.api.schemas import CandleOut, MarketOut, TickerOut
from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["markets"])


def _symbol(raw: str) -> str:
    """Accept ETH/BTC, ETH-BTC and eth_btc (slashes are awkward in URLs)."""
    return raw.replace("-", "/").replace("_", "/").upper()


@router.get("/markets")
async def list_markets(actor: ActorDep, services: ServicesDep) -> list[MarketOut]:
    actor.require(Permission.READ)
    return [MarketOut.of(m) for m in services.orders.exchange.markets.values()]


def _ticker(services: ServicesDep, symbol: str) -> TickerOut:
    market = services.orders.market(symbol)
    candle = services.orders.exchange.last_candle(market.symbol)
    if candle is None:
        return TickerOut(symbol=market.symbol)
    return TickerOut(
        symbol=market.symbol,
        last=candle.close,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        volume=candle.volume,
        candle_time=candle.opened_at,
        timeframe=candle.timeframe,
        updated_at=services.marketdata.updated_at(market.symbol) or datetime.now(UTC),
    )


@router.get("/tickers")
async def list_tickers(actor: ActorDep, services: ServicesDep) -> list[TickerOut]:
    actor.require(Permission.READ)
    return [_ticker(services, s) for s in services.orders.exchange.markets]


@router.get("/tickers/{symbol}")
async def get_ticker(symbol: str, actor: ActorDep, services: ServicesDep) -> TickerOut:
    actor.require(Permission.READ)
    return _ticker(services, _symbol(symbol))


@router.get("/candles")
async def list_candles(
    actor: ActorDep,
    services: ServicesDep,
    symbol: Annotated[str, Query(min_length=3, max_length=40)],
    timeframe: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CandleOut]:
    actor.require(Permission.READ)
    market = services.orders.market(_symbol(symbol))
    native = services.marketdata.timeframe(market.symbol)
    if timeframe is not None and timeframe not in TIMEFRAME_SECONDS:
        raise InvalidInput("invalid_timeframe", f"unknown timeframe {timeframe!r}")
    if timeframe is not None and timeframe != native:
        raise InvalidInput(
            "unsupported_timeframe", f"{market.symbol} is recorded in {native} candles"
        )
    candles = await services.repository.list_candles(market.symbol, native, limit=limit)
    return [
        CandleOut(
            time=c.opened_at, open=c.open, high=c.high, low=c.low, close=c.close, volume=c.volume
        )
        for c in candles
    ]
