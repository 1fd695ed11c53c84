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


@dataclass(slots=True)
class OrderRequest:
    """Read-only by convention, not frozen: a frozen dataclass sets every field through
    ``object.__setattr__`` (five times the cost), and a backtest makes one per order."""

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

    def __init__(
        self,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        client_order_id: str | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        source: str = "api",
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.symbol = symbol
        self.side = side
        self.type = type
        self.amount = amount
        self.price = price
        self.stop_price = stop_price
        self.client_order_id = client_order_id
        self.stop_loss = stop_loss
        self.take_profit = take_profit
        self.source = source
        if not 0 < len(source) <= MAX_SOURCE_LENGTH:
            raise InvalidInput(
                "invalid_source",
                f"an order's source must have 1 to {MAX_SOURCE_LENGTH} characters, "
                f"got {len(self.source)}",
            )
