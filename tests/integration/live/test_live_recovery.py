"""A live order that filled on the exchange while its database write failed: reconciliation
finds it in the exchange's order history and records it, fills, position and all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import ADMIN
from tests.integration.live.conftest import Live, live_settings
from tradedeck.domain.orders import OrderRole, OrderStatus, OrderType, Side
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.services import Services, start_services
from tradedeck.storage.repository import Repository
from tradedeck.trading.live_sync import LiveSync
from tradedeck.trading.requests import OrderRequest

SYMBOL = "BTC/USDT"
RECOVERED = "recovered a filled order the database missed"


def market(side: Side, amount: str, **extra: object) -> OrderRequest:
    return OrderRequest(SYMBOL, side, OrderType.MARKET, Decimal(amount), **extra)  # type: ignore[arg-type]


def fail_next_write(monkeypatch: pytest.MonkeyPatch, repository: Repository) -> None:
    """The next database write fails (the connection dropped), the ones after work."""
    real = repository.save_update

    async def once(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(repository, "save_update", real)
        raise OSError("connection to the database lost")

    monkeypatch.setattr(repository, "save_update", once)


def admin_alerts(monkeypatch: pytest.MonkeyPatch, bus: EventBus) -> list[str]:
    """The messages of the alerts the admins are sent from now on."""
    sent: list[str] = []
    real = bus.publish

    async def publish(event: Event) -> None:
        if event.type is EventType.SYSTEM_ALERT:
            sent.append(str(event.data.get("message")))
        await real(event)

    monkeypatch.setattr(bus, "publish", publish)
    return sent


def sync_of(services: Services) -> LiveSync:
    assert services.live is not None
    return services.live.sync


async def test_a_market_order_filled_while_its_write_failed_is_recovered_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.tick()
    repository = live.services.repository
    fail_next_write(monkeypatch, repository)
    with pytest.raises(OSError, match="database"):
        await live.services.orders.place(ADMIN, market(Side.BUY, "0.1"))
    [sent] = live.emu.engine.orders.values()
    assert sent.status == "FILLED"  # the exchange bought; our books know nothing of it
    assert await repository.list_orders() == []
    assert live.services.orders.position(SYMBOL) is None

    alerts = admin_alerts(monkeypatch, live.services.bus)
    found = await sync_of(live.services).reconcile()

    assert found is not None
    assert [o.id for o in found.recovered] == [sent.client_order_id]
    stored = await repository.get_order(sent.client_order_id)
    assert stored is not None
    assert (stored.status, stored.filled, stored.average_price, stored.type) == (
        OrderStatus.FILLED,
        Decimal("0.1"),
        Decimal(30000),
        OrderType.MARKET,
    )
    [trade] = sent.fills
    fills = await repository.list_fills()
    assert [(f.id, f.order_id, f.amount, f.price) for f in fills] == [
        (f"{sent.order_id}:{trade.id}", stored.id, Decimal("0.1"), Decimal(30000))
    ]
    position = live.services.orders.position(SYMBOL)
    assert position is not None
    assert (position.amount, position.average_entry) == (Decimal("0.1"), Decimal(30000))
    [stored_position] = await repository.load_positions()
    assert stored_position.amount == Decimal("0.1")
    usdt = live.services.orders.exchange.balance("USDT")
    assert usdt.total == live.emu.engine.asset("USDT").free == Decimal(97000)
    [message] = alerts
    assert f"{RECOVERED}: order {stored.id[:8]}… {SYMBOL} buy 0.1 market filled 0.1" in message

    again = await sync_of(live.services).reconcile()
    assert again is not None and again.recovered == [] and not again.matters
    assert len(await repository.list_fills()) == 1
    assert len(await repository.order_history(stored.id)) == 1
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")
    assert alerts == [message]  # nothing new to tell


async def test_an_order_placed_by_hand_is_left_to_the_balances(live: Live) -> None:
    await live.tick()
    live.emu.engine.place(  # in the exchange's own UI: no client id of ours
        symbol="BTCUSDT",
        side="SELL",
        type="MARKET",
        quantity=Decimal("0.5"),
        price=None,
        client_order_id=None,
    )
    found = await sync_of(live.services).reconcile()

    assert found is not None and found.recovered == []
    assert await live.services.repository.list_orders() == []
    assert live.services.orders.position(SYMBOL) is None
    assert [d.subject for d in found.differences if d.matters] == ["BTC", "USDT"]
    assert live.services.orders.exchange.balance("BTC").total == Decimal("0.5")


async def test_an_order_lost_as_the_process_died_is_recovered_on_start_with_its_stop(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.tick()
    fail_next_write(monkeypatch, live.services.repository)  # as if killed before the write
    with pytest.raises(OSError):
        await live.services.orders.place(ADMIN, market(Side.BUY, "0.1", stop_loss=Decimal(28000)))
    entry_id = next(
        o.client_order_id for o in live.emu.engine.orders.values() if o.type == "MARKET"
    )
    await live.services.stop()

    settings = live_settings(live.tmp_path, live.database_url, live.served.url)
    live.services = await start_services(settings, start_feed=False)
    found = sync_of(live.services).last
    assert found is not None
    assert [o.id for o in found.recovered] == [entry_id]
    assert [(o.id, o.parent_id, o.status) for o in found.adopted] == [
        (f"{entry_id}-sl", entry_id, OrderStatus.OPEN)
    ]
    stored = {o.id: (o.role, o.status) for o in await live.services.repository.list_orders()}
    assert stored == {
        entry_id: (OrderRole.ENTRY, OrderStatus.FILLED),
        f"{entry_id}-sl": (OrderRole.STOP_LOSS, OrderStatus.OPEN),
    }
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")

    await live.services.stop()  # and once more: what was recovered is not recovered again
    live.services = await start_services(settings, start_feed=False)
    again = sync_of(live.services).last
    assert again is not None and again.recovered == [] and again.adopted == []
    assert len(await live.services.repository.list_fills()) == 1
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")


async def test_a_perpetual_order_whose_write_failed_is_recovered_with_its_position(
    perpetual: tuple[BinanceEmulator, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, services = perpetual
    await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]
    fail_next_write(monkeypatch, services.repository)
    with pytest.raises(OSError):
        await services.orders.place(ADMIN, market(Side.BUY, "0.1"))
    [sent] = emu.futures.orders.values()

    found = await sync_of(services).reconcile()

    assert found is not None and [o.id for o in found.recovered] == [sent.client_order_id]
    position = services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")
    assert services.live is not None
    [held] = services.live.exchange.futures_positions()
    assert held.contracts == Decimal("0.1")
    again = await sync_of(services).reconcile()
    assert again is not None and again.recovered == []
    assert len(await services.repository.list_fills()) == 1
