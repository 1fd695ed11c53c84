"""Balances, positions and PnL as a trader reads them, valued in one currency.

Realized PnL comes from stored fills (net of fees); unrealized from open positions at
the last price; "today" is realized today plus the unrealized PnL of what is still open.

On a perpetual live exchange the positions are the exchange's, not ones rebuilt from our
fills: a short, the entry after funding and partial closes, the liquidation price and the
unrealized PnL at the mark only exist there, so what it last reported is what is shown.
Our own books (which net longs and shorts from our fills) add what the exchange's position
does not carry: the PnL realized on the market, and when the position was opened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tradedeck.domain.balances import Balance
from tradedeck.domain.errors import DomainError, InvalidInput
from tradedeck.domain.money import ZERO
from tradedeck.domain.roles import Actor, Permission
from tradedeck.exchanges.ccxt_live.models import FuturesPosition, LiveMarket, MarketKind
from tradedeck.storage.repository import Repository
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.valuation import Equity, Valuator


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class ContractSpecs(Protocol):
    def market(self, symbol: str) -> LiveMarket: ...


@runtime_checkable
class PerpetualBook(Protocol):
    """An exchange that keeps perpetual positions itself (the live mirror): its ``kind``
    says whether it trades perpetuals, its client knows each contract's size."""

    kind: MarketKind

    @property
    def client(self) -> ContractSpecs: ...

    def futures_positions(self) -> Sequence[FuturesPosition]: ...


@dataclass(frozen=True, slots=True)
class PositionView:
    """One open position. ``amount`` is never negative: ``side`` says which way it points.

    A perpetual position counts ``amount`` in contracts (what an order's amount is in),
    its ``value`` is the notional at the mark, and its realized PnL and opening time are
    our books' (None where they do not know the market: the exchange reports neither).
    """

    symbol: str
    amount: Decimal
    average_entry: Decimal
    last_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    quote: str
    value: Decimal | None
    opened_at: datetime | None
    side: PositionSide = PositionSide.LONG
    market_type: MarketKind = MarketKind.SPOT
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None
    leverage: int | None = None
    margin_mode: str | None = None


@dataclass(frozen=True, slots=True)
class PnlSummary:
    currency: str
    realized: Decimal
    unrealized: Decimal
    total: Decimal
    today_realized: Decimal
    today: Decimal
    fees_today: Decimal
    equity: Decimal
    day_start_equity: Decimal | None


@dataclass(frozen=True, slots=True)
class DailyPnl:
    day: date
    realized: Decimal
    fees: Decimal
    fills: int


class PortfolioService:
    def __init__(
        self,
        orders: OrderManager,
        repository: Repository,
        valuator: Valuator,
        day_start_equity: Callable[[], Decimal | None],
    ) -> None:
        self._orders = orders
        self._repo = repository
        self._valuator = valuator
        self._day_start = day_start_equity

    @property
    def currency(self) -> str:
        return self._valuator.currency

    def balances(self, actor: Actor) -> tuple[list[Balance], Equity]:
        actor.require(Permission.READ)
        balances = [b for b in self._orders.exchange.balances() if b.total != 0 or b.reserved]
        return balances, self._valuator.equity(balances)

    def _perpetual(self) -> PerpetualBook | None:
        exchange = self._orders.exchange
        if isinstance(exchange, PerpetualBook) and exchange.kind is MarketKind.PERPETUAL:
            return exchange
        return None

    def positions(self, actor: Actor) -> list[PositionView]:
        actor.require(Permission.READ)
        perpetual = self._perpetual()
        if perpetual is not None:
            return [
                self._perpetual_view(perpetual, p)
                for p in perpetual.futures_positions()
                if p.contracts
            ]
        views = []
        for position in self._orders.positions():
            if not position.is_open:
                continue
            market = self._orders.exchange.market(position.symbol)
            last = self._orders.exchange.last_price(position.symbol)
            unrealized = position.unrealized_pnl(last) if last is not None else None
            value = self._valuator.value(market.base, position.amount)
            views.append(
                PositionView(
                    symbol=position.symbol,
                    amount=position.amount,
                    average_entry=position.average_entry,
                    last_price=last,
                    unrealized_pnl=unrealized,
                    realized_pnl=position.realized_pnl,
                    quote=market.quote,
                    value=value,
                    opened_at=position.opened_at,
                )
            )
        return views

    def _perpetual_view(self, book: PerpetualBook, position: FuturesPosition) -> PositionView:
        quote = self._quote(position.symbol)
        amount = abs(position.contracts)
        last = self._orders.exchange.last_price(position.symbol)
        mark = position.mark_price if position.mark_price is not None else last
        value = None
        if mark is not None:
            size = self._contract_size(book, position.symbol)
            value = None if size is None else self._valuator.value(quote, amount * size * mark)
        ours = self._orders.position(position.symbol)
        opened_at = None  # only a position our fills hold on the same side is the exchange's
        if ours is not None and ours.amount * position.contracts > 0:
            opened_at = ours.opened_at
        return PositionView(
            symbol=position.symbol,
            amount=amount,
            average_entry=position.entry_price,
            last_price=last,
            unrealized_pnl=position.unrealized_pnl,
            realized_pnl=ours.realized_pnl if ours is not None else None,
            quote=quote,
            value=value,
            opened_at=opened_at,
            side=PositionSide.SHORT if position.contracts < 0 else PositionSide.LONG,
            market_type=MarketKind.PERPETUAL,
            mark_price=position.mark_price,
            liquidation_price=position.liquidation_price,
            leverage=position.leverage,
            margin_mode=None if position.margin_mode is None else position.margin_mode.value,
        )

    @staticmethod
    def _contract_size(book: PerpetualBook, symbol: str) -> Decimal | None:
        try:
            return book.client.market(symbol).contract_size
        except DomainError:  # markets not loaded, or a symbol we do not list
            return None

    def _quote(self, symbol: str) -> str:
        """The market's quote; the exchange may report a position on a market tradedeck
        does not list, whose quote is then read off its symbol."""
        market = self._orders.exchange.markets.get(symbol)
        return market.quote if market is not None else symbol.partition("/")[2]

    def _in_valuation(self, symbol: str, amount: Decimal) -> Decimal:
        return self._valuator.value(self._quote(symbol), amount) or ZERO

    async def summary(self, actor: Actor) -> PnlSummary:
        actor.require(Permission.READ)
        realized = ZERO
        unrealized = ZERO
        perpetual = self._perpetual()
        for position in self._orders.positions():
            realized += self._in_valuation(position.symbol, position.realized_pnl)
            last = self._orders.exchange.last_price(position.symbol)
            if perpetual is None and position.is_open and last is not None:
                unrealized += self._in_valuation(position.symbol, position.unrealized_pnl(last))
        if perpetual is not None:  # the exchange's figure, at its mark: shorts included
            for held in perpetual.futures_positions():
                unrealized += self._in_valuation(held.symbol, held.unrealized_pnl)
        today = _midnight()
        today_realized = ZERO
        fees_today = ZERO
        for fill in await self._repo.list_fills(since=today, limit=1_000_000):
            today_realized += self._in_valuation(fill.symbol, fill.realized_pnl)
            fees_today += self._in_valuation(fill.symbol, fill.fee)
        equity = self._valuator.equity(self._orders.exchange.balances()).total
        return PnlSummary(
            currency=self.currency,
            realized=realized,
            unrealized=unrealized,
            total=realized + unrealized,
            today_realized=today_realized,
            today=today_realized + unrealized,
            fees_today=fees_today,
            equity=equity,
            day_start_equity=self._day_start(),
        )

    async def daily(self, actor: Actor, days: int = 30) -> list[DailyPnl]:
        """Realized PnL and fees per UTC day, in the valuation currency at today's rates."""
        actor.require(Permission.READ)
        if not 1 <= days <= 366:
            raise InvalidInput("invalid_days", "days must be between 1 and 366")
        start = _midnight() - timedelta(days=days - 1)
        totals: dict[date, tuple[Decimal, Decimal, int]] = {}
        for fill in await self._repo.list_fills(since=start, limit=10_000_000):
            day = fill.timestamp.date()
            realized, fees, count = totals.get(day, (ZERO, ZERO, 0))
            totals[day] = (
                realized + self._in_valuation(fill.symbol, fill.realized_pnl),
                fees + self._in_valuation(fill.symbol, fill.fee),
                count + 1,
            )
        days_list = [(start + timedelta(days=i)).date() for i in range(days)]
        return [DailyPnl(day, *totals.get(day, (ZERO, ZERO, 0))) for day in days_list]


def _midnight() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
