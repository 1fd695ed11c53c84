"""Live trading through the order manager against the exchange emulator: what a trader sees
(orders, positions, balances, refusals) and what the exchange then holds."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.conftest import ADMIN
from tests.integration.live.conftest import Live, live_settings, price_now
from tradedeck.domain.errors import DomainError, InvalidInput, OrderRejected, Unavailable
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.emulator import Kline
from tradedeck.services import start_services
from tradedeck.storage.db import make_engine
from tradedeck.storage.repository import KillSwitchState, Repository
from tradedeck.trading.requests import OrderRequest

SYMBOL = "BTC/USDT"


def request(
    side: Side, kind: OrderType, amount: str, price: str | None = None, **extra: object
) -> OrderRequest:
    return OrderRequest(
        SYMBOL,
        side,
        kind,
        Decimal(amount),
        price=None if price is None else Decimal(price),
        **extra,  # type: ignore[arg-type]
    )


def exchange_orders(live: Live) -> list[object]:
    return list(live.emu.engine.orders.values())


async def test_a_market_buy_fills_on_the_exchange_and_becomes_a_position(live: Live) -> None:
    await live.tick()
    order, created = await live.services.orders.place(
        ADMIN, request(Side.BUY, OrderType.MARKET, "0.1")
    )
    assert created and order.status is OrderStatus.FILLED
    assert order.filled == Decimal("0.1") and order.average_price == Decimal(30000)
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")
    [remote] = exchange_orders(live)
    assert remote.client_order_id == order.id  # type: ignore[attr-defined]
    fills = await live.services.repository.list_fills()
    assert [(f.order_id, f.amount, f.price) for f in fills] == [
        (order.id, Decimal("0.1"), Decimal(30000))
    ]
    stored = await live.services.repository.get_order(order.id)
    assert stored is not None and stored.status is OrderStatus.FILLED
    # The balances are the exchange's after the next reconciliation, and nothing differs
    # from what the fill already told us but the exchange's own fee accounting.
    assert live.services.live is not None
    await live.services.live.sync.reconcile()
    assert live.services.orders.exchange.balance("BTC").total == Decimal("1.1") - fills[0].fee * (
        fills[0].fee_currency == "BTC"
    )


async def test_a_limit_order_fills_in_steps_and_the_position_follows_each(live: Live) -> None:
    await live.tick()
    live.emu.fill_next_in_steps(2)
    order, _ = await live.services.orders.place(
        ADMIN, request(Side.BUY, OrderType.LIMIT, "0.2", "29900")
    )
    assert order.status is OrderStatus.OPEN
    assert live.services.orders.position(SYMBOL) is None

    price_now(live.emu, "BTCUSDT", "29900")  # the first half trades
    await live.tick()
    half = await live.services.repository.get_order(order.id)
    assert half is not None and half.status is OrderStatus.PARTIALLY_FILLED
    assert half.filled == Decimal("0.1")
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")

    price_now(live.emu, "BTCUSDT", "29850")  # the rest, still at the limit
    await live.tick()
    done = await live.services.repository.get_order(order.id)
    assert done is not None and done.status is OrderStatus.FILLED
    assert done.average_price == Decimal(29900)
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.2")
    assert len(await live.services.repository.list_fills()) == 2  # each execution once


async def test_precision_and_minimum_notional_are_refused_before_anything_is_sent(
    live: Live,
) -> None:
    await live.tick()
    with pytest.raises(InvalidInput, match="decimals"):
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.0000001"))
    with pytest.raises(DomainError, match="minimum"):
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.0001"))
    with pytest.raises(InvalidInput, match="decimals"):
        await live.services.orders.place(
            ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", "29999.001")
        )
    assert exchange_orders(live) == []
    assert await live.services.repository.list_orders() == []


async def test_insufficient_funds_is_the_exchanges_refusal_and_nothing_is_stored(
    live: Live,
) -> None:
    await live.tick()
    with pytest.raises(OrderRejected) as refused:
        await live.services.orders.place(ADMIN, request(Side.SELL, OrderType.MARKET, "2"))
    assert refused.value.code == "insufficient_funds"
    assert await live.services.repository.list_orders() == []


async def test_the_kill_switch_cancels_every_open_order_on_the_exchange(live: Live) -> None:
    await live.tick()
    for price in ("29000", "28000"):
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", price))
    state, canceled = await live.services.kill_switch.activate(ADMIN, "test halt")
    assert state.active and canceled == 2
    assert [o.status for o in exchange_orders(live)] == ["CANCELED", "CANCELED"]  # type: ignore[attr-defined]
    assert await live.services.repository.load_open_orders() == []


async def test_revoked_keys_stop_trading_with_a_reason(live: Live) -> None:
    await live.tick()
    live.emu.revoke_key()  # the keys were deleted on the exchange
    with pytest.raises(DomainError) as refused:
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
    assert refused.value.code == "exchange_auth_failed"
    assert live.services.kill_switch.active
    assert "API keys" in (live.services.kill_switch.reason() or "")
    with pytest.raises(DomainError) as halted:
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
    assert halted.value.code == "kill_switch_active"
    assert exchange_orders(live) == []


async def test_a_restart_applies_exactly_what_changed_on_the_exchange(live: Live) -> None:
    await live.tick()
    placed = []
    for price in ("29000", "28000", "27000"):
        order, _ = await live.services.orders.place(
            ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", price)
        )
        placed.append(order)
    await live.services.stop()  # while we are away, the trader acts in the exchange's UI
    filled, canceled, untouched = placed
    live.emu.fill_order("BTCUSDT", client_order_id=filled.id)
    live.emu.cancel_order("BTCUSDT", client_order_id=canceled.id)

    live.services = await start_services(
        live_settings(live.tmp_path, live.database_url, live.served.url), start_feed=False
    )
    assert live.services.live is not None
    result = live.services.live.sync.last
    assert result is not None
    orders = {
        d.subject: d.kind.value for d in result.differences if d.kind.value.startswith("order")
    }
    assert orders == {filled.id: "order_filled", canceled.id: "order_canceled"}
    stored = {o.id: o.status for o in await live.services.repository.list_orders()}
    assert stored == {
        filled.id: OrderStatus.FILLED,
        canceled.id: OrderStatus.CANCELED,
        untouched.id: OrderStatus.OPEN,
    }
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == Decimal("0.1")
    remote_usdt = live.emu.engine.asset("USDT")
    local = live.services.orders.exchange.balance("USDT")
    assert (local.free, local.reserved) == (remote_usdt.free, remote_usdt.locked)


async def test_a_stop_loss_lives_on_the_exchange_after_the_entry_fills(live: Live) -> None:
    await live.tick()
    entry, _ = await live.services.orders.place(
        ADMIN,
        request(Side.BUY, OrderType.MARKET, "0.1", stop_loss=Decimal(28000)),
    )
    assert entry.status is OrderStatus.FILLED
    resting = [o for o in exchange_orders(live) if o.status == "NEW"]  # type: ignore[attr-defined]
    assert [o.client_order_id for o in resting] == [f"{entry.id}-sl"]  # type: ignore[attr-defined]
    assert resting[0].stop_price == Decimal(28000)  # type: ignore[attr-defined]
    [leg] = await live.services.repository.load_open_orders()
    assert (leg.id, leg.parent_id, leg.role.value) == (f"{entry.id}-sl", entry.id, "stop_loss")

    price_now(live.emu, "BTCUSDT", "27900")  # the stop triggers on the exchange
    await live.tick()
    closed = await live.services.repository.get_order(leg.id)
    assert closed is not None and closed.status is OrderStatus.FILLED
    position = live.services.orders.position(SYMBOL)
    assert position is not None and position.amount == 0


async def test_stop_loss_and_take_profit_go_to_the_exchange_as_one_oco(live: Live) -> None:
    await live.tick()
    entry, _ = await live.services.orders.place(
        ADMIN,
        request(
            Side.BUY,
            OrderType.MARKET,
            "0.1",
            stop_loss=Decimal(28000),
            take_profit=Decimal(33000),
        ),
    )
    legs = {o.client_order_id for o in exchange_orders(live) if o.status == "NEW"}  # type: ignore[attr-defined]
    assert legs == {f"{entry.id}-sl", f"{entry.id}-tp"}

    price_now(live.emu, "BTCUSDT", "33000")  # take-profit fills, the stop leg goes with it
    await live.tick()
    stored = {o.id: o.status for o in await live.services.repository.list_orders()}
    assert stored[f"{entry.id}-tp"] is OrderStatus.FILLED
    assert stored[f"{entry.id}-sl"] in (OrderStatus.CANCELED, OrderStatus.EXPIRED)
    assert await live.services.repository.load_open_orders() == []


async def test_a_429_storm_refuses_writes_clearly_and_loses_nothing(live: Live) -> None:
    await live.tick()
    resting, _ = await live.services.orders.place(
        ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", "29000")
    )
    live.emu.rate_limit_next(1000, retry_after=0)
    assert live.services.live is not None
    breaker = live.services.live.exchange.client.breaker
    details = []
    while breaker.state.value != "open" and len(details) < 10:
        with pytest.raises(Unavailable) as refused:  # each one retried, then given up
            await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
        details.append(refused.value.detail)
    assert breaker.state.value == "open"
    with pytest.raises(Unavailable, match="temporarily unavailable"):  # refused at once now
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
    # Nothing reached the exchange, nothing half-done was stored, the resting order is there.
    assert [o.client_order_id for o in exchange_orders(live)] == [resting.id]  # type: ignore[attr-defined]
    assert [o.id for o in await live.services.repository.list_orders()] == [resting.id]
    assert [o.id for o in live.services.orders.exchange.open_orders()] == [resting.id]


async def test_a_partial_fill_moves_the_position_before_strategies_see_the_candle(
    live: Live,
) -> None:
    await live.tick()
    seen: list[Decimal] = []

    async def strategy(candles: object) -> None:  # what a strategy would judge with
        position = live.services.orders.position(SYMBOL)
        seen.append(position.amount if position is not None else Decimal(0))

    live.services.marketdata.on_closed_candles(strategy)
    live.emu.fill_next_in_steps(2)
    await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.LIMIT, "0.2", "29900"))
    live.emu.set_price("BTCUSDT", "29900")  # half of it trades on the exchange
    minute = 60_000
    now = int(time.time() * 1000) // minute * minute
    price = Decimal(29900)
    live.emu.set_klines(  # and a minute closes: the next candle a strategy sees
        "BTCUSDT",
        "1m",
        [
            Kline(t, price, price, price, price, Decimal(1), t + minute - 1)
            for t in (now - minute, now, now + minute)
        ],
    )
    await live.services.marketdata.poll_once(live.services.orders)  # type: ignore[attr-defined]
    assert seen == [Decimal("0.1")]


async def test_a_failed_write_leaves_memory_as_the_database_and_reconciliation_catches_up(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.tick()
    repository = live.services.repository
    real_save = repository.save_update

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(repository, "save_update", broken)
    with pytest.raises(OSError, match="disk full"):
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", "29000"))
    # The exchange took it; neither the database nor memory claims to know it.
    [remote] = exchange_orders(live)
    assert live.services.orders.exchange.open_orders() == []
    assert await repository.list_orders() == []

    monkeypatch.setattr(repository, "save_update", real_save)
    assert live.services.live is not None
    found = await live.services.live.sync.reconcile()
    assert found is not None
    assert [(d.kind.value, d.subject) for d in found.differences if d.matters][:1] == [
        ("order_unknown_locally", remote.client_order_id)  # type: ignore[attr-defined]
    ]
    [adopted] = await repository.load_open_orders()
    assert adopted.id == remote.client_order_id  # type: ignore[attr-defined]
    assert [o.id for o in live.services.orders.exchange.open_orders()] == [adopted.id]


async def test_an_order_finished_here_but_open_there_is_reported_not_reopened(
    live: Live,
) -> None:
    await live.tick()
    order, _ = await live.services.orders.place(
        ADMIN, request(Side.BUY, OrderType.LIMIT, "0.1", "29000")
    )
    await live.services.stop()  # while we are away, someone marks it canceled in our db

    store = Repository(make_engine(live.database_url))
    try:
        stored = await store.get_order(order.id)
        assert stored is not None
        stored.transition(OrderStatus.CANCELED, stored.updated_at, "canceled by hand in the db")
        await store.save_update(ExchangeUpdate(orders=[stored]), [])
    finally:
        await store.engine.dispose()

    live.services = await start_services(
        live_settings(live.tmp_path, live.database_url, live.served.url), start_feed=False
    )
    assert live.services.live is not None
    found = live.services.live.sync.last
    assert found is not None
    [conflict] = [d for d in found.differences if d.subject == order.id]
    assert conflict.kind.value == "order_conflict" and conflict.matters
    again = await live.services.repository.get_order(order.id)
    assert again is not None and again.status is OrderStatus.CANCELED


async def test_a_kill_switch_set_by_another_process_stops_the_order_before_it_leaves(
    live: Live,
) -> None:

    await live.tick()
    assert not live.services.kill_switch.active  # this process has not seen it yet
    await live.services.repository.set_kill_switch(
        KillSwitchState(True, "watchdog: heartbeat lost", "watchdog", datetime.now(UTC))
    )
    with pytest.raises(DomainError) as refused:
        await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
    assert refused.value.code == "kill_switch_active"
    assert exchange_orders(live) == []


async def test_an_order_the_exchange_took_is_recorded_even_if_a_halt_came_in_between(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:

    await live.tick()
    repository = live.services.repository

    async def gate_passed_before_the_halt() -> None:
        await repository.set_kill_switch(
            KillSwitchState(True, "watchdog: heartbeat lost", "watchdog", datetime.now(UTC))
        )

    monkeypatch.setattr(
        repository, "kill_switch_gate", lambda: asyncio.ensure_future(gate_passed_before_the_halt())
    )
    order, _ = await live.services.orders.place(ADMIN, request(Side.BUY, OrderType.MARKET, "0.1"))
    stored = await repository.get_order(order.id)
    assert stored is not None and stored.status is OrderStatus.FILLED  # not lost
    assert [o.client_order_id for o in exchange_orders(live)] == [order.id]  # type: ignore[attr-defined]
