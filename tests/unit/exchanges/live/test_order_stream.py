"""OrderStream's own logic over a scripted exchange: conversion, reconnects, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from pydantic import SecretStr

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import ExchangeAuthFailed, LiveSettings, MarketKind
from tradedeck.exchanges.ccxt_live.stream import OrderStream
from tradedeck.exchanges.emulator import ccxt_ws_urls

KEY, SECRET = SecretStr("the-key"), SecretStr("the-secret")
PERPETUAL = LiveSettings(
    exchange="binance", market_type=MarketKind.PERPETUAL, api_key=KEY, api_secret=SECRET
)
MARKET: dict[str, Any] = {
    "symbol": "BTC/USDT:USDT",
    "id": "BTCUSDT",
    "base": "BTC",
    "quote": "USDT",
    "swap": True,
    "linear": True,
    "active": True,
    "precision": {"price": 0.1, "amount": 0.001},
    "limits": {"amount": {"min": 0.001}, "cost": {"min": 100}},
}


def raw_order(order_id: str = "1", **overrides: Any) -> dict[str, Any]:
    """An order as ccxt.pro's watch_orders hands it out."""
    return {
        "id": order_id,
        "clientOrderId": f"td-{order_id}",
        "symbol": "BTC/USDT:USDT",
        "side": "buy",
        "type": "limit",
        "status": "open",
        "amount": 0.01,
        "filled": 0.0,
        "price": 29000.0,
        "timestamp": 1_700_000_000_000,
        "lastUpdateTimestamp": 1_700_000_000_000,
        "trades": [],
        "info": {"o": "LIMIT"},
    } | overrides


class ScriptedExchange:
    """A ccxt.pro exchange whose ``watch_orders`` answers from a script, then waits."""

    precisionMode = 4  # ccxt TICK_SIZE

    def __init__(self, *script: list[dict[str, Any]] | BaseException) -> None:
        self.has = {"watchOrders": True}
        self.script = list(script)
        self.renewals = 0
        self.closed = False

    async def load_markets(self) -> dict[str, Any]:
        return {MARKET["symbol"]: MARKET}

    async def watch_orders(self) -> list[dict[str, Any]]:
        if not self.script:
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    async def keep_alive_listen_key(self) -> None:
        self.renewals += 1

    async def close(self) -> None:
        self.closed = True


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def opened(sleeps: Sleeps) -> AsyncIterator[list[OrderStream]]:
    streams: list[OrderStream] = []
    yield streams
    for stream in streams:
        await stream.close()


def make(opened: list[OrderStream], sleeps: Sleeps, exchange: ScriptedExchange) -> OrderStream:
    stream = OrderStream(PERPETUAL, exchange=exchange, base_delay=1, max_delay=4, sleep=sleeps)
    opened.append(stream)
    return stream


async def first(stream: OrderStream, count: int = 1) -> list[Any]:
    updates = stream.updates()
    return [await asyncio.wait_for(anext(updates), 5) for _ in range(count)]


async def test_orders_read_in_domain_terms_on_tradedecks_symbols(
    opened: list[OrderStream], sleeps: Sleeps
) -> None:
    trade = {
        "id": "t1",
        "order": "1",
        "side": "buy",
        "amount": 0.005,
        "price": 29000.0,
        "timestamp": 1_700_000_000_500,
        "takerOrMaker": "maker",
        "fee": {"cost": 0.029, "currency": "USDT"},
    }
    partial = raw_order(filled=0.005, average=29000.0, trades=[trade], reduceOnly=True)
    (order,) = await first(make(opened, sleeps, ScriptedExchange([partial])))
    assert (order.symbol, order.client_order_id, order.side, order.type) == (
        "BTC/USDT",
        "td-1",
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (order.status, order.filled, order.average_price, order.reduce_only) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.005"),
        Decimal("29000.0"),
        True,
    )
    assert [(t.trade_id, t.amount, t.fee, t.liquidity) for t in order.trades] == [
        ("t1", Decimal("0.005"), Decimal("0.029"), "maker")
    ]


async def test_failures_are_retried_with_backoff_and_the_listen_key_renewed(
    opened: list[OrderStream], sleeps: Sleeps
) -> None:
    exchange = ScriptedExchange(
        ccxt.NetworkError("Connection closed by remote server, closing code 1006"),
        ccxt.RequestTimeout("timed out"),
        ccxt.ExchangeNotAvailable("down"),
        ccxt.NetworkError("again"),
        [raw_order("1")],
        ccxt.NetworkError("later"),
        [raw_order("2")],
    )
    orders = await first(make(opened, sleeps, exchange), 2)
    assert [o.exchange_order_id for o in orders] == ["1", "2"]
    assert sleeps == [1, 2, 4, 4, 1]  # doubling up to the cap, reset by a success
    assert exchange.renewals == 5  # once before every retry


@pytest.mark.parametrize(
    "refusal",
    [
        ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'),
        ccxt.PermissionDenied("binance no permission"),
        ccxt.DDoSProtection('binance {"code":-2015,"msg":"Invalid API-key, IP"}'),
    ],
    ids=["auth", "permission", "ban-reported-as-2015"],
)
async def test_a_refusal_of_the_credentials_ends_the_stream(
    opened: list[OrderStream], sleeps: Sleeps, refusal: BaseException
) -> None:
    stream = make(opened, sleeps, ScriptedExchange([raw_order("1")], refusal))
    updates = stream.updates()
    assert (await anext(updates)).exchange_order_id == "1"  # what came before still arrives
    with pytest.raises(ExchangeAuthFailed):
        await asyncio.wait_for(anext(updates), 5)
    with pytest.raises(ExchangeAuthFailed):
        await anext(stream.updates())
    assert sleeps == []


async def test_a_refusal_raised_from_ccxts_cleanup_is_still_a_refusal(
    opened: list[OrderStream], sleeps: Sleeps
) -> None:
    try:
        try:
            raise ccxt.AuthenticationError('binance {"code":-2015}')
        except ccxt.AuthenticationError:
            subscriptions: dict[str, bool] = {}
            del subscriptions["spot"]  # what ccxt does while handling a refused spot subscription
    except KeyError as error:
        cleanup = error
    stream = make(opened, sleeps, ScriptedExchange(cleanup))
    with pytest.raises(ExchangeAuthFailed):
        await first(stream)


async def test_unreadable_orders_and_fired_trigger_records_are_left_out(
    opened: list[OrderStream], sleeps: Sleeps
) -> None:
    fired_algo = raw_order("7", status="closed", info={"aid": 7, "X": "FINISHED"})
    waiting_algo = raw_order("8", triggerPrice=29000.0, info={"aid": 8, "X": "NEW"})
    exchange = ScriptedExchange([raw_order("1", side=None), fired_algo, waiting_algo])
    (order,) = await first(make(opened, sleeps, exchange))
    assert (order.exchange_order_id, order.type, order.status) == (
        "8",
        OrderType.STOP_LIMIT,
        OrderStatus.OPEN,
    )


async def test_close_ends_the_iteration(opened: list[OrderStream], sleeps: Sleeps) -> None:
    exchange = ScriptedExchange()
    stream = make(opened, sleeps, exchange)
    updates = stream.updates()
    waiting = asyncio.ensure_future(anext(updates))
    await asyncio.sleep(0)
    await stream.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)
    assert exchange.closed
    assert [o async for o in stream.updates()] == []


def test_a_stream_needs_keys_and_an_exchange_that_streams_orders() -> None:
    with pytest.raises(InvalidInput, match="API key and secret"):
        OrderStream(LiveSettings(exchange="binance"), exchange=ScriptedExchange())
    silent = ScriptedExchange()
    silent.has = {"watchOrders": False}
    with pytest.raises(InvalidInput, match="no order updates stream"):
        OrderStream(PERPETUAL, exchange=silent)


async def test_the_ccxt_pro_client_is_built_like_the_rest_one_and_aimed_whole() -> None:
    import ccxt.pro

    url = "http://127.0.0.1:9"
    stream = OrderStream(
        LiveSettings(
            exchange="binance",
            market_type=MarketKind.PERPETUAL,
            api_key=KEY,
            api_secret=SECRET,
            api_url=url,
        )
    )
    try:
        exchange = stream.exchange
        assert isinstance(exchange, ccxt.pro.binance)
        assert (exchange.apiKey, exchange.secret) == ("the-key", "the-secret")
        assert (exchange.options["defaultType"], exchange.options["defaultSubType"]) == (
            "swap",
            "linear",
        )
        assert exchange.urls["api"]["fapiPrivate"] == url + "/fapi/v1"
        assert exchange.urls["api"]["ws"] == ccxt_ws_urls(url)
        assert ccxt_ws_urls(url) == {
            "linear": "ws://127.0.0.1:9/fstream/ws",
            "ws-api": {"spot": "ws://127.0.0.1:9/ws-api/v3"},
        }
    finally:
        await stream.close()


async def test_a_crash_of_the_reader_reaches_the_consumer_instead_of_hanging_it(
    opened: list[OrderStream], sleeps: Sleeps
) -> None:
    garbage: Any = [None]  # not an order ccxt could ever hand out: our bug, not theirs
    stream = make(opened, sleeps, ScriptedExchange(garbage))
    with pytest.raises(AttributeError):
        await first(stream)
