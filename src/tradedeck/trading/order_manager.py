"""The order manager: the one trading path from a request to a stored, matched order.

Under one lock it runs the risk engine, hands the order to the exchange, applies fills
to positions and persists everything in one transaction. If the write fails the
exchange's in-memory state and the positions are rolled back, so memory, database and
exchange never disagree. Events go out only after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog

from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    OrderRejected,
)
from tradedeck.domain.markets import Market, normalize_symbol
from tradedeck.domain.money import ZERO, fmt, quantize_down
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
from tradedeck.domain.positions import Position
from tradedeck.domain.roles import Actor, Permission, Role
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.ccxt_live import send_gate
from tradedeck.exchanges.ccxt_live.models import MarketKind
from tradedeck.exchanges.live import LiveExchange
from tradedeck.exchanges.paper import PaperEngine
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.ops.metrics import Metrics
from tradedeck.storage.records import REJECTION_AUDIT
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.risk import OrderCheck, RiskEngine
from tradedeck.trading.valuation import Valuator

if TYPE_CHECKING:
    from tradedeck.storage.repository import Repository

log = structlog.get_logger(__name__)

_CLIENT_ID_MAX = 64
EXCHANGE_AUTH_FAILED = "exchange_auth_failed"
_MAX_BATCH = 256
_EVENT_BY_STATUS = {
    OrderStatus.OPEN: EventType.ORDER_PLACED,
    OrderStatus.FILLED: EventType.ORDER_FILLED,
    OrderStatus.PARTIALLY_FILLED: EventType.ORDER_PARTIALLY_FILLED,
    OrderStatus.CANCELED: EventType.ORDER_CANCELED,
    OrderStatus.EXPIRED: EventType.ORDER_EXPIRED,
    OrderStatus.REJECTED: EventType.ORDER_REJECTED,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OrderPreview:
    market: Market
    request: OrderRequest
    price: Decimal
    notional: Decimal
    fee: Decimal
    verdict: DomainError | None

    @property
    def ok(self) -> bool:
        return self.verdict is None


@dataclass(slots=True)
class _Placement:
    actor: Actor
    market: Market
    request: OrderRequest
    result: asyncio.Future[tuple[Order, bool]]


class OrderManager:
    def __init__(
        self,
        exchange: PaperEngine | LiveExchange,
        repository: Repository,
        bus: EventBus,
        risk: RiskEngine,
        valuator: Valuator,
        metrics: Metrics,
        positions: Iterable[Position] = (),
        *,
        clock: Callable[[], datetime] = _now,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.exchange = exchange
        self._live = exchange if isinstance(exchange, LiveExchange) else None
        self._repo = repository
        self._bus = bus
        self._risk = risk
        self._valuator = valuator
        self._metrics = metrics
        # The live mirror when it trades perpetuals: there the exchange's positions count
        # and ours net long and short (a sell can open one); on spot neither.
        self._perpetual = (
            self._live
            if self._live is not None and self._live.kind is MarketKind.PERPETUAL
            else None
        )
        self._positions: dict[str, Position] = {p.symbol: p for p in positions}
        for position in self._positions.values():
            position.shortable = self._perpetual is not None
        self._clock = clock
        self._new_id = new_id
        self._lock = asyncio.Lock()
        self._pending: asyncio.Queue[_Placement] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._halt: Callable[[str], Awaitable[None]] | None = None

    def bind_halt(self, halt: Callable[[str], Awaitable[None]]) -> None:
        """What stops all trading (the kill switch's trip) when the exchange refuses our
        credentials: every later order would fail the same way."""
        self._halt = halt

    # -- reads -----------------------------------------------------------------------
    def market(self, symbol: str) -> Market:
        known = self.exchange.markets.get(symbol)  # already normalized: skip the regex
        return known if known is not None else self.exchange.market(normalize_symbol(symbol))

    def positions(self) -> list[Position]:
        return [p.copy() for p in sorted(self._positions.values(), key=lambda p: p.symbol)]

    def position(self, symbol: str) -> Position | None:
        p = self._positions.get(symbol)
        return p.copy() if p else None

    def amount_for_share(self, side: Side, symbol: str, percent: Decimal) -> Decimal:
        """The base amount worth ``percent`` of the free funds a trade would spend (quote for
        a buy, after slippage and fee; base for a sell), rounded down to the market's step.
        A perpetual account holds no base coins: there a sell is a share of the long."""
        market = self.market(symbol)
        if side is Side.SELL:
            if self._perpetual is not None:
                raw = self.closable_amount(market.symbol) * percent / 100
            else:
                raw = self.exchange.balance(market.base).free * percent / 100
        else:
            price = self.exchange.last_price(market.symbol)
            if not price:
                return Decimal(0)
            config = self.exchange.config
            per_unit = price * (1 + config.slippage_bps / Decimal(10_000)) * (1 + config.fee_rate)
            raw = self.exchange.balance(market.quote).free * percent / 100 / per_unit
        return quantize_down(raw, market.amount_step)

    def closable_amount(self, symbol: str) -> Decimal:
        """What selling a whole long position can sell now (zero for a short)."""
        side, amount = self.closing(symbol)
        return amount if side is Side.SELL else ZERO

    def closing(self, symbol: str) -> tuple[Side, Decimal]:
        """The market order that closes the position in ``symbol`` now, its amount rounded
        down to the market's step (zero: nothing to close).

        On spot: a sell of the position, less anything held by open orders (its stop-loss,
        say). On perpetuals the exchange's position decides: a sell of a long's contracts
        or a buy of a short's, which the exchange then takes as reduce-only."""
        market = self.market(symbol)
        if self._perpetual is not None:
            held = self._perpetual.position_map().get(market.symbol)
            contracts = held.contracts if held is not None else ZERO
            side = Side.BUY if contracts < 0 else Side.SELL
            return side, quantize_down(abs(contracts), market.amount_step)
        position = self._positions.get(market.symbol)
        amount = position.amount if position else ZERO
        free = self.exchange.balance(market.base).free
        return Side.SELL, quantize_down(max(min(amount, free), ZERO), market.amount_step)

    async def get_order(self, actor: Actor, order_id: str) -> Order:
        actor.require(Permission.READ)
        order = await self._repo.get_order(order_id)
        if order is None:
            raise NotFound("order_not_found", f"no order with id {order_id!r}")
        return order

    def preview(self, actor: Actor, request: OrderRequest) -> OrderPreview:
        """What an order would cost and whether it would pass, changing nothing.

        The Telegram confirmation screen shows this; the real placement re-checks
        everything, since the market and the account move in between.
        """
        actor.require(Permission.TRADE)
        market = self.market(request.symbol)
        self._validate(market, request)
        last = self.exchange.last_price(market.symbol)
        price = request.price or request.stop_price or last
        if price is None:
            raise OrderRejected("no_price", f"no price for {market.symbol} yet")
        config = self.exchange.config
        if request.type in (OrderType.MARKET, OrderType.STOP_MARKET):
            slip = config.slippage_bps / Decimal(10_000)
            price = price * (1 + slip) if request.side is Side.BUY else price * (1 - slip)
        notional = request.amount * price
        fee = notional * config.fee_rate
        verdict: DomainError | None = None
        try:
            market.check_notional(request.amount, price)
            self._risk.check(actor, self._order_check(market, request))
            if request.side is Side.BUY:
                free = self.exchange.balance(market.quote).free
                if free < notional + fee:
                    raise OrderRejected(
                        "insufficient_funds",
                        f"needs {fmt(notional + fee)} {market.quote}, {fmt(free)} free",
                    )
            else:
                free = self.exchange.balance(market.base).free
                if free < request.amount:
                    raise OrderRejected(
                        "insufficient_funds",
                        f"needs {fmt(request.amount)} {market.base}, {fmt(free)} free",
                    )
        except DomainError as refused:
            verdict = refused
        return OrderPreview(market, request, price, notional, fee, verdict)

    # -- writes ----------------------------------------------------------------------
    async def place(self, actor: Actor, request: OrderRequest) -> tuple[Order, bool]:
        """Place an order; returns it and whether it was created (False: idempotent replay).

        Validation happens here, at once; the order itself joins the next batch of the
        placement worker and this call returns when that batch is committed.
        """
        actor.require(Permission.TRADE)
        market = self.market(request.symbol)
        self._validate(market, request)
        if request.client_order_id:
            existing = await self._repo.get_order_by_client_id(
                actor.user_id, request.client_order_id
            )
            if existing is not None:
                return existing, False
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._place_batches(), name="order-placement")
        job = _Placement(actor, market, request, asyncio.get_running_loop().create_future())
        self._pending.put_nowait(job)
        return await job.result

    async def stop(self) -> None:
        """Finish queued placements, then stop the placement worker."""
        if self._worker is None:
            return
        await self._pending.join()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    async def _place_batches(self) -> None:
        """Group commit: every order queued while the previous batch was being written
        goes into one transaction. Each order is still checked and matched one after
        another, seeing the state its predecessors left, so a batch behaves exactly like
        the same orders placed one by one; only the database round trips are shared."""
        while True:
            jobs = [await self._pending.get()]
            while len(jobs) < _MAX_BATCH and not self._pending.empty():
                jobs.append(self._pending.get_nowait())
            try:
                await self._place_batch(jobs)
            except Exception as failure:  # the write failed: nothing of the batch stands
                log.exception("order_batch_failed", orders=len(jobs))
                for job in jobs:
                    if not job.result.done():
                        job.result.set_exception(failure)
            finally:
                for _ in jobs:
                    self._pending.task_done()

    async def _place_batch(self, jobs: list[_Placement]) -> None:
        placed: list[tuple[_Placement, Order, ExchangeUpdate]] = []
        refused: list[tuple[_Placement, DomainError]] = []
        async with self._lock:
            now = self._clock()
            merged = ExchangeUpdate()
            duplicates: set[tuple[int | None, str]] = set()

            async def submit_all() -> ExchangeUpdate:
                # A live order cannot be undone once sent, so the stored kill switch (the
                # watchdog's) is read before anything leaves, not only by the write after;
                # the read is started first (on a SQLite file it is under way in its own
                # thread while ccxt builds and signs the request), and the request waits
                # for it at the door (``send_gate``).
                gate = self._repo.kill_switch_gate() if self._live is not None else None
                try:
                    for job in jobs:
                        try:
                            order, update = await self._submit_any(
                                job.actor, job.market, job.request, now, duplicates, gate
                            )
                        except DomainError as error:
                            refused.append((job, error))
                            continue
                        merged.merge(update)
                        placed.append((job, order, update))
                finally:
                    if gate is not None and not gate.done():
                        gate.cancel()
                    if gate is not None:
                        with contextlib.suppress(BaseException):  # seen by each job already
                            gate.result()
                return merged

            # Paper: the write itself refuses once another process halted trading. Live: the
            # gate above did that before sending; what the exchange accepted must be recorded,
            # or a halt in between would lose a real order.
            await self._apply(submit_all, require_kill_switch_off=self._live is None)
        for job, error in refused:
            if error.code == EXCHANGE_AUTH_FAILED and self._halt is not None:
                await self._halt(f"the exchange refused our API keys: {error.detail}")
            self._metrics.order_rejections_total.labels(reason=error.code).inc()
            if isinstance(error, OrderRejected):
                await self._risk.record_rejection(error.detail)
                # Nothing of a refused order is stored, but the refusal is: the watchdog
                # counts them, from its own process, to halt a run of failing orders.
                await self._repo.audit(
                    job.actor.name,
                    job.actor.channel,
                    REJECTION_AUDIT,
                    "rejected",
                    f"{job.request.symbol} {error.code}: {error.detail}",
                )
                await self._publish_rejection(job.actor, job.request, error)
            job.result.set_exception(error)
        for job, order, update in placed:
            self._risk.record_trade(job.actor)
            job.result.set_result((next(o for o in update.orders if o.id == order.id), True))
            await self._publish(update, placed_id=order.id)

    def submit_sync(self, actor: Actor, request: OrderRequest) -> tuple[Order, ExchangeUpdate]:
        """The synchronous core of a placement: validate, risk-check, submit to the
        exchange and move the positions, at the manager's clock; refusals raise.

        For a single-threaded simulation that owns its store (the backtester): there is no
        lock, no write and no event here, and no idempotency by ``client_order_id`` (that
        needs the store). The placement worker runs this same core for every order.
        """
        actor.require(Permission.TRADE)
        market = self.market(request.symbol)
        self._validate(market, request)
        order, update = self._submit_one(actor, market, request, self._clock(), set())
        return _placed(update, order.id), update

    async def _submit_any(
        self,
        actor: Actor,
        market: Market,
        request: OrderRequest,
        now: datetime,
        seen: set[tuple[int | None, str]],
        gate: asyncio.Future[None] | None = None,
    ) -> tuple[Order, ExchangeUpdate]:
        if self._live is None:
            return self._submit_one(actor, market, request, now, seen)
        order = self._new_order(actor, market, request, now, seen)
        with send_gate.held_by(gate):  # the request waits for the read, ccxt's work does not
            return order, self._apply_fills(await self._live.submit(order, now))

    def match_sync(self, candles: Sequence[Candle]) -> ExchangeUpdate:
        """The synchronous core of :meth:`on_candles` (match, move positions), for the
        same single-threaded callers as :meth:`submit_sync`."""
        return self._match_candles(candles, self._clock())

    def _submit_one(
        self,
        actor: Actor,
        market: Market,
        request: OrderRequest,
        now: datetime,
        seen: set[tuple[int | None, str]],
    ) -> tuple[Order, ExchangeUpdate]:
        order = self._new_order(actor, market, request, now, seen)
        update = self._paper().submit(order, now)
        self._apply_fills(update)
        return order, update

    def _paper(self) -> PaperEngine:
        """The simulated exchange; the synchronous paths (backtests) exist only for it."""
        exchange = self.exchange
        if isinstance(exchange, LiveExchange):
            raise TypeError("a live exchange has no synchronous placement path")
        return exchange

    def _match_candles(self, candles: Sequence[Candle], now: datetime) -> ExchangeUpdate:
        if len(candles) == 1:  # the usual case: nothing to merge
            return self._apply_fills(self.exchange.on_candle(candles[0], now))
        merged = ExchangeUpdate()
        for candle in candles:
            merged.merge(self._apply_fills(self.exchange.on_candle(candle, now)))
        return merged

    def _new_order(
        self,
        actor: Actor,
        market: Market,
        request: OrderRequest,
        now: datetime,
        seen: set[tuple[int | None, str]],
    ) -> Order:
        """Risk-check one request against the current state and build its order."""
        if request.client_order_id:
            key = (actor.user_id, request.client_order_id)
            if key in seen:
                raise Conflict(
                    "duplicate_client_order_id",
                    f"client_order_id {request.client_order_id!r} is already being placed",
                )
            seen.add(key)
        self._risk.check(actor, self._order_check(market, request))
        return Order(
            id=self._new_id(),
            symbol=market.symbol,
            side=request.side,
            type=request.type,
            amount=request.amount,
            price=request.price,
            stop_price=request.stop_price,
            client_order_id=request.client_order_id,
            user_id=actor.user_id,
            stop_loss=request.stop_loss,
            take_profit=request.take_profit,
            source=request.source,
            created_at=now,
            updated_at=now,
        )

    async def cancel(self, actor: Actor, order_id: str) -> Order:
        actor.require(Permission.TRADE)
        async with self._lock:
            current = self.exchange.get_order(order_id)
            if current is None:
                stored = await self._repo.get_order(order_id)
                if stored is None:
                    raise NotFound("order_not_found", f"no order with id {order_id!r}")
                raise Conflict(
                    "order_not_open", f"order {order_id} is {stored.status.value}, not open"
                )
            if actor.role is not Role.ADMIN and current.user_id != actor.user_id:
                raise NotFound("order_not_found", f"no order with id {order_id!r}")
            now = self._clock()
            update = await self._apply(
                lambda: self._cancel_one(order_id, now, f"canceled by {actor.name}")
            )
        await self._publish(update)
        return next(o for o in update.orders if o.id == order_id)

    async def _cancel_one(self, order_id: str, now: datetime, reason: str) -> ExchangeUpdate:
        if self._live is not None:
            return self._apply_fills(await self._live.cancel(order_id, now, reason))
        return self._apply_fills(self._paper().cancel(order_id, now, reason))

    async def cancel_all(self, reason: str) -> int:
        """Cancel every open order in one transaction (the kill switch path)."""
        async with self._lock:
            open_ids = [o.id for o in self.exchange.open_orders()]
            if not open_ids:
                return 0
            now = self._clock()

            async def cancel_each() -> ExchangeUpdate:
                merged = ExchangeUpdate()
                for order_id in open_ids:
                    if self.exchange.get_order(order_id) is not None:  # OCO siblings go together
                        merged.merge(await self._cancel_one(order_id, now, reason))
                return merged

            update = await self._apply(cancel_each)
        await self._publish(update)
        return sum(1 for o in update.orders if o.status is OrderStatus.CANCELED)

    async def on_candles(self, candles: Sequence[Candle]) -> ExchangeUpdate:
        """Feed new market candles to the exchange and persist whatever they matched."""
        async with self._lock:
            now = self._clock()

            async def match() -> ExchangeUpdate:
                return self._match_candles(candles, now)

            update = await self._apply(match)
        if not update.empty:
            await self._publish(update)
        return update

    async def apply_external(
        self, compute: Callable[[datetime], Awaitable[ExchangeUpdate]]
    ) -> ExchangeUpdate:
        """Persist what an exchange did on its own (fills and cancels found by polling or
        reconciliation): under the lock, positions moved, stored, then announced."""
        async with self._lock:
            now = self._clock()

            async def learn() -> ExchangeUpdate:
                return self._apply_fills(await compute(now))

            update = await self._apply(learn)
        if not update.empty:
            await self._publish(update)
        return update

    # -- internals -------------------------------------------------------------------
    async def _apply(
        self,
        operation: Callable[[], Awaitable[ExchangeUpdate]],
        *,
        require_kill_switch_off: bool = False,
    ) -> ExchangeUpdate:
        """Run an exchange operation and persist it atomically; undo memory on failure.

        The operation applies its fills to positions as it goes (see ``_apply_fills``),
        so each step sees the positions the previous one left.
        """
        saved_positions = {s: p.copy() for s, p in self._positions.items()}
        try:
            with self.exchange.atomic():
                update = await operation()
                if update.empty:
                    return update
                touched = [self._positions[s] for s in {f.symbol for f in update.fills}]
                await self._repo.save_update(
                    update, touched, require_kill_switch_off=require_kill_switch_off
                )
        except BaseException:
            self._positions = saved_positions
            raise
        for order in update.orders:
            self._metrics.orders_total.labels(
                side=order.side.value, type=order.type.value, status=order.status.value
            ).inc()
        return update

    def _apply_fills(self, update: ExchangeUpdate) -> ExchangeUpdate:
        """Move positions by the update's fills and stamp each fill with the PnL it realized."""
        positions = self._positions
        for i, fill in enumerate(update.fills):
            position = positions.get(fill.symbol)
            if position is None:
                position = positions[fill.symbol] = Position(
                    fill.symbol, shortable=self._perpetual is not None
                )
            realized = position.apply_fill(
                fill.side, fill.amount, fill.price, fill.fee, fill.timestamp
            )
            if realized is not fill.realized_pnl:  # a buy realizes the very ZERO it carries
                update.fills[i] = fill.with_realized_pnl(realized)
        return update

    def _validate(self, market: Market, request: OrderRequest) -> None:
        """Refuse malformed requests before they take the lock or touch anything."""
        market.check_amount(request.amount)
        if request.type in PRICED_TYPES:
            if request.price is None:
                raise InvalidInput("missing_price", f"a {request.type.value} order needs a price")
            market.check_price(request.price)
        elif request.price is not None:
            raise InvalidInput("unexpected_price", f"a {request.type.value} order takes no price")
        if request.type in STOP_TYPES:
            if request.stop_price is None:
                raise InvalidInput(
                    "missing_stop_price", f"a {request.type.value} order needs a stop_price"
                )
            market.check_price(request.stop_price, "stop_price")
        elif request.stop_price is not None:
            raise InvalidInput(
                "unexpected_stop_price", f"a {request.type.value} order takes no stop_price"
            )
        if request.client_order_id is not None and not (
            0 < len(request.client_order_id) <= _CLIENT_ID_MAX
            and request.client_order_id.isprintable()
        ):
            raise InvalidInput(
                "invalid_client_order_id",
                f"client_order_id must be 1 to {_CLIENT_ID_MAX} printable characters",
            )

    def _order_check(self, market: Market, request: OrderRequest) -> OrderCheck:
        reference = request.price or request.stop_price or self.exchange.last_price(market.symbol)
        quote_value = self._valuator.price(market.quote)
        notional = (
            request.amount * reference * quote_value
            if reference is not None and quote_value is not None
            else None
        )
        totals = self.exchange.totals()
        equity = self._valuator.total(totals)
        base_exposure = None
        base_price = self._valuator.price(market.base)
        if base_price is not None:
            held = totals.get(market.base, ZERO)
            base_exposure = (held + request.amount) * base_price
        opens_position, open_positions = self._open_positions(market.symbol, request.side)
        return OrderCheck(
            symbol=market.symbol,
            side=request.side,
            base=market.base,
            notional=notional,
            equity=equity,
            base_exposure=base_exposure,
            opens_position=opens_position,
            open_positions=open_positions,
        )

    def _open_positions(self, symbol: str, side: Side) -> tuple[bool, int]:
        """Whether an order on ``symbol`` opens a position, and how many are open.

        On perpetuals the exchange's positions count and either side opens one (a short
        is a position too; the positions rebuilt from fills are spot-style, long only).
        On spot only a buy can open one."""
        if self._perpetual is not None:
            held = self._perpetual.position_map()
            return symbol not in held, len(held)
        position = self._positions.get(symbol)
        open_positions = 0
        for held_position in self._positions.values():
            if held_position.is_open:
                open_positions += 1
        opens = side is Side.BUY and (position is None or not position.is_open)
        return opens, open_positions

    async def _publish(self, update: ExchangeUpdate, placed_id: str | None = None) -> None:
        fills_by_order: dict[str, list[Fill]] = {}
        for fill in update.fills:
            fills_by_order.setdefault(fill.order_id, []).append(fill)
        for order in update.orders:
            event_type = _EVENT_BY_STATUS.get(order.status)
            if event_type is None:
                continue
            resting_entry = order.role is OrderRole.ENTRY and order.id != placed_id
            if event_type is EventType.ORDER_PLACED and resting_entry:
                continue  # touched by a candle without a fill: nothing new to announce
            await self._bus.publish(
                Event(
                    type=event_type,
                    user_id=order.user_id,
                    data=order_summary(order, fills_by_order.get(order.id, [])),
                )
            )

    async def _publish_rejection(
        self, actor: Actor, request: OrderRequest, refused: OrderRejected
    ) -> None:
        log.info("order_rejected", user=actor.name, symbol=request.symbol, reason=refused.code)
        await self._bus.publish(
            Event(
                type=EventType.ORDER_REJECTED,
                user_id=actor.user_id,
                data={
                    "symbol": request.symbol,
                    "side": request.side.value,
                    "type": request.type.value,
                    "amount": fmt(request.amount),
                    "reason": refused.code,
                    "detail": refused.detail,
                },
            )
        )


def _placed(update: ExchangeUpdate, order_id: str) -> Order:
    """The state an update holds for the order it placed (it is always in it)."""
    for order in update.orders:
        if order.id == order_id:
            return order
    raise LookupError(f"the update does not hold order {order_id}")


def order_summary(order: Order, fills: Sequence[Fill] = ()) -> dict[str, object]:
    return {
        "order_id": order.id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "amount": fmt(order.amount),
        "filled": fmt(order.filled),
        "average_price": fmt(order.average_price),
        "reason": order.status_reason,
        "role": order.role.value,
        "fills": [
            {"amount": fmt(f.amount), "price": fmt(f.price), "fee": fmt(f.fee)} for f in fills
        ],
    }
