"""Order updates pushed by the exchange, read through OrderStream, for spot and perpetual."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import Served
from tests.integration.live_stream.conftest import (
    Updates,
    account,
    eventually,
    open_stream,
)
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import (
    CcxtClient,
    ExchangeAuthFailed,
    MarketKind,
    PlaceOrder,
    RemoteOrder,
)
from tradedeck.exchanges.emulator import BinanceEmulator


def limit_buy(client_order_id: str, amount: str = "0.01", price: str = "29000") -> PlaceOrder:
    return PlaceOrder(
        "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal(amount), client_order_id, Decimal(price)
    )


def move_price(emu: BinanceEmulator, kind: MarketKind, price: str) -> None:
    if kind is MarketKind.SPOT:
        emu.set_price("BTCUSDT", price)
    else:
        emu.set_futures_price("BTCUSDT", price)


def fill_next_in_steps(emu: BinanceEmulator, kind: MarketKind, steps: int) -> None:
    if kind is MarketKind.SPOT:
        emu.fill_next_in_steps(steps)
    else:
        emu.fill_next_futures_in_steps(steps)


def as_read(order: RemoteOrder) -> tuple[object, ...]:
    """What a reader of the order compares, whichever path it came by."""
    return (
        order.exchange_order_id,
        order.client_order_id,
        order.symbol,
        order.side,
        order.type,
        order.status,
        order.amount,
        order.filled,
        order.average_price,
        order.price,
        order.stop_price,
        order.reduce_only,
        order.take_profit,
    )


async def test_a_placed_order_shows_as_open(client: CcxtClient, updates: Updates) -> None:
    placed = await client.place(limit_buy("td-open-1"))
    update = await updates.next()
    assert (update.client_order_id, update.symbol, update.side, update.type) == (
        "td-open-1",
        "BTC/USDT",
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (update.status, update.amount, update.filled, update.price) == (
        OrderStatus.OPEN,
        Decimal("0.01"),
        Decimal(0),
        Decimal("29000"),
    )
    assert update.exchange_order_id == placed.exchange_order_id


async def test_partial_fills_then_filled_with_their_trades(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator, kind: MarketKind
) -> None:
    fill_next_in_steps(emu, kind, 2)
    await client.place(limit_buy("td-steps-1"))
    assert (await updates.next()).status is OrderStatus.OPEN

    move_price(emu, kind, "28900")
    partial = await updates.next()
    assert (partial.status, partial.filled) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.005"))
    assert [(t.amount, t.price) for t in partial.trades] == [(Decimal("0.005"), Decimal("29000"))]

    move_price(emu, kind, "28800")
    filled = await updates.next()
    assert (filled.status, filled.filled, filled.average_price) == (
        OrderStatus.FILLED,
        Decimal("0.01"),
        Decimal("29000"),
    )
    assert [t.amount for t in filled.trades] == [Decimal("0.005"), Decimal("0.005")]
    assert len({t.trade_id for t in filled.trades}) == 2
    assert all(t.exchange_order_id == filled.exchange_order_id for t in filled.trades)

    polled = await client.fetch_order("BTC/USDT", "td-steps-1")
    assert polled is not None and as_read(polled) == as_read(filled)


@pytest.mark.parametrize("kind", [MarketKind.PERPETUAL])
async def test_perpetual_fills_carry_their_fees(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator, kind: MarketKind
) -> None:
    await client.place(limit_buy("td-fee-1"))
    await updates.next()
    move_price(emu, kind, "28900")
    filled = await updates.next()
    # maker fee 0.02 % of 0.01 x 29000
    assert (filled.fee, filled.fee_currency) == (Decimal("0.058"), "USDT")
    assert [(t.fee, t.liquidity) for t in filled.trades] == [(Decimal("0.058"), "maker")]


async def test_a_market_order_arrives_filled_with_its_trade(
    client: CcxtClient, updates: Updates
) -> None:
    placed = await client.place(
        PlaceOrder("BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), "td-market-1"),
        Decimal("30000"),
    )
    filled = await updates.until(lambda o: o.status is OrderStatus.FILLED)
    assert as_read(filled) == as_read(placed)
    assert [(t.amount, t.price, t.liquidity) for t in filled.trades] == [
        (Decimal("0.01"), Decimal("30000"), "taker")
    ]


async def test_a_cancel_shows_as_canceled(client: CcxtClient, updates: Updates) -> None:
    await client.place(limit_buy("td-cancel-1"))
    await updates.next()
    await client.cancel("BTC/USDT", "td-cancel-1")
    canceled = await updates.next()
    assert (canceled.client_order_id, canceled.status, canceled.filled) == (
        "td-cancel-1",
        OrderStatus.CANCELED,
        Decimal(0),
    )


async def test_a_cancel_from_the_exchange_ui_shows_too(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator, kind: MarketKind
) -> None:
    await client.place(limit_buy("td-ui-1"))
    await updates.next()
    if kind is MarketKind.SPOT:
        emu.cancel_order("BTCUSDT", client_order_id="td-ui-1")
    else:
        emu.cancel_futures_order("BTCUSDT", client_order_id="td-ui-1")
    canceled = await updates.next()
    assert (canceled.client_order_id, canceled.status) == ("td-ui-1", OrderStatus.CANCELED)


async def test_the_stream_reconnects_after_the_socket_drops(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator, kind: MarketKind
) -> None:
    await client.place(limit_buy("td-drop-1"))
    await updates.next()

    assert emu.drop_streams() == 1
    await eventually(lambda: emu.streams.count(account(kind)) == 1)

    move_price(emu, kind, "28900")
    filled = await updates.next()
    assert (filled.client_order_id, filled.status) == ("td-drop-1", OrderStatus.FILLED)
    await client.place(limit_buy("td-drop-2"))
    assert (await updates.next()).client_order_id == "td-drop-2"


async def test_revoked_keys_end_the_stream_as_an_auth_failure(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator
) -> None:
    await client.place(limit_buy("td-revoke-1"))
    await updates.next()
    emu.revoke_key()
    with pytest.raises(ExchangeAuthFailed, match="refused the API credentials"):
        await updates.next()


async def test_refused_keys_fail_the_stream_at_once(
    served: tuple[BinanceEmulator, Served], kind: MarketKind
) -> None:
    emu, server = served
    emu.revoke_key()
    stream = open_stream(server.url, kind)
    try:
        with pytest.raises(ExchangeAuthFailed):
            await Updates(stream).next()
        with pytest.raises(ExchangeAuthFailed):  # and it stays failed
            await anext(stream.updates())
    finally:
        await stream.close()


@pytest.mark.parametrize("kind", [MarketKind.SPOT])
async def test_spot_protection_legs_show_and_the_pair_ends_together(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator
) -> None:
    await client.place_protection(
        "BTC/USDT", Decimal("0.5"), Decimal("28000"), Decimal("33000"), "td-oco"
    )
    legs = [(await updates.next()).client_order_id or "" for _ in range(2)]
    assert sorted(legs) == ["td-oco-sl", "td-oco-tp"]

    emu.set_price("BTCUSDT", "33000")  # the take profit sells, the stop expires
    ended: dict[str | None, RemoteOrder] = {}
    while len(ended) < 2:
        update = await updates.until(lambda o: not o.is_open)
        ended[update.client_order_id] = update
    target, stop = ended["td-oco-tp"], ended["td-oco-sl"]
    assert (target.status, target.filled, target.type) == (
        OrderStatus.FILLED,
        Decimal("0.5"),
        OrderType.LIMIT,
    )
    assert (stop.status, stop.type, stop.stop_price) == (
        OrderStatus.EXPIRED,
        OrderType.STOP_LIMIT,
        Decimal("28000"),
    )


@pytest.mark.parametrize("kind", [MarketKind.PERPETUAL])
async def test_a_perpetual_stop_shows_open_then_the_order_it_fires_fills(
    client: CcxtClient, updates: Updates, emu: BinanceEmulator
) -> None:
    await client.place(
        PlaceOrder("BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.1"), "td-long"),
        Decimal("30000"),
    )
    await updates.until(lambda o: o.status is OrderStatus.FILLED)
    await client.place_protection("BTC/USDT", Decimal("0.1"), Decimal("29000"), None, "td-long")
    stop = await updates.next()
    assert (stop.client_order_id, stop.status, stop.type) == (
        "td-long-sl",
        OrderStatus.OPEN,
        OrderType.STOP_MARKET,
    )
    assert (stop.stop_price, stop.reduce_only, stop.amount) == (
        Decimal("29000"),
        True,
        Decimal("0.1"),
    )

    emu.set_futures_price("BTCUSDT", "28900")
    fired = await updates.until(lambda o: o.status is OrderStatus.FILLED)
    assert (fired.client_order_id, fired.filled, fired.reduce_only) == (
        "td-long-sl",
        Decimal("0.1"),
        True,
    )
    assert fired.exchange_order_id != stop.exchange_order_id  # the order the stop placed
    assert [t.price for t in fired.trades] == [Decimal("28900")]
    polled = await client.fetch_order("BTC/USDT", "td-long-sl")
    assert polled is not None and as_read(polled) == as_read(fired)
