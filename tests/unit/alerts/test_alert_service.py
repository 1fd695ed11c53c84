"""The alert service's rules: who may do what, the market's tick, and that a crossing
fires on the candle that crosses, once, announced to the alert's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tradedeck.alerts.rules import AlertSpec, Op
from tradedeck.alerts.service import AlertService
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tradedeck.domain.markets import Market
from tradedeck.domain.roles import Actor, Role
from tradedeck.notify.events import Event, EventType
from tradedeck.storage.alerts import AlertStore
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository

MARKETS = {
    "ETH/BTC": Market(
        "ETH/BTC", "ETH", "BTC", Decimal("0.000001"), Decimal("0.001"), Decimal("0.001"), Decimal(0)
    ),
}
START = datetime(2026, 3, 1, tzinfo=UTC)


def market(symbol: str) -> Market:
    if symbol not in MARKETS:
        raise InvalidInput("unknown_symbol", f"the paper exchange has no market {symbol}")
    return MARKETS[symbol]


@dataclass
class Bus:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class World:
    alerts: AlertService
    store: AlertStore
    bus: Bus
    alice: Actor
    bob: Actor
    admin: Actor
    minute: int = 0

    def candle(self, close: str, low: str | None = None, high: str | None = None) -> Candle:
        self.minute += 1
        price = Decimal(close)
        return Candle(
            "ETH/BTC",
            "1m",
            START + timedelta(minutes=self.minute),
            price,
            Decimal(high) if high else price,
            Decimal(low) if low else price,
            price,
            Decimal(1),
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}")
    await upgrade(engine)
    repo = Repository(engine)
    actors = []
    for name, role in (("alice", Role.VIEWER), ("bob", Role.TRADER), ("root", Role.ADMIN)):
        user = await repo.create_user(name, role, None, name * 16, name)
        actors.append(Actor(name, role, "test", user.id))
    store = AlertStore(engine)
    bus = Bus()
    alerts = AlertService(store, market, bus, max_active=3)  # type: ignore[arg-type]
    await alerts.load()
    try:
        yield World(alerts, store, bus, *actors)
    finally:
        await engine.dispose()


def spec(op: Op, price: str, symbol: str = "ETH/BTC") -> AlertSpec:
    return AlertSpec(symbol, op, Decimal(price))


async def test_fires_on_the_candle_that_crosses_and_only_once(world: World) -> None:
    await world.alerts.on_candles([world.candle("0.0850")])
    alert = await world.alerts.create(world.alice, spec(Op.ABOVE, "0.09"))
    await world.alerts.on_candles([world.candle("0.0890", high="0.0899")])
    await world.alerts.on_candles([world.candle("0.0900")])
    assert world.bus.events == []  # not yet: 0.09 is not above 0.09

    await world.alerts.on_candles([world.candle("0.0902")])
    await world.alerts.on_candles([world.candle("0.0950")])
    await world.alerts.on_candles([world.candle("0.0850"), world.candle("0.0960")])
    assert len(world.bus.events) == 1
    event = world.bus.events[0]
    assert event.type is EventType.PRICE_ALERT and event.user_id == world.alice.user_id
    assert event.data["alert_id"] == alert.id
    assert (event.data["symbol"], event.data["op"], event.data["level"]) == ("ETH/BTC", ">", "0.09")
    assert event.data["price"] == "0.0902"

    (stored,) = await world.alerts.list_alerts(world.alice)
    assert not stored.active and stored.triggered_price == Decimal("0.0902")
    assert stored.triggered_at is not None and stored.triggered_at.tzinfo is not None


async def test_a_level_already_passed_fires_on_the_next_candle(world: World) -> None:
    await world.alerts.on_candles([world.candle("0.0800")])
    await world.alerts.create(world.bob, spec(Op.AT_OR_BELOW, "0.0850"))  # already below
    assert world.bus.events == []
    await world.alerts.on_candles([world.candle("0.0801")])
    assert [e.data["price"] for e in world.bus.events] == ["0.0801"]
    assert world.bus.events[0].user_id == world.bob.user_id


async def test_a_deleted_alert_never_fires(world: World) -> None:
    alert = await world.alerts.create(world.alice, spec(Op.BELOW, "0.08"))
    await world.alerts.delete(world.alice, alert.id)
    await world.alerts.on_candles([world.candle("0.07")])
    assert world.bus.events == []
    assert await world.alerts.list_alerts(world.alice) == []


async def test_an_alert_another_process_fired_is_not_announced_again(world: World) -> None:
    alert = await world.alerts.create(world.alice, spec(Op.ABOVE, "0.09"))
    won = await world.store.trigger_many([(alert.id, Decimal("0.091"))], START)
    assert won == [alert.id]
    await world.alerts.on_candles([world.candle("0.095")])  # the cache still had it
    assert world.bus.events == []


async def test_bad_input_is_refused_and_changes_nothing(world: World) -> None:
    refusals = [
        (spec(Op.ABOVE, "0.09", "DOGE/BTC"), "unknown_symbol"),
        (spec(Op.ABOVE, "0.0900001"), "invalid_precision"),
        (spec(Op.ABOVE, "0"), "invalid_price"),
    ]
    for bad, code in refusals:
        with pytest.raises(InvalidInput) as refused:
            await world.alerts.create(world.alice, bad)
        assert refused.value.code == code
    assert await world.alerts.list_alerts(world.alice) == []


async def test_a_user_has_a_bounded_number_of_waiting_alerts(world: World) -> None:
    for price in ("0.1", "0.2", "0.3"):
        await world.alerts.create(world.alice, spec(Op.ABOVE, price))
    with pytest.raises(Conflict):
        await world.alerts.create(world.alice, spec(Op.ABOVE, "0.4"))
    assert len(await world.alerts.list_alerts(world.alice)) == 3


async def test_users_see_and_delete_only_their_own_admins_all(world: World) -> None:
    mine = await world.alerts.create(world.alice, spec(Op.ABOVE, "0.1"))
    theirs = await world.alerts.create(world.bob, spec(Op.BELOW, "0.05"))
    assert [a.id for a in await world.alerts.list_alerts(world.alice)] == [mine.id]
    with pytest.raises(NotFound):
        await world.alerts.delete(world.alice, theirs.id)
    with pytest.raises(NotFound):
        await world.alerts.delete(world.alice, 9999)
    with pytest.raises(PermissionDenied):
        await world.alerts.list_alerts(world.bob, everyone=True)
    everyone = await world.alerts.list_alerts(world.admin, everyone=True)
    assert {a.id for a in everyone} == {mine.id, theirs.id}
    await world.alerts.delete(world.admin, theirs.id)
    assert await world.alerts.list_alerts(world.bob) == []
