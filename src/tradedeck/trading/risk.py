"""The risk engine: every order passes here before it reaches an exchange.

Checks run cheapest first and each refusal carries a reason code and a sentence. Two
guards trip the kill switch by themselves: the daily drawdown limit and a run of
consecutive exchange rejections (a strategy stuck in a loop is the usual cause).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog

from tradedeck.domain.errors import RiskRefused
from tradedeck.domain.money import fmt
from tradedeck.domain.orders import Side
from tradedeck.domain.roles import Actor, Permission
from tradedeck.trading.risk_limits import SETTING_KEY, RiskLimits

if TYPE_CHECKING:
    from tradedeck.storage.repository import Repository

log = structlog.get_logger(__name__)

HUNDRED = Decimal(100)


@dataclass(slots=True)
class OrderCheck:
    """What the risk engine needs to know about one order, all in the valuation currency
    (read-only by convention; not frozen, which would cost five times as much per order)."""

    symbol: str
    side: Side
    base: str
    notional: Decimal | None
    equity: Decimal
    base_exposure: Decimal | None
    opens_position: bool
    open_positions: int

    def __init__(
        self,
        symbol: str,
        side: Side,
        base: str,
        notional: Decimal | None,
        equity: Decimal,
        base_exposure: Decimal | None,
        opens_position: bool,
        open_positions: int,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.symbol = symbol
        self.side = side
        self.base = base
        self.notional = notional
        self.equity = equity
        self.base_exposure = base_exposure
        self.opens_position = opens_position
        self.open_positions = open_positions


KillTrigger = Callable[[str], Awaitable[None]]


class RiskEngine:
    def __init__(
        self,
        repository: Repository,
        limits: RiskLimits,
        *,
        kill_switch_active: Callable[[], bool],
        kill_switch_reason: Callable[[], str | None],
        trip_kill_switch: KillTrigger,
        currency: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = repository
        self._limits = limits
        self._kill_active = kill_switch_active
        self._kill_reason = kill_switch_reason
        self._trip = trip_kill_switch
        self._currency = currency
        self._monotonic = monotonic
        self._last_trade: dict[str, float] = {}
        self._consecutive_rejections = 0
        self._day: date | None = None
        self._day_start: Decimal | None = None

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    async def load(self) -> None:
        """Take limits an admin saved earlier over the configured defaults."""
        stored = await self._repo.get_setting(SETTING_KEY)
        if stored:
            merged = {**self._limits.model_dump(), **json.loads(stored)}
            self._limits = RiskLimits.model_validate(merged)

    async def update_limits(self, actor: Actor, changes: dict[str, object]) -> RiskLimits:
        actor.require(Permission.MANAGE_RISK)
        new = RiskLimits.model_validate({**self._limits.model_dump(), **changes})
        await self._repo.set_setting(SETTING_KEY, new.model_dump_json(), actor.name)
        self._limits = new
        await self._repo.audit(
            actor.name, actor.channel, "risk.update", "ok", json.dumps(changes, default=str)
        )
        return new

    def check(self, actor: Actor, order: OrderCheck) -> None:
        """Refuse with a reason, or return: nothing here does I/O, so it is safe under a lock."""
        if self._kill_active():
            raise RiskRefused(
                "kill_switch_active",
                f"trading is halted by the kill switch: {self._kill_reason() or 'no reason given'}",
            )
        limits = self._limits
        key = actor.name
        if limits.cooldown_seconds > 0 and key in self._last_trade:
            wait = self._last_trade[key] + limits.cooldown_seconds - self._monotonic()
            if wait > 0:
                raise RiskRefused(
                    "cooldown", f"wait {wait:.1f} s before your next trade (cooldown)"
                )
        if order.notional is not None:
            cap = limits.max_notional(actor.role)
            if order.notional > cap:
                raise RiskRefused(
                    "max_notional",
                    f"order value {fmt(order.notional)} {self._currency} is above the "
                    f"{actor.role.value} limit of {fmt(cap)} {self._currency}",
                )
        if order.opens_position and order.open_positions >= limits.max_positions:
            raise RiskRefused(
                "max_positions",
                f"{order.open_positions} positions are open; the limit is {limits.max_positions}",
            )
        if order.side is Side.BUY and order.base_exposure is not None and order.equity > 0:
            share = order.base_exposure / order.equity * HUNDRED
            if share > limits.max_exposure_pct:
                raise RiskRefused(
                    "max_exposure",
                    f"{order.base} would be {share:.1f}% of equity; the limit is "
                    f"{fmt(limits.max_exposure_pct)}%",
                )
        if self._day_start is not None and self._day_start > 0:
            drawdown = (self._day_start - order.equity) / self._day_start * HUNDRED
            if drawdown >= limits.daily_drawdown_pct:
                raise RiskRefused(
                    "daily_drawdown",
                    f"equity is down {drawdown:.2f}% today; the limit is "
                    f"{fmt(limits.daily_drawdown_pct)}%",
                )

    def record_trade(self, actor: Actor) -> None:
        self._last_trade[actor.name] = self._monotonic()
        self._consecutive_rejections = 0

    async def record_rejection(self, reason: str) -> None:
        self._consecutive_rejections += 1
        if self._consecutive_rejections >= self._limits.max_consecutive_rejections:
            count = self._consecutive_rejections
            self._consecutive_rejections = 0
            await self._trip(f"{count} consecutive orders rejected (last: {reason})")

    async def observe_equity(self, equity: Decimal, now: datetime | None = None) -> None:
        """Track the day's starting equity and trip the kill switch past the drawdown limit."""
        today = (now or datetime.now(UTC)).date()
        if self._day != today:
            self._day_start = await self._repo.record_day_equity(today, self._currency, equity)
            self._day = today
        start = self._day_start
        if start is None or start <= 0 or self._kill_active():
            return
        drawdown = (start - equity) / start * HUNDRED
        if drawdown >= self._limits.daily_drawdown_pct:
            log.warning("daily_drawdown_breached", drawdown_pct=str(drawdown))
            await self._trip(
                f"daily drawdown {drawdown:.2f}% reached the limit of "
                f"{fmt(self._limits.daily_drawdown_pct)}%"
            )

    @property
    def day_start_equity(self) -> Decimal | None:
        return self._day_start
