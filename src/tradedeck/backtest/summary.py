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
    money = _in_cents if abs(m.start_equity) >= 1000 else _in_units
    return [
        ("Start equity", money(m.start_equity)),
        ("End equity", money(m.end_equity)),
        ("Total return", _pct(m.total_return)),
        ("CAGR", _pct(m.cagr)),
        ("Sharpe", _ratio(m.sharpe)),
        ("Sortino", _ratio(m.sortino)),
        ("Max drawdown", _pct(m.max_drawdown)),
        ("Trades", str(m.trades)),
        ("Win rate", _pct(m.win_rate)),
        ("Profit factor", _ratio(m.profit_factor)),
        ("Average trade", "-" if m.average_trade is None else money(m.average_trade)),
        ("Exposure", _pct(m.exposure)),
        ("Fees", money(m.fees)),
        ("Rejected orders", str(m.rejected_orders)),
    ]


# One precision for every amount of a result, chosen by the size of the account: cents
# for a USDT-sized one (10,000.00 then 366.34, not 366.33553327), and up to 8 places for a
# BTC-sized one, where 0.00012345 is a real difference.
def _in_cents(value: Decimal) -> str:
    return f"{value:,.2f}"


def _in_units(value: Decimal) -> str:
    return fmt(round(value, 8)) or "0"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:,.2f} %"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"
