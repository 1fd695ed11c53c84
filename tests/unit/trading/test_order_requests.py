"""An order request names where it came from; a name the database cannot hold is refused
when the request is built, before any check or fill."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderType, Side
from tradedeck.trading.requests import MAX_SOURCE_LENGTH, OrderRequest


def request(source: str) -> OrderRequest:
    return OrderRequest("ETH/BTC", Side.BUY, OrderType.MARKET, Decimal("0.1"), source=source)


def test_a_strategy_source_fits() -> None:
    assert request("strategy:bollinger_breakout").source == "strategy:bollinger_breakout"
    assert len(request("s" * MAX_SOURCE_LENGTH).source) == 64


@pytest.mark.parametrize("source", ["", "s" * 65, "strategy:" + "x" * 60])
def test_an_empty_or_too_long_source_is_a_clear_error(source: str) -> None:
    with pytest.raises(InvalidInput, match="source must have 1 to 64 characters") as caught:
        request(source)
    assert caught.value.code == "invalid_source"
    assert caught.value.detail.endswith(f"got {len(source)}")
