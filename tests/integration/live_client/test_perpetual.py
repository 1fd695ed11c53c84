"""A USDⓈ-M perpetual long through the CcxtClient: leverage, protection, reduce-only close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.conftest import Served
from tests.integration.live_client.conftest import ManualClock, make_client
from tradedeck.domain.errors import OrderRejected
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import (
    CcxtClient,
    MarginMode,
    MarketKind,
    PlaceOrder,
)
from tradedeck.exchanges.emulator import BinanceEmulator


@pytest.fixture
async def perp(
    served: tuple[BinanceEmulator, Served], clock: ManualClock
) -> AsyncIterator[CcxtClient]:
    emu, server = served
    emu.deposit_futures("10000")
    client = make_client(
        server.url,
        clock,
        kind=MarketKind.PERPETUAL,
        leverage=5,
        margin_mode=MarginMode.ISOLATED,
    )
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def market_order(side: Side, amount: str, client_order_id: str, **extra: bool) -> PlaceOrder:
    return PlaceOrder("BTC/USDT", side, OrderType.MARKET, Decimal(amount), client_order_id, **extra)


async def test_perpetual_markets_are_keyed_like_spot(perp: CcxtClient) -> None:
    btc = perp.market("BTC/USDT")
    assert (btc.kind, btc.exchange_symbol, btc.exchange_id) == (
        MarketKind.PERPETUAL,
        "BTC/USDT:USDT",
        "BTCUSDT",
    )
    assert (btc.market.price_tick, btc.market.amount_step) == (Decimal("0.1"), Decimal("0.001"))
    assert btc.market.min_notional == Decimal("100")


async def test_long_with_leverage_protection_and_reduce_only_close(
    perp: CcxtClient, emu: BinanceEmulator
) -> None:
    await perp.configure("BTC/USDT")
    position_settings = emu.futures.positions["BTCUSDT"]
    assert (position_settings.leverage, position_settings.margin_type) == (5, "ISOLATED")
    await perp.configure("BTC/USDT")  # already in effect: not an error

    entry = await perp.place(market_order(Side.BUY, "0.1", "td-f1"))
    assert (entry.status, entry.filled, entry.average_price) == (
        OrderStatus.FILLED,
        Decimal("0.1"),
        Decimal("30000"),
    )
    emu.set_futures_price("BTCUSDT", "31000")
    (position,) = await perp.fetch_positions()
    assert (position.symbol, position.contracts, position.side) == (
        "BTC/USDT",
        Decimal("0.1"),
        Side.BUY,
    )
    assert position.entry_price == Decimal("30000")
    assert position.unrealized_pnl == Decimal("100")
    assert position.mark_price == Decimal("31000")
    assert (position.leverage, position.margin_mode) == (5, MarginMode.ISOLATED)
    assert position.liquidation_price is not None
    assert Decimal("20000") < position.liquidation_price < Decimal("30000")

    stop, target = await perp.place_protection(
        "BTC/USDT", Decimal("0.1"), Decimal("29000"), Decimal("33000"), "td-f1"
    )
    assert (stop.client_order_id, stop.type, stop.stop_price, stop.reduce_only) == (
        "td-f1-sl",
        OrderType.STOP_MARKET,
        Decimal("29000"),
        True,
    )
    assert (target.client_order_id, target.type, target.take_profit, target.reduce_only) == (
        "td-f1-tp",
        OrderType.STOP_MARKET,
        True,
        True,
    )
    listed = await perp.fetch_open_orders("BTC/USDT")
    assert sorted(o.client_order_id or "" for o in listed) == ["td-f1-sl", "td-f1-tp"]
    found = await perp.fetch_order("BTC/USDT", "td-f1-tp")
    assert found is not None and found.stop_price == Decimal("33000")

    snapshot = await perp.snapshot()
    assert [p.contracts for p in snapshot.positions] == [Decimal("0.1")]
    assert "USDT" in snapshot.balances

    close = await perp.place(market_order(Side.SELL, "0.1", "td-f1-close", reduce_only=True))
    assert (close.status, close.reduce_only) == (OrderStatus.FILLED, True)
    assert await perp.fetch_positions() == []
    canceled = await perp.cancel_all("BTC/USDT")
    assert sorted(o.status for o in canceled) == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert await perp.fetch_open_orders() == []


async def test_stop_loss_closes_the_position_when_the_price_falls(
    perp: CcxtClient, emu: BinanceEmulator
) -> None:
    await perp.configure("BTC/USDT")
    await perp.place(market_order(Side.BUY, "0.1", "td-f2"))
    (stop,) = await perp.place_protection(
        "BTC/USDT", Decimal("0.1"), Decimal("29000"), None, "td-f2"
    )
    assert stop.is_open
    emu.set_futures_price("BTCUSDT", "28900")
    assert await perp.fetch_positions() == []
    triggered = await perp.fetch_order("BTC/USDT", "td-f2-sl")
    assert triggered is not None and not triggered.is_open


async def test_cancel_a_trigger_order_by_its_client_id(perp: CcxtClient) -> None:
    await perp.configure("BTC/USDT")
    await perp.place(market_order(Side.BUY, "0.1", "td-f3"))
    await perp.place_protection("BTC/USDT", Decimal("0.1"), None, Decimal("33000"), "td-f3")
    canceled = await perp.cancel("BTC/USDT", "td-f3-tp")
    assert (canceled.client_order_id, canceled.status) == ("td-f3-tp", OrderStatus.CANCELED)


async def test_reduce_only_without_a_position_is_rejected_by_the_exchange(
    perp: CcxtClient,
) -> None:
    with pytest.raises(OrderRejected) as refused:
        await perp.place(market_order(Side.SELL, "0.1", "td-f4", reduce_only=True))
    assert refused.value.code == "exchange_rejected"
    assert "ReduceOnly Order is rejected" in refused.value.detail


async def test_a_lost_trigger_order_reply_is_found_among_trigger_orders(
    perp: CcxtClient, emu: BinanceEmulator
) -> None:
    await perp.configure("BTC/USDT")
    await perp.place(market_order(Side.BUY, "0.1", "td-f5"))
    emu.hang_next_order()
    perp.exchange.timeout = 500
    (stop,) = await perp.place_protection(
        "BTC/USDT", Decimal("0.1"), Decimal("29000"), None, "td-f5"
    )
    assert (stop.client_order_id, stop.type) == ("td-f5-sl", OrderType.STOP_MARKET)
    assert emu.faults.hang_orders == 0
    assert [a.client_algo_id for a in emu.futures.algo.open("BTCUSDT")] == ["td-f5-sl"]
