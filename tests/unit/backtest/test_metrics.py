"""Metrics against figures worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from tradedeck.backtest import metrics
from tradedeck.backtest.report import Trade

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def trade(pnl: str) -> Trade:
    return Trade(
        entry_time=WHEN,
        entry_price=Decimal(100),
        exit_time=WHEN,
        exit_price=Decimal(100) + Decimal(pnl),
        amount=Decimal(1),
        pnl=Decimal(pnl),
        fees=Decimal("0.5"),
        exit_reason="signal",
    )


def test_returns_and_drawdown() -> None:
    equity = np.array([100.0, 110.0, 99.0, 120.0])
    assert metrics.total_return(equity) == pytest.approx(0.2)
    assert metrics.max_drawdown(equity) == pytest.approx(0.1)  # 110 -> 99
    assert metrics.candle_returns(equity) == pytest.approx([0.1, -0.1, 21 / 99])


def test_sharpe_and_sortino_by_hand() -> None:
    returns = np.array([0.01, -0.02, 0.03, 0.0])
    mean = 0.005
    sample_sd = math.sqrt(((0.005**2) + (0.025**2) + (0.025**2) + (0.005**2)) / 3)
    downside = math.sqrt((0.02**2) / 4)
    assert metrics.sharpe(returns, 365) == pytest.approx(mean / sample_sd * math.sqrt(365))
    assert metrics.sortino(returns, 365) == pytest.approx(mean / downside * math.sqrt(365))


def test_a_flat_curve_has_no_sharpe_rather_than_infinity() -> None:
    flat = np.zeros(5)
    assert metrics.sharpe(flat, 365) is None
    assert metrics.sortino(flat, 365) is None


def test_cagr_of_a_doubling_in_one_year() -> None:
    equity = np.array([100.0, 200.0])
    assert metrics.cagr(equity, metrics.YEAR_SECONDS) == pytest.approx(1.0)
    assert metrics.cagr(equity, metrics.YEAR_SECONDS * 2) == pytest.approx(math.sqrt(2) - 1)
    assert metrics.cagr(np.array([100.0, 0.0]), metrics.YEAR_SECONDS) == -1.0


def test_trade_figures() -> None:
    trades = [trade("10"), trade("-5"), trade("15")]
    equity = np.array([1000.0, 1010.0, 1005.0, 1020.0])
    held = np.array([False, True, True, False])
    result = metrics.compute_metrics(
        equity,
        held,
        trades,
        start_equity=Decimal(1000),
        end_equity=Decimal(1020),
        timeframe_seconds=86_400,
    )
    assert result.trades == 3
    assert result.win_rate == pytest.approx(2 / 3)
    assert result.profit_factor == pytest.approx(25 / 5)
    assert result.average_trade == Decimal("6.6666666667")
    assert result.exposure == pytest.approx(0.5)
    assert result.fees == Decimal("1.5")
    assert result.total_return == pytest.approx(0.02)


def test_no_losing_trade_means_no_profit_factor() -> None:
    assert metrics.profit_factor([Decimal(3), Decimal(4)]) is None
    assert metrics.profit_factor([]) is None
