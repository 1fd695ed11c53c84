"""Binance's user-data messages as the emulator builds them, and the hub that routes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.events import AccountChanged
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import FuturesMarket
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket
from tradedeck.exchanges.emulator.ws_futures_wire import (
    account_update,
    algo_update,
    order_trade_update,
)
from tradedeck.exchanges.emulator.ws_spot_wire import account_position, execution_report
from tradedeck.exchanges.emulator.ws_stream import (
    GOING_AWAY,
    LISTEN_KEY_VALIDITY_MS,
    POLICY_VIOLATION,
    Stream,
    UserStreams,
)

D = Decimal
NOW = 1_700_000_000_000


def _spot() -> SpotEngine:
    engine = SpotEngine([EmulatorMarket(base="BTC", quote="USDT", price=D(30000))], lambda: NOW)
    engine.deposit("USDT", D(10000))
    engine.deposit("BTC", D(1))
    return engine


def _futures() -> FuturesEngine:
    engine = FuturesEngine([FuturesMarket(base="BTC", price=D(30000))], clock=lambda: NOW)
    engine.deposit(D(10000))
    return engine


def _spot_limit(engine: SpotEngine, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": D("0.1"),
        "price": D(29000),
        "client_order_id": "b1",
        "time_in_force": "GTC",
    } | overrides
    return engine.place(**args)


def test_a_new_spot_order_is_reported_working_on_the_book() -> None:
    order = _spot_limit(_spot())
    report = execution_report(order, "NEW", None, NOW, 7)
    assert {k: report[k] for k in ("e", "s", "c", "S", "o", "f", "x", "X", "i", "g")} == {
        "e": "executionReport",
        "s": "BTCUSDT",
        "c": "b1",
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "x": "NEW",
        "X": "NEW",
        "i": order.order_id,
        "g": -1,
    }
    assert (report["q"], report["p"], report["z"], report["Z"]) == (
        "0.10000000",
        "29000.00000000",
        "0.00000000",
        "0.00000000",
    )
    assert (report["C"], report["t"], report["N"], report["I"]) == ("", -1, None, 7)
    assert report["w"] is True and report["W"] == NOW


def test_a_fill_is_reported_with_its_last_and_cumulative_amounts() -> None:
    engine = _spot()
    engine.fill_next_in_steps(2)
    order = _spot_limit(engine)
    (trade,) = engine.set_price("BTCUSDT", D(28900))
    report = execution_report(order, "TRADE", trade, NOW, 8)
    assert (report["x"], report["X"], report["t"], report["m"]) == (
        "TRADE",
        "PARTIALLY_FILLED",
        trade.id,
        True,
    )
    assert (report["l"], report["L"], report["z"], report["Y"], report["Z"]) == (
        "0.05000000",
        "29000.00000000",
        "0.05000000",
        "1450.00000000",
        "1450.00000000",
    )
    assert (report["n"], report["N"]) == ("0", "BTC")


def test_a_cancel_reports_the_original_client_id_apart() -> None:
    engine = _spot()
    order = _spot_limit(engine)
    engine.cancel("BTCUSDT", order.order_id, None)
    report = execution_report(order, "CANCELED", None, NOW, 9)
    assert report["C"] == "b1" and report["c"] != "b1"
    assert (report["x"], report["X"], report["w"]) == ("CANCELED", "CANCELED", False)


def test_a_waiting_stop_is_not_working_yet() -> None:
    order = _spot_limit(
        _spot(), type="STOP_LOSS_LIMIT", side="SELL", price=D(27900), stop_price=D(28000)
    )
    report = execution_report(order, "NEW", None, NOW, 1)
    assert (report["o"], report["P"], report["w"]) == ("STOP_LOSS_LIMIT", "28000.00000000", False)
    assert "W" not in report


def test_account_position_lists_the_assets_that_moved() -> None:
    engine = _spot()
    _spot_limit(engine)
    assert account_position(engine, ("USDT", "USDT"), NOW) == {
        "e": "outboundAccountPosition",
        "E": NOW,
        "u": NOW,
        "B": [{"a": "USDT", "f": "7100.00000000", "l": "2900.00000000"}],
    }


def test_a_futures_fill_sits_under_o_in_the_symbols_precision() -> None:
    engine = _futures()
    order = engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.01"),
        price=None,
        client_order_id="f1",
    )
    (trade,) = order.fills
    message = order_trade_update(engine, order, "TRADE", trade, NOW)
    assert (message["e"], message["E"], message["T"]) == ("ORDER_TRADE_UPDATE", NOW, trade.time)
    update = message["o"]
    assert {k: update[k] for k in ("s", "c", "S", "o", "x", "X", "ps", "ot", "R")} == {
        "s": "BTCUSDT",
        "c": "f1",
        "S": "BUY",
        "o": "MARKET",
        "x": "TRADE",
        "X": "FILLED",
        "ps": "BOTH",
        "ot": "MARKET",
        "R": False,
    }
    assert (update["q"], update["l"], update["z"], update["L"]) == (
        "0.010",
        "0.010",
        "0.010",
        "30000.00",
    )
    assert (update["N"], update["n"], update["rp"], update["t"]) == (
        "USDT",
        "0.15000000",
        "0.00000000",
        trade.id,
    )


def test_a_futures_order_without_a_fill_pushes_no_commission() -> None:
    engine = _futures()
    order = engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=D("0.01"),
        price=D(29000),
        client_order_id="f2",
        time_in_force="GTC",
    )
    update = order_trade_update(engine, order, "NEW", None, NOW)["o"]
    assert "n" not in update and "N" not in update
    assert (update["x"], update["p"], update["b"], update["a"]) == (
        "NEW",
        "29000.00",
        "290.00000000",
        "0.00000000",
    )


def test_account_update_carries_the_wallet_and_the_moved_position() -> None:
    engine = _futures()
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.01"),
        price=None,
        client_order_id="f1",
    )
    message = account_update(engine, AccountChanged("ORDER", "BTCUSDT"), NOW)
    assert message["a"]["m"] == "ORDER"
    assert message["a"]["B"] == [
        {"a": "USDT", "wb": "9999.85000000", "cw": "9999.85000000", "bc": "0.00000000"}
    ]
    (position,) = message["a"]["P"]
    assert (position["s"], position["pa"], position["ep"], position["mt"], position["ps"]) == (
        "BTCUSDT",
        "0.010",
        "30000.00000000",
        "cross",
        "BOTH",
    )
    deposit = account_update(engine, AccountChanged("DEPOSIT", balance_change=D(5)), NOW)
    assert (deposit["a"]["m"], deposit["a"]["B"][0]["bc"], deposit["a"]["P"]) == (
        "DEPOSIT",
        "5.00000000",
        [],
    )


def test_algo_update_names_the_order_it_placed_once_triggered() -> None:
    engine = _futures()
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.1"),
        price=None,
        client_order_id="long",
    )
    algo = engine.algo.place(
        engine.markets["BTCUSDT"],
        side="SELL",
        order_type="STOP_MARKET",
        quantity=D("0.1"),
        price=None,
        trigger_price=D(29000),
        client_algo_id="sl",
        reduce_only=True,
    )
    waiting = algo_update(engine, algo, NOW)["o"]
    assert (waiting["caid"], waiting["aid"], waiting["X"], waiting["tp"], waiting["ai"]) == (
        "sl",
        algo.algo_id,
        "NEW",
        "29000.00",
        "",
    )
    engine.set_price("BTCUSDT", D(29000))
    message = algo_update(engine, algo, NOW)
    fired = message["o"]
    assert (message["e"], fired["X"], fired["act"], fired["aq"]) == (
        "ALGO_UPDATE",
        "FINISHED",
        "MARKET",
        "0.100",
    )
    assert fired["ai"] == str(algo.actual_order_id)


async def test_streams_get_the_events_of_their_account_wrapped_as_subscribed() -> None:
    spot, futures = _spot(), _futures()
    streams = UserStreams(lambda: NOW)
    streams.observe(spot, futures)
    subscribed, listening = Stream("k1"), Stream("k1", "listen")
    subscribed.subscription_id = 0
    streams.join("spot", subscribed)
    streams.join("future", listening)

    spot.deposit("ETH", D(2))
    futures.deposit(D(3))

    wrapped = await subscribed.next()
    assert wrapped is not None and wrapped["subscriptionId"] == 0
    assert (wrapped["event"]["e"], wrapped["event"]["a"], wrapped["event"]["d"]) == (
        "balanceUpdate",
        "ETH",
        "2.00000000",
    )
    bare = await listening.next()
    assert bare is not None and (bare["e"], bare["a"]["m"]) == ("ACCOUNT_UPDATE", "DEPOSIT")


def test_a_listen_key_is_kept_per_api_key_and_expires() -> None:
    now = [NOW]
    streams = UserStreams(lambda: now[0])
    key = streams.open_listen_key("k1")
    assert streams.open_listen_key("k1") == key  # the active key, extended
    assert streams.open_listen_key("k2") != key
    now[0] += LISTEN_KEY_VALIDITY_MS - 1
    assert streams.keep_alive("k1") == key
    now[0] += LISTEN_KEY_VALIDITY_MS
    assert streams.listen_key(key) is None
    with pytest.raises(BinanceError) as expired:
        streams.keep_alive("k1")
    assert expired.value.code == -1125
    assert streams.open_listen_key("k1") != key


async def test_closing_a_listen_key_ends_its_stream() -> None:
    streams = UserStreams(lambda: NOW)
    key = streams.open_listen_key("k1")
    reading = Stream("k1", key)
    streams.join("future", reading)
    streams.close_listen_key("k1")
    assert await reading.next() is None
    assert (reading.close_code, streams.count("future"), streams.listen_key(key)) == (
        GOING_AWAY,
        0,
        None,
    )
    with pytest.raises(BinanceError):
        streams.close_listen_key("k1")


async def test_revoking_a_key_closes_its_streams_and_forgets_its_listen_keys() -> None:
    streams = UserStreams(lambda: NOW)
    key = streams.open_listen_key("k1")
    revoked, other = Stream("k1"), Stream("k2")
    streams.join("spot", revoked)
    streams.join("spot", other)
    streams.revoke("k1")
    assert await revoked.next() is None and revoked.close_code == POLICY_VIOLATION
    assert (streams.count("spot"), streams.listen_key(key)) == (1, None)
    assert streams.drop() == 1
    assert await other.next() is None and other.close_code == GOING_AWAY
