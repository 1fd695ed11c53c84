"""What the live adapter hands the rest of tradedeck, in domain terms and never ccxt dicts.

Everything that crosses from ccxt into tradedeck is converted here once: amounts and prices
as ``Decimal``, times as UTC-aware datetimes, statuses as the domain's ``OrderStatus``. The
exchange's own ids travel beside ours, because the exchange is the truth we reconcile
against and ``client_order_id`` (our order id) is the key both sides share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradedeck.domain.markets import Market
from tradedeck.domain.money import ZERO
from tradedeck.domain.orders import OrderStatus, OrderType, Side


class MarketKind(StrEnum):
    SPOT = "spot"
    PERPETUAL = "perpetual"  # USDT-margined linear swap


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


@dataclass(frozen=True, slots=True)
class LiveMarket:
    """A market's trading rules as the exchange states them, with the domain ``Market``
    the order manager checks against (tick, step, minimum amount and notional)."""

    market: Market
    kind: MarketKind
    exchange_symbol: str  # ccxt's unified symbol: "BTC/USDT" spot, "BTC/USDT:USDT" perpetual
    exchange_id: str  # the exchange's own id: "BTCUSDT"
    max_amount: Decimal | None = None
    max_price: Decimal | None = None
    min_price: Decimal | None = None
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO
    contract_size: Decimal = Decimal(1)
    # Exchanges that count precision in significant digits (ccxt's SIGNIFICANT_DIGITS mode)
    # have no fixed tick or step: the market's tick/step is then 0 and these say how many
    # digits a price or an amount may have.
    price_digits: int | None = None
    amount_digits: int | None = None


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """One order to send; amounts and prices are already rounded to the market's rules."""

    symbol: str  # tradedeck's symbol (the ``Market.symbol``)
    side: Side
    type: OrderType
    amount: Decimal
    client_order_id: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    # A STOP_MARKET/STOP_LIMIT that fires as the price moves in the order's favour (a sell
    # at or above ``stop_price``): the exchange's TAKE_PROFIT kinds.
    take_profit: bool = False


@dataclass(frozen=True, slots=True)
class RemoteTrade:
    """One execution as the exchange reports it."""

    trade_id: str
    exchange_order_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime
    liquidity: str = "taker"  # "maker" or "taker"


@dataclass(frozen=True, slots=True)
class RemoteOrder:
    """An order's state on the exchange at the moment it was read."""

    exchange_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus  # OPEN, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED or EXPIRED
    amount: Decimal
    filled: Decimal
    average_price: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    fee: Decimal
    fee_currency: str | None
    updated_at: datetime
    reduce_only: bool = False
    trades: tuple[RemoteTrade, ...] = ()
    # A trigger order that fires as the price moves in the position's favour (the
    # exchange's TAKE_PROFIT kinds); ``type`` is still STOP_MARKET or STOP_LIMIT.
    take_profit: bool = False
    # When the exchange accepted it (None where the exchange does not say): an order
    # rebuilt from the exchange's history is dated by it.
    created_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class FuturesPosition:
    """A perpetual position: signed size (short < 0), entry, liquidation and unrealized PnL."""

    symbol: str
    contracts: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    unrealized_pnl: Decimal
    leverage: int | None
    margin_mode: MarginMode | None

    @property
    def side(self) -> Side | None:
        if self.contracts > 0:
            return Side.BUY
        if self.contracts < 0:
            return Side.SELL
        return None


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Everything reconciliation re-reads: the exchange's truth at ``taken_at``."""

    taken_at: datetime
    open_orders: tuple[RemoteOrder, ...]
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # free, used
    positions: tuple[FuturesPosition, ...] = ()
