"""A real exchange behind the order manager: what it last said, and the one way to reach it.

The order manager was built on the paper engine, which answers at once and can undo. A real
exchange does neither: it answers over the network and what it accepted stays accepted.
This mirror gives the order manager the same reads the paper engine does (markets, prices,
balances, open orders), always from memory so a risk check never waits on the network, and
sends every order and cancel through the ccxt client, which enforces the market's rules
before anything leaves.

Why changes wait for the commit. Inside ``atomic()`` whatever an operation learned from the
exchange is held back until the block ends without an error, that is, until the database
has it too. If the write fails, the mirror forgets it and the next reconciliation reads the
exchange again and writes the difference: memory never runs ahead of the database, so
nothing the exchange did can be skipped because memory already "knew" it.

Why the order id is the client order id. Our order id travels as the exchange's client order
id, so any state read back (after a timeout, a crash, a restart) maps to exactly one order
of ours; protective legs carry the entry's id plus ``-sl`` / ``-tp``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, NotFound, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ZERO
from tradedeck.domain.orders import Fill, Order, OrderRole, OrderStatus, OrderType, Side
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.book import BookReads
from tradedeck.exchanges.ccxt_live.models import (
    FuturesPosition,
    LiveMarket,
    MarketKind,
    PlaceOrder,
    RemoteOrder,
)
from tradedeck.exchanges.paper import PaperConfig
from tradedeck.trading.reconcile.model import DifferenceKind
from tradedeck.trading.reconcile.orders import correct

if TYPE_CHECKING:  # ccxt is an optional extra: nothing here may import it at run time
    from tradedeck.exchanges.ccxt_live.client import CcxtClient

log = structlog.get_logger(__name__)

STOP_LOSS_SUFFIX = "-sl"
TAKE_PROFIT_SUFFIX = "-tp"


class LiveExchange(BookReads):
    def __init__(
        self,
        client: CcxtClient,
        config: PaperConfig,
        *,
        kind: MarketKind = MarketKind.SPOT,
    ) -> None:
        self._client = client
        self._config = config  # the fee and slippage a preview estimates with
        self.kind = kind
        self._live_markets: dict[str, LiveMarket] = {}
        self._markets: dict[str, Market] = {}
        self._open: dict[str, Order] = {}
        self._balances: dict[str, Balance] = {}
        self._candles: dict[str, Candle] = {}
        self._positions: dict[str, FuturesPosition] = {}
        self._fill_ids: set[str] = set()
        self._staged: list[ExchangeUpdate] | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._staged_positions: dict[str, FuturesPosition] | None = None
        self._traded: tuple[str, ...] = ()

    @property
    def client(self) -> CcxtClient:
        return self._client

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Release ``closer`` with the client (the order stream's connection)."""
        self._closers.append(closer)

    async def close(self) -> None:
        for closer in [*self._closers, self._client.close]:
            try:
                await closer()
            except Exception:
                log.exception("live_close_failed")

    async def start(
        self,
        open_orders: Iterable[Order] = (),
        balances: Iterable[Balance] = (),
        fill_ids: Iterable[str] = (),
    ) -> None:
        """Load the markets and take over what the database holds (reconciliation then
        corrects it against the exchange)."""
        await self.refresh_markets()
        self._open = {o.id: o.copy() for o in open_orders}
        self._balances = {b.asset: b.copy() for b in balances}
        self._fill_ids = set(fill_ids)

    async def prepare(self, symbols: Iterable[str]) -> None:
        """Take the markets tradedeck trades (reconciliation reads their order history);
        perpetuals: apply the configured margin mode and leverage to each before its first
        order (the exchange keeps them per symbol)."""
        self._traded = tuple(dict.fromkeys(symbols))
        if self.kind is MarketKind.PERPETUAL:
            for symbol in self._traded:
                await self._client.configure(symbol)

    @property
    def traded_markets(self) -> tuple[str, ...]:
        """The markets given to ``prepare``, in their order."""
        return self._traded

    async def refresh_markets(self) -> None:
        self._live_markets = dict(await self._client.load_markets(reload=bool(self._markets)))
        self._markets = {s: m.market for s, m in self._live_markets.items()}

    # -- reads: memory only, the paper engine's own (BookReads) --------------------------
    @property
    def config(self) -> PaperConfig:
        return self._config

    def futures_positions(self) -> list[FuturesPosition]:
        return [self._positions[s] for s in sorted(self._positions)]

    def known_fill_ids(self) -> set[str]:
        return set(self._fill_ids)

    def balance_map(self) -> dict[str, Balance]:
        return {asset: b.copy() for asset, b in self._balances.items()}

    def position_map(self) -> dict[str, FuturesPosition]:
        return dict(self._positions)

    # -- staging ------------------------------------------------------------------------
    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """Hold back what the block learns until it ends without an error."""
        return self._atomic()

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        if self._staged is not None:
            raise RuntimeError("LiveExchange.atomic() blocks cannot be nested")
        self._staged = []
        self._staged_positions = None
        try:
            yield
        except BaseException:
            if self._staged:
                log.warning("live_changes_discarded", updates=len(self._staged))
            raise
        else:
            for update in self._staged:
                self._absorb(update)
            if self._staged_positions is not None:
                self._positions = self._staged_positions
        finally:
            self._staged = None
            self._staged_positions = None

    def stage(
        self, update: ExchangeUpdate, positions: Iterable[FuturesPosition] | None = None
    ) -> None:
        """Take ``update`` (and, given, the perpetual positions) into memory now, or when
        the enclosing ``atomic()`` succeeds."""
        held = None if positions is None else {p.symbol: p for p in positions if p.contracts}
        if self._staged is not None:
            self._staged.append(update)
            self._staged_positions = held if held is not None else self._staged_positions
        else:
            self._absorb(update)
            if held is not None:
                self._positions = held

    def _absorb(self, update: ExchangeUpdate) -> None:
        for order in update.orders:
            if order.status.is_open:
                self._open[order.id] = order.copy()
            else:
                self._open.pop(order.id, None)
        for fill in update.fills:
            self._fill_ids.add(fill.id)
        for balance in update.balances:
            self._balances[balance.asset] = balance.copy()

    # -- prices ---------------------------------------------------------------------------
    def on_candle(self, candle: Candle, now: datetime) -> ExchangeUpdate:
        """Remember the price: matching is the exchange's, so nothing fills here."""
        previous = self._candles.get(candle.symbol)
        if previous is None or candle.opened_at >= previous.opened_at:
            self._candles[candle.symbol] = candle
        return ExchangeUpdate()

    # -- commands -------------------------------------------------------------------------
    async def submit(self, order: Order, now: datetime) -> ExchangeUpdate:
        """Send ``order`` (and, once its entry filled, its protection) to the exchange."""
        if order.status is not OrderStatus.NEW:
            raise Conflict(
                "invalid_status",
                f"order {order.id} is {order.status.value}; only a new order can be submitted",
            )
        place = self._placement(order)
        reference = order.price or order.stop_price or self.last_price(order.symbol)
        if reference is None:  # no candle yet: ask the exchange, never judge blind
            reference = await self._client.fetch_ticker_price(order.symbol)
            if reference is None:
                raise OrderRejected("no_price", f"there is no price for {order.symbol} yet")
        self._client.check(place, reference)
        remote = await self._client.place(place, reference)
        placed = order.copy()
        placed.transition(OrderStatus.OPEN, now)
        update = self.follow(placed, remote)
        if update.orders[0].status is OrderStatus.FILLED:
            update.orders.extend(await self.protect(update.orders[0], now))
        update.balances.extend(self._estimated_balances(update.fills))
        self.stage(update, self._estimated_positions(update.fills))
        return update

    async def cancel(
        self, order_id: str, now: datetime, reason: str = "canceled by user"
    ) -> ExchangeUpdate:
        order = self._open.get(order_id)
        if order is None:
            raise NotFound("order_not_found", f"there is no open order {order_id}")
        remote = await self._client.cancel(order.symbol, order.id)
        update = self.follow(order, remote, reason=reason)
        update.balances.extend(self._estimated_balances(update.fills))
        self.stage(update)
        return update

    def follow(
        self, order: Order, remote: RemoteOrder, reason: str | None = None
    ) -> ExchangeUpdate:
        """Our ``order`` moved to the state the exchange reports, with its new fills (the
        same correction reconciliation makes, so both paths agree to the fill)."""
        correction = correct(order, remote, self._fill_ids)
        followed = correction.order or order
        if reason is not None and followed.status is OrderStatus.CANCELED:
            followed.status_reason = reason
        for difference in correction.differences:
            if difference.kind is DifferenceKind.ORDER_CONFLICT:
                log.error("live_order_conflict", order_id=order.id, detail=difference.detail)
        return ExchangeUpdate(orders=[followed], fills=correction.fills)

    async def protect(self, entry: Order, now: datetime) -> list[Order]:
        """Put a filled entry's stop-loss / take-profit on the exchange, where they survive
        our own crash; returns the legs as orders of ours."""
        if entry.role is not OrderRole.ENTRY or (
            entry.stop_loss is None and entry.take_profit is None
        ):
            return []
        remotes = await self._client.place_protection(
            entry.symbol, entry.filled, entry.stop_loss, entry.take_profit, entry.id
        )
        legs = []
        for remote in remotes:
            client_id = remote.client_order_id or ""
            role = (
                OrderRole.STOP_LOSS
                if client_id.endswith(STOP_LOSS_SUFFIX)
                else OrderRole.TAKE_PROFIT
            )
            leg = Order(
                id=client_id or f"{entry.id}{STOP_LOSS_SUFFIX}",
                symbol=entry.symbol,
                side=remote.side,
                type=remote.type,
                amount=remote.amount,
                price=remote.price,
                stop_price=remote.stop_price,
                client_order_id=client_id or None,
                user_id=entry.user_id,
                role=role,
                parent_id=entry.id,
                oco_group=entry.id if len(remotes) > 1 else None,
                source=entry.source,
                created_at=now,
                updated_at=now,
            )
            leg.transition(OrderStatus.OPEN, now)
            legs.extend(self.follow(leg, remote).orders)
        return legs

    # -- internals ------------------------------------------------------------------------
    def _placement(self, order: Order) -> PlaceOrder:
        reduce_only = False
        if self.kind is MarketKind.PERPETUAL:
            held = self._positions.get(order.symbol)
            reduce_only = bool(
                held is not None
                and held.side is not None
                and held.side is not order.side
                and order.amount <= abs(held.contracts)
            )
        return PlaceOrder(
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            amount=order.amount,
            client_order_id=order.id,
            price=order.price if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=order.stop_price,
            reduce_only=reduce_only,
        )

    def _estimated_positions(self, fills: list[Fill]) -> list[FuturesPosition] | None:
        """Perpetual positions moved by ``fills`` until reconciliation reads the exchange's:
        the next order must know whether it reduces a position (reduce-only) or opens one."""
        if self.kind is not MarketKind.PERPETUAL or not fills:
            return None
        positions = dict(self._positions)
        for fill in fills:
            held = positions.get(fill.symbol)
            contracts = held.contracts if held is not None else ZERO
            signed = fill.amount if fill.side is Side.BUY else -fill.amount
            after = contracts + signed
            entry = held.entry_price if held is not None else fill.price
            if contracts == 0 or (contracts > 0) != (after > 0):
                entry = fill.price  # opened, or flipped through zero
            elif abs(after) > abs(contracts):
                entry = (entry * abs(contracts) + fill.price * fill.amount) / abs(after)
            positions[fill.symbol] = FuturesPosition(
                symbol=fill.symbol,
                contracts=after,
                entry_price=entry,
                mark_price=fill.price,
                liquidation_price=None,  # the exchange's figure arrives with reconciliation
                unrealized_pnl=ZERO,
                leverage=held.leverage if held is not None else None,
                margin_mode=held.margin_mode if held is not None else None,
            )
        return list(positions.values())

    def _estimated_balances(self, fills: list[Fill]) -> list[Balance]:
        """Spot balances moved by ``fills`` until the next reconciliation reads the real
        ones: risk checks in between see the trade, not the balance before it."""
        if self.kind is not MarketKind.SPOT or not fills:
            return []
        moved: dict[str, Balance] = {}

        def current(asset: str) -> Balance:
            if asset not in moved:
                moved[asset] = self.balance(asset)
            return moved[asset]

        for fill in fills:
            market = self.market(fill.symbol)
            base, quote = current(market.base), current(market.quote)
            fee_base = fill.fee if fill.fee_currency == market.base else ZERO
            fee_quote = fill.fee if fill.fee_currency == market.quote else ZERO
            if fill.side is Side.BUY:
                base.free += fill.amount - fee_base
                quote.free -= fill.cost + fee_quote
            else:
                base.free -= fill.amount + fee_base
                quote.free += fill.cost - fee_quote
        return list(moved.values())
