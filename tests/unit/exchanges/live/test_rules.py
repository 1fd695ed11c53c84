"""Market rules from ccxt's metadata in each precision mode, rounding, and local refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradedeck.domain.errors import InvalidInput, OrderRejected
from tradedeck.domain.orders import OrderType, Side
from tradedeck.exchanges.ccxt_live.models import LiveMarket, MarketKind, PlaceOrder
from tradedeck.exchanges.ccxt_live.rules import (
    DECIMAL_PLACES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    check_order,
    check_protection,
    live_market,
    round_amount,
    round_price,
    tradable,
)


def ccxt_market(precision: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A ccxt market dict as binance's loader builds it (floats, as ccxt gives them)."""
    market: dict[str, Any] = {
        "id": "BTCUSDT",
        "symbol": "BTC/USDT",
        "base": "BTC",
        "quote": "USDT",
        "spot": True,
        "swap": False,
        "linear": None,
        "active": True,
        "maker": 0.001,
        "taker": 0.001,
        "contractSize": None,
        "precision": precision,
        "limits": {
            "amount": {"min": 0.00001, "max": 9000.0},
            "price": {"min": 0.01, "max": 1000000.0},
            "cost": {"min": 5.0, "max": None},
        },
    }
    market.update(extra)
    return market


@pytest.fixture
def btc() -> LiveMarket:
    return live_market(ccxt_market({"amount": 0.00001, "price": 0.01}), TICK_SIZE, MarketKind.SPOT)


def order(**fields: Any) -> PlaceOrder:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "amount": Decimal("0.01"),
        "client_order_id": "td-1",
        "price": Decimal("29000"),
    }
    values.update(fields)
    return PlaceOrder(**values)


def test_tick_size_mode_keeps_the_tick_and_step_exactly(btc: LiveMarket) -> None:
    assert btc.market.symbol == "BTC/USDT"
    assert btc.exchange_symbol == "BTC/USDT" and btc.exchange_id == "BTCUSDT"
    assert btc.market.price_tick == Decimal("0.01")
    assert btc.market.amount_step == Decimal("0.00001")
    assert btc.market.min_amount == Decimal("0.00001")
    assert btc.market.min_notional == Decimal("5")
    assert (btc.min_price, btc.max_price, btc.max_amount) == (
        Decimal("0.01"),
        Decimal("1000000"),
        Decimal("9000"),
    )
    assert btc.maker_fee == btc.taker_fee == Decimal("0.001")
    assert btc.contract_size == 1
    assert (btc.price_digits, btc.amount_digits) == (None, None)


def test_decimal_places_mode_becomes_a_step() -> None:
    market = live_market(ccxt_market({"amount": 4, "price": 2}), DECIMAL_PLACES, MarketKind.SPOT)
    assert market.market.price_tick == Decimal("0.01")
    assert market.market.amount_step == Decimal("0.0001")
    assert round_amount(market, Decimal("0.123456")) == Decimal("0.1234")


def test_significant_digits_mode_rounds_each_value_to_its_digits() -> None:
    market = live_market(
        ccxt_market({"amount": 5, "price": 5}, limits={}), SIGNIFICANT_DIGITS, MarketKind.SPOT
    )
    assert market.market.price_tick == 0 and market.price_digits == 5
    assert round_price(market, Decimal("29123.46")) == Decimal("29123")
    assert round_price(market, Decimal("0.0123456"), Side.SELL) == Decimal("0.012346")
    assert round_amount(market, Decimal("1.2345678")) == Decimal("1.2345")
    with pytest.raises(InvalidInput) as refused:
        check_order(market, order(amount=Decimal("1.234567"), price=Decimal("29123")), None)
    assert refused.value.detail == (
        "amount 1.234567 has more significant digits than BTC/USDT allows (5)"
    )


def test_perpetual_is_keyed_like_spot_and_keeps_ccxt_symbol() -> None:
    raw = ccxt_market(
        {"amount": 0.001, "price": 0.1},
        symbol="BTC/USDT:USDT",
        spot=False,
        swap=True,
        linear=True,
        contractSize=1.0,
    )
    assert tradable(raw, MarketKind.PERPETUAL) and not tradable(raw, MarketKind.SPOT)
    market = live_market(raw, TICK_SIZE, MarketKind.PERPETUAL)
    assert market.market.symbol == "BTC/USDT"
    assert market.exchange_symbol == "BTC/USDT:USDT"
    assert market.kind is MarketKind.PERPETUAL


def test_inactive_markets_are_not_tradable() -> None:
    assert not tradable(ccxt_market({}, active=False), MarketKind.SPOT)


def test_amounts_round_down_and_prices_round_safely_for_the_side(btc: LiveMarket) -> None:
    assert round_amount(btc, Decimal("0.123456789")) == Decimal("0.12345")
    assert round_price(btc, Decimal("29000.004")) == Decimal("29000.00")
    assert round_price(btc, Decimal("29000.006")) == Decimal("29000.01")
    assert round_price(btc, Decimal("29000.006"), Side.BUY) == Decimal("29000.00")
    assert round_price(btc, Decimal("29000.001"), Side.SELL) == Decimal("29000.01")


def test_valid_order_passes(btc: LiveMarket) -> None:
    check_order(btc, order(), None)


@pytest.mark.parametrize(
    ("fields", "code", "detail"),
    [
        (
            {"amount": Decimal("0.000015")},
            "invalid_precision",
            "amount 0.000015 has more decimals than BTC/USDT allows (step 0.00001)",
        ),
        (
            {"price": Decimal("29000.005")},
            "invalid_precision",
            "price 29000.005 has more decimals than BTC/USDT allows (tick 0.01)",
        ),
        (
            {"amount": Decimal("9001")},
            "above_max_amount",
            "amount 9001 is above the maximum 9000 BTC for BTC/USDT",
        ),
        (
            {"price": Decimal("2000000")},
            "price_out_of_range",
            "price 2000000 is above the maximum 1000000 USDT for BTC/USDT",
        ),
        (
            {"type": OrderType.STOP_MARKET, "price": None},
            "missing_stop_price",
            "a stop_market order needs a stop price",
        ),
        (
            {"type": OrderType.LIMIT, "price": None},
            "missing_price",
            "a limit order needs a price",
        ),
        (
            {"client_order_id": "x" * 37},
            "invalid_client_order_id",
            f"client order id {'x' * 37!r} must be 1 to 36 letters, digits or . : / _ -",
        ),
    ],
)
def test_local_refusals_name_the_value_and_the_limit(
    btc: LiveMarket, fields: dict[str, Any], code: str, detail: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_order(btc, order(**fields), Decimal("30000"))
    assert (refused.value.code, refused.value.detail) == (code, detail)


def test_below_min_amount_is_refused() -> None:
    market = live_market(
        ccxt_market(
            {"amount": 0.00001, "price": 0.01},
            limits={"amount": {"min": 0.001}, "cost": {"min": 5.0}},
        ),
        TICK_SIZE,
        MarketKind.SPOT,
    )
    with pytest.raises(InvalidInput) as refused:
        check_order(market, order(amount=Decimal("0.0005")), None)
    assert refused.value.detail == "amount 0.0005 is below the minimum 0.001 BTC for BTC/USDT"


def test_below_min_notional_is_an_order_rejection_at_the_limit_price(btc: LiveMarket) -> None:
    with pytest.raises(OrderRejected) as refused:
        check_order(btc, order(amount=Decimal("0.0001")), None)
    assert refused.value.code == "below_min_notional"
    assert refused.value.detail == ("order value 2.9 USDT is below the minimum 5 USDT for BTC/USDT")


def test_market_order_value_is_taken_at_the_reference_price(btc: LiveMarket) -> None:
    small = order(type=OrderType.MARKET, price=None, amount=Decimal("0.0001"))
    with pytest.raises(OrderRejected, match="order value 3 USDT"):
        check_order(btc, small, Decimal("30000"))


def test_reduce_only_perpetual_close_is_exempt_from_min_notional() -> None:
    raw = ccxt_market({"amount": 0.001, "price": 0.1}, spot=False, swap=True, linear=True)
    perp = live_market(raw, TICK_SIZE, MarketKind.PERPETUAL)
    close = order(type=OrderType.MARKET, price=None, amount=Decimal("0.001"), reduce_only=True)
    check_order(perp, close, Decimal("3000"))
    with pytest.raises(OrderRejected):
        check_order(
            perp, order(type=OrderType.MARKET, price=None, amount=Decimal("0.001")), Decimal("3000")
        )


def test_a_stop_already_crossed_is_refused(btc: LiveMarket) -> None:
    stop = order(
        side=Side.SELL, type=OrderType.STOP_MARKET, price=None, stop_price=Decimal("31000")
    )
    with pytest.raises(InvalidInput) as refused:
        check_order(btc, stop, Decimal("30000"))
    assert refused.value.detail == (
        "a sell stop at 31000 would trigger at once: BTC/USDT trades at 30000; "
        "it must be below that"
    )
    take_profit = order(
        side=Side.SELL,
        type=OrderType.STOP_MARKET,
        price=None,
        stop_price=Decimal("31000"),
        take_profit=True,
    )
    check_order(btc, take_profit, Decimal("30000"))


def test_protection_levels_must_sit_on_the_right_sides(btc: LiveMarket) -> None:
    check_protection(btc, Side.SELL, Decimal("28000"), Decimal("33000"), Decimal("30000"))
    with pytest.raises(InvalidInput) as inverted:
        check_protection(btc, Side.SELL, Decimal("33000"), Decimal("28000"), None)
    assert inverted.value.detail == (
        "the stop loss 33000 must be below the take profit 28000 for a long on BTC/USDT"
    )
    with pytest.raises(InvalidInput) as crossed:
        check_protection(btc, Side.BUY, None, Decimal("31000"), Decimal("30000"))
    assert crossed.value.detail == (
        "the take profit 31000 would trigger at once: BTC/USDT trades at 30000; "
        "it must be below that"
    )
