"""What a face asks the order manager for: the same request from REST, bot, CLI or a signal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradedeck.domain.orders import OrderType, Side


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    client_order_id: str | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    source: str = "api"
