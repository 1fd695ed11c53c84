"""The figures of a result as short text rows, shared by the CLI table and the bot card."""

from __future__ import annotations

from decimal import Decimal

from tradedeck.backtest.report import BacktestResult
from tradedeck.domain.money import fmt


def headline(result: BacktestResult) -> str:
    """What ran, on what: two short lines that fit a narrow terminal."""
    return (
        f"{result.strategy} on {result.symbol} {result.timeframe}: {result.candles:,} candles\n"
        f"{result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC"
    )


def summary_rows(result: BacktestResult) -> list[tuple[str, str]]:
    """The figures as (name, text) rows: the CLI table and the Telegram card share them."""
    m = result.metrics
    return [
        ("Start equity", _money(m.start_equity)),
        ("End equity", _money(m.end_equity)),
        ("Total return", _pct(m.total_return)),
        ("CAGR", _pct(m.cagr)),
        ("Sharpe", _ratio(m.sharpe)),
        ("Sortino", _ratio(m.sortino)),
        ("Max drawdown", _pct(m.max_drawdown)),
        ("Trades", str(m.trades)),
        ("Win rate", _pct(m.win_rate)),
        ("Profit factor", _ratio(m.profit_factor)),
        ("Average trade", "-" if m.average_trade is None else _money(m.average_trade)),
        ("Exposure", _pct(m.exposure)),
        ("Fees", _money(m.fees)),
        ("Rejected orders", str(m.rejected_orders)),
    ]


def _money(value: Decimal) -> str:
    """Cents for large amounts; up to 8 places for small ones (BTC-quoted markets)."""
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return fmt(round(value, 8)) or "0"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:,.2f} %"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"
