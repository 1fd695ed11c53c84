"""Parsing ``/alert`` expressions and the crossing rule, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradedeck.alerts.rules import AlertSpec, Op, crossing_price, parse_expression, parse_price
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput


def candle(close: str, low: str | None = None, high: str | None = None) -> Candle:
    price = Decimal(close)
    return Candle(
        "ETH/BTC",
        "5m",
        datetime(2026, 3, 1, tzinfo=UTC),
        price,
        Decimal(high) if high else price,
        Decimal(low) if low else price,
        price,
        Decimal(1),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ETH/BTC > 0.09", AlertSpec("ETH/BTC", Op.ABOVE, Decimal("0.09"))),
        ("eth/btc>=0.09", AlertSpec("ETH/BTC", Op.AT_OR_ABOVE, Decimal("0.09"))),
        ("  LTC/BTC <  .012 ", AlertSpec("LTC/BTC", Op.BELOW, Decimal("0.012"))),
        ("ADA/BTC <= 0.00001", AlertSpec("ADA/BTC", Op.AT_OR_BELOW, Decimal("0.00001"))),
        ("BTC/USDT > 30000", AlertSpec("BTC/USDT", Op.ABOVE, Decimal(30000))),
    ],
)
def test_expressions_parse(text: str, expected: AlertSpec) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid_alert"),
        ("ETH/BTC 0.09", "invalid_alert"),
        ("ETH/BTC = 0.09", "invalid_alert"),
        ("ETH/BTC >> 0.09", "invalid_alert"),
        ("ETH/BTC >>0.09", "invalid_price"),
        ("ETH/BTC > -0.09", "invalid_price"),
        ("ETH/BTC > 0", "invalid_price"),
        ("ETH/BTC > 1e3", "invalid_price"),
        ("ETH/BTC > NaN", "invalid_price"),
        ("ETH/BTC > 0.09abc", "invalid_price"),
        ("ETHBTC > 0.09", "invalid_symbol"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_expression(text)
    assert refused.value.code == code
    assert refused.value.detail


def test_a_price_is_written_in_digits() -> None:
    assert parse_price("0.0900") == Decimal("0.09")
    with pytest.raises(InvalidInput):
        parse_price("1" * 41)


@pytest.mark.parametrize(
    ("op", "close", "fires"),
    [
        (Op.ABOVE, "0.0901", True),
        (Op.ABOVE, "0.09", False),
        (Op.AT_OR_ABOVE, "0.09", True),
        (Op.AT_OR_ABOVE, "0.0899", False),
        (Op.BELOW, "0.0899", True),
        (Op.BELOW, "0.09", False),
        (Op.AT_OR_BELOW, "0.09", True),
        (Op.AT_OR_BELOW, "0.0901", False),
    ],
)
def test_the_close_meets_the_level(op: Op, close: str, fires: bool) -> None:
    spec = AlertSpec("ETH/BTC", op, Decimal("0.09"))
    assert crossing_price(spec, candle(close)) == (Decimal(close) if fires else None)


def test_a_wick_through_the_level_crosses_it_at_the_extreme() -> None:
    above = AlertSpec("ETH/BTC", Op.ABOVE, Decimal("0.09"))
    below = AlertSpec("ETH/BTC", Op.BELOW, Decimal("0.08"))
    wick = candle("0.085", low="0.0795", high="0.0905")
    assert crossing_price(above, wick) == Decimal("0.0905")
    assert crossing_price(below, wick) == Decimal("0.0795")
    assert crossing_price(above, candle("0.085", low="0.084", high="0.089")) is None
