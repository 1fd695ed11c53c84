"""Orders and fills, and the only legal moves of an order's lifecycle.

new → open → partially_filled → filled | canceled | rejected | expired. An order that
reached a terminal state never moves again; the transition table makes that a rule
instead of a habit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradedeck.domain.errors import Conflict
from tradedeck.domain.money import ZERO


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"

    @property
    def needs_price(self) -> bool:
        return self in PRICED_TYPES

    @property
    def needs_stop(self) -> bool:
        return self in STOP_TYPES


# Tuples, not sets: ``in`` tries identity first, and an enum's hash runs Python code. The
# matching engine tests these directly on every order instead of through the properties.
PRICED_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


class OrderStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.REJECTED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.REJECTED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
}


_NO_TRANSITIONS: frozenset[OrderStatus] = frozenset()


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in _TRANSITIONS.get(current, _NO_TRANSITIONS)


class OrderRole(StrEnum):
    """Why an order exists: a trader's entry, or a protective leg attached to one."""

    ENTRY = "entry"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(slots=True)
class Order:
    id: str
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    created_at: datetime
    updated_at: datetime
    price: Decimal | None = None
    stop_price: Decimal | None = None
    client_order_id: str | None = None
    user_id: int | None = None
    status: OrderStatus = OrderStatus.NEW
    status_reason: str | None = None
    filled: Decimal = ZERO
    average_price: Decimal | None = None
    fee: Decimal = ZERO
    fee_currency: str | None = None
    # Funds held for this order (quote for buys, base for sells), released as it fills or ends.
    reserved: Decimal = ZERO
    triggered: bool = False
    role: OrderRole = OrderRole.ENTRY
    parent_id: str | None = None
    # Protective legs of one entry share a group: one fill cancels (or shrinks) the other.
    oco_group: str | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    source: str = "api"

    def __init__(
        self,
        id: str,
        symbol: str,
        side: Side,
        type: OrderType,
        amount: Decimal,
        created_at: datetime,
        updated_at: datetime,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        client_order_id: str | None = None,
        user_id: int | None = None,
        status: OrderStatus = OrderStatus.NEW,
        status_reason: str | None = None,
        filled: Decimal = ZERO,
        average_price: Decimal | None = None,
        fee: Decimal = ZERO,
        fee_currency: str | None = None,
        reserved: Decimal = ZERO,
        triggered: bool = False,
        role: OrderRole = OrderRole.ENTRY,
        parent_id: str | None = None,
        oco_group: str | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        source: str = "api",
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.id = id
        self.symbol = symbol
        self.side = side
        self.type = type
        self.amount = amount
        self.created_at = created_at
        self.updated_at = updated_at
        self.price = price
        self.stop_price = stop_price
        self.client_order_id = client_order_id
        self.user_id = user_id
        self.status = status
        self.status_reason = status_reason
        self.filled = filled
        self.average_price = average_price
        self.fee = fee
        self.fee_currency = fee_currency
        self.reserved = reserved
        self.triggered = triggered
        self.role = role
        self.parent_id = parent_id
        self.oco_group = oco_group
        self.stop_loss = stop_loss
        self.take_profit = take_profit
        self.source = source

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    def copy(self) -> Order:
        """A field-by-field copy (also what ``copy.copy`` uses): the generic copy of a
        slotted dataclass goes through ``__reduce_ex__`` and costs ten times as much, and
        the engine copies an order every time it hands one out or records one for undo."""
        return Order(
            self.id,
            self.symbol,
            self.side,
            self.type,
            self.amount,
            self.created_at,
            self.updated_at,
            self.price,
            self.stop_price,
            self.client_order_id,
            self.user_id,
            self.status,
            self.status_reason,
            self.filled,
            self.average_price,
            self.fee,
            self.fee_currency,
            self.reserved,
            self.triggered,
            self.role,
            self.parent_id,
            self.oco_group,
            self.stop_loss,
            self.take_profit,
            self.source,
        )

    def __copy__(self) -> Order:
        return self.copy()

    def transition(self, new: OrderStatus, at: datetime, reason: str | None = None) -> None:
        if new not in _TRANSITIONS.get(self.status, _NO_TRANSITIONS):  # can_transition, inlined
            raise Conflict(
                "invalid_transition",
                f"order {self.id} is {self.status.value} and cannot become {new.value}",
            )
        self.status = new
        self.updated_at = at
        if reason is not None:
            self.status_reason = reason

    def record_fill(self, amount: Decimal, price: Decimal, fee: Decimal, at: datetime) -> None:
        """Accumulate a fill into filled amount, volume-weighted price and fees."""
        total_cost = (self.average_price or ZERO) * self.filled + price * amount
        self.filled += amount
        self.average_price = total_cost / self.filled
        self.fee += fee
        status = OrderStatus.FILLED if self.filled >= self.amount else OrderStatus.PARTIALLY_FILLED
        self.transition(status, at)


@dataclass(slots=True)
class Fill:
    """One execution of an order. Read-only by convention, not frozen: a frozen
    dataclass sets every field through ``object.__setattr__`` (five times the cost), and
    every trade makes one."""

    id: str
    order_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime
    user_id: int | None = None
    realized_pnl: Decimal = ZERO
    liquidity: str = "taker"
    extra: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        id: str,
        order_id: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_currency: str,
        timestamp: datetime,
        user_id: int | None = None,
        realized_pnl: Decimal = ZERO,
        liquidity: str = "taker",
        extra: dict[str, str] | None = None,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.id = id
        self.order_id = order_id
        self.symbol = symbol
        self.side = side
        self.amount = amount
        self.price = price
        self.fee = fee
        self.fee_currency = fee_currency
        self.timestamp = timestamp
        self.user_id = user_id
        self.realized_pnl = realized_pnl
        self.liquidity = liquidity
        self.extra = {} if extra is None else extra

    @property
    def cost(self) -> Decimal:
        return self.amount * self.price

    def with_realized_pnl(self, realized_pnl: Decimal) -> Fill:
        """This fill stamped with the PnL it realized (the order manager knows it, the
        exchange does not); cheaper than ``dataclasses.replace`` on the trading path."""
        return Fill(
            self.id,
            self.order_id,
            self.symbol,
            self.side,
            self.amount,
            self.price,
            self.fee,
            self.fee_currency,
            self.timestamp,
            self.user_id,
            realized_pnl,
            self.liquidity,
            self.extra,
        )
