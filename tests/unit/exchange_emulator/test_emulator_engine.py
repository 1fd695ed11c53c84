"""The emulator's spot matching engine: filters, locked funds, stepped fills, codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, EmulatorOrder

D = Decimal


def _engine() -> SpotEngine:
    engine = SpotEngine(
        [EmulatorMarket(base="BTC", quote="USDT", price=D(30000))], clock=lambda: 1_700_000_000_000
    )
    engine.deposit("USDT", D(10000))
    engine.deposit("BTC", D(1))
    return engine


def _place(engine: SpotEngine, **kw: object) -> EmulatorOrder:
    args: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": D("0.1"),
        "price": D(29000),
        "client_order_id": None,
        "time_in_force": "GTC",
    } | kw
    return engine.place(**args)  # type: ignore[arg-type]


def _rejected(engine: SpotEngine, **kw: object) -> int:
    with pytest.raises(BinanceError) as error:
        _place(engine, **kw)
    return error.value.code


def test_market_buy_fills_at_last_price_and_moves_funds() -> None:
    engine = _engine()
    order = engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.01"),
        price=None,
        client_order_id="m1",
    )
    assert (order.status, order.executed_qty, order.cum_quote) == ("FILLED", D("0.01"), D(300))
    assert (engine.asset("USDT").free, engine.asset("USDT").locked) == (D(9700), D(0))
    assert engine.asset("BTC").free == D("1.01")


def test_limit_buy_locks_quote_then_fills_in_steps_when_price_crosses() -> None:
    engine = _engine()
    engine.fill_next_in_steps(3)
    order = _place(engine, quantity=D("0.3"))
    usdt = engine.asset("USDT")
    assert (usdt.free, usdt.locked) == (D(1300), D(8700))
    assert engine.set_price("BTCUSDT", D(29001)) == []
    statuses = []
    for price in (D(29000), D(28000), D(27000)):
        engine.set_price("BTCUSDT", price)
        statuses.append((order.status, order.executed_qty))
    assert statuses == [
        ("PARTIALLY_FILLED", D("0.1")),
        ("PARTIALLY_FILLED", D("0.2")),
        ("FILLED", D("0.3")),
    ]
    assert (usdt.free, usdt.locked) == (D(1300), D(0))
    assert engine.asset("BTC").free == D("1.3")
    assert all(t.price == D(29000) and t.maker for t in engine.trades)


def test_cancel_returns_locked_funds_and_second_cancel_is_unknown() -> None:
    engine = _engine()
    order = _place(engine, side="SELL", price=D(31000), quantity=D("0.4"))
    assert engine.asset("BTC").locked == D("0.4")
    engine.cancel("BTCUSDT", order.order_id, None)
    assert (engine.asset("BTC").free, engine.asset("BTC").locked) == (D(1), D(0))
    with pytest.raises(BinanceError) as again:
        engine.cancel("BTCUSDT", order.order_id, None)
    assert again.value.code == -2011


def test_rejections_use_binance_codes_and_change_nothing() -> None:
    engine = _engine()
    assert _rejected(engine, symbol="NOPE") == -1121
    assert _rejected(engine, price=D("29000.001")) == -1013
    assert _rejected(engine, quantity=D("0.000015")) == -1013
    assert _rejected(engine, quantity=D("0.0001")) == -1013  # 2.9 USDT < 5 minimum notional
    assert _rejected(engine, quantity=D(1)) == -2010
    assert _rejected(engine, side="SELL", quantity=D(2), price=D(31000)) == -2010
    assert engine.orders == {}
    assert (engine.asset("USDT").free, engine.asset("BTC").free) == (D(10000), D(1))


def test_find_by_client_id_and_missing_order() -> None:
    engine = _engine()
    order = _place(engine, client_order_id="abc")
    assert engine.find("BTCUSDT", None, "abc") is order
    assert engine.find("BTCUSDT", 999, None) is None
    assert _rejected(engine, client_order_id="abc") == -2010  # duplicate of an open order


def test_market_buy_in_steps_expires_when_funds_run_out() -> None:
    engine = SpotEngine([EmulatorMarket(base="BTC", quote="USDT", price=D(10000))], clock=lambda: 0)
    engine.deposit("USDT", D(1000))
    engine.fill_next_in_steps(2)
    order = engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.1"),
        price=None,
        client_order_id=None,
    )
    assert (order.status, order.executed_qty) == ("PARTIALLY_FILLED", D("0.05"))
    engine.set_price("BTCUSDT", D(100000))  # the second half would cost 5000; only 500 is held
    assert (order.status, order.executed_qty) == ("EXPIRED", D("0.05"))
    assert engine.asset("USDT").free == D(500)
    assert engine.asset("USDT").locked == D(0)
