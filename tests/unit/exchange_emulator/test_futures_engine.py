"""The futures engine's rules: PnL, fees, liquidation price, margin, reduce-only, triggers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_margin import liquidation_price
from tradedeck.exchanges.emulator.futures_models import FuturesMarket, FuturesOrder, Position

D = Decimal
BTC = "BTCUSDT"


def _engine(wallet: str = "10000") -> FuturesEngine:
    engine = FuturesEngine([FuturesMarket(base="BTC", price=D(30000))], clock=lambda: 1)
    engine.deposit(D(wallet))
    return engine


def _market(engine: FuturesEngine, side: str, qty: str, **kw: object) -> FuturesOrder:
    args: dict[str, object] = {
        "symbol": BTC,
        "side": side,
        "type": "MARKET",
        "quantity": D(qty),
        "price": None,
        "client_order_id": None,
    } | kw
    return engine.place(**args)  # type: ignore[arg-type]


def _code(call: object, *args: object, **kw: object) -> int:
    with pytest.raises(BinanceError) as error:
        call(*args, **kw)  # type: ignore[operator]
    return error.value.code


def test_closing_realizes_pnl_net_of_taker_fees_into_the_wallet() -> None:
    engine = _engine()
    _market(engine, "BUY", "0.1")
    position = engine.positions[BTC]
    assert (position.amount, position.entry_price) == (D("0.1"), D(30000))
    engine.set_price(BTC, D(31000))
    close = _market(engine, "SELL", "0.1", reduce_only=True)
    assert close.status == "FILLED"
    assert [t.realized_pnl for t in engine.trades] == [D(0), D(100)]
    assert [t.commission for t in engine.trades] == [D("1.5"), D("1.55")]
    assert (position.amount, engine.wallet) == (D(0), D("10096.95"))


def test_adding_averages_the_entry_and_a_short_loses_when_the_price_rises() -> None:
    engine = _engine()
    _market(engine, "SELL", "0.1")
    engine.set_price(BTC, D(32000))
    _market(engine, "SELL", "0.1")
    position = engine.positions[BTC]
    assert (position.amount, position.entry_price) == (D("-0.2"), D(31000))
    engine.set_price(BTC, D(33000))
    _market(engine, "BUY", "0.2", reduce_only=True)
    assert engine.trades[-1].realized_pnl == D(-400)


def test_an_order_larger_than_the_position_flips_it_at_the_fill_price() -> None:
    engine = _engine()
    _market(engine, "BUY", "0.1")
    engine.set_price(BTC, D(30500))
    _market(engine, "SELL", "0.3")
    position = engine.positions[BTC]
    assert (position.amount, position.entry_price) == (D("-0.2"), D(30500))
    assert engine.trades[-1].realized_pnl == D(50)


def test_liquidation_price_formula_for_isolated_longs_and_shorts() -> None:
    market = FuturesMarket(base="BTC", price=D(30000), maint_margin_rate=D("0.004"))
    long = Position(BTC, leverage=10, amount=D(1), entry_price=D(30000))
    short = Position(BTC, leverage=10, amount=D(-1), entry_price=D(30000))
    # margin 3000: long (30000 - 3000) / 0.996, short (30000 + 3000) / 1.004
    assert liquidation_price(long, market, D(3000)) == D("27108.43373494")
    assert liquidation_price(short, market, D(3000)) == D("32868.52589641")
    assert liquidation_price(long, market, D(40000)) == D(0)  # more margin than it can lose


def test_isolated_position_posts_its_margin_and_releases_it_on_close() -> None:
    engine = _engine()
    engine.set_leverage(BTC, 5)
    engine.set_margin_type(BTC, "ISOLATED")
    _market(engine, "BUY", "0.1")
    position = engine.positions[BTC]
    assert position.isolated_wallet == D(600)
    assert engine.available() == D("9398.5")  # 10000 - 600 margin - 1.5 fee
    assert engine.liquidation_price(position) == D("24096.38554217")
    _market(engine, "SELL", "0.05", reduce_only=True)
    assert position.isolated_wallet == D(300)
    _market(engine, "SELL", "0.05", reduce_only=True)
    assert position.isolated_wallet == D(0)


def test_initial_margin_beyond_what_is_available_is_minus_2019() -> None:
    engine = _engine("1000")
    engine.set_leverage(BTC, 10)
    assert _code(_market, engine, "BUY", "0.4") == -2019  # 12000 / 10 > 1000
    _market(engine, "BUY", "0.3")
    # an opposite order only needs margin for what it opens beyond the position
    assert _code(_market, engine, "SELL", "0.7") == -2019
    _market(engine, "SELL", "0.6")
    assert engine.positions[BTC].amount == D("-0.3")


def test_reduce_only_may_not_open_grow_or_flip() -> None:
    engine = _engine()
    assert _code(_market, engine, "SELL", "0.1", reduce_only=True) == -2022
    _market(engine, "BUY", "0.1")
    assert _code(_market, engine, "BUY", "0.1", reduce_only=True) == -2022
    assert _code(_market, engine, "SELL", "0.2", reduce_only=True) == -2022
    # reduce-only is exempt from the minimum notional (0.001 * 30000 = 30 < 100)
    _market(engine, "SELL", "0.001", reduce_only=True)
    assert engine.positions[BTC].amount == D("0.099")


def test_resting_reduce_only_order_expires_once_the_position_is_gone() -> None:
    engine = _engine()
    _market(engine, "BUY", "0.1")
    take = engine.place(
        symbol=BTC,
        side="SELL",
        type="LIMIT",
        quantity=D("0.1"),
        price=D(31000),
        client_order_id="tp",
        time_in_force="GTC",
        reduce_only=True,
    )
    _market(engine, "SELL", "0.1", reduce_only=True)
    engine.set_price(BTC, D(31000))
    assert (take.status, take.executed_qty) == ("EXPIRED", D(0))


def test_filters_use_the_futures_codes() -> None:
    engine = _engine()

    def limit(qty: str, price: str) -> object:
        return engine.place(
            symbol=BTC,
            side="BUY",
            type="LIMIT",
            quantity=D(qty),
            price=D(price),
            client_order_id=None,
            time_in_force="GTC",
        )

    assert _code(limit, "0.01", "29000.05") == -4014
    assert _code(limit, "0.01", "29000.001") == -1111
    assert _code(limit, "0.0105", "29000") == -1111
    assert _code(limit, "0.0001", "29000") == -1111
    assert _code(limit, "1001", "29000") == -4005
    assert _code(limit, "0.003", "29000") == -4164
    assert _code(_market, engine, "BUY", "121") == -4005  # MARKET_LOT_SIZE
    assert _code(_market, engine, "BUY", "0.1", type="STOP_MARKET") == -4120
    assert engine.orders == {}


def test_settings_changes_follow_binance() -> None:
    engine = _engine()
    assert _code(engine.set_leverage, BTC, 0) == -4028
    assert _code(engine.set_leverage, BTC, 126) == -4028
    assert _code(engine.set_margin_type, BTC, "CROSSED") == -4046
    _market(engine, "BUY", "0.1")
    assert _code(engine.set_margin_type, BTC, "ISOLATED") == -4048


def test_algo_orders_trigger_in_binance_s_direction_and_never_at_once() -> None:
    engine = _engine()
    market = engine.market(BTC)

    def algo(order_type: str, side: str, trigger: int) -> object:
        return engine.algo.place(
            market,
            side=side,
            order_type=order_type,
            quantity=D("0.01"),
            price=None,
            trigger_price=D(trigger),
            client_algo_id=None,
        )

    assert _code(algo, "STOP_MARKET", "SELL", 31000) == -2021
    assert _code(algo, "TAKE_PROFIT_MARKET", "SELL", 29000) == -2021
    buy_stop = algo("STOP_MARKET", "BUY", 31000)
    sell_take = algo("TAKE_PROFIT_MARKET", "SELL", 32000)
    engine.set_price(BTC, D(31500))
    assert [a.status for a in engine.algo.orders.values()] == ["FINISHED", "NEW"]
    assert engine.positions[BTC].amount == D("0.01")
    engine.set_price(BTC, D(32000))
    assert (buy_stop, sell_take) == tuple(engine.algo.orders.values())
    assert engine.positions[BTC].amount == D(0)


def test_triggered_reduce_only_algo_without_a_position_expires() -> None:
    engine = _engine()
    stop = engine.algo.place(
        engine.market(BTC),
        side="SELL",
        order_type="STOP_MARKET",
        quantity=None,
        price=None,
        trigger_price=D(29000),
        client_algo_id="sl",
        close_position=True,
    )
    engine.set_price(BTC, D(28000))
    assert (stop.status, engine.orders) == ("EXPIRED", {})
