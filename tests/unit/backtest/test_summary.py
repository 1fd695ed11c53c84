"""The figures a trader reads on the backtest card and the CLI table: every amount of one
result in one precision, chosen by the size of the account."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.backtest.test_engine import Scripted, flat, run
from tradedeck.backtest.report import BacktestResult
from tradedeck.backtest.summary import summary_rows


def amounts(result: BacktestResult) -> dict[str, str]:
    rows = dict(summary_rows(result))
    return {k: rows[k] for k in ("Start equity", "End equity", "Average trade", "Fees")}


def traded(cash: str, amount: str) -> BacktestResult:
    rows = [flat(100), flat(100), flat(100.123456), flat(100.5), flat(101.987654), flat(102)]
    return run(rows, Scripted(entries=[1], exits=[3]), fee="0.001", cash=cash, amount=amount)


def test_a_dollar_sized_account_reads_in_cents() -> None:
    result = traded("10000", "1")
    assert result.metrics.end_equity != result.metrics.end_equity.quantize(Decimal("0.01"))
    shown = amounts(result)
    assert shown["Start equity"] == "10,000.00"
    assert all(len(text.rsplit(".", 1)[1]) == 2 for text in shown.values()), shown
    assert shown["End equity"] == f"{result.metrics.end_equity:,.2f}"


def test_a_bitcoin_sized_account_keeps_its_small_digits() -> None:
    result = traded("2", "0.01")
    shown = amounts(result)
    assert shown["Start equity"] == "2"
    assert shown["Fees"] == format(round(result.metrics.fees, 8).normalize(), "f")
    assert len(shown["Fees"].split(".")[1]) > 2
