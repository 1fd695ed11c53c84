"""The `tradedeck backtest` command's work: load, run with a progress bar, summarise.

Kept out of cli.py so the other commands never import pandas, TA-Lib or the engine; the
CLI imports this module only when a backtest is asked for, which keeps the whole cold
command on a 45k-candle file well under two seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradedeck.backtest.engine import run_backtest
from tradedeck.backtest.inputs import (
    build_strategy,
    config_for,
    load_series,
    make_request,
    market_for,
    normalize_symbol_text,
    parse_params,
)
from tradedeck.backtest.report import BacktestResult
from tradedeck.backtest.summary import headline, summary_rows
from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.money import fmt, to_decimal
from tradedeck.strategies.registry import StrategyRegistry


def run_command(
    *,
    strategy: str,
    params: Sequence[str],
    data: Path,
    symbol: str,
    timeframe: str | None,
    fee: str,
    slippage: str,
    amount: str | None,
    risk: str | None,
    cash: str,
    json_out: Path | None,
    strategies_dir: Path | None,
) -> BacktestResult:
    """Everything the command does; refusals raise domain errors before any output."""
    if amount is not None and risk is not None:
        raise InvalidInput("amount_and_risk", "give either --amount or --risk, not both")
    request = make_request(
        strategy=strategy,
        params=parse_params(params),
        symbol=normalize_symbol_text(symbol),
        timeframe=_timeframe(timeframe),
        fee=_number(fee, "--fee"),
        slippage_bps=_number(slippage, "--slippage"),
        amount=None if amount is None else _number(amount, "--amount"),
        risk_percent=None if risk is None else _number(risk, "--risk"),
        cash=_number(cash, "--cash"),
    )
    instance = build_strategy(
        StrategyRegistry.load(strategies_dir), request.strategy, request.params
    )
    if json_out is not None and json_out.is_dir():
        raise InvalidInput("invalid_json_path", f"--json {json_out} is a directory")
    series = load_series(data, request.symbol, request.timeframe)
    config = config_for(request, market_for(request.symbol, series))
    err = Console(stderr=True)
    with Progress(
        TextColumn(f"backtest {instance.name} {request.symbol}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("run", total=1.0)
        result = run_backtest(
            series, instance, config, progress=lambda done: bar.update(task, completed=done)
        )
    out = Console()
    out.print(headline(result), highlight=False)
    out.print(summary_table(result))
    if result.metrics.open_position > 0:
        out.print(
            f"still holding {fmt(result.metrics.open_position)} at the end (not in the trades)",
            highlight=False,
        )
    if json_out is not None:
        json_out.write_text(json.dumps(result.export(), indent=2) + "\n", encoding="utf-8")
        err.print(f"wrote {json_out}")
    return result


def summary_table(result: BacktestResult) -> Table:
    table = Table(show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(result):
        table.add_row(name, value)
    return table


def _number(text: str, option: str) -> Decimal:
    try:
        return to_decimal(text.strip(), option)
    except InvalidInput:
        raise InvalidInput("invalid_number", f"{option} must be a number, got {text!r}") from None


def _timeframe(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in TIMEFRAME_SECONDS:
        raise InvalidInput(
            "invalid_timeframe",
            f"unknown timeframe {value!r}; expected one of " + ", ".join(TIMEFRAME_SECONDS),
        )
    return value
