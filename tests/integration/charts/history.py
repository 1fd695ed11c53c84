"""Candle history for chart tests: what the candle store holds once the replay has run.

A fresh app starts with the history its first start stores; these helpers store more of the
previous lap's candles right before the current one, as the replay would have played them,
so a chart test decides how much history a market has: the same prices, a continuous clock.
"""

from __future__ import annotations

from datetime import timedelta

from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle
from tradedeck.domain.money import from_float
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.services import Services


def previous_lap(services: Services, symbol: str, count: int) -> list[Candle]:
    """The ``count`` candles the replay played before ``symbol``'s current one."""
    bundled = next(b for b in load_bundled_catalog() if b.symbol == symbol)
    series = load_bundled_series(bundled)
    current = services.orders.exchange.last_candle(symbol)
    assert current is not None, f"{symbol} has no price yet"
    step = timedelta(seconds=TIMEFRAME_SECONDS[series.timeframe])
    start = len(series) - count
    return [
        Candle(
            symbol=symbol,
            timeframe=series.timeframe,
            opened_at=current.opened_at - step * (count - k),
            open=from_float(series.open[start + k]),
            high=from_float(series.high[start + k]),
            low=from_float(series.low[start + k]),
            close=from_float(series.close[start + k]),
            volume=from_float(series.volume[start + k]),
        )
        for k in range(count)
    ]


async def seed_history(services: Services, symbols: list[str], count: int = 1000) -> None:
    for symbol in symbols:
        await services.repository.upsert_candles(previous_lap(services, symbol, count))
