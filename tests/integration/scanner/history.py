"""Candles for scanner tests: bundled recordings written as the replay would store them."""

from __future__ import annotations

from datetime import UTC, datetime

from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.storage.repository import Repository

MARKETS = ["ETH/BTC", "LTC/BTC", "ADA/BTC", "BTC/USDT"]


async def store_candles(repo: Repository, symbol: str, start: int, stop: int) -> None:
    """Candles ``start:stop`` of a bundled market, as the replay would have stored them."""
    bundled = next(b for b in load_bundled_catalog() if b.symbol == symbol)
    series = load_bundled_series(bundled)
    await repo.upsert_candles([series.candle(i) for i in range(start, stop)])


async def clear_candles(repo: Repository, symbols: list[str] = MARKETS) -> None:
    """Forget the history a start stores, so a test decides exactly which candles exist."""
    timeframes = {b.symbol: b.timeframe for b in load_bundled_catalog()}
    for symbol in symbols:
        await repo.prune_candles(symbol, timeframes[symbol], datetime.max.replace(tzinfo=UTC))
