"""What the emulator's engines announce as an account changes (what the streams push)."""

from __future__ import annotations

from decimal import Decimal

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.events import (
    AccountChanged,
    BalancesChanged,
    FuturesEvent,
    FuturesOrderChanged,
    SpotEvent,
    SpotOrderChanged,
)
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import FuturesMarket
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, OcoLeg
from tradedeck.exchanges.emulator.spot_oco import place_oco

D = Decimal


def _spot_heard(engine: SpotEngine) -> list[tuple[object, ...]]:
    """What the engine announces, read at once (the order moves on with the next fill)."""
    heard: list[tuple[object, ...]] = []

    def observe(event: SpotEvent) -> None:
        if isinstance(event, SpotOrderChanged):
            trade = event.trade.qty if event.trade else None
            heard.append((event.order.client_order_id, event.execution, event.order.status, trade))
        elif isinstance(event, BalancesChanged):
            heard.append(("balances", *event.assets))
        else:
            heard.append(("deposit", event.asset, event.amount))

    engine.observer = observe
    return heard


def _spot() -> SpotEngine:
    engine = SpotEngine([EmulatorMarket(base="BTC", quote="USDT", price=D(30000))], lambda: 1)
    engine.deposit("USDT", D(10000))
    engine.deposit("BTC", D(1))
    return engine


def _limit_buy(engine: SpotEngine, client_order_id: str) -> None:
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=D("0.1"),
        price=D(29000),
        client_order_id=client_order_id,
        time_in_force="GTC",
    )


def test_a_spot_order_announces_acceptance_each_fill_and_the_funds() -> None:
    engine = _spot()
    heard = _spot_heard(engine)
    engine.fill_next_in_steps(2)
    _limit_buy(engine, "b1")
    engine.set_price("BTCUSDT", D(28900))
    engine.set_price("BTCUSDT", D(28800))
    assert heard == [
        ("balances", "USDT"),
        ("b1", "NEW", "NEW", None),
        ("b1", "TRADE", "PARTIALLY_FILLED", D("0.05")),
        ("balances", "BTC", "USDT"),
        ("b1", "TRADE", "FILLED", D("0.05")),
        ("balances", "BTC", "USDT"),
    ]


def test_a_spot_cancel_announces_itself_and_the_released_funds() -> None:
    engine = _spot()
    _limit_buy(engine, "c1")
    heard = _spot_heard(engine)
    engine.cancel("BTCUSDT", None, "c1")
    assert heard == [("c1", "CANCELED", "CANCELED", None), ("balances", "USDT")]


def test_an_oco_announces_both_legs_and_the_expiry_of_the_other() -> None:
    engine = _spot()
    heard = _spot_heard(engine)
    place_oco(
        engine,
        symbol="BTCUSDT",
        side="SELL",
        quantity=D("0.5"),
        above=OcoLeg(type="LIMIT_MAKER", price=D(33000), client_order_id="tp"),
        below=OcoLeg(type="STOP_LOSS", stop_price=D(28000), client_order_id="sl"),
        list_client_order_id=None,
    )
    engine.set_price("BTCUSDT", D(33000))
    assert heard == [
        ("balances", "BTC"),
        ("sl", "NEW", "NEW", None),
        ("tp", "NEW", "NEW", None),
        ("sl", "EXPIRED", "EXPIRED", None),
        ("tp", "TRADE", "FILLED", D("0.5")),
        ("balances", "BTC", "USDT"),
    ]


def test_a_spot_deposit_is_announced() -> None:
    engine = _spot()
    heard = _spot_heard(engine)
    engine.deposit("ETH", D(2))
    assert heard == [("deposit", "ETH", D(2))]


def _futures_heard(engine: FuturesEngine) -> list[tuple[object, ...]]:
    heard: list[tuple[object, ...]] = []

    def observe(event: FuturesEvent) -> None:
        if isinstance(event, FuturesOrderChanged):
            trade = event.trade.qty if event.trade else None
            heard.append((event.order.client_order_id, event.execution, event.order.status, trade))
        elif isinstance(event, AccountChanged):
            heard.append(("account", event.reason, event.symbol, event.balance_change))
        else:
            heard.append(("algo", event.algo.client_algo_id, event.algo.status))

    engine.observer = engine.algo.observer = observe
    return heard


def _futures() -> FuturesEngine:
    engine = FuturesEngine([FuturesMarket(base="BTC", price=D(30000))], clock=lambda: 1)
    engine.deposit(D(10000))
    return engine


def test_a_futures_fill_announces_the_order_then_the_account() -> None:
    engine = _futures()
    heard = _futures_heard(engine)
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.1"),
        price=None,
        client_order_id="f1",
    )
    engine.deposit(D(5))
    assert heard == [
        ("f1", "NEW", "NEW", None),
        ("f1", "TRADE", "FILLED", D("0.1")),
        ("account", "ORDER", "BTCUSDT", D(0)),
        ("account", "DEPOSIT", None, D(5)),
    ]


def test_a_reduce_only_order_reports_its_fill_before_it_expires() -> None:
    engine = _futures()
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.1"),
        price=None,
        client_order_id="long",
    )
    engine.place(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        quantity=D("0.1"),
        price=D(31000),
        client_order_id="exit",
        time_in_force="GTC",
        reduce_only=True,
    )
    engine.place(
        symbol="BTCUSDT",
        side="SELL",
        type="MARKET",
        quantity=D("0.05"),
        price=None,
        client_order_id="half",
    )
    heard = _futures_heard(engine)
    # the exit closes the 0.05 left, then has nothing to reduce
    engine.set_price("BTCUSDT", D(31000))
    assert heard == [
        ("exit", "TRADE", "PARTIALLY_FILLED", D("0.05")),
        ("account", "ORDER", "BTCUSDT", D(0)),
        ("exit", "EXPIRED", "EXPIRED", None),
    ]


def test_an_algo_order_announces_placement_trigger_and_end() -> None:
    engine = _futures()
    engine.place(
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity=D("0.1"),
        price=None,
        client_order_id="long",
    )
    heard = _futures_heard(engine)
    market = engine.markets["BTCUSDT"]
    engine.algo.place(
        market,
        side="SELL",
        order_type="STOP",
        quantity=D("0.1"),
        price=D(29500),
        trigger_price=D(29000),
        client_algo_id="sl",
        reduce_only=True,
    )
    engine.set_price("BTCUSDT", D(29000))  # triggers: its limit sell rests at 29500
    engine.set_price("BTCUSDT", D(29500))  # and fills
    assert heard == [
        ("algo", "sl", "NEW"),
        ("sl", "NEW", "NEW", None),
        ("algo", "sl", "TRIGGERED"),
        ("algo", "sl", "FINISHED"),
        ("sl", "TRADE", "FILLED", D("0.1")),
        ("account", "ORDER", "BTCUSDT", D(0)),
    ]
