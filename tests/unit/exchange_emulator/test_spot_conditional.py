"""The spot engine's conditional orders and OCO lists: triggers, one lock, linked legs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, EmulatorOrder, OcoLeg
from tradedeck.exchanges.emulator.spot_oco import place_oco

D = Decimal


def _engine() -> SpotEngine:
    engine = SpotEngine([EmulatorMarket(base="BTC", quote="USDT", price=D(30000))], lambda: 1)
    engine.deposit("USDT", D(10000))
    engine.deposit("BTC", D(1))
    return engine


def _stop(engine: SpotEngine, type: str, side: str, stop: int, **kw: object) -> EmulatorOrder:
    args: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": side,
        "type": type,
        "quantity": D("0.1"),
        "price": None,
        "client_order_id": None,
        "stop_price": D(stop),
    } | kw
    return engine.place(**args)  # type: ignore[arg-type]


def test_stop_loss_buy_triggers_on_a_rise_and_take_profit_buy_on_a_fall() -> None:
    engine = _engine()
    breakout = _stop(engine, "STOP_LOSS", "BUY", 31000)
    dip = _stop(engine, "TAKE_PROFIT", "BUY", 29000)
    assert engine.asset("USDT").locked == D(3100) + D(2900)  # locked at the stop prices
    engine.set_price("BTCUSDT", D(31200))
    assert (breakout.status, breakout.cum_quote, dip.status) == ("FILLED", D(3120), "NEW")
    engine.set_price("BTCUSDT", D(28800))
    assert (dip.status, dip.cum_quote) == ("FILLED", D(2880))
    assert engine.asset("USDT").free == D(10000) - D(3120) - D(2880)
    assert engine.asset("USDT").locked == D(0)


def test_triggered_stop_limit_that_gapped_past_its_limit_rests_as_a_limit() -> None:
    engine = _engine()
    order = _stop(engine, "STOP_LOSS_LIMIT", "SELL", 29000, price=D(28900), time_in_force="GTC")
    assert (order.working, order.working_time) == (False, -1)
    engine.set_price("BTCUSDT", D(28000))  # triggered, but below the 28900 limit
    assert (order.working, order.status) == (True, "NEW")
    engine.set_price("BTCUSDT", D(28900))
    assert (order.status, order.fills[0].maker) == ("FILLED", True)


def test_conditional_orders_need_a_stop_price_and_plain_ones_refuse_it() -> None:
    engine = _engine()
    with pytest.raises(BinanceError) as missing:
        engine.place(
            symbol="BTCUSDT",
            side="SELL",
            type="STOP_LOSS",
            quantity=D("0.1"),
            price=None,
            client_order_id=None,
        )
    with pytest.raises(BinanceError) as extra:
        _stop(engine, "LIMIT", "SELL", 29000, price=D(31000), time_in_force="GTC")
    assert (missing.value.code, extra.value.code) == (-1102, -1106)


def _buy_oco(engine: SpotEngine) -> list[EmulatorOrder]:
    order_list = place_oco(
        engine,
        symbol="BTCUSDT",
        side="BUY",
        quantity=D("0.1"),
        above=OcoLeg("STOP_LOSS_LIMIT", D(31100), D(31000), "GTC", "breakout"),
        below=OcoLeg("LIMIT_MAKER", D(29000), client_order_id="dip"),
        list_client_order_id="pair",
    )
    return engine.legs(order_list)


def test_buy_oco_locks_once_at_the_higher_leg_price() -> None:
    engine = _engine()
    dip, breakout = _buy_oco(engine)
    assert (dip.client_order_id, breakout.client_order_id) == ("dip", "breakout")
    assert engine.asset("USDT").locked == D(3110)
    engine.set_price("BTCUSDT", D(29000))
    assert (dip.status, breakout.status) == ("FILLED", "EXPIRED")
    assert (engine.asset("USDT").free, engine.asset("USDT").locked) == (D(7100), D(0))


def test_buy_oco_stop_leg_takes_the_lock_when_it_triggers() -> None:
    engine = _engine()
    dip, breakout = _buy_oco(engine)
    engine.set_price("BTCUSDT", D(31050))  # stop reached, the 31100 limit is marketable
    assert (breakout.status, dip.status, breakout.cum_quote) == ("FILLED", "EXPIRED", D(3110))
    assert (engine.asset("USDT").free, engine.asset("USDT").locked) == (D(6890), D(0))


def test_cancel_or_fill_one_leg_ends_the_list() -> None:
    engine = _engine()
    dip, breakout = _buy_oco(engine)
    engine.cancel("BTCUSDT", None, "breakout")
    assert (dip.status, breakout.status) == ("CANCELED", "CANCELED")
    assert engine.asset("USDT").locked == D(0)
    dip, breakout = _buy_oco(engine)
    engine.fill(breakout)  # as if the market traded at its limit
    assert (breakout.status, breakout.cum_quote, dip.status) == ("FILLED", D(3110), "EXPIRED")


def test_oco_leg_types_and_price_relationship_are_checked() -> None:
    engine = _engine()

    def oco(above: OcoLeg, below: OcoLeg) -> int:
        with pytest.raises(BinanceError) as error:
            place_oco(
                engine,
                symbol="BTCUSDT",
                side="SELL",
                quantity=D("0.1"),
                above=above,
                below=below,
                list_client_order_id=None,
            )
        return error.value.code

    take = OcoLeg("LIMIT_MAKER", D(32000))
    stop = OcoLeg("STOP_LOSS", stop_price=D(29000))
    assert oco(stop, take) == -1116  # a SELL's stop leg belongs below the price
    assert oco(take, OcoLeg("STOP_LOSS", stop_price=D(30500))) == -2010
    assert oco(OcoLeg("LIMIT_MAKER", D(32000), time_in_force="GTC"), stop) == -1106
    assert engine.orders == {}
    assert engine.asset("BTC").locked == D(0)
