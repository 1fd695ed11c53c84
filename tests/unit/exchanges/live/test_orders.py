"""The exact ccxt calls for an order and for the legs protecting a position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.domain.orders import OrderType, Side
from tradedeck.exchanges.ccxt_live.models import LiveMarket, MarketKind, PlaceOrder
from tradedeck.exchanges.ccxt_live.orders import (
    create_order,
    oco_request,
    protection_legs,
    stop_limit_price,
)
from tradedeck.exchanges.ccxt_live.rules import TICK_SIZE, live_market


def market(kind: MarketKind) -> LiveMarket:
    perpetual = kind is MarketKind.PERPETUAL
    return live_market(
        {
            "id": "BTCUSDT",
            "symbol": "BTC/USDT:USDT" if perpetual else "BTC/USDT",
            "base": "BTC",
            "quote": "USDT",
            "spot": not perpetual,
            "swap": perpetual,
            "linear": perpetual or None,
            "precision": {"amount": 0.001, "price": 0.1},
            "limits": {"cost": {"min": 5.0}},
        },
        TICK_SIZE,
        kind,
    )


SPOT = market(MarketKind.SPOT)
PERP = market(MarketKind.PERPETUAL)


def test_limit_order_sends_strings_and_the_client_id() -> None:
    call = create_order(
        PlaceOrder(
            "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.010"), "td-1", Decimal("29000.0")
        ),
        SPOT,
    )
    assert (call.symbol, call.type, call.side, call.amount, call.price) == (
        "BTC/USDT",
        "limit",
        "buy",
        "0.01",
        "29000",
    )
    assert call.params == {"clientOrderId": "td-1"}


def test_stops_and_take_profits_use_ccxt_unified_trigger_params() -> None:
    stop = PlaceOrder(
        "BTC/USDT",
        Side.SELL,
        OrderType.STOP_LIMIT,
        Decimal("1"),
        "td-2",
        price=Decimal("27900"),
        stop_price=Decimal("28000"),
    )
    call = create_order(stop, SPOT)
    assert (call.type, call.price, call.params) == (
        "limit",
        "27900",
        {"clientOrderId": "td-2", "triggerPrice": "28000"},
    )
    take = PlaceOrder(
        "BTC/USDT",
        Side.SELL,
        OrderType.STOP_MARKET,
        Decimal("1"),
        "td-3",
        stop_price=Decimal("33000"),
        reduce_only=True,
        take_profit=True,
    )
    call = create_order(take, PERP)
    assert (call.symbol, call.type, call.price) == ("BTC/USDT:USDT", "market", None)
    assert call.params == {
        "clientOrderId": "td-3",
        "takeProfitPrice": "33000",
        "reduceOnly": True,
    }


@pytest.mark.parametrize(
    ("side", "stop", "limit"),
    [(Side.SELL, "28000", "27860"), (Side.BUY, "28000.3", "28140.4")],
)
def test_stop_limit_sits_half_a_percent_through_the_stop(side: Side, stop: str, limit: str) -> None:
    assert stop_limit_price(SPOT, Decimal(stop), side) == Decimal(limit)


def test_spot_protection_is_an_oco_of_a_stop_limit_and_a_limit_maker() -> None:
    stop, target = protection_legs(
        SPOT, Decimal("0.5"), Decimal("28000"), Decimal("33000"), "td-9", Side.SELL
    )
    assert (stop.type, stop.client_order_id, stop.price) == (
        OrderType.STOP_LIMIT,
        "td-9-sl",
        Decimal("27860"),
    )
    assert (target.type, target.client_order_id, target.price) == (
        OrderType.LIMIT,
        "td-9-tp",
        Decimal("33000"),
    )
    assert oco_request(SPOT, stop, target, "td-9") == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.5",
        "listClientOrderId": "td-9",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "33000",
        "aboveClientOrderId": "td-9-tp",
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": "28000",
        "belowPrice": "27860",
        "belowTimeInForce": "GTC",
        "belowClientOrderId": "td-9-sl",
        "newOrderRespType": "FULL",
    }


def test_perpetual_protection_is_reduce_only_stop_and_take_profit_markets() -> None:
    stop, target = protection_legs(
        PERP, Decimal("0.5"), Decimal("31000"), Decimal("27000"), "td-8", Side.BUY
    )
    assert (stop.type, stop.stop_price, stop.reduce_only, stop.take_profit) == (
        OrderType.STOP_MARKET,
        Decimal("31000"),
        True,
        False,
    )
    assert (target.type, target.stop_price, target.reduce_only, target.take_profit) == (
        OrderType.STOP_MARKET,
        Decimal("27000"),
        True,
        True,
    )
    assert create_order(target, PERP).params["takeProfitPrice"] == "27000"
