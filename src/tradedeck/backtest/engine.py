"""The backtester: a strategy's signals traded through the real trading path.

One trading path. Orders go through the same :class:`OrderManager`, :class:`RiskEngine`,
:class:`KillSwitch` and :class:`PaperEngine` as paper trading; only the clock (simulated:
the open time of the candle being traded), the repository (in memory) and the event bus
(discarded) differ. A strategy that behaves here behaves the same way in paper trading.

Semantics. Signals are decided on a candle's close; the market order they cause fills at
the next candle's open plus slippage (the engine is shown that open as its last price,
then the order is placed). Stop-loss and take-profit are the engine's own OCO legs,
attached to the entry at those fractions of that open, and fill when a candle's low or
high reaches them, from the entry candle on (the engine matches the stop-loss leg first,
so when both are inside one candle the stop-loss wins). A trailing stop follows the
highest close since the entry; when a candle's low reaches it, the backtester re-places
the position's stop at that level (cancelling the fixed legs, as a trader moving a stop
would) and shows the engine that candle. Fees are the engine's, per fill.

Why it visits only event candles. Strategies are vectorised, so the signals of every
candle are known up front. Between an entry and its exit nothing can happen but a
protective fill, and where a low or high first reaches a level is one numpy search. So
the loop jumps from event to event: the candle after an entry signal, the first candle
where a protective order could fill, the candle after an exit signal. Only those candles
reach the order manager, which keeps the matching the engine's own code while a 500k
candle run makes a few tens of thousands of calls instead of half a million. The search
is only a hint: after each event the position follows the fills the order manager
returned, and if the engine did not fill, the search resumes at the next candle.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tradedeck.backtest.memory import MemoryRepository
from tradedeck.backtest.metrics import compute_metrics
from tradedeck.backtest.report import EQUITY_POINTS, BacktestResult, EquityPoint, Trade
from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle, ms_to_datetime
from tradedeck.domain.errors import DomainError, InvalidInput, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ONE, ZERO, from_float, quantize_down, quantize_nearest
from tradedeck.domain.orders import Fill, Order, OrderRole, OrderType, Side
from tradedeck.domain.roles import Actor, Role
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.paper import PaperConfig, PaperEngine
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.notify.events import Event, Handler
from tradedeck.ops.metrics import Metrics
from tradedeck.strategies.base import Strategy, candle_frame
from tradedeck.strategies.registry import failure_location
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.risk import RiskEngine
from tradedeck.trading.risk_limits import RiskLimits
from tradedeck.trading.sizing import fixed_fractional
from tradedeck.trading.valuation import Valuator

Progress = Callable[[float], None]
IntArray = npt.NDArray[np.int64]

BACKTEST_ACTOR = Actor(name="backtest", role=Role.TRADER, channel="backtest")
"""Who trades the simulated account: a trader, so the role limits of the risk engine
apply exactly as they do to a person; it exists only inside one run."""

_SOURCE = "backtest"
_UNLIMITED = Decimal("1e18")
_HUNDRED = Decimal(100)
_BPS = Decimal(10_000)


def backtest_limits() -> RiskLimits:
    """The risk limits of a simulated account: one position at a time (the strategy is
    long-only on one market), the whole account may be in it, and no notional cap, no
    cooldown and no daily stop, so the figures measure the strategy and not the live
    account's guard rails. The kill switch still trips on a run of exchange rejections."""
    return RiskLimits(
        max_order_notional_trader=_UNLIMITED,
        max_order_notional_admin=_UNLIMITED,
        max_exposure_pct=_HUNDRED,
        max_positions=1,
        cooldown_seconds=0,
        daily_drawdown_pct=_HUNDRED,
        max_consecutive_rejections=50,
    )


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """How the simulated account trades. Without ``amount`` or ``risk_percent`` each
    entry spends all free cash; ``risk_percent`` risks that share of equity down to the
    stop-loss (or, without one, puts that share of equity into the position)."""

    market: Market
    cash: Decimal = Decimal(10_000)
    fee_rate: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal(5)
    amount: Decimal | None = None
    risk_percent: Decimal | None = None

    def __post_init__(self) -> None:
        if self.amount is not None and self.risk_percent is not None:
            raise InvalidInput(
                "amount_and_risk", "give either an amount or a risk percent, not both"
            )
        if self.cash <= 0:
            raise InvalidInput("invalid_cash", "starting cash must be greater than zero")
        if self.amount is not None:
            self.market.check_amount(self.amount)
        if self.risk_percent is not None and not ZERO < self.risk_percent <= _HUNDRED:
            raise InvalidInput("invalid_risk", "risk percent must be above 0 and at most 100")
        PaperConfig(fee_rate=self.fee_rate, slippage_bps=self.slippage_bps)  # same bounds


class StrategyFailed(InvalidInput):
    """The strategy raised while computing its signals (a bug in a user's file, mostly)."""


class DiscardBus:
    """The event bus of a simulated account: fills of a backtest must never reach a
    trader's chat, so nothing published here goes anywhere."""

    def __init__(self) -> None:
        self.published = 0

    async def publish(self, event: Event) -> None:
        self.published += 1

    def subscribe(self, handler: Handler) -> None:
        raise RuntimeError("a backtest's events have no listeners")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def run_backtest(
    series: CandleSeries,
    strategy: Strategy,
    config: BacktestConfig,
    *,
    progress: Progress | None = None,
) -> BacktestResult:
    """Run one backtest to the end; blocking and CPU-bound, so call it off the event loop
    (the service uses a worker thread; the CLI simply calls it)."""
    if len(series) < 2:
        raise InvalidInput("not_enough_candles", "a backtest needs at least 2 candles")
    # A loop of its own rather than asyncio.run: on the main thread, 3.11's runner looks
    # its SIGINT handler up through signal.getsignal, which formats the handler (a partial
    # holding the task) and with it the task's result, so every run paid for the repr of
    # thousands of trades. This call also runs in worker threads, which have no loop.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_Run(series, strategy, config, progress).execute())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@dataclass(slots=True)
class _Position:
    """The vectorised view of the open trade (floats: they only steer the search)."""

    entry_candle: int
    entry_price: float
    stop_loss: float | None
    take_profit: float | None

    def __init__(
        self,
        entry_candle: int,
        entry_price: float,
        stop_loss: float | None,
        take_profit: float | None,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.entry_candle = entry_candle
        self.entry_price = entry_price
        self.stop_loss = stop_loss
        self.take_profit = take_profit


class _Run:
    def __init__(
        self,
        series: CandleSeries,
        strategy: Strategy,
        config: BacktestConfig,
        progress: Progress | None,
    ) -> None:
        self._series = series
        self._strategy = strategy
        self._config = config
        self._market = config.market
        self._symbol = config.market.symbol
        self._progress = progress
        self._next_report = 0
        self._n = len(series)
        self._ts = series.ts
        self._open = series.open
        self._high = series.high
        self._low = series.low
        self._close = series.close
        self._rejected = 0
        self._held = ZERO
        self._now = ms_to_datetime(int(series.ts[0]))
        self._candle = 0  # the candle whose time self._now is: where a fill lands
        # Per fill, in order: its candle, its change to the position and to cash (floats:
        # they only draw the equity curve; the trades are summed from the fills exactly).
        self._fill_candles: list[int] = []
        self._fill_base: list[float] = []
        self._fill_cash: list[float] = []
        self._first_ms = int(series.ts[0])
        self._seconds = 0.0
        self._day: date | None = None
        self._trailing = strategy.params.trailing_stop
        ids = itertools.count(1)
        new_id: Callable[[], str] = lambda: f"bt{next(ids)}"  # noqa: E731 - deterministic ids
        self._repo = MemoryRepository()
        repository = self._repo.as_repository()
        self._exchange = PaperEngine(
            {self._symbol: self._market},
            PaperConfig(
                fee_rate=config.fee_rate, slippage_bps=config.slippage_bps, volume_share=ZERO
            ),
            balances=[Balance(self._market.quote, free=config.cash)],
            new_id=new_id,
        )
        bus = DiscardBus()
        self._valuator = Valuator(
            self._exchange.markets, self._exchange.last_price, self._market.quote
        )
        self._kill_switch = KillSwitch(repository, bus)
        self._risk = RiskEngine(
            repository,
            backtest_limits(),
            kill_switch_active=lambda: self._kill_switch.active,
            kill_switch_reason=self._kill_switch.reason,
            trip_kill_switch=self._kill_switch.trip,
            currency=self._market.quote,
            monotonic=lambda: self._seconds,
        )
        self._orders = OrderManager(
            self._exchange,
            repository,
            bus,
            self._risk,
            self._valuator,
            Metrics(),
            clock=lambda: self._now,
            new_id=new_id,
        )
        self._kill_switch.bind_canceller(self._orders.cancel_all)

    # -- the run ---------------------------------------------------------------------
    async def execute(self) -> BacktestResult:
        try:
            signals = self._strategy.signals(candle_frame(self._series))
        except DomainError:
            raise
        except Exception as error:  # a user's strategy file: say where it broke
            raise StrategyFailed(
                "strategy_failed",
                f"{self._strategy.name} failed: {failure_location(error, self._strategy)}",
            ) from None
        entries: IntArray = np.flatnonzero(signals.entry)
        exits: IntArray = np.flatnonzero(signals.exit)
        allowed = 0  # the first candle whose entry signal may open the next trade
        while True:
            k = int(entries.searchsorted(allowed))  # the method: no dispatch wrapper
            if k >= entries.shape[0] or int(entries[k]) + 1 >= self._n:
                break
            candle = int(entries[k]) + 1
            self._report(candle)
            position = await self._enter(candle)
            if position is None:
                allowed = candle
                continue
            allowed = await self._hold(position, exits)
            if allowed >= self._n:
                break
        if self._progress is not None:
            self._progress(1.0)
        return self._result()

    async def _enter(self, i: int) -> _Position | None:
        """A market buy at candle ``i``'s open (its signal was the close before)."""
        reference = await self._at(i, float(self._open[i]))
        amount = self._entry_amount()
        if amount is None:
            return None
        params = self._strategy.params
        stop_loss = take_profit = None
        if params.stop_loss is not None:
            stop_loss = quantize_down(
                reference * (ONE - _fraction(params.stop_loss)), self._market.price_tick
            )
        if params.take_profit is not None:
            take_profit = quantize_nearest(
                reference * (ONE + _fraction(params.take_profit)), self._market.price_tick
            )
        request = OrderRequest(
            symbol=self._symbol,
            side=Side.BUY,
            type=OrderType.MARKET,
            amount=amount,
            stop_loss=stop_loss,
            take_profit=take_profit,
            source=_SOURCE,
        )
        order = await self._place(request)
        if order is None:
            return None
        if order.status.is_open:  # a market buy the reservation could not fully pay
            await self._orders.cancel(BACKTEST_ACTOR, order.id)
        if not self._holding():
            return None
        price = float(order.average_price or reference)
        return _Position(
            entry_candle=i,
            entry_price=price,
            stop_loss=None if stop_loss is None else float(stop_loss),
            take_profit=None if take_profit is None else float(take_profit),
        )

    async def _hold(self, position: _Position, exits: IntArray) -> int:
        """Walk the open trade to its exit; returns the candle from which it is flat (the
        length of the series when it is still open at the end)."""
        start = position.entry_candle
        signal_from = position.entry_candle
        while True:
            m = int(exits.searchsorted(signal_from))
            exit_candle = int(exits[m]) + 1 if m < exits.shape[0] else self._n
            exit_candle = min(exit_candle, self._n)
            hit = self._first_hit(position, start, exit_candle)
            if hit is not None:
                await self._protect(position, hit)
                if not self._holding():
                    return hit
                start = hit + 1
                continue
            if exit_candle >= self._n:
                return self._n
            await self._exit(exit_candle)
            if not self._holding():
                return exit_candle
            start = signal_from = exit_candle  # refused: hold on to the next exit signal

    async def _protect(self, position: _Position, i: int) -> None:
        """Show the engine candle ``i``, where a protective order may fill."""
        level = self._trail_level(position, i)
        low = float(self._low[i])
        stop_loss = position.stop_loss
        if level is not None and low <= level and (stop_loss is None or level > stop_loss):
            self._now = ms_to_datetime(int(self._ts[i]))
            self._candle = i
            await self._cancel_open_orders()
            if i > position.entry_candle:  # the stop moves at the previous close
                self._feed(self._tick(i - 1, float(self._close[i - 1])))
            amount = self._orders.closable_amount(self._symbol)
            stop = quantize_down(from_float(level), self._market.price_tick)
            if amount > 0 and stop > 0:
                await self._place(
                    OrderRequest(
                        symbol=self._symbol,
                        side=Side.SELL,
                        type=OrderType.STOP_MARKET,
                        amount=amount,
                        stop_price=stop,
                        source=_SOURCE,
                    )
                )
        await self._at_candle(i)

    async def _exit(self, i: int) -> None:
        """A market sell of the whole position at candle ``i``'s open."""
        await self._at(i, float(self._open[i]))
        await self._cancel_open_orders()
        amount = self._orders.closable_amount(self._symbol)
        if amount <= 0:
            return
        await self._place(
            OrderRequest(
                symbol=self._symbol,
                side=Side.SELL,
                type=OrderType.MARKET,
                amount=amount,
                source=_SOURCE,
            )
        )

    # -- the vectorised search -------------------------------------------------------
    def _first_hit(self, position: _Position, start: int, stop: int) -> int | None:
        """The first candle in ``[start, stop)`` where a protective order could fill.

        Searched in growing chunks, so a trade held for the rest of the series costs
        about as much as its own length, never the series' length per trade.
        """
        if position.stop_loss is None and position.take_profit is None and self._trailing is None:
            return None
        size = 64
        pos = start
        peak = self._peak(position, start)
        while pos < stop:
            end = min(stop, pos + size)
            hits = np.zeros(end - pos, dtype=np.bool_)
            if position.stop_loss is not None:
                hits |= self._low[pos:end] <= position.stop_loss
            if position.take_profit is not None:
                hits |= self._high[pos:end] >= position.take_profit
            if self._trailing is not None:
                before = np.empty(end - pos, dtype=np.float64)
                before[0] = peak
                before[1:] = self._close[pos : end - 1]
                levels = np.maximum.accumulate(before) * (1.0 - self._trailing)
                hits |= self._low[pos:end] <= levels
                peak = max(peak, float(np.max(self._close[pos:end])))
            if hits.any():
                return pos + int(np.argmax(hits))
            pos = end
            size *= 4
        return None

    def _peak(self, position: _Position, i: int) -> float:
        """The highest of the entry price and the closes before candle ``i``."""
        closes = self._close[position.entry_candle : i]
        peak = position.entry_price
        return max(peak, float(np.max(closes))) if closes.shape[0] else peak

    def _trail_level(self, position: _Position, i: int) -> float | None:
        if self._trailing is None:
            return None
        return self._peak(position, i) * (1.0 - self._trailing)

    # -- order manager calls ---------------------------------------------------------
    async def _place(self, request: OrderRequest) -> Order | None:
        """Place through the order manager's synchronous core, then do what its placement
        worker does after a batch: count the trade or the rejection with the risk engine
        (a run of exchange rejections trips the kill switch here too) and store the update."""
        try:
            order, update = self._orders.submit_sync(BACKTEST_ACTOR, request)
        except DomainError as error:
            self._rejected += 1
            if isinstance(error, OrderRejected):
                await self._risk.record_rejection(error.detail)
            return None
        self._record(update)
        self._risk.record_trade(BACKTEST_ACTOR)
        return order

    async def _cancel_open_orders(self) -> None:
        for order in self._exchange.open_orders(self._symbol):
            if self._exchange.get_order(order.id) is not None:  # OCO siblings go together
                await self._orders.cancel(BACKTEST_ACTOR, order.id)

    def _entry_amount(self) -> Decimal | None:
        config = self._config
        if config.amount is not None:
            return config.amount
        share = config.risk_percent if config.risk_percent is not None else _HUNDRED
        affordable = self._orders.amount_for_share(Side.BUY, self._symbol, _HUNDRED)
        amount = self._orders.amount_for_share(Side.BUY, self._symbol, share)
        stop_loss = self._strategy.params.stop_loss
        price = self._exchange.last_price(self._symbol)
        if config.risk_percent is not None and stop_loss is not None and price:
            equity = self._valuator.equity(self._exchange.balances()).total
            stop = price * (ONE - _fraction(stop_loss))
            raw = fixed_fractional(equity, config.risk_percent, price, stop)
            amount = min(quantize_down(raw, self._market.amount_step), affordable)
        if amount < self._market.min_amount or amount <= 0:
            self._rejected += 1  # too little money left for the smallest order
            return None
        return amount

    def _holding(self) -> bool:
        return self._held > 0

    def _record(self, update: ExchangeUpdate) -> None:
        """Store an update and follow the position through its fills (the same sums the
        order manager's position makes, without copying it out after every event)."""
        if not update.orders and not update.fills:  # a price the engine only noted
            return
        self._repo.record(update)
        for fill in update.fills:
            cost = fill.cost
            if fill.side is Side.BUY:
                self._held += fill.amount
                self._fill_base.append(float(fill.amount))
                self._fill_cash.append(-float(cost + fill.fee))
            else:
                self._held -= fill.amount
                self._fill_base.append(-float(fill.amount))
                self._fill_cash.append(float(cost - fill.fee))
            self._fill_candles.append(self._candle)

    async def _at(self, i: int, price: float) -> Decimal:
        """Move the clock to candle ``i``'s open and show the engine that price (returned)."""
        self._now = ms_to_datetime(int(self._ts[i]))
        self._candle = i
        self._seconds = (int(self._ts[i]) - self._first_ms) / 1000
        tick = self._tick(i, price, self._now)
        self._feed(tick)
        day = self._now.date()
        if day != self._day:  # the daily drawdown guard needs each day's first equity
            self._day = day
            await self._risk.observe_equity(
                self._valuator.equity(self._exchange.balances()).total, self._now
            )
        return tick.open

    async def _at_candle(self, i: int) -> None:
        self._now = ms_to_datetime(int(self._ts[i]))
        self._candle = i
        self._seconds = (int(self._ts[i]) - self._first_ms) / 1000
        self._feed(self._series.candle(i))

    def _feed(self, candle: Candle) -> None:
        self._record(self._orders.match_sync([candle]))

    def _tick(self, i: int, price: float, opened_at: datetime | None = None) -> Candle:
        """One price as a candle of its own: what the engine sees at an instant."""
        value = from_float(price)
        return Candle(
            symbol=self._symbol,
            timeframe=self._series.timeframe,
            opened_at=ms_to_datetime(int(self._ts[i])) if opened_at is None else opened_at,
            open=value,
            high=value,
            low=value,
            close=value,
            volume=ZERO,
        )

    def _report(self, i: int) -> None:
        if self._progress is not None and i >= self._next_report:
            self._progress(i / self._n)
            self._next_report = i + max(1, self._n // 100)

    # -- the result ------------------------------------------------------------------
    def _result(self) -> BacktestResult:
        fills = self._repo.fills
        orders = self._repo.orders
        trades = _trades(fills, orders)
        equity, held = self._equity_curve(fills)
        base = self._exchange.balance(self._market.base).total
        last = from_float(float(self._close[-1]))
        cash = Decimal(self._config.cash)
        end_equity = self._exchange.balance(self._market.quote).total + base * last
        timeframe_seconds = TIMEFRAME_SECONDS[self._series.timeframe]
        metrics = compute_metrics(
            equity,
            held,
            trades,
            start_equity=cash,
            end_equity=end_equity,
            timeframe_seconds=timeframe_seconds,
            fees=sum((f.fee for f in fills), ZERO),
            rejected_orders=self._rejected,
            open_position=base,
        )
        return BacktestResult(
            strategy=self._strategy.name,
            params=self._strategy.params.model_dump(mode="json"),
            symbol=self._symbol,
            timeframe=self._series.timeframe,
            start=ms_to_datetime(int(self._ts[0])),
            end=ms_to_datetime(int(self._ts[-1])),
            candles=self._n,
            metrics=metrics,
            trades=trades,
            equity=self._thin(equity),
        )

    def _equity_curve(
        self, fills: list[Fill]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Mark-to-market equity at every close, from the fills (after a candle's fills)."""
        assert len(self._fill_candles) == len(fills), "every fill passes through _record"
        n = self._n
        cash_delta = np.zeros(n, dtype=np.float64)
        base_delta = np.zeros(n, dtype=np.float64)
        if fills:
            where = np.array(self._fill_candles, dtype=np.int64)
            np.add.at(cash_delta, where, np.array(self._fill_cash, dtype=np.float64))
            np.add.at(base_delta, where, np.array(self._fill_base, dtype=np.float64))
        held_amount = np.cumsum(base_delta)
        equity = float(self._config.cash) + np.cumsum(cash_delta) + held_amount * self._close
        # Amounts are on the market's step, so a flat position sums to (almost) exactly 0.
        return equity, held_amount > float(self._market.amount_step) / 2

    def _thin(self, equity: npt.NDArray[np.float64]) -> list[EquityPoint]:
        n = equity.shape[0]
        picks = np.unique(np.linspace(0, n - 1, min(n, EQUITY_POINTS)).astype(np.int64))
        return [
            EquityPoint.model_construct(
                time=ms_to_datetime(int(self._ts[k])), equity=float(equity[k])
            )
            for k in picks
        ]


def _fraction(value: float) -> Decimal:
    return Decimal(repr(value))


def _exit_reason(order: Order | None) -> str:
    if order is None:
        return "signal"
    if order.role is OrderRole.STOP_LOSS:
        return "stop_loss"
    if order.role is OrderRole.TAKE_PROFIT:
        return "take_profit"
    if order.type is OrderType.STOP_MARKET:
        return "trailing_stop"
    return "signal"


def _trades(fills: list[Fill], orders: dict[str, Order]) -> list[Trade]:
    """Round trips from the fills, in order: from flat, through buys and sells, to flat."""
    trades: list[Trade] = []
    held = ZERO
    bought = bought_cost = sold = sold_cost = fees = pnl = ZERO
    first: Fill | None = None
    for fill in fills:
        if fill.side is Side.BUY:
            if held == 0:
                first = fill
                bought = bought_cost = sold = sold_cost = fees = pnl = ZERO
            held += fill.amount
            bought += fill.amount
            bought_cost += fill.cost
        else:
            if first is None:
                continue
            held -= fill.amount
            sold += fill.amount
            sold_cost += fill.cost
            pnl += fill.realized_pnl
        fees += fill.fee
        if held == 0 and first is not None and sold > 0:
            trades.append(
                Trade(
                    first.timestamp,
                    bought_cost / bought,
                    fill.timestamp,
                    sold_cost / sold,
                    bought,
                    pnl,
                    fees,
                    _exit_reason(orders.get(fill.order_id)),
                )
            )
            first = None
    return trades
