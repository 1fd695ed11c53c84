"""Strategies trading live: each closed candle is a chance to enter or leave.

The runner listens to the market data service. When a configured market's candle closes
it evaluates that strategy on a recent window (long enough for its warmup), and acts only
on the newest candle: an entry when the strategy is flat, an exit when it holds a
position. Orders go through the order manager as an actor of role trader, so every risk
check, the kill switch and the protective legs behave exactly as for a person's order.

Nothing a strategy does may stop the feed: a strategy that raises is logged with the
``file:line`` it raised at (and switched off after repeated failures), a refused order is
logged and published, and while the kill switch is active the runner places nothing.
Each run's position survives a restart, so a restarted runner still knows what to sell.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd
import structlog

from tradedeck.config import StrategyRun
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import DomainError, InvalidInput, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ZERO, fmt, quantize_down, quantize_nearest
from tradedeck.domain.orders import Order, OrderType, Side
from tradedeck.domain.roles import Actor, Permission, Role
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.storage.repository import Repository
from tradedeck.strategies.base import Signals, Strategy
from tradedeck.strategies.registry import StrategyRegistry, failure_location
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.sizing import fixed_fractional
from tradedeck.trading.valuation import Valuator

log = structlog.get_logger(__name__)

CHANNEL: Final = "strategy"
SOURCE_PREFIX: Final = "strategy:"
"""Orders a run places carry ``source="strategy:<name>"``, so every face can tell who placed
them (strategy names are at most 40 characters, well within the column's 64)."""
MIN_WINDOW: Final = 250
"""Candles kept per run at least; recursive indicators (EMA, RSI) settle over this many."""
MAX_WINDOW: Final = 20_000
OFFLOAD_CANDLES: Final = 2_000
"""Windows at least this long are evaluated in a worker thread, off the event loop."""
MAX_FAILURES: Final = 5
"""Consecutive evaluation failures after which a run is switched off until restart."""
_HOLDING_KEY: Final = "strategy_holding:"


@dataclass(slots=True)
class Holding:
    """The position one run opened: its entry order and the highest price seen since."""

    entry_order_id: str
    amount: Decimal
    peak: Decimal
    protected: bool  # the entry carried a stop-loss or take-profit leg

    def dumps(self) -> str:
        return json.dumps(
            {
                "entry_order_id": self.entry_order_id,
                "amount": str(self.amount),
                "peak": str(self.peak),
                "protected": self.protected,
            }
        )

    @classmethod
    def loads(cls, text: str) -> Holding:
        raw = json.loads(text)
        return cls(
            entry_order_id=str(raw["entry_order_id"]),
            amount=Decimal(raw["amount"]),
            peak=Decimal(raw["peak"]),
            protected=bool(raw["protected"]),
        )


@dataclass(slots=True)
class _Run:
    """One configured strategy on one market, with its candle window and position."""

    index: int
    config: StrategyRun
    strategy: Strategy
    market: Market
    timeframe: str
    actor: Actor
    window: deque[tuple[int, float, float, float, float, float]]
    holding: Holding | None = None
    seeded: bool = False
    failures: int = 0
    disabled: bool = False
    last_error: str | None = None
    last_candle_at: datetime | None = None
    last_action: str | None = None
    last_refusal: str | None = None

    @property
    def key(self) -> str:
        return f"{self.strategy.name}:{self.market.symbol}"

    @property
    def source(self) -> str:
        return SOURCE_PREFIX + self.strategy.name

    def client_order_id(self) -> str:
        """Unique, so the idempotency check never matches; the name makes it readable."""
        return f"{self.strategy.name}-{uuid.uuid4().hex[:12]}"


def window_size(strategy: Strategy) -> int:
    """Enough candles for the warmup and then some, so recursive indicators settle."""
    return min(MAX_WINDOW, max(MIN_WINDOW, 4 * strategy.warmup + 1))


class StrategyRunner:
    def __init__(
        self,
        runs: Sequence[_Run],
        orders: OrderManager,
        repository: Repository,
        bus: EventBus,
        kill_switch: KillSwitch,
        valuator: Valuator,
    ) -> None:
        self._runs = list(runs)
        self._orders = orders
        self._repo = repository
        self._bus = bus
        self._kill_switch = kill_switch
        self._valuator = valuator
        self._paused_logged = False
        self._lock = asyncio.Lock()

    @classmethod
    def build(
        cls,
        configs: Sequence[StrategyRun],
        registry: StrategyRegistry,
        *,
        orders: OrderManager,
        repository: Repository,
        bus: EventBus,
        kill_switch: KillSwitch,
        valuator: Valuator,
        timeframes: Mapping[str, str],
    ) -> StrategyRunner:
        """Check every configured run against the known strategies and markets.

        A bad entry stops start-up with one message naming it; nothing half-starts.
        """
        runs: list[_Run] = []
        for index, config in enumerate(configs):
            label = f"TRADEDECK_STRATEGIES entry {index} ({config.strategy} on {config.symbol})"
            try:
                strategy = registry.create(config.strategy, config.params)
                market = orders.market(config.symbol)
            except DomainError as error:
                raise InvalidInput("invalid_setting", f"{label}: {error.detail}") from None
            replayed = timeframes.get(market.symbol)
            if replayed is None:
                raise InvalidInput(
                    "invalid_setting", f"{label}: no candles are fed for {market.symbol}"
                )
            if config.timeframe is not None and config.timeframe != replayed:
                raise InvalidInput(
                    "invalid_setting",
                    f"{label}: {market.symbol} is fed in {replayed} candles, "
                    f"not {config.timeframe}",
                )
            actor = Actor(name=f"strategy:{strategy.name}", role=Role.TRADER, channel=CHANNEL)
            runs.append(
                _Run(
                    index=index,
                    config=config,
                    strategy=strategy,
                    market=market,
                    timeframe=replayed,
                    actor=actor,
                    window=deque(maxlen=window_size(strategy)),
                )
            )
        return cls(runs, orders, repository, bus, kill_switch, valuator)

    @property
    def enabled(self) -> bool:
        return bool(self._runs)

    async def start(self) -> None:
        """Restore the positions the runs held before the last shutdown."""
        for run in self._runs:
            saved = await self._repo.get_setting(_HOLDING_KEY + run.key)
            if saved:
                try:
                    run.holding = Holding.loads(saved)
                except (ValueError, KeyError, ArithmeticError):
                    log.warning("strategy_holding_unreadable", run=run.key)

    def status(self, actor: Actor) -> list[dict[str, Any]]:
        """What each configured run is doing: position, last action, last error."""
        actor.require(Permission.READ)
        return [
            {
                "strategy": run.strategy.name,
                "symbol": run.market.symbol,
                "timeframe": run.timeframe,
                "params": run.strategy.params.model_dump(mode="json"),
                "amount": fmt(run.config.amount),
                "risk_percent": fmt(run.config.risk_percent),
                "in_position": run.holding is not None,
                "position_amount": fmt(run.holding.amount) if run.holding else None,
                "entry_order_id": run.holding.entry_order_id if run.holding else None,
                "candles": len(run.window),
                "warmup": run.strategy.warmup,
                "last_candle_at": run.last_candle_at.isoformat() if run.last_candle_at else None,
                "last_action": run.last_action,
                "last_refusal": run.last_refusal,
                "last_error": run.last_error,
                "disabled": run.disabled,
            }
            for run in self._runs
        ]

    async def on_candles(self, candles: list[Candle]) -> None:
        """The market data listener: add the closed candles, then decide on the newest."""
        if not self._runs:
            return
        async with self._lock:  # one batch at a time, so a position is never doubled
            for run in self._runs:
                mine = [c for c in candles if c.symbol == run.market.symbol]
                mine = [c for c in mine if c.timeframe == run.timeframe]
                if not mine or run.disabled:
                    continue
                try:
                    await self._step(run, mine)
                except Exception:  # never let one run stop the others or the feed
                    log.exception("strategy_step_failed", run=run.key)

    async def _step(self, run: _Run, candles: list[Candle]) -> None:
        if not run.seeded:
            await self._seed(run, candles[0].opened_at)
        newest_ms = run.window[-1][0] if run.window else None
        new_peak = False
        for candle in candles:
            ms = int(candle.opened_at.timestamp() * 1000)
            if newest_ms is not None and ms <= newest_ms:
                continue  # already seen (a primed candle, or history)
            run.window.append(_row(candle))
            newest_ms = ms
            if run.holding is not None and candle.high > run.holding.peak:
                run.holding.peak = candle.high
                new_peak = True
        if new_peak and run.strategy.params.trailing_stop is not None:
            await self._set_holding(run, run.holding)  # the trailing stop survives a restart
        last = candles[-1]
        run.last_candle_at = last.opened_at
        if run.holding is not None and await self._closed_elsewhere(run):
            return
        if self._kill_switch.active:
            if not self._paused_logged:
                self._paused_logged = True
                log.warning("strategy_orders_paused", reason=self._kill_switch.reason())
            return
        self._paused_logged = False
        if len(run.window) <= run.strategy.warmup:
            return
        signals = await self._evaluate(run)
        if signals is None:
            return
        if run.holding is None and bool(signals.entry[-1]):
            await self._enter(run, last)
        elif run.holding is not None:
            reason = "signal" if bool(signals.exit[-1]) else self._trailing_hit(run, last)
            if reason is not None:
                await self._exit(run, reason)

    async def _seed(self, run: _Run, before: datetime) -> None:
        """Fill the window from stored candles, so a run can decide from its first candle."""
        history = await self._repo.list_candles(
            run.market.symbol, run.timeframe, limit=run.window.maxlen or MIN_WINDOW, before=before
        )
        run.window.extend(_row(c) for c in history)
        run.seeded = True

    async def _evaluate(self, run: _Run) -> Signals | None:
        frame = _frame(run.window)
        try:
            if len(frame) >= OFFLOAD_CANDLES:
                signals = await asyncio.to_thread(run.strategy.signals, frame)
            else:
                signals = run.strategy.signals(frame)
        except Exception as error:
            run.failures += 1
            run.last_error = failure_location(error, run.strategy)
            log.error("strategy_failed", run=run.key, error=run.last_error, failures=run.failures)
            if run.failures >= MAX_FAILURES:
                run.disabled = True
                log.error("strategy_disabled", run=run.key, error=run.last_error)
            return None
        run.failures = 0
        return signals

    def _trailing_hit(self, run: _Run, last: Candle) -> str | None:
        trail = run.strategy.params.trailing_stop
        if trail is None or run.holding is None:
            return None
        floor = run.holding.peak * (1 - Decimal(str(trail)))
        return "trailing_stop" if last.close <= floor else None

    async def _closed_elsewhere(self, run: _Run) -> bool:
        """True (and the run is flat again) when its stop-loss or take-profit closed it."""
        holding = run.holding
        assert holding is not None
        if not holding.protected or self._open_children(run, holding):
            return False
        if self._orders.exchange.get_order(holding.entry_order_id) is not None:
            return False  # the entry is still filling; its legs come with the fills
        recent = await self._repo.list_orders(symbol=run.market.symbol, limit=500)
        legs = [o for o in recent if o.parent_id == holding.entry_order_id]
        if not any(leg.filled > 0 for leg in legs):
            # Canceled, not hit (the kill switch cancels every open order): the coins are
            # still held, now without protection, and the exit rule still applies.
            holding.protected = False
            await self._set_holding(run, holding)
            log.warning("strategy_protection_canceled", run=run.key)
            return False
        log.info("strategy_position_closed_by_protection", run=run.key)
        run.last_action = "closed by stop-loss/take-profit"
        await self._set_holding(run, None)
        return True

    def _open_children(self, run: _Run, holding: Holding) -> list[Order]:
        return [
            o
            for o in self._orders.exchange.open_orders(run.market.symbol)
            if o.parent_id == holding.entry_order_id
        ]

    async def _enter(self, run: _Run, last: Candle) -> None:
        params = run.strategy.params
        tick = run.market.price_tick
        stop_loss = (
            quantize_nearest(last.close * (1 - Decimal(str(params.stop_loss))), tick)
            if params.stop_loss is not None
            else None
        )
        take_profit = (
            quantize_nearest(last.close * (1 + Decimal(str(params.take_profit))), tick)
            if params.take_profit is not None
            else None
        )
        try:
            amount = self._entry_amount(run, last.close, stop_loss)
            request = OrderRequest(
                symbol=run.market.symbol,
                side=Side.BUY,
                type=OrderType.MARKET,
                amount=amount,
                stop_loss=stop_loss,
                take_profit=take_profit,
                client_order_id=run.client_order_id(),
                source=run.source,
            )
            order, _ = await self._orders.place(run.actor, request)
        except DomainError as refused:
            await self._refused(run, Side.BUY, refused)
            return
        filled = order.filled if order.filled > 0 else order.amount
        holding = Holding(
            entry_order_id=order.id,
            amount=filled,
            peak=max(last.close, order.average_price or last.close),
            protected=False,
        )
        # Only legs that exist can close the position behind the runner's back.
        holding.protected = bool(self._open_children(run, holding))
        await self._set_holding(run, holding)
        run.last_action = f"buy {fmt(filled)} at {fmt(order.average_price)} ({order.id})"
        log.info("strategy_entered", run=run.key, order_id=order.id, amount=fmt(filled))

    def _entry_amount(self, run: _Run, price: Decimal, stop: Decimal | None) -> Decimal:
        step = run.market.amount_step
        if run.config.amount is not None:
            amount = quantize_down(run.config.amount, step)
        else:
            quote_price = self._valuator.price(run.market.quote)
            if not quote_price:
                raise InvalidInput("no_price", f"no price for {run.market.quote} to size with")
            equity = self._valuator.equity(self._orders.exchange.balances()).total / quote_price
            risk = run.config.risk_percent or ZERO
            amount = quantize_down(fixed_fractional(equity, risk, price, stop), step)
        if amount <= 0:
            raise InvalidInput("size_too_small", "the configured size is below one amount step")
        return amount

    async def _exit(self, run: _Run, reason: str) -> None:
        holding = run.holding
        assert holding is not None
        # Protective legs (and an unfilled rest of the entry) hold the coins: free them.
        pending = self._open_children(run, holding)
        entry = self._orders.exchange.get_order(holding.entry_order_id)
        if entry is not None:
            pending.append(entry)
        for order in pending:
            if self._orders.exchange.get_order(order.id) is None:
                continue  # gone with an OCO sibling
            try:
                await self._orders.cancel(run.actor, order.id)
            except DomainError as error:
                log.info("strategy_cancel_skipped", run=run.key, order_id=order.id, why=error.code)
        stored = await self._repo.get_order(holding.entry_order_id)
        bought = stored.filled if stored is not None else holding.amount
        amount = min(bought, self._orders.closable_amount(run.market.symbol))
        if amount <= 0:
            log.info("strategy_nothing_to_sell", run=run.key)
            run.last_action = "exit: nothing left to sell"
            await self._set_holding(run, None)
            return
        request = OrderRequest(
            symbol=run.market.symbol,
            side=Side.SELL,
            type=OrderType.MARKET,
            amount=amount,
            client_order_id=run.client_order_id(),
            source=run.source,
        )
        try:
            order, _ = await self._orders.place(run.actor, request)
        except DomainError as refused:
            await self._refused(run, Side.SELL, refused)
            return
        await self._set_holding(run, None)
        run.last_action = f"sell {fmt(amount)} at {fmt(order.average_price)} ({reason})"
        log.info("strategy_exited", run=run.key, order_id=order.id, reason=reason)

    async def _refused(self, run: _Run, side: Side, refused: DomainError) -> None:
        run.last_refusal = f"{refused.code}: {refused.detail}"
        log.warning(
            "strategy_order_refused",
            run=run.key,
            side=side.value,
            reason=refused.code,
            detail=refused.detail,
        )
        if isinstance(refused, OrderRejected):
            return  # the order manager published this rejection already
        await self._bus.publish(
            Event(
                type=EventType.ORDER_REJECTED,
                data={
                    "symbol": run.market.symbol,
                    "side": side.value,
                    "type": OrderType.MARKET.value,
                    "reason": refused.code,
                    "detail": refused.detail,
                    "source": run.source,
                    "strategy": run.strategy.name,
                },
            )
        )

    async def _set_holding(self, run: _Run, holding: Holding | None) -> None:
        run.holding = holding
        value = holding.dumps() if holding is not None else ""
        await self._repo.set_setting(_HOLDING_KEY + run.key, value, run.actor.name)


def _row(candle: Candle) -> tuple[int, float, float, float, float, float]:
    return (
        int(candle.opened_at.timestamp() * 1000),
        float(candle.open),
        float(candle.high),
        float(candle.low),
        float(candle.close),
        float(candle.volume),
    )


def _frame(window: deque[tuple[int, float, float, float, float, float]]) -> pd.DataFrame:
    """The window as the frame strategies expect (see ``candle_frame``)."""
    values = np.array(window, dtype=np.float64).reshape(-1, 6)
    index = pd.DatetimeIndex(
        pd.to_datetime(values[:, 0].astype(np.int64), unit="ms", utc=True), name="time"
    )
    return pd.DataFrame(
        {
            "open": values[:, 1],
            "high": values[:, 2],
            "low": values[:, 3],
            "close": values[:, 4],
            "volume": values[:, 5],
        },
        index=index,
    )
