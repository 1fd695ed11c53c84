"""The paper matching engine: simulated fills for paper trading and backtests.

Why it is pure. The engine does no I/O, reads no clock and never awaits: time arrives as
``now`` and prices arrive as candles. The same code therefore runs a live paper account and
a backtest over years of candles, and a test can replay any situation exactly. Persisting
is the order manager's job: every call returns one ``ExchangeUpdate`` that it writes in a
single transaction, and ``atomic()`` lets it take the engine back if that write fails, so
the database and the engine never disagree about an order or a balance.

Why undo is a journal. Each command notes, before its first change, the prior state of
just what it touches (a copy of each balance and each order on the book, the book itself
when an order joins or leaves it, the candle), so a failed command, or a failed write
around several in ``atomic()``, restores memory exactly while costing only those few
objects. This path runs for every order of a live account and of a backtest alike, so it
copies by hand (``Order.copy``), builds nothing for a candle that fills nothing, and hands
an order that ended out as it is: the engine never looks at it again.

Why funds are reserved. An order holds what it may spend the moment it is accepted (quote
for a buy, base for a sell), so two open orders can never spend the same coins and a fill
can never drive a balance negative. A buy reserves at its worst price plus the fee; a market
buy cannot know its price, so it also holds a small buffer when free funds allow. A buy
whose reservation cannot pay a fill is cut down to what it covers, and expires if that is
nothing, instead of borrowing. Whatever an order still holds when it ends goes back to free.

Why an OCO group holds its coins once. The stop-loss and take-profit of one entry sell the
same coins: only one of them can really happen. Reserving the amount on both legs would
lock twice what the trader owns, so the whole group's reservation is kept on one leg (the
first one created). It lives on an order, not in a side table, because open orders and
balances are what gets persisted and restored: after a restart the group still holds its
coins exactly once. A fill of either leg draws from that reservation and shrinks the other
legs, so the group can never sell more than the entry bought; a completed leg cancels the
rest.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import NamedTuple

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, DomainError, InvalidInput, NotFound, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ONE, ZERO, fmt, quantize_down, quantize_nearest
from tradedeck.domain.orders import (
    PRICED_TYPES,
    STOP_TYPES,
    Fill,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
)
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.book import BookReads

_BPS = Decimal(10000)
_REASON_NO_FUNDS = "insufficient reserved funds for the remainder"
_REASON_OCO_FILLED = "oco: other leg filled"
_REASON_OCO_CANCELED = "oco group canceled"
_MARKET_PRICED = (OrderType.MARKET, OrderType.STOP_MARKET)


@dataclass(frozen=True, slots=True)
class PaperConfig:
    fee_rate: Decimal = Decimal("0.001")  # taker fee on notional, charged in the quote currency
    slippage_bps: Decimal = Decimal("5")  # market/stop-market fills move against the trader
    volume_share: Decimal = Decimal("0.25")  # max share of a candle's volume filled; 0 = no cap
    reserve_buffer: Decimal = Decimal("0.05")  # extra quote held by market / stop-market buys

    def __post_init__(self) -> None:
        if not ZERO <= self.fee_rate < ONE:
            raise InvalidInput("invalid_config", "fee_rate must be at least 0 and below 1")
        if not ZERO <= self.slippage_bps < _BPS:
            raise InvalidInput("invalid_config", "slippage_bps must be at least 0 and below 10000")
        if not ZERO <= self.volume_share <= ONE:
            raise InvalidInput("invalid_config", "volume_share must be between 0 and 1")
        if self.reserve_buffer < ZERO:
            raise InvalidInput("invalid_config", "reserve_buffer must not be negative")


class _PriceView(NamedTuple):
    """Where the market is for one matching pass: the last close at submit, a candle later.

    ``reference`` is the price an order that crosses now trades at (the last close, or the
    candle's open, since nothing is known about the order of prices inside a candle). A
    named tuple: one is made per order placed, and it builds faster than a frozen dataclass.
    """

    reference: Decimal
    low: Decimal
    high: Decimal


@dataclass(slots=True)
class _UndoLog:
    """State as it was before the first change inside one atomic scope (None = absent)."""

    balances: dict[str, Balance | None] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    open_orders: dict[str, Order] | None = None
    candles: dict[str, Candle | None] = field(default_factory=dict)
    consumed: dict[str, Decimal | None] = field(default_factory=dict)

    def __init__(self) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.balances = {}
        self.orders = {}
        self.open_orders = None
        self.candles = {}
        self.consumed = {}

    def absorb(self, inner: _UndoLog) -> None:
        """Keep an inner scope's history where this scope has none (its own is older)."""
        for asset, balance in inner.balances.items():
            self.balances.setdefault(asset, balance)
        for order_id, order in inner.orders.items():
            self.orders.setdefault(order_id, order)
        if self.open_orders is None:
            self.open_orders = inner.open_orders
        for symbol, candle in inner.candles.items():
            self.candles.setdefault(symbol, candle)
        for symbol, consumed in inner.consumed.items():
            self.consumed.setdefault(symbol, consumed)


@dataclass(slots=True)
class _Changes(_UndoLog):
    """One operation: its own undo log, and what it touched (the live orders, whose copies
    are taken only when the update is built; the touched assets are the log's balances)."""

    touched: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)

    def __init__(self) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        _UndoLog.__init__(self)  # not super(): slots=True makes a new class
        self.touched = {}
        self.fills = []


class PaperEngine(BookReads):
    venue = "the paper exchange"

    def __init__(
        self,
        markets: Mapping[str, Market],
        config: PaperConfig = PaperConfig(),
        *,
        balances: Iterable[Balance] = (),
        open_orders: Iterable[Order] = (),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._markets: dict[str, Market] = dict(markets)
        self._config = config
        self._new_id = new_id
        self._balances: dict[str, Balance] = {b.asset: b.copy() for b in balances}
        self._open: dict[str, Order] = {}
        self._candles: dict[str, Candle] = {}
        self._consumed: dict[str, Decimal] = {}
        self._logs: list[_UndoLog] = []
        self._changes: _Changes | None = None
        # Factors every fill and reservation uses, worked out once (the config is frozen).
        self._with_fee = ONE + config.fee_rate
        with localcontext() as ctx:  # as the affordable amount has always been rounded
            ctx.rounding = ROUND_DOWN
            self._with_fee_down = ONE + config.fee_rate
        slip = config.slippage_bps / _BPS
        self._worst = ONE + slip
        self._slip_factor = {Side.BUY: ONE + slip, Side.SELL: ONE - slip}
        self._buffered = ONE + config.reserve_buffer
        self._capped = config.volume_share > 0  # else the volume a candle gave is never read
        for order in sorted(open_orders, key=lambda o: o.created_at):
            self._restore(order)

    # ------------------------------------------------------------------ queries
    # (markets, prices, balances and open orders: BookReads)

    @property
    def config(self) -> PaperConfig:
        return self._config

    # ------------------------------------------------------------------ commands

    def deposit(self, asset: str, amount: Decimal) -> Balance:
        if amount <= 0:
            raise InvalidInput("invalid_amount", "a deposit must be greater than zero")
        self._begin()
        try:
            self._balance_for_change(asset).free += amount
        except BaseException:
            self._abort()
            raise
        self._commit()
        return self.balance(asset)

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """Undo every change made inside the block if the block raises."""
        return self._atomic()

    def submit(self, order: Order, now: datetime) -> ExchangeUpdate:
        """Validate, reserve and open a copy of ``order``, filling it at once if it crosses."""
        if order.status is not OrderStatus.NEW:
            raise Conflict(
                "invalid_status",
                f"order {order.id} is {order.status.value}; only a new order can be submitted",
            )
        if order.id in self._open:
            raise Conflict("duplicate_order", f"order {order.id} is already open")
        market = self.market(order.symbol)
        reference = self._validate(order, market)
        if order.stop_loss is not None or order.take_profit is not None:
            self._validate_protective(order, market, reference)
        asset, reserve = self._reservation(order, market)
        changes = self._begin()
        try:
            placed = order.copy()
            self._place(placed, asset, reserve, now)
            self._match_now(placed, market, now)
        except BaseException:
            self._abort()
            raise
        self._commit()
        return self._build(changes)

    def cancel(
        self, order_id: str, now: datetime, reason: str = "canceled by user"
    ) -> ExchangeUpdate:
        """Cancel an open order (and its whole OCO group), giving back what it holds."""
        order = self._open.get(order_id)
        if order is None:
            raise NotFound("order_not_found", f"there is no open order {order_id}")
        changes = self._begin()
        try:
            for sibling in self._siblings(order):
                self._end(sibling, OrderStatus.CANCELED, _REASON_OCO_CANCELED, now)
            self._end(order, OrderStatus.CANCELED, reason, now)
        except BaseException:
            self._abort()
            raise
        self._commit()
        return self._build(changes)

    def on_candle(self, candle: Candle, now: datetime) -> ExchangeUpdate:
        """Record the symbol's latest candle and match its open orders against it."""
        market = self.market(candle.symbol)
        previous = self._candles.get(candle.symbol)
        if previous is not None and candle.opened_at < previous.opened_at:
            return ExchangeUpdate()  # a late candle: matching against the past would invent fills
        # Orders created during this pass (protective legs) wait for the next candle.
        resting = [o for o in self._open.values() if o.symbol == candle.symbol]
        if not resting:  # nothing can fill: just remember the price (undoable in atomic())
            self._store_candle(candle, previous)
            return ExchangeUpdate()
        changes = self._begin()
        try:
            self._store_candle(candle, previous)
            view = _PriceView(candle.open, candle.low, candle.high)
            for order in resting:
                if order.id in self._open:  # an OCO sibling may have ended it meanwhile
                    self._match(order, market, view, now)
        except BaseException:
            self._abort()
            raise
        self._commit()
        return self._build(changes)

    # ------------------------------------------------------------------ validation

    def _validate(self, order: Order, market: Market) -> Decimal:
        """Refuse a malformed order; return the price its value is judged at."""
        market.check_amount(order.amount)
        if order.type in PRICED_TYPES:
            if order.price is None:
                raise InvalidInput("missing_price", f"a {order.type.value} order needs a price")
            market.check_price(order.price)
        if order.type in STOP_TYPES:
            if order.stop_price is None:
                raise InvalidInput(
                    "missing_stop_price", f"a {order.type.value} order needs a stop_price"
                )
            market.check_price(order.stop_price, "stop_price")
        reference = self._reference_price(order)
        if reference is None:
            raise OrderRejected(
                "no_price", f"there is no price for {order.symbol} yet to fill a market order"
            )
        market.check_notional(order.amount, reference)
        return reference

    def _reference_price(self, order: Order) -> Decimal | None:
        if order.type in PRICED_TYPES:
            return order.price
        if order.type in STOP_TYPES:
            return order.stop_price
        return self.last_price(order.symbol)

    def _validate_protective(self, order: Order, market: Market, reference: Decimal) -> None:
        if order.stop_loss is None and order.take_profit is None:
            return
        if order.side is not Side.BUY:
            raise InvalidInput(
                "protective_orders_buy_only",
                "stop-loss and take-profit can only be attached to a buy",
            )
        if order.stop_loss is not None:
            self._check_leg(market, order, order.stop_loss, "stop_loss")
            if order.stop_loss >= reference:
                raise InvalidInput(
                    "invalid_stop_loss",
                    f"stop_loss {fmt(order.stop_loss)} must be below the entry price "
                    f"{fmt(reference)}",
                )
        if order.take_profit is not None:
            self._check_leg(market, order, order.take_profit, "take_profit")
            if order.take_profit <= reference:
                raise InvalidInput(
                    "invalid_take_profit",
                    f"take_profit {fmt(order.take_profit)} must be above the entry price "
                    f"{fmt(reference)}",
                )

    @staticmethod
    def _check_leg(market: Market, order: Order, price: Decimal, name: str) -> None:
        """A leg that could not be placed later must refuse the entry now, not vanish."""
        try:
            market.check_price(price, name)
            market.check_notional(order.amount, price)
        except InvalidInput as error:
            raise InvalidInput(f"invalid_{name}", f"{name}: {error.detail}") from None

    def _reservation(self, order: Order, market: Market) -> tuple[str, Decimal]:
        """The asset and amount the order must hold; refuses when free funds fall short."""
        asset = market.base if order.side is Side.SELL else market.quote
        required = self._required(order)
        held = self._balances.get(asset)
        free = ZERO if held is None else held.free
        if free < required:
            raise OrderRejected(
                "insufficient_funds",
                f"not enough {asset}: the order needs {fmt(required)} {asset} "
                f"but only {fmt(free)} {asset} is free",
            )
        if order.side is Side.BUY and order.type in _MARKET_PRICED:
            return asset, min(free, required * self._buffered)
        return asset, required

    def _required(self, order: Order) -> Decimal:
        if order.side is Side.SELL:
            return order.amount
        with_fee = self._with_fee
        if order.type in PRICED_TYPES:
            return order.amount * _need(order.price) * with_fee
        worst = self._worst
        if order.type is OrderType.STOP_MARKET:
            return order.amount * _need(order.stop_price) * worst * with_fee
        return order.amount * _need(self.last_price(order.symbol)) * worst * with_fee

    # ------------------------------------------------------------------ matching

    def _place(self, order: Order, asset: str, reserve: Decimal, now: datetime) -> None:
        """Hold the funds and make the order open (it is not matched yet)."""
        self._touch(order)
        if reserve > 0:
            balance = self._balance_for_change(asset)
            balance.free -= reserve
            balance.reserved += reserve
            _assert_non_negative(balance)
        order.reserved = reserve
        order.transition(OrderStatus.OPEN, now)
        self._add_open(order)

    def _match_now(self, order: Order, market: Market, now: datetime) -> None:
        candle = self._candles.get(order.symbol)
        if candle is not None and order.id in self._open:
            last = candle.close
            self._match(order, market, _PriceView(last, last, last), now)

    def _match(self, order: Order, market: Market, view: _PriceView, now: datetime) -> None:
        reference = view.reference
        if order.type in STOP_TYPES:
            stop = _need(order.stop_price)
            if not order.triggered:
                if not _stop_crossed(order.side, stop, view):
                    return
                self._touch(order)
                order.triggered = True
                # Once triggered, the price was at the stop: never trade better than it.
                reference = _worse_for(order.side, stop, view.reference)
            elif order.type is OrderType.STOP_MARKET:
                reference = _worse_for(order.side, stop, view.reference)
        if order.type in _MARKET_PRICED:
            self._fill(order, market, self._slipped(reference, order.side, market), now)
            return
        limit = _need(order.price)
        if order.side is Side.BUY and view.low <= limit:
            self._fill(order, market, min(limit, reference), now)
        elif order.side is Side.SELL and view.high >= limit:
            self._fill(order, market, max(limit, reference), now)

    def _slipped(self, price: Decimal, side: Side, market: Market) -> Decimal:
        return quantize_nearest(price * self._slip_factor[side], market.price_tick)

    def _fill(self, order: Order, market: Market, price: Decimal, now: datetime) -> None:
        """Fill as much of the remainder as the volume cap and the reservation allow."""
        if price <= 0:
            return
        amount = order.remaining
        if order.side is Side.BUY:
            affordable = self._affordable(order, market, price)
            if affordable <= 0:
                self._end(order, OrderStatus.EXPIRED, _REASON_NO_FUNDS, now)
                return
            amount = min(amount, affordable)
        cap = self._volume_left(market)
        if cap is not None:
            amount = min(amount, cap)
        if amount <= 0:
            return
        self._apply_fill(order, market, amount, price, now)
        if order.oco_group is not None:
            self._settle_group(order, now)
        if order.status is OrderStatus.FILLED:
            self._close(order, now)

    def _affordable(self, order: Order, market: Market, price: Decimal) -> Decimal:
        """The largest amount (on the step) whose cost and fee the reservation covers."""
        with localcontext() as ctx:
            ctx.rounding = ROUND_DOWN
            amount = quantize_down(
                order.reserved / (price * self._with_fee_down), market.amount_step
            )
        while amount > 0 and self._buy_debit(amount, price) > order.reserved:
            amount = amount - market.amount_step if market.amount_step > 0 else ZERO
        return max(amount, ZERO)

    def _buy_debit(self, amount: Decimal, price: Decimal) -> Decimal:
        cost = amount * price
        return cost + cost * self._config.fee_rate

    def _volume_left(self, market: Market) -> Decimal | None:
        if not self._capped:
            return None
        candle = self._candles.get(market.symbol)
        if candle is None:
            return None
        consumed = self._consumed.get(market.symbol, ZERO)
        budget = self._config.volume_share * candle.volume - consumed
        return max(ZERO, quantize_down(budget, market.amount_step))

    def _apply_fill(
        self, order: Order, market: Market, amount: Decimal, price: Decimal, now: datetime
    ) -> None:
        cost = amount * price
        fee = cost * self._config.fee_rate
        self._touch(order)
        if order.side is Side.BUY:
            self._take_reserved(market.quote, order, cost + fee, touched=True)
            self._balance_for_change(market.base).free += amount
        else:
            funder = self._sell_funder(order, amount)
            self._take_reserved(market.base, funder, amount, touched=funder is order)
            self._balance_for_change(market.quote).free += cost - fee
        order.record_fill(amount, price, fee, now)
        order.fee_currency = market.quote
        if self._capped:
            self._consume(market.symbol, amount)
        self._current().fills.append(
            Fill(
                self._new_id(),
                order.id,
                order.symbol,
                order.side,
                amount,
                price,
                fee,
                market.quote,
                now,
                order.user_id,
            )
        )

    def _take_reserved(
        self, asset: str, holder: Order, amount: Decimal, *, touched: bool = False
    ) -> None:
        assert holder.reserved >= amount, f"order {holder.id} holds less than it spends"
        if not touched:
            self._touch(holder)
        holder.reserved -= amount
        balance = self._balance_for_change(asset)
        balance.reserved -= amount
        _assert_non_negative(balance)

    def _sell_funder(self, order: Order, amount: Decimal) -> Order:
        """The order whose reservation pays a sell: itself, or the leg holding the group's."""
        if order.reserved >= amount or order.oco_group is None:
            return order
        return next((s for s in self._siblings(order) if s.reserved >= amount), order)

    # ------------------------------------------------------------------ endings and legs

    def _end(self, order: Order, status: OrderStatus, reason: str, now: datetime) -> None:
        self._touch(order)
        order.transition(status, now, reason)
        self._close(order, now)

    def _close(self, order: Order, now: datetime) -> None:
        """A terminal order gives back what it holds, leaves the book, and may spawn legs."""
        if order.reserved > 0:
            self._release(order)
        self._remove_open(order)
        if order.stop_loss is not None or order.take_profit is not None:
            self._spawn_protective(order, now)

    def _release(self, order: Order) -> None:
        if order.reserved <= 0:
            return
        market = self._markets[order.symbol]
        asset = market.quote if order.side is Side.BUY else market.base
        balance = self._balance_for_change(asset)
        self._touch(order)
        balance.reserved -= order.reserved
        balance.free += order.reserved
        order.reserved = ZERO
        _assert_non_negative(balance)

    def _siblings(self, order: Order) -> list[Order]:
        if order.oco_group is None:
            return []
        return [
            o for o in self._open.values() if o.oco_group == order.oco_group and o.id != order.id
        ]

    def _settle_group(self, order: Order, now: datetime) -> None:
        """After a leg's fill no leg may sell more than the group still has."""
        for sibling in self._siblings(order):
            if order.remaining <= 0:
                self._end(sibling, OrderStatus.CANCELED, _REASON_OCO_FILLED, now)
            elif sibling.remaining > order.remaining:
                self._touch(sibling)
                sibling.amount = sibling.filled + order.remaining

    def _spawn_protective(self, entry: Order, now: datetime) -> None:
        if (
            (entry.stop_loss is None and entry.take_profit is None)
            or entry.role is not OrderRole.ENTRY
            or entry.side is not Side.BUY
            or entry.filled <= 0
        ):
            return
        market = self._markets[entry.symbol]
        legs = [leg for leg in self._protective_legs(entry, now) if self._is_valid(leg, market)]
        held = self._balances.get(market.base)
        if not legs or held is None or held.free < entry.filled:
            return  # never raise from a fill: a leg that cannot exist is left out
        if len(legs) > 1:
            for leg in legs:
                leg.oco_group = entry.id
        for index, leg in enumerate(legs):
            self._place(leg, market.base, entry.filled if index == 0 else ZERO, now)
        for leg in legs:
            self._match_now(leg, market, now)

    def _protective_legs(self, entry: Order, now: datetime) -> list[Order]:
        legs: list[Order] = []
        if entry.stop_loss is not None:
            legs.append(
                self._leg(entry, now, OrderType.STOP_MARKET, OrderRole.STOP_LOSS, entry.stop_loss)
            )
        if entry.take_profit is not None:
            legs.append(
                self._leg(entry, now, OrderType.LIMIT, OrderRole.TAKE_PROFIT, entry.take_profit)
            )
        return legs

    def _leg(
        self, entry: Order, now: datetime, kind: OrderType, role: OrderRole, price: Decimal
    ) -> Order:
        return Order(
            id=self._new_id(),
            symbol=entry.symbol,
            side=Side.SELL,
            type=kind,
            amount=entry.filled,
            created_at=now,
            updated_at=now,
            price=price if kind.needs_price else None,
            stop_price=price if kind.needs_stop else None,
            user_id=entry.user_id,
            role=role,
            parent_id=entry.id,
            source=entry.source,
        )

    def _is_valid(self, order: Order, market: Market) -> bool:
        try:
            self._validate(order, market)
        except DomainError:
            return False
        return True

    # ------------------------------------------------------------------ state and undo

    def _restore(self, order: Order) -> None:
        if not order.status.is_open:
            raise InvalidInput(
                "invalid_restore",
                f"order {order.id} is {order.status.value}; only open orders can be restored",
            )
        self.market(order.symbol)
        self._open[order.id] = order.copy()

    def _store_candle(self, candle: Candle, previous: Candle | None) -> None:
        """Remember the latest candle; the only change that may happen outside an operation
        (it cannot fail), so it records its undo in whatever scope is open, if any."""
        log = self._logs[-1] if self._logs else None
        symbol = candle.symbol
        if log is not None and symbol not in log.candles:
            log.candles[symbol] = previous
        if self._capped and (previous is None or previous.opened_at != candle.opened_at):
            self._set_consumed(symbol, ZERO)
        self._candles[symbol] = candle

    def _consume(self, symbol: str, amount: Decimal) -> None:
        self._set_consumed(symbol, self._consumed.get(symbol, ZERO) + amount)

    def _set_consumed(self, symbol: str, value: Decimal) -> None:
        log = self._logs[-1] if self._logs else None
        if log is not None and symbol not in log.consumed:
            log.consumed[symbol] = self._consumed.get(symbol)
        self._consumed[symbol] = value

    def _balance_for_change(self, asset: str) -> Balance:
        """The live balance, recorded in the undo log and the update before it changes."""
        current = self._balances.get(asset)
        changes = self._changes
        assert changes is not None, "engine state changed outside an operation"
        if asset not in changes.balances:  # first change in this operation: keep the old state
            changes.balances[asset] = None if current is None else current.copy()
        if current is None:
            current = self._balances[asset] = Balance(asset)
        return current

    def _touch(self, order: Order) -> None:
        """Record an order in the undo log and the update before it changes.

        Only an order on the book has a state to restore: one that is not (a new order
        being placed) leaves with the book's own snapshot if the scope is undone."""
        changes = self._changes
        assert changes is not None, "engine state changed outside an operation"
        if order.id not in changes.touched:  # first change in this operation: keep the old state
            changes.touched[order.id] = order
            if order.id in self._open:
                changes.orders[order.id] = order.copy()

    def _add_open(self, order: Order) -> None:
        log = self._log()
        if log.open_orders is None:  # the book as it was, before this scope's first change
            log.open_orders = dict(self._open)
        self._open[order.id] = order

    def _remove_open(self, order: Order) -> None:
        log = self._log()
        if log.open_orders is None:
            log.open_orders = dict(self._open)
        self._open.pop(order.id, None)

    def _log(self) -> _UndoLog:
        assert self._logs, "engine state changed outside an operation"
        return self._logs[-1]

    def _current(self) -> _Changes:
        assert self._changes is not None, "engine state changed outside an operation"
        return self._changes

    def _rollback(self, log: _UndoLog) -> None:
        for asset, balance in log.balances.items():
            if balance is None:
                self._balances.pop(asset, None)
            else:
                self._balances[asset] = balance
        if log.open_orders is not None:
            self._open = log.open_orders
        for order_id, order in log.orders.items():
            if order_id in self._open:
                self._open[order_id] = order
        for symbol, candle in log.candles.items():
            if candle is None:
                self._candles.pop(symbol, None)
            else:
                self._candles[symbol] = candle
        for symbol, consumed in log.consumed.items():
            if consumed is None:
                self._consumed.pop(symbol, None)
            else:
                self._consumed[symbol] = consumed

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        if self._logs:
            raise RuntimeError("PaperEngine.atomic() blocks cannot be nested")
        log = _UndoLog()
        self._logs.append(log)
        try:
            yield
        except BaseException:
            self._rollback(log)
            raise
        finally:
            self._logs.pop()

    # One public command is an operation: all of it applies, or (on any error) none of it.
    # The commands open and close it with try/except instead of a context manager: it is
    # entered once per order and per candle, and a generator-based one costs microseconds.

    def _begin(self) -> _Changes:
        if self._changes is not None:
            raise RuntimeError("PaperEngine operations cannot be nested")
        changes = self._changes = _Changes()
        self._logs.append(changes)
        return changes

    def _commit(self) -> None:
        log = self._logs.pop()
        self._changes = None
        if self._logs:  # inside atomic(): that scope may still have to undo this
            self._logs[-1].absorb(log)

    def _abort(self) -> None:
        self._changes = None
        self._rollback(self._logs.pop())

    def _build(self, changes: _Changes) -> ExchangeUpdate:
        """The update of an operation, in copies the caller may keep and change freely.

        An order that ended is handed out as it is: it has left the book, so the engine
        never reads or changes that object again (undo logs hold copies of their own)."""
        if not changes.touched and not changes.fills and not changes.balances:
            return ExchangeUpdate()
        balances = self._balances
        book = self._open
        return ExchangeUpdate(
            orders=[o.copy() if o.id in book else o for o in changes.touched.values()],
            fills=changes.fills,
            balances=[balances[asset].copy() for asset in changes.balances],
        )


def _need(value: Decimal | None) -> Decimal:
    assert value is not None, "validated orders carry the prices their type needs"
    return value


def _stop_crossed(side: Side, stop: Decimal, view: _PriceView) -> bool:
    return view.high >= stop if side is Side.BUY else view.low <= stop


def _worse_for(side: Side, stop: Decimal, price: Decimal) -> Decimal:
    return max(stop, price) if side is Side.BUY else min(stop, price)


def _assert_non_negative(balance: Balance) -> None:
    assert balance.free >= 0, f"{balance.asset} free balance went negative"
    assert balance.reserved >= 0, f"{balance.asset} reserved balance went negative"
