"""USDⓈ-M perpetuals through the real ccxt ``binanceusdm`` client over loopback HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.conftest import Served
from tests.integration.exchange_emulator.conftest import API_KEY, SECRET, ccxt_async
from tradedeck.exchanges.emulator import BinanceEmulator, Kline, aim_ccxt, ccxt_options

BTC = "BTC/USDT:USDT"


async def _isolated_5x_long(futures: Any, amount: float = 0.1) -> dict[str, Any]:
    await futures.set_leverage(5, BTC)
    await futures.set_margin_mode("isolated", BTC)
    order: dict[str, Any] = await futures.create_order(BTC, "market", "buy", amount)
    return order


async def test_load_markets_gives_the_perpetual_with_precision_and_limits(futures: Any) -> None:
    markets = await futures.load_markets()
    assert sorted(markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    btc = markets[BTC]
    assert (btc["swap"], btc["linear"], btc["settle"], btc["contractSize"]) == (
        True,
        True,
        "USDT",
        1.0,
    )
    assert (btc["precision"]["price"], btc["precision"]["amount"]) == (0.1, 0.001)
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1000.0}
    assert btc["limits"]["market"]["max"] == 120.0
    assert btc["limits"]["cost"]["min"] == 100.0
    assert await futures.fetch_time() > 0


async def test_plain_binance_class_with_future_options_trades_the_same_account(
    emulator: tuple[BinanceEmulator, Served],
) -> None:
    client = ccxt_async.binance(
        {"apiKey": API_KEY, "secret": SECRET, "options": ccxt_options("future")}
    )
    aim_ccxt(client, emulator[1].url)
    try:
        assert sorted(await client.load_markets()) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
        assert (await client.fetch_balance())["USDT"]["free"] == 10000.0
    finally:
        await client.close()


async def test_market_buy_opens_an_isolated_long_that_moves_with_the_price(
    futures: Any, emu: BinanceEmulator
) -> None:
    order = await _isolated_5x_long(futures)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.1, 30000.0)
    [position] = await futures.fetch_positions([BTC])
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "long",
        0.1,
        30000.0,
    )
    assert (position["marginMode"], position["initialMargin"]) == ("isolated", 600.0)
    # (q*E - W) / (q*(1 - m)) = (3000 - 600) / (0.1 * 0.996)
    assert position["liquidationPrice"] == pytest.approx(24096.38554217)
    assert position["unrealizedPnl"] == 0.0
    emu.set_futures_price("BTCUSDT", "31000")
    [moved] = await futures.fetch_positions([BTC])
    assert moved["unrealizedPnl"] == 100.0
    # Position risk v3 (ccxt's default) carries no leverage, as on Binance; v2 and the
    # symbol config do.
    assert moved["leverage"] is None
    [v2] = await futures.fetch_positions([BTC], {"useV2": True})
    assert (v2["leverage"], v2["marginMode"], v2["unrealizedPnl"]) == (5.0, "isolated", 100.0)
    leverage = await futures.fetch_leverage(BTC)
    assert (leverage["longLeverage"], leverage["marginMode"]) == (5, "isolated")


async def test_reduce_only_sell_closes_and_realized_pnl_lands_in_the_balance(
    futures: Any, emu: BinanceEmulator
) -> None:
    await _isolated_5x_long(futures)
    emu.set_futures_price("BTCUSDT", "31000")
    close = await futures.create_order(BTC, "market", "sell", 0.1, None, {"reduceOnly": True})
    assert (close["status"], close["reduceOnly"]) == ("closed", True)
    assert await futures.fetch_positions() == []
    trades = await futures.fetch_my_trades(BTC)
    assert [(t["side"], t["price"], t["fee"]["cost"]) for t in trades] == [
        ("buy", 30000.0, 1.5),  # taker 0.05 % of 3000
        ("sell", 31000.0, 1.55),
    ]
    assert trades[1]["info"]["realizedPnl"] == "100.00000000"
    balance = await futures.fetch_balance()
    assert balance["USDT"] == {"free": 10096.95, "used": 0.0, "total": 10096.95}


async def test_reduce_only_that_would_open_or_flip_is_refused(futures: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await futures.create_order(BTC, "market", "sell", 0.1, None, {"reduceOnly": True})
    await _isolated_5x_long(futures)
    with pytest.raises(ccxt.InvalidOrder, match="ReduceOnly Order is rejected"):
        await futures.create_order(BTC, "market", "sell", 0.2, None, {"reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await futures.create_order(BTC, "market", "buy", 0.1, None, {"reduceOnly": True})
    [position] = await futures.fetch_positions([BTC])
    assert position["contracts"] == 0.1


async def test_insufficient_margin_is_insufficient_funds(futures: Any) -> None:
    await futures.set_leverage(2, BTC)
    with pytest.raises(ccxt.InsufficientFunds, match="Margin is insufficient"):
        await futures.create_order(BTC, "market", "buy", 1)  # 30000 / 2 > 10000
    assert await futures.fetch_positions() == []
    assert (await futures.fetch_balance())["USDT"]["free"] == 10000.0


async def test_reduce_only_stop_market_rests_then_closes_the_position(
    futures: Any, emu: BinanceEmulator
) -> None:
    await _isolated_5x_long(futures)
    stop = await futures.create_order(
        BTC, "market", "sell", 0.1, None, {"stopLossPrice": 29000, "reduceOnly": True}
    )
    assert (stop["status"], stop["triggerPrice"], stop["info"]["orderType"]) == (
        "open",
        29000.0,
        "STOP_MARKET",
    )
    assert await futures.fetch_open_orders(BTC) == []  # conditional orders are algo orders
    [listed] = await futures.fetch_open_orders(BTC, params={"trigger": True})
    assert listed["id"] == stop["id"]

    emu.set_futures_price("BTCUSDT", "29500")
    assert (await futures.fetch_positions([BTC]))[0]["contracts"] == 0.1
    emu.set_futures_price("BTCUSDT", "28900")
    done = await futures.fetch_order(stop["id"], BTC, {"trigger": True})
    assert (done["status"], done["info"]["algoStatus"]) == ("closed", "FINISHED")
    assert await futures.fetch_positions() == []
    placed = await futures.fetch_order(done["info"]["actualOrderId"], BTC)
    assert (placed["status"], placed["average"], placed["reduceOnly"]) == ("closed", 28900.0, True)
    assert placed["clientOrderId"] == stop["clientOrderId"]


async def test_close_position_take_profit_and_algo_cancel(
    futures: Any, emu: BinanceEmulator
) -> None:
    await _isolated_5x_long(futures)
    take = await futures.create_order(
        BTC, "TAKE_PROFIT_MARKET", "sell", None, None, {"stopPrice": 32000, "closePosition": True}
    )
    guard = await futures.create_order(
        BTC, "STOP_MARKET", "sell", 0.1, None, {"stopPrice": 28000, "reduceOnly": True}
    )
    canceled = await futures.cancel_order(guard["id"], BTC, {"trigger": True})
    assert canceled["info"]["msg"] == "success"
    emu.set_futures_price("BTCUSDT", "32000")
    assert (await futures.fetch_order(take["id"], BTC, {"trigger": True}))["status"] == "closed"
    assert await futures.fetch_positions() == []
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        await futures.create_order(BTC, "STOP_MARKET", "sell", 0.1, None, {"stopPrice": 33000})


async def test_limit_order_rests_fills_in_steps_and_cancels(
    futures: Any, emu: BinanceEmulator
) -> None:
    emu.fill_next_futures_in_steps(2)
    order = await futures.create_order(
        BTC, "limit", "buy", 0.2, 29000, {"newClientOrderId": "fut-rest-1"}
    )
    assert (order["status"], order["clientOrderId"]) == ("open", "fut-rest-1")
    assert (await futures.fetch_balance())["USDT"]["used"] == 290.0  # 0.2 * 29000 / 20x
    emu.set_futures_price("BTCUSDT", "28990")
    step = await futures.fetch_order(None, BTC, {"origClientOrderId": "fut-rest-1"})
    assert (step["status"], step["filled"], step["info"]["status"]) == (
        "open",
        0.1,
        "PARTIALLY_FILLED",
    )
    canceled = await futures.cancel_order(order["id"], BTC)
    assert (canceled["status"], canceled["filled"]) == ("canceled", 0.1)
    [position] = await futures.fetch_positions([BTC])
    assert (position["contracts"], position["entryPrice"], position["marginMode"]) == (
        0.1,
        29000.0,
        "cross",
    )
    [trade] = await futures.fetch_my_trades(BTC)
    assert (trade["takerOrMaker"], trade["fee"]["cost"]) == ("maker", 0.58)  # 0.02 % of 2900
    with pytest.raises(ccxt.OrderNotFound):
        await futures.cancel_order(order["id"], BTC)


async def test_filters_answer_with_the_futures_codes(futures: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        await futures.create_order(BTC, "limit", "buy", 0.001, 29000)  # 29 USDT < 100
    with pytest.raises(ccxt.BadRequest, match="-4014"):
        await futures.create_order(BTC, "limit", "buy", 0.01, 29000, {"price": "29000.05"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        await futures.create_order(BTC, "limit", "buy", 0.01, 29000, {"quantity": "0.0105"})
    with pytest.raises(ccxt.InvalidOrder, match="-4120"):
        await futures.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "29000"}
        )
    with pytest.raises(ccxt.BadRequest, match="-4028"):
        await futures.fapiPrivatePostLeverage({"symbol": "BTCUSDT", "leverage": 126})
    assert await futures.fetch_open_orders(BTC) == []


async def test_margin_mode_cannot_change_under_a_position(futures: Any) -> None:
    await _isolated_5x_long(futures)
    with pytest.raises(ccxt.OperationRejected, match="-4048"):
        await futures.set_margin_mode("cross", BTC)
    with pytest.raises(ccxt.MarginModeAlreadySet, match="-4046"):
        await futures.set_margin_mode("isolated", BTC)
    assert (await futures.fetch_position_mode(BTC))["hedged"] is False


async def test_market_data_tickers_and_ohlcv(futures: Any, emu: BinanceEmulator) -> None:
    emu.set_futures_price("ETHUSDT", "2100")
    start = 1_700_000_000_000
    emu.set_futures_klines(
        "BTCUSDT",
        "1h",
        [
            Kline(start + i * 3_600_000, *(Decimal(v + i) for v in (100, 102, 99, 101, 7)), 0)
            for i in range(5)
        ],
    )
    tickers = await futures.fetch_tickers()
    assert {s: t["last"] for s, t in tickers.items()} == {BTC: 30000.0, "ETH/USDT:USDT": 2100.0}
    assert (await futures.fetch_ticker("ETH/USDT:USDT"))["open"] == 2000.0
    ohlcv = await futures.fetch_ohlcv(BTC, "1h", since=start + 3_600_000, limit=2)
    assert ohlcv == [
        [start + 3_600_000, 101.0, 103.0, 100.0, 102.0, 8.0],
        [start + 7_200_000, 102.0, 104.0, 101.0, 103.0, 9.0],
    ]


async def test_faults_apply_to_futures_routes(futures: Any, emu: BinanceEmulator) -> None:
    await futures.load_markets()
    emu.rate_limit_next(1)
    with pytest.raises(ccxt.DDoSProtection):
        await futures.fetch_ticker(BTC)
    emu.hang_next_order()
    futures.timeout = 300
    with pytest.raises(ccxt.RequestTimeout):
        await futures.create_order(BTC, "market", "buy", 0.01, None, {"newClientOrderId": "lost"})
    futures.timeout = 10_000
    found = await futures.fetch_order(None, BTC, {"origClientOrderId": "lost"})
    assert (found["status"], found["filled"]) == ("closed", 0.01)
    emu.drop_next()
    with pytest.raises(ccxt.ExchangeError):
        await futures.fetch_balance()
    assert (await futures.fetch_positions([BTC]))[0]["contracts"] == 0.01
