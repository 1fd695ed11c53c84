"""ccxt's unified dicts → tradedeck's models: statuses, order kinds, exact numbers, UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.convert import (
    balances,
    candle,
    futures_position,
    ms_from_utc,
    order_status,
    order_type,
    remote_order,
    utc_from_ms,
)
from tradedeck.exchanges.ccxt_live.models import MarginMode

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
MS = 1_700_000_000_123


def ccxt_order(**fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "42",
        "clientOrderId": "td-42",
        "symbol": "BTC/USDT",
        "type": "limit",
        "side": "buy",
        "status": "open",
        "price": 29000.0,
        "amount": 0.1,
        "filled": 0.0,
        "average": None,
        "triggerPrice": None,
        "takeProfitPrice": None,
        "reduceOnly": None,
        "timestamp": MS,
        "lastUpdateTimestamp": MS + 1000,
        "fee": None,
        "fees": [],
        "trades": [],
        "info": {"type": "LIMIT"},
    }
    order.update(fields)
    return order


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("open", 0.0, OrderStatus.OPEN),
        ("open", 0.05, OrderStatus.PARTIALLY_FILLED),
        ("closed", 0.1, OrderStatus.FILLED),
        ("canceled", 0.0, OrderStatus.CANCELED),
        ("cancelled", 0.0, OrderStatus.CANCELED),
        ("rejected", 0.0, OrderStatus.REJECTED),
        ("expired", 0.0, OrderStatus.EXPIRED),
    ],
)
def test_status_mapping(status: str, filled: float, expected: OrderStatus) -> None:
    assert order_status(ccxt_order(status=status, filled=filled)) is expected


@pytest.mark.parametrize(
    ("unified", "native", "trigger", "take_profit_price", "expected"),
    [
        ("market", "MARKET", None, None, (OrderType.MARKET, False)),
        ("limit", "LIMIT", None, None, (OrderType.LIMIT, False)),
        ("limit", "LIMIT_MAKER", None, None, (OrderType.LIMIT, False)),
        # binance spot: ccxt folds STOP_LOSS_LIMIT into "limit" with a trigger price
        ("limit", "STOP_LOSS_LIMIT", 28000.0, None, (OrderType.STOP_LIMIT, False)),
        ("market", "STOP_LOSS", 28000.0, None, (OrderType.STOP_MARKET, False)),
        ("limit", "TAKE_PROFIT_LIMIT", 33000.0, 33000.0, (OrderType.STOP_LIMIT, True)),
        # binance futures
        ("market", "STOP_MARKET", 28000.0, None, (OrderType.STOP_MARKET, False)),
        ("market", "TAKE_PROFIT_MARKET", 33000.0, 33000.0, (OrderType.STOP_MARKET, True)),
        ("limit", "STOP", 28000.0, None, (OrderType.STOP_LIMIT, False)),
        # other exchanges name the kind in the unified type
        ("stop_market", "", 28000.0, None, (OrderType.STOP_MARKET, False)),
        ("stop_limit", "", 28000.0, None, (OrderType.STOP_LIMIT, False)),
    ],
)
def test_type_mapping(
    unified: str,
    native: str,
    trigger: float | None,
    take_profit_price: float | None,
    expected: tuple[OrderType, bool],
) -> None:
    raw = ccxt_order(
        type=unified,
        info={"type": native},
        triggerPrice=trigger,
        takeProfitPrice=take_profit_price,
    )
    assert order_type(raw) == expected


def test_remote_order_is_exact_and_utc() -> None:
    remote = remote_order(
        ccxt_order(
            status="closed",
            filled=0.1,
            average=29000.1,
            trades=[
                {
                    "id": "7",
                    "order": None,
                    "side": None,
                    "amount": 0.1,
                    "price": 29000.1,
                    "fee": {"cost": 0.0001, "currency": "BTC"},
                    "timestamp": None,
                    "takerOrMaker": None,
                }
            ],
        ),
        "BTC/USDT",
        NOW,
    )
    assert remote.status is OrderStatus.FILLED
    assert remote.amount == Decimal("0.1") and remote.filled == Decimal("0.1")
    assert remote.average_price == Decimal("29000.1") and remote.price == Decimal("29000")
    assert remote.updated_at == datetime(2023, 11, 14, 22, 13, 21, 123000, tzinfo=UTC)
    (trade,) = remote.trades
    assert (trade.trade_id, trade.exchange_order_id, trade.side) == ("7", "42", Side.BUY)
    assert (trade.fee, trade.fee_currency, trade.liquidity) == (Decimal("0.0001"), "BTC", "taker")
    assert trade.timestamp == utc_from_ms(MS)
    assert (remote.fee, remote.fee_currency) == (Decimal("0.0001"), "BTC")


def test_market_order_has_no_price_even_when_ccxt_says_zero() -> None:
    remote = remote_order(ccxt_order(type="market", price=0.0, info={"type": "MARKET"}), "X/Y", NOW)
    assert remote.type is OrderType.MARKET and remote.price is None


def test_milliseconds_round_trip_exactly() -> None:
    at = utc_from_ms(MS)
    assert at is not None and at.tzinfo is UTC
    assert ms_from_utc(at) == MS


def test_positions_are_signed_and_flat_ones_dropped() -> None:
    short = futures_position(
        {
            "contracts": 0.5,
            "side": "short",
            "entryPrice": 30000.0,
            "markPrice": 29500.0,
            "liquidationPrice": 35000.5,
            "unrealizedPnl": 250.0,
            "leverage": 5,
            "marginMode": "isolated",
        },
        "BTC/USDT",
    )
    assert short is not None
    assert short.contracts == Decimal("-0.5") and short.side is Side.SELL
    assert short.liquidation_price == Decimal("35000.5")
    assert (short.leverage, short.margin_mode) == (5, MarginMode.ISOLATED)
    assert futures_position({"contracts": 0.0, "side": None}, "BTC/USDT") is None


def test_balances_drop_empty_assets() -> None:
    raw = {
        "free": {"BTC": 1.01, "USDT": 0.0, "ETH": 0.0},
        "used": {"BTC": 0.0, "USDT": 2900.0, "ETH": 0.0},
    }
    assert balances(raw) == {
        "BTC": (Decimal("1.01"), Decimal(0)),
        "USDT": (Decimal(0), Decimal("2900.0")),
    }


def test_candle_row() -> None:
    row = candle([MS, 1.1, 2.2, 0.9, 2.0, 10.5], "BTC/USDT", "1m")
    assert row.opened_at == utc_from_ms(MS)
    assert (row.open, row.high, row.low, row.close, row.volume) == (
        Decimal("1.1"),
        Decimal("2.2"),
        Decimal("0.9"),
        Decimal("2.0"),
        Decimal("10.5"),
    )
