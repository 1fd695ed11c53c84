"""The trading services under the conditions that hurt: concurrency, failing writes, and
the guards that trip the kill switch by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, make_settings
from tradedeck.domain.errors import OrderRejected, RiskRefused
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.notify.events import Event, EventType
from tradedeck.services import Services, start_services
from tradedeck.storage.repository import KillSwitchState
from tradedeck.trading.requests import OrderRequest

TRADER = Actor("trader", Role.TRADER, "api", user_id=None)


async def core(tmp_path: Path, **overrides: Any) -> Services:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'core.db'}", **overrides)
    return await start_services(settings, start_feed=False)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    svc = await core(tmp_path, max_consecutive_rejections=3)
    yield svc
    await svc.stop()


def market(side: Side, amount: str, symbol: str = "ETH/BTC") -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.MARKET, Decimal(amount))


async def test_concurrent_orders_end_as_if_placed_one_by_one(services: Services) -> None:
    results = await asyncio.gather(
        *(services.orders.place(TRADER, market(Side.BUY, "0.01")) for _ in range(40))
    )
    assert all(order.status is OrderStatus.FILLED for order, _ in results)
    position = services.orders.position("ETH/BTC")
    assert position is not None and position.amount == Decimal("0.4")
    fills = await services.repository.list_fills(limit=1000)
    assert len(fills) == 40
    spent = sum((f.amount * f.price + f.fee for f in fills), Decimal(0))
    btc = services.orders.exchange.balance("BTC")
    assert btc.free == Decimal(1) - spent and btc.reserved == 0
    stored = {b.asset: b for b in await services.repository.load_balances()}
    assert stored["BTC"].free == btc.free and stored["ETH"].free == Decimal("0.4")


async def test_position_limit_holds_inside_one_batch(tmp_path: Path) -> None:
    svc = await core(tmp_path, max_positions=1)
    try:
        results = await asyncio.gather(
            svc.orders.place(TRADER, market(Side.BUY, "0.1", "ETH/BTC")),
            svc.orders.place(TRADER, market(Side.BUY, "1", "LTC/BTC")),
            return_exceptions=True,
        )
        assert isinstance(results[1], RiskRefused) and results[1].code == "max_positions"
        assert [p.symbol for p in svc.orders.positions() if p.is_open] == ["ETH/BTC"]
    finally:
        await svc.stop()


async def test_a_failed_write_leaves_memory_and_database_as_they_were(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_balances = services.orders.exchange.balances()
    real_save = services.repository.save_update

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(services.repository, "save_update", broken)
    with pytest.raises(ConnectionError):
        await services.orders.place(TRADER, market(Side.BUY, "0.5"))
    assert services.orders.exchange.balances() == before_balances
    assert services.orders.positions() == []
    assert await services.repository.list_orders() == []

    monkeypatch.setattr(services.repository, "save_update", real_save)
    order, _ = await services.orders.place(TRADER, market(Side.BUY, "0.5"))
    assert order.status is OrderStatus.FILLED


async def test_consecutive_rejections_trip_the_kill_switch(services: Services) -> None:
    resting, _ = await services.orders.place(
        TRADER, OrderRequest("ETH/BTC", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal("0.01"))
    )
    for _ in range(3):
        with pytest.raises(OrderRejected):
            await services.orders.place(TRADER, market(Side.SELL, "5"))  # holds no ETH
    state = await services.repository.get_kill_switch()
    assert state.active and "3 consecutive orders rejected" in (state.reason or "")
    canceled = await services.repository.get_order(resting.id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    with pytest.raises(RiskRefused) as refused:
        await services.orders.place(TRADER, market(Side.BUY, "0.1"))
    assert refused.value.code == "kill_switch_active"


async def test_daily_drawdown_trips_the_kill_switch(services: Services) -> None:
    now = datetime.now(UTC)
    await services.risk.observe_equity(Decimal(100), now)
    await services.risk.observe_equity(Decimal(95), now)
    assert not services.kill_switch.active
    await services.risk.observe_equity(Decimal(89), now)
    assert services.kill_switch.active
    assert "daily drawdown" in (services.kill_switch.reason() or "")
    await services.kill_switch.resume(ADMIN)
    assert not services.kill_switch.active


async def test_a_kill_switch_set_by_another_process_blocks_the_write(services: Services) -> None:
    await services.repository.set_kill_switch(
        KillSwitchState(True, "watchdog: heartbeat lost", "watchdog", datetime.now(UTC))
    )
    with pytest.raises(RiskRefused) as refused:
        await services.orders.place(TRADER, market(Side.BUY, "0.1"))
    assert refused.value.code == "kill_switch_active"
    assert await services.repository.list_orders() == []
    assert services.orders.exchange.balance("ETH").total == 0
    await services.kill_switch.refresh()
    assert services.kill_switch.active


async def test_events_announce_fills_cancels_and_the_kill_switch(services: Services) -> None:
    seen: list[Event] = []

    async def listen(event: Event) -> None:
        seen.append(event)

    services.bus.subscribe(listen)
    await services.orders.place(TRADER, market(Side.BUY, "0.2"))
    await services.orders.place(
        TRADER, OrderRequest("ETH/BTC", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal("0.01"))
    )
    await services.kill_switch.activate(ADMIN, "testing the alarm")
    await services.bus.join()  # type: ignore[attr-defined]
    kinds = [e.type for e in seen]
    assert kinds == [
        EventType.ORDER_FILLED,
        EventType.ORDER_PLACED,
        EventType.ORDER_CANCELED,
        EventType.KILL_SWITCH_ACTIVATED,
    ]
    assert seen[0].data["filled"] == "0.2" and seen[0].data["fills"]
    assert seen[-1].data == {
        "reason": "testing the alarm",
        "actor": "test-admin",
        "canceled_orders": 1,
    }


async def test_quick_amounts_are_affordable_and_close_sells_what_is_held(
    services: Services,
) -> None:
    everything = services.orders.amount_for_share(Side.BUY, "ETH/BTC", Decimal(100))
    assert everything > 0
    preview = services.orders.preview(TRADER, market(Side.BUY, str(everything)))
    assert preview.verdict is None or preview.verdict.code != "insufficient_funds"
    assert services.orders.closable_amount("ETH/BTC") == 0
    await services.orders.place(TRADER, market(Side.BUY, "0.5"))
    assert services.orders.closable_amount("ETH/BTC") == Decimal("0.5")
    half = services.orders.amount_for_share(Side.SELL, "ETH/BTC", Decimal(50))
    assert half == Decimal("0.25")
