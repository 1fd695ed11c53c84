"""Price alerts as a service: users manage their own, every candle is checked against
the waiting ones, and a crossing is announced once as ``EventType.PRICE_ALERT``.

The waiting alerts are held in memory by market, so a candle costs a dictionary look-up
rather than a query; the copy is re-read from the database every ``refresh_seconds``
(another replica may have added or fired some) and at once after a change made here.
Firing goes through the store's conditional update, so an alert is announced once even
when two processes see the same candle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from tradedeck.alerts.rules import AlertSpec, PriceAlert, crossing_price
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, InvalidInput, NotFound
from tradedeck.domain.markets import Market
from tradedeck.domain.money import fmt
from tradedeck.domain.roles import Actor, Permission
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.storage.alerts import AlertStore

log = structlog.get_logger(__name__)

MAX_ACTIVE_PER_USER = 50
REFRESH_SECONDS = 5.0


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        market: Callable[[str], Market],
        bus: EventBus,
        *,
        max_active: int = MAX_ACTIVE_PER_USER,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._market = market
        self._bus = bus
        self._max_active = max_active
        self._refresh = refresh_seconds
        self._clock = clock
        self._now = now
        self._waiting: dict[str, list[PriceAlert]] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    # -- what users do ---------------------------------------------------------------
    async def create(self, actor: Actor, spec: AlertSpec) -> PriceAlert:
        """A new alert for ``actor``; the symbol must be a known market and the price a
        positive multiple of its tick."""
        actor.require(Permission.READ)
        user_id = _owner(actor)
        market = self._market(spec.symbol)  # InvalidInput("unknown_symbol") when not listed
        market.check_price(spec.price)
        if await self._store.count_active(user_id) >= self._max_active:
            raise Conflict(
                "too_many_alerts",
                f"you have {self._max_active} waiting alerts already; delete one first",
            )
        alert = await self._store.create(
            user_id, AlertSpec(market.symbol, spec.op, spec.price), self._now()
        )
        self._loaded_at = -float("inf")  # the next candle re-reads the waiting alerts
        log.info("price_alert_created", alert_id=alert.id, user_id=user_id, alert=alert.condition)
        return alert

    async def list_alerts(self, actor: Actor, *, everyone: bool = False) -> list[PriceAlert]:
        """The actor's alerts, newest first; ``everyone`` (admins only) lists all users'."""
        actor.require(Permission.READ)
        if everyone:
            actor.require(Permission.MANAGE_USERS)
            return await self._store.list_alerts()
        return await self._store.list_alerts(_owner(actor))

    async def get(self, actor: Actor, alert_id: int) -> PriceAlert:
        actor.require(Permission.READ)
        alert = await self._store.get(alert_id)
        # Someone else's alert is "not found", not "forbidden": ids must not leak owners.
        if alert is None or not _may_manage(actor, alert):
            raise NotFound("alert_not_found", f"no alert #{alert_id}")
        return alert

    async def delete(self, actor: Actor, alert_id: int) -> PriceAlert:
        """Delete one of the actor's alerts (an admin may delete anyone's)."""
        alert = await self.get(actor, alert_id)
        if not await self._store.delete(alert.id):
            raise NotFound("alert_not_found", f"no alert #{alert_id}")
        self._loaded_at = -float("inf")
        log.info("price_alert_deleted", alert_id=alert.id, by=actor.name)
        return alert

    # -- the market ------------------------------------------------------------------
    async def load(self) -> None:
        """Read the waiting alerts now (on start; afterwards candles keep them fresh)."""
        async with self._lock:
            await self._reload()

    async def on_candles(self, candles: Sequence[Candle]) -> None:
        """Marketdata listener: fire every waiting alert these candles cross."""
        async with self._lock:
            if self._clock() - self._loaded_at >= self._refresh:
                await self._reload()
            if not self._waiting:
                return
            hits: dict[int, tuple[PriceAlert, Decimal, Candle]] = {}
            for candle in candles:
                for alert in self._waiting.get(candle.symbol, ()):
                    if alert.id in hits:
                        continue
                    price = crossing_price(alert, candle)
                    if price is not None:
                        hits[alert.id] = (alert, price, candle)
            if not hits:
                return
            at = self._now()
            won = await self._store.trigger_many(
                [(alert_id, price) for alert_id, (_, price, _) in hits.items()], at
            )
            fired = set(hits)  # lost ones were fired elsewhere: stop watching them too
            for symbol, alerts in list(self._waiting.items()):
                remaining = [a for a in alerts if a.id not in fired]
                if remaining:
                    self._waiting[symbol] = remaining
                else:
                    del self._waiting[symbol]
        for alert_id in won:
            alert, price, candle = hits[alert_id]
            await self._bus.publish(_event(alert, price, candle, at))
            log.info(
                "price_alert_fired", alert_id=alert_id, alert=alert.condition, price=fmt(price)
            )

    async def _reload(self) -> None:
        waiting: dict[str, list[PriceAlert]] = {}
        for alert in await self._store.active():
            waiting.setdefault(alert.symbol, []).append(alert)
        self._waiting = waiting
        self._loaded_at = self._clock()


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidInput("no_user", "price alerts belong to a user; this caller is none")
    return actor.user_id


def _may_manage(actor: Actor, alert: PriceAlert) -> bool:
    return alert.user_id == actor.user_id or actor.can(Permission.MANAGE_USERS)


def _event(alert: PriceAlert, price: Decimal, candle: Candle, at: datetime) -> Event:
    return Event(
        type=EventType.PRICE_ALERT,
        at=at,
        user_id=alert.user_id,
        data={
            "alert_id": alert.id,
            "symbol": alert.symbol,
            "op": alert.op.value,
            "level": fmt(alert.price),
            "price": fmt(price),
            "candle_at": candle.opened_at.isoformat(),
            "timeframe": candle.timeframe,
        },
    )
