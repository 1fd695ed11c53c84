"""ChartService over a stand-in candle store: the summary matches the indicators, larger
timeframes are aggregated, refusals are domain errors, rendering stays off the loop."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import talib

from tradedeck.charts import service as service_module
from tradedeck.charts.service import MAX_PENDING, ChartService
from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle
from tradedeck.domain.errors import InvalidInput, NotFound, Unavailable
from tradedeck.domain.markets import Market, normalize_symbol
from tradedeck.domain.money import from_float
from tradedeck.domain.roles import Actor, Role
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series

VIEWER = Actor(name="vic", role=Role.VIEWER, channel="test")
ETH = Market(
    "ETH/BTC", "ETH", "BTC", Decimal("0.00000001"), Decimal("0.001"), Decimal("0.001"), Decimal(0)
)
START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def eth_candles(count: int) -> list[Candle]:
    bundled = next(b for b in load_bundled_catalog() if b.symbol == "ETH/BTC")
    series = load_bundled_series(bundled)
    step = timedelta(minutes=5)
    return [
        Candle(
            "ETH/BTC",
            "5m",
            START + step * k,
            from_float(series.open[k]),
            from_float(series.high[k]),
            from_float(series.low[k]),
            from_float(series.close[k]),
            from_float(series.volume[k]),
        )
        for k in range(count)
    ]


class Orders:
    def market(self, symbol: str) -> Market:
        if normalize_symbol(symbol) != "ETH/BTC":
            raise InvalidInput("unknown_symbol", f"no market {symbol}")
        return ETH


class MarketData:
    def timeframe(self, symbol: str) -> str:
        return "5m"


@dataclass
class Store:
    candles: list[Candle]
    asked: list[int] = field(default_factory=list)

    async def list_candles(self, symbol: str, timeframe: str, *, limit: int = 200) -> list[Candle]:
        assert (symbol, timeframe) == ("ETH/BTC", "5m")
        self.asked.append(limit)
        return self.candles[-limit:]


@pytest.fixture
def store() -> Store:
    return Store(eth_candles(2000))


@pytest.fixture
async def charts(store: Store) -> AsyncIterator[ChartService]:
    service = ChartService(Orders(), MarketData(), store)  # type: ignore[arg-type]
    try:
        yield service
    finally:
        await service.stop()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_summary_is_what_the_chart_shows(charts: ChartService, store: Store) -> None:
    image = await charts.candles(VIEWER, "eth/btc")
    png_size(image.png)
    shown = store.candles[-120:]
    close = np.array([float(c.close) for c in shown])
    summary = image.summary
    assert (summary.symbol, summary.quote, summary.timeframe) == ("ETH/BTC", "BTC", "5m")
    assert summary.candles == 120 and summary.opened_at == shown[-1].opened_at
    assert summary.last == shown[-1].close
    change = (close[-1] / float(shown[0].open) - 1) * 100
    assert summary.change_pct == Decimal(f"{change:.2f}")
    sma = dict(summary.sma)
    assert sma[20] == Decimal(f"{talib.SMA(close, 20)[-1]:.8f}")
    assert sma[50] == Decimal(f"{talib.SMA(close, 50)[-1]:.8f}")
    assert summary.rsi_period == 14
    assert summary.rsi == Decimal(f"{talib.RSI(close, 14)[-1]:.1f}")


async def test_larger_timeframes_are_aggregated(charts: ChartService, store: Store) -> None:
    image = await charts.candles(VIEWER, "ETH/BTC", "1h", limit=100)
    assert store.asked == [101 * 12]
    summary = image.summary
    assert summary.timeframe == "1h" and summary.candles == 100
    assert summary.opened_at.minute == 0
    last_hour = [c for c in store.candles if c.opened_at >= summary.opened_at]
    assert summary.last == last_hour[-1].close and len(last_hour) <= 12


async def test_refusals(charts: ChartService, store: Store) -> None:
    with pytest.raises(InvalidInput, match="limit must be from 10 to 500"):
        await charts.candles(VIEWER, "ETH/BTC", limit=5)
    with pytest.raises(InvalidInput, match="unknown timeframe"):
        await charts.candles(VIEWER, "ETH/BTC", "5x")
    with pytest.raises(InvalidInput, match="recorded in 5m candles"):
        await charts.candles(VIEWER, "ETH/BTC", "1m")
    with pytest.raises(InvalidInput) as unknown:
        await charts.candles(VIEWER, "DOGE/BTC")
    assert unknown.value.code == "unknown_symbol"
    store.candles = store.candles[100:300]  # Monday 08:20 to Tuesday 01:00: one day, partial
    with pytest.raises(NotFound) as short:
        await charts.candles(VIEWER, "ETH/BTC", "1d")
    assert short.value.code == "not_enough_candles"
    store.candles = store.candles[:1]
    with pytest.raises(NotFound, match="no 5m candles of ETH/BTC"):
        await charts.candles(VIEWER, "ETH/BTC")
    with pytest.raises(InvalidInput, match="at least 2 points"):
        await charts.equity([START], [1.0], title="t")


async def test_a_repeated_request_is_answered_without_drawing_again(
    charts: ChartService, store: Store
) -> None:
    first = await charts.candles(VIEWER, "ETH/BTC")
    assert await charts.candles(VIEWER, "ETH/BTC") is first
    last = store.candles[-1]
    moved = Candle(
        last.symbol,
        last.timeframe,
        last.opened_at,
        last.open,
        last.high,
        last.low,
        last.close * 2,
        last.volume,
    )
    store.candles = [*store.candles[:-1], moved]
    second = await charts.candles(VIEWER, "ETH/BTC")
    assert second is not first and second.summary.last == moved.close


async def test_rendering_happens_in_one_worker_thread(
    charts: ChartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    real = service_module.candle_chart

    def spy(*args: Any, **kwargs: Any) -> bytes:
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "candle_chart", spy)
    await asyncio.gather(
        charts.candles(VIEWER, "ETH/BTC", "15m"), charts.candles(VIEWER, "ETH/BTC", "30m")
    )
    assert len(threads) == 1 and threads != {threading.current_thread().name}
    assert next(iter(threads)).startswith("charts")


async def test_a_flood_of_requests_is_refused_not_queued_forever(
    charts: ChartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> bytes:
        release.wait(10)
        return b""

    monkeypatch.setattr(service_module, "equity_chart", slow)
    waiting = [
        asyncio.create_task(charts.equity([START, START], [1.0, 1.0], title=str(k)))
        for k in range(MAX_PENDING)
    ]
    await asyncio.sleep(0)
    with pytest.raises(Unavailable) as busy:  # REST: 503, try again later
        await charts.equity([START, START], [1.0, 1.0], title="one too many")
    assert busy.value.code == "charts_busy"
    release.set()
    assert await asyncio.gather(*waiting) == [b""] * MAX_PENDING


async def test_equity_chart_and_stop(charts: ChartService) -> None:
    times = [START + timedelta(seconds=TIMEFRAME_SECONDS["1h"] * k) for k in range(50)]
    png = await charts.equity(times, [Decimal(1000 + k) for k in range(50)], title="run 1")
    png_size(png)
    await charts.stop()
    with pytest.raises(Unavailable, match="shutting down"):
        await charts.candles(VIEWER, "ETH/BTC")
