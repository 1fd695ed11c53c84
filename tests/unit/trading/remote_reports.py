"""Orders and trades as the exchange reports them, with defaults a reconciliation test
changes one field at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.models import RemoteOrder, RemoteTrade

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
NOW = T0 + timedelta(hours=2)
ID = "1f3a9c0e5b7d4e2a8c6b0d9f1e3a5c7b"
OTHER_ID = "2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f"
D = Decimal


def trade(trade_id: str, amount: str, price: str, fee: str = "0", **changes: Any) -> RemoteTrade:
    values: dict[str, Any] = {
        "trade_id": trade_id,
        "exchange_order_id": "900",
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "amount": D(amount),
        "price": D(price),
        "fee": D(fee),
        "fee_currency": "USDT",
        "timestamp": T0 + timedelta(minutes=int(trade_id)),
    }
    values.update(changes)
    return RemoteTrade(**values)


def remote(**changes: Any) -> RemoteOrder:
    values: dict[str, Any] = {
        "exchange_order_id": "900",
        "client_order_id": ID,
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "status": OrderStatus.OPEN,
        "amount": D("0.5"),
        "filled": D(0),
        "average_price": None,
        "price": D(30000),
        "stop_price": None,
        "fee": D(0),
        "fee_currency": "USDT",
        "updated_at": LATER,
    }
    values.update(changes)
    return RemoteOrder(**values)
