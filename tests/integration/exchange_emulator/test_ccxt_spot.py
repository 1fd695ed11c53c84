"""The real ccxt binance client against the emulator over loopback HTTP: the spot subset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import httpx
import pytest

from tests.conftest import Served
from tests.integration.exchange_emulator.conftest import make_client
from tradedeck.exchanges.emulator import BinanceEmulator, Kline


async def test_load_markets_gives_emulator_markets_with_precision_and_limits(exchange: Any) -> None:
    markets = await exchange.load_markets()
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT"]
    btc = markets["BTC/USDT"]
    assert btc["spot"] is True
    assert btc["precision"]["price"] == 0.01
    assert btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5.0
    assert markets["ETH/USDT"]["precision"]["amount"] == 0.0001


async def test_ticker_ohlcv_and_balance(exchange: Any, emu: BinanceEmulator) -> None:
    emu.set_price("BTCUSDT", "31000")
    start = 1_700_000_000_000
    emu.set_klines(
        "BTCUSDT",
        "1m",
        [
            Kline(
                start + i * 60_000,
                Decimal(100 + i),
                Decimal(102 + i),
                Decimal(99 + i),
                Decimal(101 + i),
                Decimal(5),
                start + i * 60_000 + 59_999,
            )
            for i in range(10)
        ],
    )
    ticker = await exchange.fetch_ticker("BTC/USDT")
    assert ticker["last"] == 31000.0
    assert ticker["open"] == 30000.0
    ohlcv = await exchange.fetch_ohlcv("BTC/USDT", "1m", since=start + 120_000, limit=3)
    assert ohlcv == [
        [start + 120_000, 102.0, 104.0, 101.0, 103.0, 5.0],
        [start + 180_000, 103.0, 105.0, 102.0, 104.0, 5.0],
        [start + 240_000, 104.0, 106.0, 103.0, 105.0, 5.0],
    ]
    balance = await exchange.fetch_balance()
    assert balance["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}
    assert balance["BTC"]["total"] == 1.0


async def test_market_buy_fills_and_moves_the_balance(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert order["status"] == "closed"
    assert order["filled"] == 0.01
    assert order["average"] == 30000.0
    balance = await exchange.fetch_balance()
    assert balance["BTC"]["free"] == 1.01
    assert balance["USDT"]["free"] == 9700.0


async def test_limit_order_rests_fills_partially_then_fully(
    exchange: Any, emu: BinanceEmulator
) -> None:
    emu.fill_next_in_steps(2)
    order = await exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.1, 29000, {"newClientOrderId": "rest1"}
    )
    assert order["status"] == "open"
    assert order["clientOrderId"] == "rest1"
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["used"] == 2900.0
    assert balance["USDT"]["free"] == 7100.0

    emu.set_price("BTCUSDT", "29500")  # not across the limit: nothing happens
    assert (await exchange.fetch_order(order["id"], "BTC/USDT"))["filled"] == 0.0

    emu.set_price("BTCUSDT", "28990")
    step = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert (step["status"], step["filled"], step["remaining"]) == ("open", 0.05, 0.05)
    assert step["info"]["status"] == "PARTIALLY_FILLED"
    assert (await exchange.fetch_open_orders("BTC/USDT"))[0]["id"] == order["id"]

    emu.set_price("BTCUSDT", "28980")
    done = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert (done["status"], done["filled"], done["average"]) == ("closed", 0.1, 29000.0)
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    balance = await exchange.fetch_balance()
    assert balance["BTC"]["free"] == 1.1
    assert balance["USDT"] == {"free": 7100.0, "used": 0.0, "total": 7100.0}
    trades = await exchange.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["amount"], t["price"], t["takerOrMaker"]) for t in trades] == [
        (order["id"], 0.05, 29000.0, "maker"),
        (order["id"], 0.05, 29000.0, "maker"),
    ]


async def test_cancel_order_releases_funds(exchange: Any) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "sell", 0.5, 35000)
    assert (await exchange.fetch_balance())["BTC"]["used"] == 0.5
    canceled = await exchange.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert (await exchange.fetch_balance())["BTC"] == {"free": 1.0, "used": 0.0, "total": 1.0}
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.cancel_order(order["id"], "BTC/USDT")


async def test_unknown_order_is_order_not_found(exchange: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.fetch_order("999", "BTC/USDT")


async def test_wrong_secret_is_authentication_error(
    emulator: tuple[BinanceEmulator, Served],
) -> None:
    client = make_client(emulator[1].url, secret="not-the-secret")
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_filter_failures_are_rejected_and_change_nothing(
    exchange: Any, emu: BinanceEmulator
) -> None:
    # ccxt maps LOT_SIZE and PRICE_FILTER to InvalidOrder; NOTIONAL (-1013) only to BadRequest,
    # exactly as against api.binance.com, so the adapter must read the code itself.
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.0001, 29000)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        await exchange.create_order(
            "BTC/USDT", "limit", "buy", 0.000015, 29000, {"quantity": "0.000015"}
        )
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 29000, {"price": "29000.005"})
    assert emu.engine.orders == {}
    assert (await exchange.fetch_balance())["USDT"]["free"] == 10000.0


async def test_insufficient_balance_is_insufficient_funds(
    exchange: Any, emu: BinanceEmulator
) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("BTC/USDT", "market", "buy", 1)
    assert emu.engine.orders == {}


async def test_rate_limit_is_ddos_protection_then_ban(exchange: Any, emu: BinanceEmulator) -> None:
    await exchange.load_markets()
    emu.rate_limit_next(3)
    with pytest.raises(ccxt.DDoSProtection) as first:
        await exchange.fetch_ticker("BTC/USDT")
    assert "429" in str(first.value)
    with pytest.raises(ccxt.DDoSProtection):
        await exchange.fetch_ticker("BTC/USDT")
    with pytest.raises(ccxt.DDoSProtection) as banned:
        await exchange.fetch_ticker("BTC/USDT")
    assert "418" in str(banned.value)
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 30000.0


async def test_rate_limited_reply_carries_retry_after(
    emulator: tuple[BinanceEmulator, Served],
) -> None:
    emu, served = emulator
    emu.rate_limit_next(1, retry_after=7)
    async with httpx.AsyncClient(base_url=served.url) as http:
        reply = await http.get("/api/v3/ping")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json()["code"] == -1003


async def test_timeout_after_accept_then_found_by_client_order_id(
    exchange: Any, emu: BinanceEmulator
) -> None:
    await exchange.load_markets()
    emu.hang_next_order()  # the reply is held until ccxt gives up, however long that takes
    exchange.timeout = 300
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.create_order(
            "BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "lost1"}
        )
    exchange.timeout = 10_000
    found = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lost1"})
    assert (found["clientOrderId"], found["status"], found["filled"]) == ("lost1", "closed", 0.01)
    assert (await exchange.fetch_balance())["BTC"]["free"] == 1.01


async def test_dropped_connection_after_accept_leaves_the_order(
    exchange: Any, emu: BinanceEmulator
) -> None:
    await exchange.load_markets()
    emu.drop_next()
    with pytest.raises(ccxt.ExchangeError) as dropped:
        await exchange.create_order(
            "BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "cut1"}
        )
    # A truncated reply is a plain ExchangeError in ccxt (not a NetworkError): the order may exist.
    assert type(dropped.value) is ccxt.ExchangeError
    found = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "cut1"})
    assert found["status"] == "closed"
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 30000.0


async def test_control_endpoint_moves_the_price(
    emulator: tuple[BinanceEmulator, Served], exchange: Any
) -> None:
    served = emulator[1]
    order = await exchange.create_order("BTC/USDT", "limit", "sell", 0.2, 31000)
    async with httpx.AsyncClient(base_url=served.url) as http:
        reply = await http.post("/_control/price", json={"symbol": "BTCUSDT", "price": "31000"})
        assert reply.status_code == 200
        bad = await http.post("/_control/price", json={"symbol": "NOPE", "price": "1"})
        assert bad.status_code == 400
    assert (await exchange.fetch_order(order["id"], "BTC/USDT"))["status"] == "closed"
    assert (await exchange.fetch_balance())["USDT"]["free"] == 16200.0


async def test_cancel_all_orders_of_a_symbol(exchange: Any) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 25000)
    await exchange.create_order("BTC/USDT", "limit", "sell", 0.01, 35000)
    assert len(await exchange.fetch_open_orders("BTC/USDT")) == 2
    canceled = await exchange.cancel_all_orders("BTC/USDT")
    assert sorted(o["status"] for o in canceled) == ["canceled", "canceled"]
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    assert (await exchange.fetch_balance())["USDT"]["free"] == 10000.0


async def test_all_tickers_last_prices_and_book(exchange: Any, emu: BinanceEmulator) -> None:
    emu.set_price("ETHUSDT", "2100")
    tickers = await exchange.fetch_tickers()
    assert {s: t["last"] for s, t in tickers.items()} == {"BTC/USDT": 30000.0, "ETH/USDT": 2100.0}
    prices = await exchange.fetch_last_prices(["ETH/USDT"])
    assert prices["ETH/USDT"]["price"] == 2100.0
    book = await exchange.fetch_bids_asks(["BTC/USDT"])
    assert (book["BTC/USDT"]["bid"], book["BTC/USDT"]["ask"]) == (30000.0, 30000.0)
    assert await exchange.fetch_time() > 0


async def test_control_endpoints_deposit_and_steps(
    emulator: tuple[BinanceEmulator, Served], exchange: Any
) -> None:
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        assert (
            await http.post("/_control/deposit", json={"asset": "ETH", "amount": "3"})
        ).status_code == 200
        assert (
            await http.post("/_control/deposit", json={"asset": "ETH", "amount": "-3"})
        ).status_code == 400
        assert (await http.post("/_control/steps", content=b"not json")).status_code == 400
        assert (await http.post("/_control/steps", json={"steps": 2})).status_code == 200
    assert (await exchange.fetch_balance())["ETH"]["free"] == 3.0
    order = await exchange.create_order("ETH/USDT", "market", "sell", 1)
    assert (order["status"], order["filled"]) == ("open", 0.5)


async def test_latency_beyond_the_client_timeout_is_request_timeout(
    exchange: Any, emu: BinanceEmulator
) -> None:
    await exchange.load_markets()
    emu.faults.latency = 2.0
    exchange.timeout = 200
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.fetch_ticker("BTC/USDT")
    emu.faults.latency = 0.0
    exchange.timeout = 10_000
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 30000.0
