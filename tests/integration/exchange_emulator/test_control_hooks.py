"""The ``/_control`` hooks: the exchange changes behind the client's back, ccxt sees it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import ccxt
import httpx
import pytest

from tests.conftest import Served
from tests.integration.exchange_emulator.conftest import (
    API_KEY,
    make_client,
    make_futures_client,
)
from tradedeck.exchanges.emulator import BinanceEmulator

BTC_PERP = "BTC/USDT:USDT"


async def test_fill_by_client_id_is_what_fetch_order_then_sees(
    emulator: tuple[BinanceEmulator, Served], exchange: Any, futures: Any
) -> None:
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.1, 25000, {"newClientOrderId": "s1"})
    await futures.create_order(BTC_PERP, "limit", "sell", 0.1, 35000, {"newClientOrderId": "f1"})
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        spot = await http.post("/_control/fill", json={"symbol": "BTCUSDT", "clientOrderId": "s1"})
        perp = await http.post(
            "/_control/fill", json={"symbol": "BTCUSDT", "clientOrderId": "f1", "kind": "future"}
        )
        again = await http.post("/_control/fill", json={"symbol": "BTCUSDT", "clientOrderId": "s1"})
    assert (spot.json(), perp.json()) == ({"trades": 1}, {"trades": 1})
    assert (again.status_code, again.json()["code"]) == (400, -2011)
    filled = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "s1"})
    assert (filled["status"], filled["average"]) == ("closed", 25000.0)
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 30000.0  # the price stayed
    short = await futures.fetch_order(None, BTC_PERP, {"origClientOrderId": "f1"})
    assert (short["status"], short["average"]) == ("closed", 35000.0)
    [position] = await futures.fetch_positions([BTC_PERP])
    assert (position["side"], position["contracts"]) == ("short", 0.1)


async def test_fill_triggers_an_algo_order_at_its_trigger_price(
    emulator: tuple[BinanceEmulator, Served], futures: Any
) -> None:
    emu = emulator[0]
    await futures.create_order(BTC_PERP, "market", "buy", 0.1)
    stop = await futures.create_order(
        BTC_PERP, "market", "sell", 0.1, None, {"stopLossPrice": 29000, "reduceOnly": True}
    )
    emu.fill_futures_order("BTCUSDT", client_order_id=stop["clientOrderId"])
    done = await futures.fetch_order(stop["id"], BTC_PERP, {"trigger": True})
    assert done["status"] == "closed"
    [_, close] = await futures.fetch_my_trades(BTC_PERP)
    assert (close["price"], close["info"]["realizedPnl"]) == (29000.0, "-100.00000000")


async def test_cancel_from_the_exchange_ui_is_what_ccxt_then_sees(
    emulator: tuple[BinanceEmulator, Served], exchange: Any, futures: Any
) -> None:
    await exchange.create_order("BTC/USDT", "limit", "sell", 0.3, 35000, {"newClientOrderId": "u1"})
    await futures.create_order(BTC_PERP, "limit", "buy", 0.1, 25000, {"newClientOrderId": "u2"})
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        for body in (
            {"symbol": "BTCUSDT", "clientOrderId": "u1"},
            {"symbol": "BTCUSDT", "clientOrderId": "u2", "kind": "future"},
        ):
            assert (await http.post("/_control/cancel", json=body)).status_code == 200
    spot = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "u1"})
    perp = await futures.fetch_order(None, BTC_PERP, {"origClientOrderId": "u2"})
    assert (spot["status"], perp["status"]) == ("canceled", "canceled")
    assert (await exchange.fetch_balance())["BTC"]["free"] == 1.0


async def test_revoked_key_is_authentication_error(
    emulator: tuple[BinanceEmulator, Served], futures: Any
) -> None:
    assert (await futures.fetch_balance())["USDT"]["free"] == 10000.0
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        assert (
            await http.post("/_control/revoke-key", json={"apiKey": API_KEY})
        ).status_code == 200
        signed = await http.get("/api/v3/account", headers={"X-MBX-APIKEY": API_KEY})
    assert (signed.status_code, signed.json()["code"]) == (401, -2015)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await futures.fetch_balance()
    spot = make_client(emulator[1].url)
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await spot.fetch_balance()
    finally:
        await spot.close()


async def test_spot_client_that_had_authenticated_sees_a_revoked_key_as_ddos_protection(
    emu: BinanceEmulator, exchange: Any
) -> None:
    # ccxt's binance reads -2015 after a successful spot private call as a temporary ban.
    await exchange.fetch_balance()
    emu.revoke_key()
    with pytest.raises(ccxt.DDoSProtection, match="-2015"):
        await exchange.fetch_balance()


async def test_state_reflects_orders_balances_and_positions(
    emulator: tuple[BinanceEmulator, Served], exchange: Any, futures: Any
) -> None:
    await exchange.privatePostOrderListOco(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": "0.5",
            "aboveType": "LIMIT_MAKER",
            "abovePrice": "32000",
            "belowType": "STOP_LOSS",
            "belowStopPrice": "29000",
        }
    )
    await futures.create_order(BTC_PERP, "market", "buy", 0.1)
    await futures.create_order(BTC_PERP, "STOP_MARKET", "sell", 0.1, None, {"stopPrice": 28000})
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        state = (await http.get("/_control/state")).json()
    spot, perp = state["spot"], state["futures"]
    assert spot["balances"]["BTC"] == {"free": "0.50000000", "locked": "0.50000000"}
    assert sorted(o["type"] for o in spot["openOrders"]) == ["LIMIT_MAKER", "STOP_LOSS"]
    assert len(spot["openOrderLists"]) == 1
    assert [(p["symbol"], p["positionAmt"]) for p in perp["positions"]] == [("BTCUSDT", "0.100")]
    assert [a["orderType"] for a in perp["openAlgoOrders"]] == ["STOP_MARKET"]
    assert perp["account"]["totalWalletBalance"] == "9998.50000000"  # less the 1.5 fee


async def test_control_rate_limit_and_bad_bodies(
    emulator: tuple[BinanceEmulator, Served],
) -> None:
    async with httpx.AsyncClient(base_url=emulator[1].url) as http:
        assert (await http.post("/_control/rate-limit", json={"requests": 1})).status_code == 200
        assert (await http.get("/fapi/v1/ping")).status_code == 429
        assert (await http.get("/fapi/v1/ping")).status_code == 200
        for path, body in (
            ("/_control/price", {"symbol": "BTCUSDT", "price": "1", "kind": "options"}),
            ("/_control/deposit", {"asset": "BTC", "amount": "1", "kind": "future"}),
            ("/_control/fill", {"orderId": 1}),
        ):
            assert (await http.post(path, json=body)).status_code == 400


async def test_served_as_its_own_process_announces_its_port() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradedeck.exchanges.emulator",
        "--port",
        "0",
        "--secret",
        "processSecret",
        "--futures-deposit",
        "500",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [(await process.stdout.readline()).decode() for _ in range(3)]
        assert lines[0].strip() == "apiKey=emulatorKey secret=processSecret"
        url = lines[2].strip().removeprefix("listening=")
        client = make_futures_client(url)
        client.apiKey, client.secret = "emulatorKey", "processSecret"
        try:
            assert (await client.fetch_balance())["USDT"]["total"] == 500.0
        finally:
            await client.close()
        async with httpx.AsyncClient(base_url=url) as http:
            state = (await http.get("/_control/state")).json()
        assert state["spot"]["balances"]["USDT"]["free"] == "10000.00000000"
    finally:
        process.terminate()
        await process.wait()
