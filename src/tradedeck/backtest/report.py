"""What a backtest gives back: metrics, the trade list and the equity curve.

Pydantic models, so the same objects are the CLI's ``--json`` file, the REST body and
what the key-value store keeps: times serialise as ISO-8601 UTC, money as decimal
strings (never floats, which would round a price), ratios as plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

EQUITY_POINTS = 1000
"""The stored equity curve is thinned to about this many points: enough for a chart,
small enough to keep a result of a 500k-candle run in one key-value row."""


@dataclass(slots=True)
class Trade:
    """One round trip: from flat to long and back to flat.

    A plain dataclass, not a model: a long run makes tens of thousands of them, and this
    builds in a third of ``model_construct``'s time (and not frozen, which would cost five
    times as much again); pydantic still validates and serialises it as a field of
    ``BacktestResult``.
    """

    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime
    exit_price: Decimal
    amount: Decimal
    pnl: Annotated[Decimal, Field(description="realized, in the quote currency, net of both fees")]
    fees: Decimal
    exit_reason: Annotated[
        str, Field(description="signal, stop_loss, take_profit or trailing_stop")
    ]


class EquityPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    time: datetime
    equity: float


class Metrics(BaseModel):
    """The usual figures of a run; ratios are fractions (0.05 is 5 %), money is Decimal.

    A figure that has no meaning for a run (a Sharpe ratio of a flat curve, a profit
    factor without a losing trade) is None, never a made-up number or infinity.
    """

    model_config = ConfigDict(frozen=True)

    start_equity: Decimal
    end_equity: Decimal
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    win_rate: float | None
    profit_factor: float | None
    exposure: float
    trades: int
    average_trade: Decimal | None = Field(description="mean PnL per trade, quote currency")
    fees: Decimal
    rejected_orders: int = 0
    open_position: Decimal = Field(
        default=Decimal(0), description="still held at the end (not in the trade list)"
    )


class BacktestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    params: dict[str, Any]
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    candles: int
    metrics: Metrics
    trades: list[Trade]
    equity: list[EquityPoint]

    def export(self) -> dict[str, Any]:
        """The ``--json`` document: metrics and trades (plus the thinned equity curve)."""
        return self.model_dump(mode="json", include={"metrics", "trades", "equity"})
