"""The records the USDⓈ-M futures engine keeps: perpetuals, positions, orders, algo orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)

# Conditional types, accepted only by the algo order endpoint since Binance's 2025 migration.
ALGO_TYPES = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"})


@dataclass(slots=True)
class FuturesMarket:
    """One USDT-margined perpetual: filters, precision, maintenance margin, last price.

    The last price doubles as the mark price: positions are valued and orders trigger at it.
    """

    base: str
    price: Decimal
    quote: str = "USDT"
    tick_size: Decimal = Decimal("0.10")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("1000")
    market_max_qty: Decimal = Decimal("120")
    min_notional: Decimal = Decimal("100")
    min_price: Decimal = Decimal("0.10")
    max_price: Decimal = Decimal("4529764")
    price_precision: int = 2
    quantity_precision: int = 3
    maint_margin_rate: Decimal = Decimal("0.004")
    max_leverage: int = 125

    @property
    def symbol(self) -> str:
        return self.base + self.quote


@dataclass(slots=True)
class Position:
    """One symbol's one-way position and its settings (which outlive the position)."""

    symbol: str
    leverage: int = 20
    margin_type: str = "CROSSED"  # or "ISOLATED"
    amount: Decimal = ZERO  # signed: short < 0
    entry_price: Decimal = ZERO
    isolated_wallet: Decimal = ZERO  # margin posted to an isolated position
    update_time: int = 0

    @property
    def isolated(self) -> bool:
        return self.margin_type == "ISOLATED"


@dataclass(slots=True)
class FuturesTrade:
    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    time: int
    maker: bool


@dataclass(slots=True)
class FuturesOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str  # MARKET or LIMIT
    orig_type: str
    price: Decimal
    orig_qty: Decimal
    time: int
    time_in_force: str
    reduce_only: bool = False
    close_position: bool = False
    stop_price: Decimal = ZERO
    algo_id: int | None = None  # the algo order that placed it on triggering
    steps: int = 1
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    fills: list[FuturesTrade] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass(slots=True)
class AlgoOrder:
    """A conditional order waiting for its trigger price; it then places a plain order."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str  # one of ALGO_TYPES
    quantity: Decimal  # ZERO with close_position
    price: Decimal  # ZERO for the *_MARKET types
    trigger_price: Decimal
    time_in_force: str
    reduce_only: bool
    close_position: bool
    create_time: int
    status: str = "NEW"  # NEW, CANCELED, TRIGGERED, FINISHED, EXPIRED
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int | None = None

    @property
    def open(self) -> bool:
        return self.status == "NEW"
