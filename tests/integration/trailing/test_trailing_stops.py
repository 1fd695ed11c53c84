"""Trailing stops through the real core, on SQLite and PostgreSQL: candles go in the way
the market delivers them, and what comes out is what a trader checks: the position, the
sell order and the stop's own record, and the message when nothing could be sold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, make_settings
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, InvalidInput, PermissionDenied
from tradedeck.domain.money import fmt
from tradedeck.domain.orders import Order, OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor
from tradedeck.notify.events import Event, EventType
from tradedeck.notify.notifier import render
from tradedeck.services import Services, start_services
from tradedeck.storage.trailing import TrailingStopStore
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.trailing import TrailingStopService
from tradedeck.trading.trailing_rules import Guards, TrailSpec

SYMBOL = "ETH/BTC"
TICK = Decimal("0.00000001")
OPENED = datetime(2026, 3, 1, tzinfo=UTC)


async def core(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    # A replay that barely moves: a restart finds the market where it left it.
    settings = make_settings(tmp_path, database_url, replay_speed=0.001, **overrides)
    return await start_services(settings, start_feed=False)


async def user(services: Services, name: str, role: str = "trader") -> Actor:
    created, _ = await services.users.create(ADMIN, name, role)
    return Actor(created.name, created.role, "api", created.id)


async def buy(services: Services, actor: Actor, amount: str) -> None:
    request = OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, Decimal(amount))
    order, _ = await services.orders.place(actor, request)
    assert order.status is OrderStatus.FILLED


class Market:
    """ETH/BTC candles priced as multiples of a base price (the first close by default)."""

    def __init__(self, services: Services, base: Decimal | None = None) -> None:
        last = services.orders.exchange.last_candle(SYMBOL)
        assert last is not None
        self.services = services
        self.base = base if base is not None else last.close

    def price(self, factor: str) -> Decimal:
        return (self.base * Decimal(factor)).quantize(TICK)

    def candle(self, close: str, low: str | None = None, minutes: int = 5) -> Candle:
        last = self.services.orders.exchange.last_candle(SYMBOL)
        assert last is not None
        price = self.price(close)
        return Candle(
            SYMBOL,
            last.timeframe,
            last.opened_at + timedelta(minutes=minutes),
            last.close,
            max(last.close, price),
            self.price(low) if low else min(last.close, price),
            price,
            Decimal(1_000_000),
        )

    async def push(self, close: str, low: str | None = None) -> None:
        await self.services.marketdata.deliver(self.services.orders, [self.candle(close, low)])


async def trailing_sells(services: Services) -> list[Order]:
    orders = await services.repository.list_orders(symbol=SYMBOL)
    return [o for o in orders if o.source == "trailing_stop"]


def held(services: Services) -> Decimal:
    position = services.orders.position(SYMBOL)
    return position.amount if position is not None else Decimal(0)


async def test_a_stop_follows_the_price_up_and_sells_when_it_falls_through(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        stop = await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3)))
        assert (stop.peak, stop.amount, stop.status.value) == (market.base, None, "active")

        await market.push("1.10")
        (risen,) = await services.trailing.list_stops(alice)
        assert risen.peak == market.price("1.10")
        assert risen.level == market.price("1.10") * Decimal("0.97")
        await market.push("1.08", low="1.068")  # the level is 1.067: it holds
        assert await trailing_sells(services) == []

        await market.push("1.06")
        assert held(services) == 0
        (sell,) = await trailing_sells(services)
        assert (sell.side, sell.type, sell.status) == (
            Side.SELL,
            OrderType.MARKET,
            OrderStatus.FILLED,
        )
        assert (sell.filled, sell.user_id) == (Decimal("0.5"), alice.user_id)
        (done,) = await services.trailing.list_stops(alice)
        assert done.status.value == "triggered" and done.triggered_at is not None
        assert (done.trigger_price, done.order_id, done.reason) == (
            market.price("1.06"),
            sell.id,
            None,
        )
        assert done.peak == market.price("1.10")

        await buy(services, alice, "0.2")
        await market.push("0.9")  # triggered once: the new position is not sold
        assert len(await trailing_sells(services)) == 1 and held(services) == Decimal("0.2")
    finally:
        await services.stop()


async def test_two_candles_at_once_and_two_processes_sell_once(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3), Decimal("0.3")))
        replica = TrailingStopService(
            TrailingStopStore(services.repository.engine), services.orders, services.bus
        )
        await replica.load()

        first, second = market.candle("0.95"), market.candle("0.9", minutes=10)
        await services.orders.on_candles([first, second])
        await asyncio.gather(
            services.trailing.on_prices([first, second]), replica.on_prices([first, second])
        )
        (sell,) = await trailing_sells(services)
        assert sell.filled == Decimal("0.3") and held(services) == Decimal("0.2")
        (done,) = await services.trailing.list_stops(alice)
        assert (done.order_id, done.trigger_price) == (sell.id, market.price("0.95"))
    finally:
        await services.stop()


async def test_a_restart_resumes_from_the_highest_peak(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        stop = await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3), Decimal("0.2")))
        await market.push("1.02")
        await market.push("1.01")
    finally:
        await services.stop()

    services = await core(tmp_path, database_url)
    try:
        (resumed,) = await services.trailing.list_stops(alice)
        assert (resumed.id, resumed.status.value) == (stop.id, "active")
        assert resumed.peak == market.price("1.02")
        market = Market(services, base=market.base)
        # Below the level of the resumed peak (0.9894), above that of the first (0.97).
        await market.push("0.985")
        (sell,) = await trailing_sells(services)
        assert sell.filled == Decimal("0.2") and held(services) == Decimal("0.3")
    finally:
        await services.stop()


async def test_a_refused_sell_marks_the_stop_and_tells_the_owner(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    published: list[Event] = []

    async def listen(event: Event) -> None:
        published.append(event)

    services.bus.subscribe(listen)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        stop = await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(5)))
        await services.kill_switch.activate(ADMIN, "maintenance")
        await market.push("0.9")
        await market.push("0.8")

        assert await trailing_sells(services) == [] and held(services) == Decimal("0.5")
        (done,) = await services.trailing.list_stops(alice)
        assert done.status.value == "triggered" and done.order_id is None
        assert done.reason == "trading is halted by the kill switch: maintenance"
        await services.bus.join()  # type: ignore[attr-defined]
        (breach,) = [e for e in published if e.type is EventType.RISK_BREACH]
        assert breach.user_id == alice.user_id
        assert render(breach) == (
            "⚠️ <b>Risk limit breached</b> on ETH/BTC\n"
            f"Trailing stop #{stop.id} hit {fmt(done.trigger_price)} (peak {fmt(market.base)}, "
            "5% trail) "
            "but nothing was sold: trading is halted by the kill switch: maintenance"
        )
    finally:
        await services.stop()


async def test_a_revoked_owners_stop_sells_nothing(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3)))
        await services.users.revoke(ADMIN, "alice")
        await market.push("0.9")

        assert await trailing_sells(services) == [] and held(services) == Decimal("0.5")
        (done,) = await services.trailing.list_stops(ADMIN, everyone=True)
        assert (done.status.value, done.reason) == ("triggered", "owner no longer exists")
    finally:
        await services.stop()


async def test_a_stop_needs_a_trader_a_position_and_a_sensible_amount(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        vic = await user(services, "vic", "viewer")
        spec = TrailSpec(SYMBOL, Decimal(3))
        with pytest.raises(Conflict) as none:
            await services.trailing.create(alice, spec)
        assert none.value.detail == "there is no ETH/BTC position to protect; buy first"
        await buy(services, alice, "0.5")
        with pytest.raises(PermissionDenied):
            await services.trailing.create(vic, spec)
        with pytest.raises(InvalidInput) as above:
            await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3), Decimal("0.6")))
        assert above.value.detail == "amount 0.6 is more than the 0.5 ETH held in ETH/BTC"
        with pytest.raises(InvalidInput) as trail:
            await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(50)))
        assert trail.value.code == "invalid_trail"

        for _ in range(20):
            await services.trailing.create(alice, spec)
        with pytest.raises(Conflict) as many:
            await services.trailing.create(alice, spec)
        assert many.value.detail == ("you have 20 active trailing stops already; delete one first")
        assert len(await services.trailing.list_stops(alice)) == 20
    finally:
        await services.stop()


async def test_a_risen_peak_is_written_at_most_once_a_second(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        store = TrailingStopStore(services.repository.engine)
        seconds = [100.0]
        watcher = TrailingStopService(
            store, services.orders, services.bus, clock=lambda: seconds[0]
        )
        await watcher.load()
        stop = await watcher.create(alice, TrailSpec(SYMBOL, Decimal(3)))

        async def price(close: str) -> Decimal:
            candle = market.candle(close)
            await services.orders.on_candles([candle])
            await watcher.on_prices([candle])
            stored = await store.get(stop.id)
            assert stored is not None
            return stored.peak

        assert await price("1.01") == market.price("1.01")  # the first rise: at once
        seconds[0] += 0.5
        assert await price("1.02") == market.price("1.01")  # within the second: later
        (shown,) = await watcher.list_stops(alice)
        assert shown.peak == market.price("1.02")  # what the stop follows meanwhile
        seconds[0] += 0.6
        assert await price("1.015") == market.price("1.02")  # the next price writes it
    finally:
        await services.stop()


async def test_a_clean_stop_writes_the_last_peak(tmp_path: Path, database_url: str) -> None:
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        await buy(services, alice, "0.5")
        market = Market(services)
        await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(3), Decimal("0.2")))
        await market.push("1.02")  # written at once
        await market.push("1.05")  # within the second: waits for the next write
    finally:
        await services.stop()  # a clean stop writes it

    services = await core(tmp_path, database_url)
    try:
        (resumed,) = await services.trailing.list_stops(alice)
        assert resumed.peak == market.price("1.05")
    finally:
        await services.stop()


async def test_a_shorts_stored_low_only_ever_falls(tmp_path: Path, database_url: str) -> None:
    """The store's half of a short's stop (the feed's half runs on the perpetual emulator,
    tests/integration/live): a replica that saw a higher price cannot raise the low."""
    services = await core(tmp_path, database_url)
    try:
        alice = await user(services, "alice")
        store = TrailingStopStore(services.repository.engine)
        spec = TrailSpec(SYMBOL, Decimal(2))
        short = await store.create(alice.user_id or 0, spec, Decimal(100), OPENED, Guards.SHORT)
        long = await store.create(alice.user_id or 0, spec, Decimal(100), OPENED)
        await store.raise_peaks([(short.id, Decimal(101)), (long.id, Decimal(101))])
        await store.raise_peaks([(short.id, Decimal(95)), (long.id, Decimal(95))])
        read = {s.id: s for s in await store.active()}
        assert (read[short.id].guards, read[short.id].peak) == (Guards.SHORT, Decimal(95))
        assert (read[long.id].guards, read[long.id].peak) == (Guards.LONG, Decimal(101))
        assert read[short.id].level == Decimal("96.9")
    finally:
        await services.stop()
