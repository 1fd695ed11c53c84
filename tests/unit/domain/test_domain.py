from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradedeck.domain.errors import Conflict, InvalidInput, PermissionDenied
from tradedeck.domain.markets import Market, parse_symbol
from tradedeck.domain.money import fmt, quantize_down, to_decimal
from tradedeck.domain.orders import Order, OrderStatus, OrderType, Side
from tradedeck.domain.positions import Position
from tradedeck.domain.roles import Actor, Permission, Role

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ETH = Market(
    "ETH/BTC",
    "ETH",
    "BTC",
    Decimal("0.000001"),
    Decimal("0.001"),
    Decimal("0.001"),
    Decimal("0.0001"),
)


def test_symbols_are_normalised_or_refused() -> None:
    assert parse_symbol("eth/btc") == ("ETH", "BTC")
    for bad in ("ETHBTC", "ETH/", "/BTC", "ETH/BTC/X", "ET H/BTC"):
        with pytest.raises(InvalidInput) as info:
            parse_symbol(bad)
        assert info.value.code == "invalid_symbol"


def test_market_rules() -> None:
    ETH.check_amount(Decimal("0.001"))
    with pytest.raises(InvalidInput, match="step"):
        ETH.check_amount(Decimal("0.0015"))
    with pytest.raises(InvalidInput) as info:
        ETH.check_notional(Decimal("0.001"), Decimal("0.05"))
    assert info.value.code == "below_min_notional"
    with pytest.raises(InvalidInput):
        ETH.check_price(Decimal("-1"))


def test_money_helpers() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert quantize_down(Decimal("1.23456"), Decimal("0.01")) == Decimal("1.23")
    assert fmt(Decimal("100.500")) == "100.5" and fmt(Decimal("1E+2")) == "100"
    for bad in ("nan", "inf", "abc", True):
        with pytest.raises(InvalidInput):
            to_decimal(bad)


def test_terminal_orders_never_move_again() -> None:
    order = Order("1", "ETH/BTC", Side.BUY, OrderType.LIMIT, Decimal(1), NOW, NOW, Decimal("0.05"))
    order.transition(OrderStatus.OPEN, NOW)
    order.record_fill(Decimal("0.4"), Decimal("0.05"), Decimal("0.00002"), NOW)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    order.record_fill(Decimal("0.6"), Decimal("0.04"), Decimal("0.00002"), NOW)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == Decimal("0.044")
    with pytest.raises(Conflict):
        order.transition(OrderStatus.CANCELED, NOW)


def test_position_realizes_pnl_net_of_fees() -> None:
    p = Position("ETH/BTC")
    p.apply_fill(Side.BUY, Decimal(2), Decimal(10), Decimal("0.02"), NOW)
    assert p.average_entry == Decimal("10.01")
    realized = p.apply_fill(Side.SELL, Decimal(1), Decimal(12), Decimal("0.012"), NOW)
    assert realized == Decimal("12") - Decimal("10.01") - Decimal("0.012")
    p.apply_fill(Side.SELL, Decimal(3), Decimal(12), Decimal("0.036"), NOW)
    assert p.amount == 0 and not p.is_open


def test_roles() -> None:
    viewer = Actor("v", Role.VIEWER, "api")
    trader = Actor("t", Role.TRADER, "api")
    with pytest.raises(PermissionDenied):
        viewer.require(Permission.TRADE)
    trader.require(Permission.KILL_ACTIVATE)
    assert not trader.can(Permission.KILL_RESUME)
    assert Actor("a", Role.ADMIN, "api").can(Permission.MANAGE_USERS)
