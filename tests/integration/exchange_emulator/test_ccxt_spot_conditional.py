"""Spot stop orders and OCO pairs, through the real ccxt binance client over loopback HTTP."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tradedeck.exchanges.emulator import BinanceEmulator

SELL_OCO = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.5",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "32000",
    "aboveClientOrderId": "tp1",
    "belowType": "STOP_LOSS_LIMIT",
    "belowStopPrice": "29000",
    "belowPrice": "28900",
    "belowTimeInForce": "GTC",
    "belowClientOrderId": "sl1",
}


async def test_stop_loss_limit_rests_until_the_price_falls_to_its_stop(
    exchange: Any, emu: BinanceEmulator
) -> None:
    order = await exchange.create_order(
        "BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.1, 28900, {"stopPrice": 29000}
    )
    assert (order["status"], order["triggerPrice"], order["price"]) == ("open", 29000.0, 28900.0)
    assert (await exchange.fetch_balance())["BTC"]["used"] == 0.1

    emu.set_price("BTCUSDT", "29500")
    waiting = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert (waiting["status"], waiting["filled"], waiting["info"]["isWorking"]) == (
        "open",
        0.0,
        False,
    )

    emu.set_price("BTCUSDT", "28950")  # reaches the stop; the limit at 28900 is marketable
    done = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert (done["status"], done["filled"], done["average"]) == ("closed", 0.1, 28900.0)
    balance = await exchange.fetch_balance()
    assert (balance["BTC"]["total"], balance["USDT"]["free"]) == (0.9, 12890.0)


async def test_unified_stop_loss_and_take_profit_params_become_binance_types(
    exchange: Any, emu: BinanceEmulator
) -> None:
    stop = await exchange.create_order(
        "BTC/USDT", "limit", "sell", 0.1, 28900, {"stopLossPrice": 29000}
    )
    take = await exchange.create_order(
        "BTC/USDT", "market", "sell", 0.2, None, {"takeProfitPrice": 32000}
    )
    assert (stop["info"]["type"], take["info"]["type"]) == ("STOP_LOSS_LIMIT", "TAKE_PROFIT")
    emu.set_price("BTCUSDT", "32100")  # the take-profit acts as a market sell at the last price
    sold = await exchange.fetch_order(take["id"], "BTC/USDT")
    assert (sold["status"], sold["average"]) == ("closed", 32100.0)
    assert (await exchange.fetch_order(stop["id"], "BTC/USDT"))["status"] == "open"


async def test_a_stop_that_would_trigger_at_once_is_refused(exchange: Any) -> None:
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Stop price would trigger"):
        await exchange.create_order(
            "BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.1, 30900, {"stopPrice": 31000}
        )
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="immediately match and take"):
        await exchange.create_order("BTC/USDT", "LIMIT_MAKER", "sell", 0.1, 29000)


async def test_oco_locks_once_and_shows_both_legs(exchange: Any) -> None:
    placed = await exchange.privatePostOrderListOco(SELL_OCO)
    assert (placed["contingencyType"], placed["listOrderStatus"]) == ("OCO", "EXECUTING")
    legs = await exchange.fetch_open_orders("BTC/USDT")
    by_client = {leg["clientOrderId"]: leg for leg in legs}
    assert sorted(by_client) == ["sl1", "tp1"]
    assert by_client["tp1"]["info"]["type"] == "LIMIT_MAKER"
    assert by_client["sl1"]["triggerPrice"] == 29000.0
    assert {leg["info"]["orderListId"] for leg in legs} == {placed["orderListId"]}
    assert (await exchange.fetch_balance())["BTC"] == {"free": 0.5, "used": 0.5, "total": 1.0}


async def test_oco_take_profit_fills_and_the_stop_leg_expires(
    exchange: Any, emu: BinanceEmulator
) -> None:
    await exchange.privatePostOrderListOco(SELL_OCO)
    emu.set_price("BTCUSDT", "32000")
    tp = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "tp1"})
    sl = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "sl1"})
    assert (tp["status"], tp["average"], sl["status"]) == ("closed", 32000.0, "expired")
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    balance = await exchange.fetch_balance()
    assert balance["BTC"] == {"free": 0.5, "used": 0.0, "total": 0.5}
    assert balance["USDT"]["free"] == 26000.0


async def test_oco_stop_triggers_and_the_take_profit_leg_expires(
    exchange: Any, emu: BinanceEmulator
) -> None:
    placed = await exchange.privatePostOrderListOco(SELL_OCO)
    emu.set_price("BTCUSDT", "28950")
    sl = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "sl1"})
    tp = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "tp1"})
    assert (sl["status"], sl["average"], tp["status"]) == ("closed", 28900.0, "expired")
    listed = await exchange.privateGetOrderList({"orderListId": placed["orderListId"]})
    assert listed["listOrderStatus"] == "ALL_DONE"
    assert (await exchange.fetch_balance())["BTC"] == {"free": 0.5, "used": 0.0, "total": 0.5}


async def test_cancelling_one_leg_cancels_the_list_and_frees_the_funds(exchange: Any) -> None:
    await exchange.privatePostOrderListOco(SELL_OCO)
    await exchange.cancel_order(None, "BTC/USDT", {"origClientOrderId": "tp1"})
    sl = await exchange.fetch_order(None, "BTC/USDT", {"origClientOrderId": "sl1"})
    assert sl["status"] == "canceled"
    assert (await exchange.fetch_balance())["BTC"] == {"free": 1.0, "used": 0.0, "total": 1.0}
    assert await exchange.privateGetOpenOrderList() == []


async def test_legacy_oco_endpoint_and_list_cancel(exchange: Any) -> None:
    placed = await exchange.privatePostOrderOco(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": "0.2",
            "price": "31000",
            "stopPrice": "29500",
            "stopLimitPrice": "29400",
            "stopLimitTimeInForce": "GTC",
        }
    )
    types = sorted(report["type"] for report in placed["orderReports"])
    assert types == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    canceled = await exchange.privateDeleteOrderList(
        {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]}
    )
    assert {r["status"] for r in canceled["orderReports"]} == {"CANCELED"}
    assert await exchange.fetch_open_orders("BTC/USDT") == []


async def test_oco_legs_on_the_wrong_side_of_the_price_are_refused(
    exchange: Any, emu: BinanceEmulator
) -> None:
    wrong = SELL_OCO | {"abovePrice": "29900"}  # the take-profit must sit above 30000
    with pytest.raises(ccxt.InvalidOrder, match="relationship of the prices"):
        await exchange.privatePostOrderListOco(wrong)
    assert emu.engine.orders == {}
    assert (await exchange.fetch_balance())["BTC"]["free"] == 1.0
