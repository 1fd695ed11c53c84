"""Performance figures from an equity curve and a trade list.

Conventions, so figures compare with other tools: returns are per candle, simple, on
the mark-to-market equity at each close; annualising uses the candles in a calendar year
(crypto trades every day, so 525,960 one-minute candles, not 252 trading days); the risk-
free rate is 0; Sortino's downside deviation is the root mean square of the negative
returns over all candles; drawdown is measured from the running peak of the curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tradedeck.backtest.report import Metrics, Trade
from tradedeck.domain.money import ZERO

FloatArray = npt.NDArray[np.float64]
YEAR_SECONDS = 365.25 * 86_400
_CENTS_OF_SATOSHI = Decimal("1e-10")  # an average needs no more places than that


def total_return(equity: FloatArray) -> float:
    return float(equity[-1] / equity[0] - 1.0) if equity[0] else 0.0


def cagr(equity: FloatArray, span_seconds: float) -> float | None:
    """Compound annual growth over ``span_seconds``; None when it cannot be a number
    (no time elapsed, or a short lucky run whose annualised figure overflows a float)."""
    if span_seconds <= 0 or equity[0] <= 0:
        return None
    ratio = float(equity[-1] / equity[0])
    if ratio <= 0:
        return -1.0
    try:
        value = math.exp(math.log(ratio) * YEAR_SECONDS / span_seconds) - 1.0
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def candle_returns(equity: FloatArray) -> FloatArray:
    previous = equity[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(previous != 0, np.diff(equity) / previous, 0.0)
    return np.asarray(returns, dtype=np.float64)


def sharpe(returns: FloatArray, periods_per_year: float) -> float | None:
    if returns.shape[0] < 2:
        return None
    deviation = float(np.std(returns, ddof=1))
    if deviation == 0 or not math.isfinite(deviation):
        return None
    return float(np.mean(returns)) / deviation * math.sqrt(periods_per_year)


def sortino(returns: FloatArray, periods_per_year: float) -> float | None:
    if returns.shape[0] < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0 or not math.isfinite(downside):
        return None
    return float(np.mean(returns)) / downside * math.sqrt(periods_per_year)


def max_drawdown(equity: FloatArray) -> float:
    """The deepest fall from a running peak, as a positive fraction (0.25 is -25 %)."""
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    return float(np.max(falls)) if falls.shape[0] else 0.0


def profit_factor(pnls: Sequence[Decimal]) -> float | None:
    """Gross profit over gross loss; None without a losing trade (it would be infinite)."""
    gross_loss = -sum((p for p in pnls if p < 0), ZERO)
    if gross_loss == 0:
        return None
    return float(sum((p for p in pnls if p > 0), ZERO) / gross_loss)


def compute_metrics(
    equity: FloatArray,
    held: npt.NDArray[np.bool_],
    trades: Sequence[Trade],
    *,
    start_equity: Decimal,
    end_equity: Decimal,
    timeframe_seconds: int,
    fees: Decimal | None = None,
    rejected_orders: int = 0,
    open_position: Decimal = ZERO,
) -> Metrics:
    """Every figure of a run. ``equity`` is the value at each candle's close (the first
    one is the starting cash before any trade) and ``held[i]`` says whether a position
    was open at close ``i``; both have one entry per candle. ``fees`` defaults to the
    trades' own (pass every fill's when a position is still open)."""
    span = float(equity.shape[0] * timeframe_seconds)
    returns = candle_returns(equity)
    per_year = YEAR_SECONDS / timeframe_seconds
    pnls = [t.pnl for t in trades]
    wins = sum(1 for p in pnls if p > 0)
    return Metrics(
        start_equity=start_equity,
        end_equity=end_equity,
        total_return=total_return(equity),
        cagr=cagr(equity, span),
        sharpe=sharpe(returns, per_year),
        sortino=sortino(returns, per_year),
        max_drawdown=max_drawdown(equity),
        win_rate=wins / len(pnls) if pnls else None,
        profit_factor=profit_factor(pnls),
        exposure=float(np.mean(held)) if held.shape[0] else 0.0,
        trades=len(trades),
        average_trade=(sum(pnls, ZERO) / len(pnls)).quantize(_CENTS_OF_SATOSHI) if pnls else None,
        fees=sum((t.fees for t in trades), ZERO) if fees is None else fees,
        rejected_orders=rejected_orders,
        open_position=open_position,
    )
