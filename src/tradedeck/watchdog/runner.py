"""The watchdog loop: read the shared store, judge, and halt trading when a rule trips.

Every ``TRADEDECK_WATCHDOG_INTERVAL_SECONDS`` it takes (or renews) the lease; only the
holder judges and acts, so two watchdogs give one kill switch activation, one set of
cancellations and one alert, and the standby takes over when the holder's lease lapses.

Acting on a trigger:

1. the stored kill switch is turned on, with the trigger's reason (a no-op when it is on);
2. open orders are canceled. A trading process whose heartbeat is fresh holds them in
   memory and cancels them itself within a beat (see ``heartbeat.py``); it gets
   ``TRADEDECK_WATCHDOG_CANCEL_GRACE_SECONDS`` before the watchdog cancels them in the
   database anyway. A dead one gets no grace;
3. the admins are told, once per activation and once per direct cancellation.

Each check ends with the watchdog's own beat, whose detail (last check, heartbeat age,
last action) is what ``tradedeck watchdog --status`` and the app's health endpoint read.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from tradedeck.config import Settings
from tradedeck.domain.markets import Market
from tradedeck.ops.waiting import wait_or_stop
from tradedeck.storage.heartbeats import (
    LEASE,
    MAIN,
    WATCHDOG_PREFIX,
    HeartbeatStore,
    WatchdogQueries,
)
from tradedeck.storage.repository import Repository
from tradedeck.trading.risk_limits import SETTING_KEY, RiskLimits
from tradedeck.trading.valuation import Valuator
from tradedeck.watchdog.alerts import AdminAlerts
from tradedeck.watchdog.cancel import cancel_persisted_orders
from tradedeck.watchdog.checks import (
    Trigger,
    drawdown_trigger,
    error_rate_trigger,
    heartbeat_trigger,
)

log = structlog.get_logger(__name__)

ACTOR = "watchdog"
REJECTION_WINDOW = timedelta(minutes=1)


def default_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"[:40]


def lease_ttl(interval: float) -> float:
    """How long a lease outlives its holder's last renewal: a few missed checks."""
    return max(5.0, 5 * interval)


@dataclass(frozen=True, slots=True)
class Action:
    at: datetime
    trigger: Trigger
    activated: bool
    canceled: int
    alerted: int

    def describe(self) -> str:
        parts = [self.trigger.reason]
        if self.activated:
            parts.append("kill switch activated")
        if self.canceled:
            parts.append(f"{self.canceled} open orders canceled")
        return "; ".join(parts)


class Watchdog:
    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        heartbeats: HeartbeatStore,
        alerts: AdminAlerts,
        markets: Mapping[str, Market],
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cancel: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._beats = heartbeats
        self._queries = WatchdogQueries(repository.engine)
        self._alerts = alerts
        self._markets = dict(markets)
        # Where open orders live: the persisted paper account, or a live exchange.
        self._cancel = cancel or self._cancel_persisted
        self.owner = owner or settings.watchdog_id or default_owner()
        self._clock = clock
        self._stop = asyncio.Event()
        self.holder = False
        self.last_check: datetime | None = None
        self.last_action: Action | None = None
        self.heartbeat_age: float | None = None

    @property
    def interval(self) -> float:
        return self._settings.watchdog_interval_seconds

    async def run(self) -> None:
        """Check until :meth:`stop`; a failed check is logged and the next one runs."""
        log.info("watchdog_started", owner=self.owner, interval=self.interval)
        self._stop.clear()
        while not self._stop.is_set():
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watchdog_check_failed")
            await wait_or_stop(self._stop, self.interval)
        log.info("watchdog_stopped", owner=self.owner)

    def stop(self) -> None:
        self._stop.set()

    async def check_once(self) -> Action | None:
        now = self._clock()
        main = await self._beats.read(MAIN)
        self.heartbeat_age = None if main is None else main.age(now)
        self.holder = await self._beats.claim(LEASE, self.owner, lease_ttl(self.interval))
        action: Action | None = None
        if self.holder:
            timeout = self._settings.watchdog_heartbeat_timeout
            trigger = heartbeat_trigger(main, now, timeout)
            alive = trigger is None and main is not None
            trigger = trigger or await self._drawdown(now) or await self._error_rate(now)
            if trigger is not None:
                action = await self._act(trigger, now, main_alive=alive)
        self.last_check = now
        if action is not None:
            self.last_action = action
        await self._beats.beat(WATCHDOG_PREFIX + self.owner, self.owner, self.detail())
        return action

    def detail(self) -> dict[str, object]:
        """What the watchdog's beat carries for ``--status`` and the health endpoint."""
        last = self.last_action
        return {
            "interval": self.interval,
            "holder": self.holder,
            "last_check": self.last_check.isoformat() if self.last_check else None,
            "heartbeat_age": None if self.heartbeat_age is None else round(self.heartbeat_age, 1),
            "heartbeat_timeout": self._settings.watchdog_heartbeat_timeout,
            "last_action": last.describe() if last else None,
            "last_action_at": last.at.isoformat() if last else None,
        }

    # -- rules ---------------------------------------------------------------------------
    async def _limits(self) -> RiskLimits:
        values = {name: getattr(self._settings, name) for name in RiskLimits.model_fields}
        stored = await self._repo.get_setting(SETTING_KEY)
        if stored:  # an admin's run-time change, as the trading process applies it
            values.update(json.loads(stored))
        return RiskLimits.model_validate(values)

    async def _drawdown(self, now: datetime) -> Trigger | None:
        day = await self._repo.day_equity(now.date())
        if day is None:
            return None
        prices = await self._queries.last_prices()
        valuator = Valuator(self._markets, prices.get, self._settings.valuation_currency)
        equity = valuator.equity(await self._repo.load_balances()).total
        return drawdown_trigger(day[0], equity, (await self._limits()).daily_drawdown_pct)

    async def _error_rate(self, now: datetime) -> Trigger | None:
        since = now - REJECTION_WINDOW
        state = await self._repo.get_kill_switch()
        if state.changed_at is not None and state.changed_at > since:
            since = state.changed_at  # rejections before an admin resumed are forgiven
        rejected = await self._queries.rejections_since(since)
        return error_rate_trigger(rejected, self._settings.watchdog_max_rejections_per_minute)

    # -- acting ----------------------------------------------------------------------------
    async def _act(self, trigger: Trigger, now: datetime, *, main_alive: bool) -> Action | None:
        activated = await self._queries.activate_kill_switch(trigger.reason, ACTOR)
        state = await self._repo.get_kill_switch()
        if activated:
            log.warning(
                "watchdog_kill_switch_activated", cause=trigger.cause, reason=trigger.reason
            )
            await self._repo.audit(ACTOR, ACTOR, "kill_switch.activate", "ok", trigger.reason)
        canceled = 0
        if not main_alive or self._grace_over(state.changed_at, now):
            reason = f"kill switch: {state.reason or trigger.reason}"
            canceled = await self._cancel(reason)
            if canceled:
                log.warning("watchdog_orders_canceled", canceled=canceled, cause=trigger.cause)
                await self._repo.audit(ACTOR, ACTOR, "orders.cancel_all", "ok", str(canceled))
        if not activated and not canceled:
            return None
        alerted = await self._alert(trigger, activated, canceled, main_alive=main_alive)
        return Action(now, trigger, activated, canceled, alerted)

    async def _cancel_persisted(self, reason: str) -> int:
        return (await cancel_persisted_orders(self._repo, self._markets, reason)).count

    def _grace_over(self, since: datetime | None, now: datetime) -> bool:
        grace = timedelta(seconds=self._settings.watchdog_cancel_grace_seconds)
        return since is None or now - since >= grace

    async def _alert(
        self, trigger: Trigger, activated: bool, canceled: int, *, main_alive: bool
    ) -> int:
        lines = [trigger.reason]
        if activated:
            lines.append("Trading is halted: the kill switch is active.")
        if canceled:
            lines.append(f"Canceled {canceled} open orders.")
        elif main_alive:
            lines.append("The trading process is canceling its open orders.")
        lines.append("An admin resumes trading with DELETE /api/v1/kill-switch or /resume.")
        title = "Watchdog: trading halted" if activated else "Watchdog: open orders canceled"
        try:
            return await self._alerts.alert(title, lines)
        except Exception:  # an alert that fails must not undo or repeat the halt
            log.exception("watchdog_alert_failed")
            return 0


def bundled_markets() -> dict[str, Market]:
    """Every bundled market: the paper account may hold orders on any of them."""
    from tradedeck.marketdata.catalog import load_bundled_catalog

    return {b.symbol: b.market for b in load_bundled_catalog()}
