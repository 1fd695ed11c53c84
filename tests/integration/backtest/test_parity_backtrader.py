"""Parity with an independent engine: backtrader trades sma_cross exactly like we do.

Both engines run the bundled 45,031-candle 1m BTC-PERP series: SMA 10/30 crossover, long
only, a fixed amount of 1, no fee, no slippage, market orders filled at the next candle's
open (backtrader's default broker). backtrader computes its own SMA and CrossOver, so
this checks our signals, our next-open fills and our trade bookkeeping all at once,
round trip by round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from tradedeck.backtest.engine import BacktestConfig, run_backtest
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.strategies.base import candle_frame
from tradedeck.strategies.builtin.sma_cross import SmaCross

bt = pytest.importorskip("backtrader")

RoundTrip = tuple[datetime, float, datetime, float]


def _btc_perp() -> tuple[CandleSeries, BacktestConfig]:
    bundled = next(b for b in load_bundled_catalog() if b.file == "ftx-btc-perp-1m.csv")
    config = BacktestConfig(
        market=bundled.market,
        cash=Decimal(10_000_000),
        fee_rate=Decimal(0),
        slippage_bps=Decimal(0),
        amount=Decimal(1),
    )
    return load_bundled_series(bundled), config


def _backtrader_round_trips(series: CandleSeries) -> list[RoundTrip]:
    fills: list[tuple[datetime, bool, float]] = []

    class Cross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            fast = bt.indicators.SMA(self.data.close, period=10)
            slow = bt.indicators.SMA(self.data.close, period=30)
            self.cross = bt.indicators.CrossOver(fast, slow)

        def notify_order(self, order: object) -> None:
            if order.status == order.Completed:  # type: ignore[attr-defined]
                when = bt.num2date(order.executed.dt).replace(tzinfo=UTC)  # type: ignore[attr-defined]
                fills.append((when, order.isbuy(), order.executed.price))  # type: ignore[attr-defined]

        def next(self) -> None:
            if not self.position:
                if self.cross[0] > 0:
                    self.buy(size=1)
            elif self.cross[0] < 0:
                self.close()

    frame = candle_frame(series)
    frame.index = frame.index.tz_convert(None)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=pd.DataFrame(frame)))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(10_000_000.0)
    cerebro.run()
    buys = [f for f in fills if f[1]]
    sells = [f for f in fills if not f[1]]
    return [(b[0], b[2], s[0], s[2]) for b, s in zip(buys, sells, strict=False)]


def test_sma_cross_matches_backtrader_trade_by_trade() -> None:
    series, config = _btc_perp()
    result = run_backtest(series, SmaCross({"fast": 10, "slow": 30}), config)
    expected = _backtrader_round_trips(series)

    ours = [
        (t.entry_time, float(t.entry_price), t.exit_time, float(t.exit_price))
        for t in result.trades
    ]
    assert len(expected) == 945
    assert len(ours) == 945
    for number, (mine, theirs) in enumerate(zip(ours, expected, strict=True), start=1):
        assert mine == theirs, f"round trip {number} differs: ours {mine}, backtrader {theirs}"
    assert all(t.amount == 1 for t in result.trades)
    assert result.metrics.trades == 945
    assert result.metrics.fees == 0
