"""The rules that trip the watchdog, as pure functions of what it read.

Each returns a :class:`Trigger` whose reason names the cause with its numbers, because the
reason is what the kill switch shows and what the admins read at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tradedeck.domain.money import fmt
from tradedeck.storage.heartbeats import Beat

Cause = Literal["heartbeat", "drawdown", "error_rate"]
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Trigger:
    cause: Cause
    reason: str


def heartbeat_trigger(beat: Beat | None, now: datetime, timeout: float) -> Trigger | None:
    """A trading process whose last beat is older than ``timeout`` seconds is dead or hung.

    No beat at all means it never ran against this store: nothing to guard yet; a last
    beat marked ``stopped`` means it was stopped on purpose and nothing is trading.
    """
    if beat is None or beat.detail.get("stopped"):
        return None
    age = beat.age(now)
    if age <= timeout:
        return None
    return Trigger("heartbeat", f"watchdog: heartbeat {age:.0f} s old (timeout {timeout:g} s)")


def drawdown_trigger(
    day_start: Decimal | None, equity: Decimal | None, limit_pct: Decimal
) -> Trigger | None:
    """Equity down ``limit_pct`` percent or more since the start of the UTC day."""
    if day_start is None or equity is None or day_start <= 0:
        return None
    drawdown = (day_start - equity) / day_start * HUNDRED
    if drawdown < limit_pct:
        return None
    return Trigger(
        "drawdown",
        f"watchdog: daily drawdown {drawdown:.2f}% reached the limit of {fmt(limit_pct)}%",
    )


def error_rate_trigger(rejected_last_minute: int, limit: int) -> Trigger | None:
    """More than ``limit`` orders rejected within the last minute."""
    if rejected_last_minute <= limit:
        return None
    return Trigger(
        "error_rate",
        f"watchdog: {rejected_last_minute} orders rejected in the last minute "
        f"(limit {limit} per minute)",
    )
