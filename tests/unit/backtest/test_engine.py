"""The backtester's semantics on tiny hand-made series, with prices worked out by hand.

Signals come from a scripted strategy (entry/exit flags given per candle), so every test
states exactly which close decides and which candle fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tradedeck.backtest.engine import BacktestConfig, run_backtest
from tradedeck.backtest.report import BacktestResult
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.strategies.base import Strategy

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MARKET = Market(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    price_tick=Decimal("0.01"),
    amount_step=Decimal("0.001"),
    min_amount=Decimal("0.001"),
    min_notional=Decimal("1"),
)
Row = tuple[float, float, float, float]  # open, high, low, close


class Scripted(Strategy):
    """Enters and exits on the candles it is told, decided on their close."""

    name = "scripted"

    def __init__(self, entries: Sequence[int], exits: Sequence[int], **params: Any) -> None:
        super().__init__(params)
        self._entries = entries
        self._exits = exits

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def _flags(self, frame: pd.DataFrame, at: Sequence[int]) -> pd.Series:
        flags = np.zeros(len(frame), dtype=bool)
        flags[list(at)] = True
        return pd.Series(flags, index=frame.index)

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return self._flags(frame, self._entries)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return self._flags(frame, self._exits)


def series(rows: Sequence[Row]) -> CandleSeries:
    ts = np.array([int((T0 + timedelta(minutes=k)).timestamp() * 1000) for k in range(len(rows))])
    o, h, low, c = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    return CandleSeries(
        ts=ts,
        open=o,
        high=h,
        low=low,
        close=c,
        volume=np.full(len(rows), 1000.0),
        symbol="BTC/USDT",
        timeframe="1m",
    )


def flat(price: float) -> Row:
    return (price, price, price, price)


def run(
    rows: Sequence[Row],
    strategy: Strategy,
    *,
    fee: str = "0",
    slippage: str = "0",
    amount: str | None = "1",
    risk: str | None = None,
    cash: str = "100000",
) -> BacktestResult:
    config = BacktestConfig(
        market=MARKET,
        cash=Decimal(cash),
        fee_rate=Decimal(fee),
        slippage_bps=Decimal(slippage),
        amount=None if amount is None else Decimal(amount),
        risk_percent=None if risk is None else Decimal(risk),
    )
    return run_backtest(series(rows), strategy, config)


def minute(k: int) -> datetime:
    return T0 + timedelta(minutes=k)


def test_market_orders_fill_at_the_next_open_plus_slippage() -> None:
    rows = [flat(99), flat(99), (100, 103, 98, 102), flat(105), (110, 111, 108, 109), flat(109)]
    result = run(rows, Scripted(entries=[1], exits=[3]), slippage="10")

    [trade] = result.trades
    assert trade.entry_time == minute(2)  # signal on candle 1's close, fill at candle 2's open
    assert trade.entry_price == Decimal("100.10")  # 100 + 10 bps
    assert trade.exit_time == minute(4)
    assert trade.exit_price == Decimal("109.89")  # 110 - 10 bps
    assert trade.pnl == Decimal("9.79")
    assert trade.exit_reason == "signal"


def test_fees_are_charged_on_every_fill() -> None:
    rows = [flat(100), flat(100), flat(100), flat(110), flat(120), flat(120)]
    result = run(rows, Scripted(entries=[1], exits=[3]), fee="0.001", amount="2")

    [trade] = result.trades
    # Buy 2 at 100: fee 0.2. Sell 2 at 120: fee 0.24. PnL = 40 - 0.44.
    assert trade.fees == Decimal("0.44")
    assert trade.pnl == Decimal("39.56")
    assert result.metrics.fees == Decimal("0.44")
    assert result.metrics.end_equity == Decimal("100039.56")


def test_stop_loss_wins_when_stop_and_target_are_inside_one_candle() -> None:
    rows = [flat(100), flat(100), (100, 101, 99, 100), (100, 106, 94, 100), flat(100)]
    result = run(rows, Scripted(entries=[1], exits=[], stop_loss=0.05, take_profit=0.05))

    [trade] = result.trades
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_time == minute(3)
    assert trade.exit_price == Decimal("95")  # the stop, not the open, not the target


def test_take_profit_is_a_limit_that_fills_on_the_high() -> None:
    rows = [flat(100), flat(100), (100, 101, 99, 100), (101, 106, 100, 104), flat(104)]
    result = run(rows, Scripted(entries=[1], exits=[], stop_loss=0.05, take_profit=0.05))

    [trade] = result.trades
    assert trade.exit_reason == "take_profit"
    assert trade.exit_time == minute(3)
    assert trade.exit_price == Decimal("105")  # its limit price, reached by the high


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    rows = [flat(100), flat(100), (100, 101, 99, 100), (90, 91, 88, 89), flat(89)]
    result = run(rows, Scripted(entries=[1], exits=[], stop_loss=0.05), slippage="0")

    [trade] = result.trades
    assert trade.exit_price == Decimal("90")  # below the 95 stop: the first price there was
    assert trade.exit_reason == "stop_loss"


def test_a_target_gapped_over_fills_at_the_better_open() -> None:
    rows = [flat(100), flat(100), (100, 101, 99, 100), (108, 109, 107, 108), flat(108)]
    result = run(rows, Scripted(entries=[1], exits=[], take_profit=0.05))

    [trade] = result.trades
    assert trade.exit_price == Decimal("108")


def test_the_trailing_stop_follows_the_highest_close() -> None:
    rows = [
        flat(100),
        flat(100),
        (100, 101, 95, 100),  # entry at 100; 95 is above the 90 trailing level
        (100, 111, 99, 110),
        (110, 121, 109, 120),  # highest close 120: the level becomes 108
        (119, 119, 107, 112),  # the low reaches 108
        flat(112),
    ]
    result = run(rows, Scripted(entries=[1], exits=[], trailing_stop=0.1))

    [trade] = result.trades
    assert trade.exit_reason == "trailing_stop"
    assert trade.exit_time == minute(5)
    assert trade.exit_price == Decimal("108")
    assert trade.pnl == Decimal("8")


def test_an_exit_signal_at_the_open_beats_a_stop_later_in_that_candle() -> None:
    rows = [flat(100), flat(100), flat(100), flat(100), (99, 99, 90, 91), flat(91)]
    result = run(rows, Scripted(entries=[1], exits=[3], stop_loss=0.05))

    [trade] = result.trades
    assert trade.exit_reason == "signal"
    assert trade.exit_price == Decimal("99")


def test_a_position_still_open_at_the_end_is_marked_to_the_last_close() -> None:
    rows = [flat(100), flat(100), flat(100), flat(130)]
    result = run(rows, Scripted(entries=[1], exits=[]))

    assert result.trades == []
    assert result.metrics.open_position == Decimal("1")
    assert result.metrics.end_equity == Decimal("100030")
    assert result.equity[-1].equity == pytest.approx(100030.0)
    assert result.metrics.exposure == pytest.approx(0.5)  # held at closes 2 and 3 of 4


def test_risk_percent_sizes_the_position_to_the_stop() -> None:
    rows = [flat(100), flat(100), flat(100), flat(100), flat(100)]
    result = run(
        rows, Scripted(entries=[1], exits=[3], stop_loss=0.05), amount=None, risk="1", cash="10000"
    )

    # Risk 1 % of 10,000 (100) over a 5-per-unit stop distance: 20 units.
    assert result.trades[0].amount == Decimal("20")


def test_without_amount_or_risk_each_entry_spends_the_free_cash() -> None:
    rows = [flat(100), flat(100), flat(100), flat(100), flat(100)]
    result = run(rows, Scripted(entries=[1], exits=[3]), amount=None, fee="0.001", cash="1000")

    # 1000 / (100 * 1.001) = 9.99000..., rounded down to the 0.001 step.
    assert result.trades[0].amount == Decimal("9.990")


def test_an_order_the_account_cannot_pay_is_rejected_and_nothing_trades() -> None:
    rows = [flat(100), flat(100), flat(100), flat(100), flat(100)]
    result = run(rows, Scripted(entries=[1], exits=[3]), amount="50", cash="1000")

    assert result.trades == []
    assert result.metrics.rejected_orders == 1
    assert result.metrics.end_equity == Decimal("1000")


def test_amount_and_risk_together_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        BacktestConfig(market=MARKET, amount=Decimal(1), risk_percent=Decimal(1))
    assert refused.value.code == "amount_and_risk"


class Broken(Scripted):
    name = "broken"

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        raise ZeroDivisionError("division by zero")


def test_a_strategy_that_raises_is_a_refusal_naming_where() -> None:
    rows = [flat(100), flat(100), flat(100)]
    with pytest.raises(InvalidInput) as refused:
        run(rows, Broken(entries=[], exits=[]))
    assert refused.value.code == "strategy_failed"
    assert "test_engine.py:" in refused.value.detail
    assert "ZeroDivisionError: division by zero" in refused.value.detail


def test_the_fixed_stop_acts_while_it_is_above_the_trailing_level() -> None:
    rows = [flat(100), flat(100), (100, 101, 99, 100), (100, 100, 94, 96), flat(96)]
    result = run(rows, Scripted(entries=[1], exits=[], stop_loss=0.05, trailing_stop=0.1))

    [trade] = result.trades
    assert trade.exit_reason == "stop_loss"  # 95 is above the trailing 90
    assert trade.exit_price == Decimal("95")


def test_a_trailing_stop_above_the_fixed_legs_replaces_them() -> None:
    rows = [
        flat(100),
        flat(100),
        (100, 101, 99, 100),
        (100, 121, 99, 120),  # the trailing level becomes 108, above the 95 stop-loss
        (119, 119, 107, 110),  # reaches 108 (and not the 150 target)
        (110, 160, 80, 150),  # would fill both old legs, had they been left behind
        flat(150),
    ]
    strategy = Scripted(entries=[1], exits=[], stop_loss=0.05, take_profit=0.5, trailing_stop=0.1)
    result = run(rows, strategy)

    [trade] = result.trades
    assert trade.exit_reason == "trailing_stop"
    assert trade.exit_time == minute(4)
    assert trade.exit_price == Decimal("108")
    assert result.metrics.open_position == 0
    assert result.metrics.end_equity == Decimal("100008")
