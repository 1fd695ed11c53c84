"""What a face asks the order manager for: the same request from REST, bot, CLI or a signal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderType, Side

MAX_SOURCE_LENGTH: Final = 64
"""The width of ``orders.source``: checked here, so a long name is a clear error before
any risk check or fill instead of a database error after the exchange has filled."""


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

    def __post_init__(self) -> None:
        if not 0 < len(self.source) <= MAX_SOURCE_LENGTH:
            raise InvalidInput(
                "invalid_source",
                f"an order's source must have 1 to {MAX_SOURCE_LENGTH} characters, "
                f"got {len(self.source)}",
            )
