"""Position sizing helpers for the signal path: how much to buy for a given risk.

All return a base-asset amount (or a fraction of equity for Kelly) as Decimal; the
caller rounds to the market's step, since only the market knows its precision.
"""

from __future__ import annotations

from decimal import Decimal

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.money import ZERO

HUNDRED = Decimal(100)


def fixed_fractional(
    equity: Decimal, risk_pct: Decimal, entry: Decimal, stop: Decimal | None = None
) -> Decimal:
    """Risk ``risk_pct`` % of equity: lose exactly that much if the stop is hit.

    Without a stop, the whole position is at risk, so the position's value is that share.
    """
    if not ZERO < risk_pct <= HUNDRED:
        raise InvalidInput("invalid_risk", "risk percent must be above 0 and at most 100")
    if entry <= 0:
        raise InvalidInput("invalid_price", "entry price must be greater than zero")
    budget = equity * risk_pct / HUNDRED
    if stop is None:
        return budget / entry
    distance = abs(entry - stop)
    if distance == 0:
        raise InvalidInput("invalid_stop_loss", "stop-loss must differ from the entry price")
    return budget / distance


def atr_based(
    equity: Decimal, risk_pct: Decimal, atr: Decimal, multiplier: Decimal = Decimal(2)
) -> Decimal:
    """Size so that a stop ``multiplier`` ATRs away risks ``risk_pct`` % of equity."""
    if atr <= 0 or multiplier <= 0:
        raise InvalidInput("invalid_atr", "ATR and its multiplier must be greater than zero")
    if not ZERO < risk_pct <= HUNDRED:
        raise InvalidInput("invalid_risk", "risk percent must be above 0 and at most 100")
    return equity * risk_pct / HUNDRED / (atr * multiplier)


def half_kelly(win_rate: Decimal, payoff_ratio: Decimal) -> Decimal:
    """Half of the Kelly fraction of equity to commit; 0 when the edge is not positive.

    Full Kelly maximises growth but with brutal drawdowns and an edge that is only an
    estimate, so half is the usual practical choice.
    """
    if not ZERO <= win_rate <= 1:
        raise InvalidInput("invalid_win_rate", "win rate must be between 0 and 1")
    if payoff_ratio <= 0:
        raise InvalidInput("invalid_payoff", "payoff ratio must be greater than zero")
    kelly = win_rate - (1 - win_rate) / payoff_ratio
    return max(ZERO, kelly / 2)
