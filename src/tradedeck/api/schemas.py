"""Request and response bodies. Money travels as decimal strings, never as floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from tradedeck.domain.balances import Balance
from tradedeck.domain.markets import Market
from tradedeck.domain.money import fmt
from tradedeck.domain.orders import Fill, Order, OrderType, Side
from tradedeck.storage.repository import KillSwitchState
from tradedeck.trading.portfolio import DailyPnl, PnlSummary, PositionView

Dec = Annotated[Decimal, PlainSerializer(lambda v: fmt(v), return_type=str)]
OptDec = Annotated[Decimal | None, PlainSerializer(lambda v: fmt(v), return_type=str | None)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    symbol: str = Field(min_length=3, max_length=40, examples=["ETH/BTC"])
    side: Side
    type: OrderType = OrderType.MARKET
    amount: Decimal = Field(gt=0, allow_inf_nan=False)
    price: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    stop_price: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64)
    stop_loss: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    take_profit: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)


class OrderOut(BaseModel):
    id: str
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    status: str
    status_reason: str | None
    amount: Dec
    filled: Dec
    remaining: Dec
    price: OptDec
    stop_price: OptDec
    average_price: OptDec
    fee: Dec
    fee_currency: str | None
    reserved: Dec
    role: str
    parent_id: str | None
    oco_group: str | None
    stop_loss: OptDec
    take_profit: OptDec
    source: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: Order) -> OrderOut:
        return cls(
            id=o.id,
            client_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side.value,
            type=o.type.value,
            status=o.status.value,
            status_reason=o.status_reason,
            amount=o.amount,
            filled=o.filled,
            remaining=o.remaining,
            price=o.price,
            stop_price=o.stop_price,
            average_price=o.average_price,
            fee=o.fee,
            fee_currency=o.fee_currency,
            reserved=o.reserved,
            role=o.role.value,
            parent_id=o.parent_id,
            oco_group=o.oco_group,
            stop_loss=o.stop_loss,
            take_profit=o.take_profit,
            source=o.source,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )


class FillOut(BaseModel):
    id: str
    order_id: str
    symbol: str
    side: str
    amount: Dec
    price: Dec
    fee: Dec
    fee_currency: str
    realized_pnl: Dec
    timestamp: datetime

    @classmethod
    def of(cls, f: Fill) -> FillOut:
        return cls(
            id=f.id,
            order_id=f.order_id,
            symbol=f.symbol,
            side=f.side.value,
            amount=f.amount,
            price=f.price,
            fee=f.fee,
            fee_currency=f.fee_currency,
            realized_pnl=f.realized_pnl,
            timestamp=f.timestamp,
        )


class MarketOut(BaseModel):
    symbol: str
    base: str
    quote: str
    price_tick: Dec
    amount_step: Dec
    min_amount: Dec
    min_notional: Dec

    @classmethod
    def of(cls, m: Market) -> MarketOut:
        return cls(
            symbol=m.symbol,
            base=m.base,
            quote=m.quote,
            price_tick=m.price_tick,
            amount_step=m.amount_step,
            min_amount=m.min_amount,
            min_notional=m.min_notional,
        )


class TickerOut(BaseModel):
    """A market's last candle; every field but the symbol is null before the first one."""

    symbol: str
    last: OptDec = None
    open: OptDec = None
    high: OptDec = None
    low: OptDec = None
    volume: OptDec = None
    candle_time: datetime | None = None
    timeframe: str | None = None
    updated_at: datetime | None = None


class CandleOut(BaseModel):
    time: datetime
    open: Dec
    high: Dec
    low: Dec
    close: Dec
    volume: Dec


class BalanceOut(BaseModel):
    asset: str
    free: Dec
    reserved: Dec
    total: Dec
    value: OptDec

    @classmethod
    def of(cls, b: Balance, value: Decimal | None) -> BalanceOut:
        return cls(asset=b.asset, free=b.free, reserved=b.reserved, total=b.total, value=value)


class BalancesOut(BaseModel):
    currency: str
    equity: Dec
    unvalued: list[str]
    balances: list[BalanceOut]


class PositionOut(BaseModel):
    """An open position; ``amount`` is never negative and ``side`` says long or short.

    A perpetual adds the exchange's mark and liquidation prices, leverage and margin mode
    (all null for spot); its ``value`` is the notional, its ``realized_pnl`` and
    ``opened_at`` come from tradedeck's own fills (null for a position it never traded;
    ``opened_at`` also when its books hold the other side: the exchange reports neither).
    """

    symbol: str
    amount: Dec
    average_entry: Dec
    last_price: OptDec
    unrealized_pnl: OptDec
    realized_pnl: OptDec
    quote: str
    value: OptDec
    opened_at: datetime | None
    side: str = "long"
    market_type: str = "spot"
    mark_price: OptDec = None
    liquidation_price: OptDec = None
    leverage: int | None = None
    margin_mode: str | None = None

    @classmethod
    def of(cls, p: PositionView) -> PositionOut:
        return cls(
            symbol=p.symbol,
            amount=p.amount,
            average_entry=p.average_entry,
            last_price=p.last_price,
            unrealized_pnl=p.unrealized_pnl,
            realized_pnl=p.realized_pnl,
            quote=p.quote,
            value=p.value,
            opened_at=p.opened_at,
            side=p.side.value,
            market_type=p.market_type.value,
            mark_price=p.mark_price,
            liquidation_price=p.liquidation_price,
            leverage=p.leverage,
            margin_mode=p.margin_mode,
        )


class PnlOut(BaseModel):
    currency: str
    realized: Dec
    unrealized: Dec
    total: Dec
    today: Dec
    today_realized: Dec
    fees_today: Dec
    equity: Dec
    day_start_equity: OptDec

    @classmethod
    def of(cls, s: PnlSummary) -> PnlOut:
        return cls(
            currency=s.currency,
            realized=s.realized,
            unrealized=s.unrealized,
            total=s.total,
            today=s.today,
            today_realized=s.today_realized,
            fees_today=s.fees_today,
            equity=s.equity,
            day_start_equity=s.day_start_equity,
        )


class DailyPnlOut(BaseModel):
    day: date
    realized: Dec
    fees: Dec
    fills: int

    @classmethod
    def of(cls, d: DailyPnl) -> DailyPnlOut:
        return cls(day=d.day, realized=d.realized, fees=d.fees, fills=d.fills)


class KillSwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class KillSwitchOut(BaseModel):
    active: bool
    reason: str | None
    actor: str | None
    changed_at: datetime | None
    canceled_orders: int | None = None

    @classmethod
    def of(cls, s: KillSwitchState, canceled: int | None = None) -> KillSwitchOut:
        return cls(
            active=s.active,
            reason=s.reason,
            actor=s.actor,
            changed_at=s.changed_at,
            canceled_orders=canceled,
        )


class RiskLimitsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_order_notional_trader: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_order_notional_admin: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_exposure_pct: Decimal | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    max_positions: int | None = Field(default=None, ge=1)
    cooldown_seconds: float | None = Field(default=None, ge=0)
    daily_drawdown_pct: Decimal | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    max_consecutive_rejections: int | None = Field(default=None, ge=1)


class SignalAccepted(BaseModel):
    id: str
    status: str


class SignalOut(BaseModel):
    id: str
    status: str
    order_id: str | None
    reason: str | None
    received_at: datetime
    updated_at: datetime
