"""Protective exits kept on the exchange for a spot long: OCO, stop-limit, take profit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderStatus, OrderType
from tradedeck.exchanges.ccxt_live import CcxtClient
from tradedeck.exchanges.emulator import BinanceEmulator


async def test_stop_loss_and_take_profit_become_one_oco(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    stop, target = await client.place_protection(
        "BTC/USDT", Decimal("0.5"), Decimal("28000"), Decimal("33000"), "td-p1"
    )
    assert (stop.client_order_id, stop.type, stop.status) == (
        "td-p1-sl",
        OrderType.STOP_LIMIT,
        OrderStatus.OPEN,
    )
    assert (stop.stop_price, stop.price) == (Decimal("28000"), Decimal("27860"))
    assert (target.client_order_id, target.type, target.price) == (
        "td-p1-tp",
        OrderType.LIMIT,
        Decimal("33000"),
    )
    # both legs sell the same coins, which the exchange holds once
    assert (await client.fetch_balances())["BTC"] == (Decimal("0.5"), Decimal("0.5"))

    emu.set_price("BTCUSDT", "27900")  # through the stop: the stop-limit sells, the pair ends
    sold = await client.fetch_order("BTC/USDT", "td-p1-sl")
    other = await client.fetch_order("BTC/USDT", "td-p1-tp")
    assert sold is not None and other is not None
    assert (sold.status, sold.filled) == (OrderStatus.FILLED, Decimal("0.5"))
    assert other.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED)
    assert await client.fetch_open_orders() == []


async def test_a_stop_loss_alone_is_a_stop_limit_through_the_stop(client: CcxtClient) -> None:
    (stop,) = await client.place_protection(
        "BTC/USDT", Decimal("0.2"), Decimal("28000"), None, "td-p2"
    )
    assert (stop.type, stop.stop_price, stop.price, stop.take_profit) == (
        OrderType.STOP_LIMIT,
        Decimal("28000"),
        Decimal("27860"),
        False,
    )
    (listed,) = await client.fetch_open_orders("BTC/USDT")
    assert (listed.client_order_id, listed.type) == ("td-p2-sl", OrderType.STOP_LIMIT)


async def test_a_take_profit_alone_is_a_resting_limit_sell(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    (target,) = await client.place_protection(
        "BTC/USDT", Decimal("0.2"), None, Decimal("33000"), "td-p3"
    )
    assert (target.type, target.price, target.status) == (
        OrderType.LIMIT,
        Decimal("33000"),
        OrderStatus.OPEN,
    )
    emu.set_price("BTCUSDT", "33000")
    done = await client.fetch_order("BTC/USDT", "td-p3-tp")
    assert done is not None and done.status is OrderStatus.FILLED


async def test_levels_on_the_wrong_side_are_refused_before_sending(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    with pytest.raises(InvalidInput) as crossed:
        await client.place_protection(
            "BTC/USDT", Decimal("0.2"), Decimal("30500"), Decimal("33000"), "td-p4"
        )
    assert crossed.value.detail == (
        "the stop loss 30500 would trigger at once: BTC/USDT trades at 30000; it must be below that"
    )
    with pytest.raises(InvalidInput, match="must be below the take profit"):
        await client.place_protection(
            "BTC/USDT", Decimal("0.2"), Decimal("29000"), Decimal("28000"), "td-p5"
        )
    with pytest.raises(InvalidInput, match="must be 1 to 36"):
        await client.place_protection("BTC/USDT", Decimal("0.2"), Decimal("29000"), None, "p" * 34)
    assert emu.engine.orders == {}


async def test_a_lost_oco_reply_is_looked_up_not_sent_twice(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    emu.hang_next_order()
    client.exchange.timeout = 500
    legs = await client.place_protection(
        "BTC/USDT", Decimal("0.5"), Decimal("28000"), Decimal("33000"), "td-p6"
    )
    assert sorted(leg.client_order_id or "" for leg in legs) == ["td-p6-sl", "td-p6-tp"]
    assert len(emu.engine.orders) == 2
    assert emu.faults.hang_orders == 0


async def test_cancel_all_ends_both_legs(client: CcxtClient) -> None:
    await client.place_protection(
        "BTC/USDT", Decimal("0.5"), Decimal("28000"), Decimal("33000"), "td-p7"
    )
    canceled = await client.cancel_all("BTC/USDT")
    assert sorted((o.client_order_id, o.status) for o in canceled) == [
        ("td-p7-sl", OrderStatus.CANCELED),
        ("td-p7-tp", OrderStatus.CANCELED),
    ]
    assert (await client.fetch_balances())["BTC"] == (Decimal("1"), Decimal(0))
