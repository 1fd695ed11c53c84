"""Stored facts the trading core reads without needing the database layer itself.

They live apart from ``repository`` so that code which only passes these values around
(the kill switch, the order manager, the backtester's in-memory store) does not import
SQLAlchemy: ``tradedeck backtest`` starts cold, and every module it loads is paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tradedeck.domain.errors import RiskRefused

REJECTION_AUDIT = "order.rejected"
"""The audit action of an order refused at placement (the watchdog counts them)."""


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    active: bool
    reason: str | None = None
    actor: str | None = None
    changed_at: datetime | None = None


class KillSwitchActiveInStore(RiskRefused):
    """Raised inside a write when the stored kill switch is on (another process set it)."""
