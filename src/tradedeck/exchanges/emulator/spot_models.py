"""The records the spot engine keeps: markets, orders, order lists, trades, balances."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)

# Orders that wait for the last price to cross ``stop_price`` before they work.
CONDITIONAL = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
# Orders that carry a limit ``price`` (once working, they fill at it).
PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
ORDER_TYPES = frozenset({"MARKET", "LIMIT", "LIMIT_MAKER"}) | CONDITIONAL


@dataclass(slots=True)
class EmulatorMarket:
    """One spot symbol: its assets, its filters and its last price."""

    base: str
    quote: str
    price: Decimal
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")

    @property
    def symbol(self) -> str:
        return self.base + self.quote


@dataclass(slots=True)
class Kline:
    """One candle as ``GET /api/v3/klines`` (and ``/fapi/v1/klines``) returns it."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int


@dataclass(slots=True)
class Trade:
    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    time: int
    maker: bool
    commission_asset: str
    order_list_id: int = -1


@dataclass(slots=True)
class EmulatorOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    price: Decimal
    orig_qty: Decimal
    time: int
    time_in_force: str | None
    steps: int = 1
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    locked: Decimal = ZERO
    fills: list[Trade] = field(default_factory=list)
    stop_price: Decimal = ZERO
    working: bool = True  # False while a conditional order waits for its stop price
    working_time: int = -1
    order_list_id: int = -1

    @property
    def open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def takes_market_price(self) -> bool:
        """A market order, or a triggered STOP_LOSS / TAKE_PROFIT (which then acts as one)."""
        return self.type not in PRICED


@dataclass(slots=True)
class OrderList:
    """An OCO pair: when one leg executes, the other expires."""

    order_list_id: int
    list_client_order_id: str
    symbol: str
    order_ids: tuple[int, int]
    time: int


@dataclass(slots=True)
class Asset:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class OcoLeg:
    """One leg of an OCO as the request describes it."""

    type: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
