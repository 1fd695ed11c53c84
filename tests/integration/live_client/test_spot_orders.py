"""tradedeck's CcxtClient placing, reading and canceling spot orders on the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import Served
from tests.integration.live_client.conftest import ManualClock, make_client
from tradedeck.domain.errors import InvalidInput, NotFound, OrderRejected
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import CcxtClient, ExchangeAuthFailed, PlaceOrder
from tradedeck.exchanges.emulator import BinanceEmulator, Kline


def buy(amount: str, client_order_id: str, price: str | None = None) -> PlaceOrder:
    return PlaceOrder(
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT if price else OrderType.MARKET,
        amount=Decimal(amount),
        client_order_id=client_order_id,
        price=Decimal(price) if price else None,
    )


def orders_with(emu: BinanceEmulator, client_order_id: str) -> int:
    return sum(1 for o in emu.engine.orders.values() if o.client_order_id == client_order_id)


async def test_markets_carry_the_exchange_rules(client: CcxtClient) -> None:
    markets = client.markets
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT"]
    btc = client.market("BTC/USDT")
    assert (btc.exchange_symbol, btc.exchange_id) == ("BTC/USDT", "BTCUSDT")
    assert btc.market.price_tick == Decimal("0.01")
    assert btc.market.amount_step == Decimal("0.00001")
    assert btc.market.min_notional == Decimal("5")
    assert client.market("ETH/USDT").market.amount_step == Decimal("0.0001")
    assert client.markets_loaded_at is not None


async def test_markets_refresh_when_due(client: CcxtClient) -> None:
    loaded = client.markets_loaded_at
    assert loaded is not None
    assert not await client.refresh_if_due(loaded + timedelta(hours=1))
    assert await client.refresh_if_due(loaded + timedelta(hours=25))


async def test_unknown_symbol_is_refused(client: CcxtClient) -> None:
    with pytest.raises(InvalidInput, match="DOGE/USDT is not a spot market on binance"):
        client.market("DOGE/USDT")


async def test_market_buy_fills_with_its_trades(client: CcxtClient) -> None:
    order = await client.place(buy("0.01", "td-buy-1"))
    assert (order.status, order.client_order_id) == (OrderStatus.FILLED, "td-buy-1")
    assert (order.filled, order.average_price) == (Decimal("0.01"), Decimal("30000"))
    assert [(t.amount, t.price, t.side) for t in order.trades] == [
        (Decimal("0.01"), Decimal("30000"), Side.BUY)
    ]
    balances = await client.fetch_balances()
    assert balances["BTC"] == (Decimal("1.01"), Decimal(0))
    assert balances["USDT"] == (Decimal("9700"), Decimal(0))
    trades = await client.fetch_trades("BTC/USDT")
    assert [t.exchange_order_id for t in trades] == [order.exchange_order_id]


async def test_limit_order_rests_then_fills_in_steps(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    emu.fill_next_in_steps(2)
    order = await client.place(buy("0.1", "td-rest-1", "29000"))
    assert order.status is OrderStatus.OPEN and order.price == Decimal("29000")
    assert (await client.fetch_balances())["USDT"] == (Decimal("7100"), Decimal("2900"))

    emu.set_price("BTCUSDT", "28990")
    step = await client.fetch_order("BTC/USDT", "td-rest-1")
    assert step is not None
    assert (step.status, step.filled) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.05"))
    assert [o.client_order_id for o in await client.fetch_open_orders("BTC/USDT")] == ["td-rest-1"]

    emu.set_price("BTCUSDT", "28980")
    done = await client.fetch_order("BTC/USDT", "td-rest-1")
    assert done is not None
    assert (done.status, done.filled, done.average_price) == (
        OrderStatus.FILLED,
        Decimal("0.1"),
        Decimal("29000"),
    )
    assert await client.fetch_open_orders() == []
    assert await client.fetch_order("BTC/USDT", "never-sent") is None


async def test_min_notional_and_precision_are_refused_before_sending(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    with pytest.raises(OrderRejected) as small:
        await client.place(buy("0.0001", "td-small", "29000"))
    assert small.value.code == "below_min_notional"
    assert small.value.detail == "order value 2.9 USDT is below the minimum 5 USDT for BTC/USDT"
    with pytest.raises(InvalidInput) as precise:
        await client.place(buy("0.000015", "td-precise", "29000"))
    assert precise.value.detail == (
        "amount 0.000015 has more decimals than BTC/USDT allows (step 0.00001)"
    )
    with pytest.raises(OrderRejected, match="order value 3 USDT"):
        await client.place(buy("0.0001", "td-small-market"))
    assert emu.engine.orders == {}


async def test_rounding_puts_values_on_the_grid(client: CcxtClient) -> None:
    assert client.round_amount("BTC/USDT", Decimal("0.0123456")) == Decimal("0.01234")
    assert client.round_price("BTC/USDT", Decimal("29000.005"), Side.BUY) == Decimal("29000")
    assert client.round_price("BTC/USDT", Decimal("29000.001"), Side.SELL) == Decimal("29000.01")


async def test_insufficient_funds_carries_the_exchange_reason(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    with pytest.raises(OrderRejected) as refused:
        await client.place(buy("1", "td-too-big"))
    assert refused.value.code == "insufficient_funds"
    assert refused.value.detail == (
        "binance: Account has insufficient balance for requested action."
    )
    assert emu.engine.orders == {}


async def test_lost_reply_is_looked_up_not_sent_twice(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    emu.hang_next_order()  # accepted, then the reply is held until ccxt gives up
    client.exchange.timeout = 500
    order = await client.place(buy("0.01", "td-lost-1"))
    assert (order.client_order_id, order.status) == ("td-lost-1", OrderStatus.FILLED)
    assert emu.faults.hang_orders == 0  # the reply really was withheld
    assert orders_with(emu, "td-lost-1") == 1
    assert (await client.fetch_balances())["BTC"] == (Decimal("1.01"), Decimal(0))


async def test_dropped_connection_after_accept_is_looked_up(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    emu.drop_next()
    order = await client.place(buy("0.01", "td-cut-1", "30500"))
    assert (order.client_order_id, order.status) == ("td-cut-1", OrderStatus.FILLED)
    assert emu.faults.drop == 0  # the connection really was cut
    assert orders_with(emu, "td-cut-1") == 1


async def test_bad_secret_is_exchange_auth_failed(
    served: tuple[BinanceEmulator, Served], clock: ManualClock
) -> None:
    emu, server = served
    client = make_client(server.url, clock, secret="not-the-secret")
    try:
        await client.load_markets()  # public: works without valid keys
        with pytest.raises(ExchangeAuthFailed) as refused:
            await client.fetch_balances()
        assert refused.value.code == "exchange_auth_failed"
        assert "not-the-secret" not in refused.value.detail
        with pytest.raises(ExchangeAuthFailed):
            await client.place(buy("0.01", "td-auth"))
        assert emu.engine.orders == {}
    finally:
        await client.close()


async def test_cancel_returns_the_canceled_order_and_final_states(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    await client.place(buy("0.1", "td-cancel-1", "25000"))
    canceled = await client.cancel("BTC/USDT", "td-cancel-1")
    assert (canceled.client_order_id, canceled.status) == ("td-cancel-1", OrderStatus.CANCELED)
    again = await client.cancel("BTC/USDT", "td-cancel-1")
    assert again.status is OrderStatus.CANCELED
    filled = await client.place(buy("0.01", "td-filled-1"))
    final = await client.cancel("BTC/USDT", "td-filled-1")
    assert (final.exchange_order_id, final.status) == (filled.exchange_order_id, OrderStatus.FILLED)
    with pytest.raises(NotFound, match="binance has no order ghost-1 on BTC/USDT"):
        await client.cancel("BTC/USDT", "ghost-1")
    assert (await client.fetch_balances())["USDT"][1] == 0


async def test_cancel_all_cancels_every_open_order(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    await client.place(buy("0.01", "td-all-1", "25000"))
    await client.place(
        PlaceOrder(
            "BTC/USDT", Side.SELL, OrderType.LIMIT, Decimal("0.01"), "td-all-2", Decimal("35000")
        )
    )
    await client.place(
        PlaceOrder(
            "ETH/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "td-all-3", Decimal("1500")
        )
    )
    canceled = await client.cancel_all()
    assert sorted((o.client_order_id, o.status) for o in canceled) == [
        ("td-all-1", OrderStatus.CANCELED),
        ("td-all-2", OrderStatus.CANCELED),
        ("td-all-3", OrderStatus.CANCELED),
    ]
    assert await client.fetch_open_orders() == []
    assert await client.cancel_all("BTC/USDT") == []


async def test_snapshot_holds_orders_and_balances(client: CcxtClient) -> None:
    before = datetime.now(UTC)
    await client.place(buy("0.1", "td-snap-1", "25000"))
    snapshot = await client.snapshot()
    assert snapshot.taken_at >= before
    assert [o.client_order_id for o in snapshot.open_orders] == ["td-snap-1"]
    assert snapshot.balances == {
        "BTC": (Decimal("1"), Decimal(0)),
        "USDT": (Decimal("7500"), Decimal("2500")),
    }
    assert snapshot.positions == ()
    assert await client.fetch_positions() == []


async def test_public_prices_and_candles(client: CcxtClient, emu: BinanceEmulator) -> None:
    emu.set_price("ETHUSDT", "2100.5")
    assert await client.fetch_ticker_price("ETH/USDT") == Decimal("2100.5")
    start = 1_700_000_040_000
    emu.set_klines(
        "BTCUSDT",
        "1m",
        [
            Kline(
                start + i * 60_000,
                Decimal(100 + i),
                Decimal(102 + i),
                Decimal(99 + i),
                Decimal("101.5") + i,
                Decimal(5),
                start + i * 60_000 + 59_999,
            )
            for i in range(10)
        ],
    )
    since = datetime.fromtimestamp((start + 120_000) / 1000, UTC)
    candles = await client.fetch_candles("BTC/USDT", "1m", since=since, limit=3)
    assert [(c.opened_at, c.close) for c in candles] == [
        (since, Decimal("103.5")),
        (since + timedelta(minutes=1), Decimal("104.5")),
        (since + timedelta(minutes=2), Decimal("105.5")),
    ]
