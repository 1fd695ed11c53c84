"""Trailing stops as a service: a trader sets one on a position, every price the platform
sees moves its peak, and a fall through its level sells through the one trading path (on
a perpetual short: the lowest price, and a rise through its level buys back).

The sell is an ordinary market order placed with ``OrderManager.place`` in the owner's
name (rebuilt from the users table, so a demoted or revoked owner trades no more than
they may), so the risk checks and the kill switch apply to it as to any order, on the
paper exchange and on a live one alike. Its fill is announced by the order's own events;
a sell that was refused is announced here as ``EventType.RISK_BREACH``, which reaches the
owner (and the admins) at once: a position the trader believed protected is not.

The active stops live in memory by market, so a price costs a dictionary look-up; the
copy is re-read every ``refresh_seconds`` (another replica may have added, deleted or
triggered some). A risen peak is written at most every ``save_every`` seconds per stop,
and always with the trigger, so a restart resumes from the highest peak seen; triggering
goes through the store's conditional update, so a stop sells once even when two
processes see the same candle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from tradedeck.domain.money import ZERO, fmt
from tradedeck.domain.orders import OrderType, Side
from tradedeck.domain.roles import Actor, Permission
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.storage.trailing import TrailingStopStore
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.trailing_rules import (
    Guards,
    StopStatus,
    TrailingStop,
    TrailSpec,
    best,
    check_trail,
    extreme_name,
    follow,
    improves,
    new_extremes,
)

log = structlog.get_logger(__name__)

SOURCE = "trailing_stop"
CHANNEL = "trailing"
OWNER_GONE = "owner no longer exists"
MAX_ACTIVE_PER_USER = 20
REFRESH_SECONDS = 5.0
SAVE_EVERY_SECONDS = 1.0


@dataclass(slots=True)
class _Watch:
    """An active stop as this process follows it."""

    stop: TrailingStop
    peak: Decimal
    saved_peak: Decimal
    saved_at: float
    seen: Candle | None  # the last candle of its market it judged


class TrailingStopService:
    def __init__(
        self,
        store: TrailingStopStore,
        orders: OrderManager,
        bus: EventBus,
        *,
        max_active: int = MAX_ACTIVE_PER_USER,
        refresh_seconds: float = REFRESH_SECONDS,
        save_every: float = SAVE_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._orders = orders
        self._bus = bus
        self._max_active = max_active
        self._refresh = refresh_seconds
        self._save_every = save_every
        self._clock = clock
        self._now = now
        self._watching: dict[str, dict[int, _Watch]] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    # -- what traders do -------------------------------------------------------------
    async def create(self, actor: Actor, spec: TrailSpec) -> TrailingStop:
        """A new stop on the position in ``spec.symbol``, its peak the price of now."""
        actor.require(Permission.TRADE)
        user_id = _owner(actor)
        market = self._orders.market(spec.symbol)  # InvalidInput("unknown_symbol")
        trail = check_trail(spec.trail_percent)
        guards, held = self._protected(market.symbol)
        if held <= 0:
            raise Conflict(
                "no_position", f"there is no {market.symbol} position to protect; buy first"
            )
        if spec.amount is not None:
            market.check_amount(spec.amount)
            if spec.amount > held:
                raise InvalidInput(
                    "amount_above_position",
                    f"amount {fmt(spec.amount)} is more than the {fmt(held)} {market.base} "
                    f"held in {market.symbol}",
                )
        price = self._orders.exchange.last_price(market.symbol)
        if price is None:
            raise Conflict("no_price", f"{market.symbol} has no price yet; try again shortly")
        if await self._store.count_active(user_id) >= self._max_active:
            raise Conflict(
                "too_many_trailing_stops",
                f"you have {self._max_active} active trailing stops already; delete one first",
            )
        stop = await self._store.create(
            user_id, TrailSpec(market.symbol, trail, spec.amount), price, self._now(), guards
        )
        async with self._lock:
            self._watch(stop)
        log.info(
            "trailing_stop_created",
            stop_id=stop.id,
            user_id=user_id,
            symbol=stop.symbol,
            trail_percent=fmt(trail),
            peak=fmt(price),
            guards=guards.value,
        )
        return stop

    def _protected(self, symbol: str) -> tuple[Guards, Decimal]:
        """Which way the position in ``symbol`` points and how much of it there is. A
        perpetual short is what closing it buys back; a long is the position held."""
        side, closable = self._orders.closing(symbol)
        if side is Side.BUY:
            return Guards.SHORT, closable
        position = self._orders.position(symbol)
        return Guards.LONG, max(position.amount, ZERO) if position is not None else ZERO

    async def list_stops(self, actor: Actor, *, everyone: bool = False) -> list[TrailingStop]:
        """The actor's stops, newest first; ``everyone`` (admins only) lists all users'."""
        actor.require(Permission.READ)
        if everyone:
            actor.require(Permission.MANAGE_USERS)
            found = await self._store.list_stops()
        else:
            found = await self._store.list_stops(_owner(actor))
        return [self._current(stop) for stop in found]

    async def get(self, actor: Actor, stop_id: int) -> TrailingStop:
        actor.require(Permission.READ)
        stop = await self._store.get(stop_id)
        # Someone else's stop is "not found", not "forbidden": ids must not leak owners.
        if stop is None or not _may_manage(actor, stop):
            raise NotFound("trailing_stop_not_found", f"no trailing stop #{stop_id}")
        return self._current(stop)

    async def delete(self, actor: Actor, stop_id: int) -> TrailingStop:
        """Delete one of the actor's stops (an admin may delete anyone's)."""
        stop = await self.get(actor, stop_id)
        if not await self._store.delete(stop.id):
            raise NotFound("trailing_stop_not_found", f"no trailing stop #{stop_id}")
        async with self._lock:
            self._watching.get(stop.symbol, {}).pop(stop.id, None)
        log.info("trailing_stop_deleted", stop_id=stop.id, by=actor.name)
        return stop

    # -- the market ------------------------------------------------------------------
    async def load(self) -> None:
        """Read the active stops now (on start; afterwards prices keep them fresh)."""
        async with self._lock:
            await self._reload()

    async def on_prices(self, candles: Sequence[Candle]) -> None:
        """Marketdata listener, for every candle (forming or closed): raise peaks, and
        sell for every stop whose level these candles reach."""
        async with self._lock:
            if self._clock() - self._loaded_at >= self._refresh:
                await self._reload()
            if not self._watching:
                return
            hits: dict[int, tuple[_Watch, Decimal]] = {}
            for candle in candles:
                for watch in self._watching.get(candle.symbol, {}).values():
                    if watch.stop.id not in hits:
                        trigger = self._judge(watch, candle)
                        if trigger is not None:
                            hits[watch.stop.id] = (watch, trigger)
            await self._save_peaks(exclude=hits.keys())
            triggered = await self._trigger(hits) if hits else []
        for stop in triggered:  # one failed sale must not keep the others from selling
            try:
                await self._sell(stop)
            except Exception:
                log.exception("trailing_stop_sale_failed", stop_id=stop.id)

    def _judge(self, watch: _Watch, candle: Candle) -> Decimal | None:
        fresh = new_extremes(watch.seen, candle)
        if fresh is None:
            return None
        watch.seen = candle
        step = follow(watch.peak, watch.stop.trail_percent, candle.close, fresh, watch.stop.guards)
        watch.peak = step.peak
        return step.trigger

    async def flush(self) -> None:
        """Write every risen peak now (a clean stop), so a restart resumes from it."""
        async with self._lock:
            await self._save_peaks(exclude=(), every=0.0)

    async def _save_peaks(self, exclude: Container[int], every: float | None = None) -> None:
        """Write the risen peaks that are due; a failed write is retried with the next
        price, and never keeps a stop from triggering."""
        now = self._clock()
        wait = self._save_every if every is None else every
        due = [
            watch
            for watches in self._watching.values()
            for watch in watches.values()
            if improves(watch.stop.guards, watch.peak, watch.saved_peak)
            and now - watch.saved_at >= wait
            and watch.stop.id not in exclude
        ]
        if not due:
            return
        try:
            await self._store.raise_peaks([(w.stop.id, w.peak) for w in due])
        except Exception:
            log.exception("trailing_peaks_not_saved", stops=len(due))
            return
        for watch in due:
            watch.saved_peak, watch.saved_at = watch.peak, now

    async def _trigger(self, hits: dict[int, tuple[_Watch, Decimal]]) -> list[TrailingStop]:
        at = self._now()
        won = await self._store.trigger_many(
            [(stop_id, price, watch.peak) for stop_id, (watch, price) in hits.items()], at
        )
        for watch, _ in hits.values():  # lost ones were triggered elsewhere: drop them too
            self._watching.get(watch.stop.symbol, {}).pop(watch.stop.id, None)
        triggered = []
        for stop_id in won:
            watch, price = hits[stop_id]
            triggered.append(
                replace(watch.stop, peak=watch.peak, triggered_at=at, trigger_price=price)
            )
        return triggered

    async def _sell(self, stop: TrailingStop) -> None:
        """Close what the triggered ``stop`` protects (sell a long, buy back a short), in
        its owner's name, and record how it went."""
        log.info(
            "trailing_stop_triggered",
            stop_id=stop.id,
            symbol=stop.symbol,
            price=fmt(stop.trigger_price),
            peak=fmt(stop.peak),
        )
        owner = await self._store.owner(stop.user_id)
        if owner is None:
            await self._store.record_outcome(stop.id, None, OWNER_GONE)
            log.warning("trailing_stop_owner_gone", stop_id=stop.id, user_id=stop.user_id)
            return
        name, role = owner
        actor = Actor(name=name, role=role, channel=CHANNEL, user_id=stop.user_id)
        try:
            order, _ = await self._orders.place(actor, self._sale(stop))
        except DomainError as refused:
            await self._refused(stop, refused.code, refused.detail)
            return
        except Exception:
            log.exception("trailing_stop_sell_failed", stop_id=stop.id)
            await self._refused(stop, "internal_error", "the sell failed; the error is logged")
            return
        await self._store.record_outcome(stop.id, order.id, None)
        log.info("trailing_stop_sold", stop_id=stop.id, order_id=order.id)

    def _sale(self, stop: TrailingStop) -> OrderRequest:
        """The closing market order: the stop's amount, never more than can be closed now
        (a part of the position may have been closed or held by an order since it was
        set, or the position may point the other way by now)."""
        side, available = self._orders.closing(stop.symbol)
        wanted = Side.BUY if stop.guards is Guards.SHORT else Side.SELL
        if side is not wanted:
            available = ZERO
        amount = available if stop.amount is None else min(stop.amount, available)
        if amount <= 0:
            raise Conflict("no_position", f"there is no {stop.symbol} position left to close")
        return OrderRequest(stop.symbol, wanted, OrderType.MARKET, amount, source=SOURCE)

    async def _refused(self, stop: TrailingStop, code: str, detail: str) -> None:
        await self._store.record_outcome(stop.id, None, detail)
        log.warning("trailing_stop_sell_refused", stop_id=stop.id, reason=code, detail=detail)
        await self._bus.publish(
            Event(
                type=EventType.RISK_BREACH,
                user_id=stop.user_id,
                data={
                    "symbol": stop.symbol,
                    "trailing_stop_id": stop.id,
                    "price": fmt(stop.trigger_price),
                    "reason": code,
                    "detail": (
                        f"Trailing stop #{stop.id} hit {fmt(stop.trigger_price)} "
                        f"({extreme_name(stop.guards)} {fmt(stop.peak)}, "
                        f"{fmt(stop.trail_percent)}% trail) but nothing was "
                        f"{'bought back' if stop.guards is Guards.SHORT else 'sold'}: {detail}"
                    ),
                },
            )
        )

    # -- memory ----------------------------------------------------------------------
    def _watch(self, stop: TrailingStop) -> None:
        """Follow ``stop`` from the market's current candle on: what that candle did
        before now is not news to it."""
        seen = self._orders.exchange.last_candle(stop.symbol)
        watch = _Watch(stop, stop.peak, stop.peak, -float("inf"), seen)
        self._watching.setdefault(stop.symbol, {})[stop.id] = watch

    def _current(self, stop: TrailingStop) -> TrailingStop:
        """``stop`` with the peak this process has seen, which may not be written yet."""
        watch = self._watching.get(stop.symbol, {}).get(stop.id)
        if (
            watch is None
            or stop.status is not StopStatus.ACTIVE
            or not improves(stop.guards, watch.peak, stop.peak)
        ):
            return stop
        return replace(stop, peak=watch.peak)

    async def _reload(self) -> None:
        known = {
            stop_id: watch
            for watches in self._watching.values()
            for stop_id, watch in watches.items()
        }
        self._watching = {}
        for stop in await self._store.active():
            watch = known.get(stop.id)
            if watch is None:
                self._watch(stop)
                continue
            watch.stop = stop
            # Another replica may have seen further.
            watch.peak = best(stop.guards, watch.peak, stop.peak)
            watch.saved_peak = best(stop.guards, watch.saved_peak, stop.peak)
            self._watching.setdefault(stop.symbol, {})[stop.id] = watch
        self._loaded_at = self._clock()


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidInput("no_user", "trailing stops belong to a user; this caller is none")
    return actor.user_id


def _may_manage(actor: Actor, stop: TrailingStop) -> bool:
    return stop.user_id == actor.user_id or actor.can(Permission.MANAGE_USERS)
