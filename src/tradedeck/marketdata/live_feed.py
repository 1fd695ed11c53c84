"""The market from the exchange itself: recent candles of each traded market, polled.

When tradedeck trades on a real exchange its prices must be that exchange's, not a
recording. This feed fills the same role as the replay (and keeps its contract: closed
candles go to the order manager, the candle store and the listeners such as strategies and
price alerts, in that order) but reads them from ccxt's public candles, so it needs no
keys. On start it stores recent history for charts and scans; then every few seconds it
asks for the last few candles of each market and delivers the ones that closed since.

The forming candle's close is shown to the order manager as the current price, so a
preview or a risk check judges a market order at the price of now rather than of the last
closed minute; it is not stored and strategies never see it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from tradedeck.config import Settings
from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle
from tradedeck.domain.errors import DomainError
from tradedeck.domain.markets import Market
from tradedeck.marketdata.service import HISTORY_ON_START, KEEP_CANDLES, MarketDataService
from tradedeck.ops.waiting import wait_or_stop
from tradedeck.storage.repository import Repository
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.risk import RiskEngine
from tradedeck.trading.valuation import Valuator


class CandleSource(Protocol):
    """What the feed needs of the ccxt client (a protocol: ccxt is an optional import)."""

    async def fetch_candles(
        self, symbol: str, timeframe: str, since: datetime | None = None, limit: int = ...
    ) -> list[Candle]: ...

    async def close(self) -> None: ...


log = structlog.get_logger(__name__)

LIVE_TIMEFRAME = "1m"
POLL_CANDLES = 3  # the forming candle and the two before it: a missed poll loses nothing


class LiveMarketData(MarketDataService):
    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        source: CandleSource,
        markets: dict[str, Market],
        *,
        poll_seconds: float = 5.0,
        close_source: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, repository, [], [], clock=clock)
        self.markets = dict(markets)
        self._source = source
        self._close_source = close_source  # a client of its own (paper on public data)
        self._before_closed: Callable[[], Awaitable[object]] | None = None
        self._poll_seconds = poll_seconds
        self._last_closed: dict[str, datetime] = {}

    def before_closed_candles(self, catch_up: Callable[[], Awaitable[object]]) -> None:
        """Run ``catch_up`` before closed candles go out: on a live exchange, the poll of
        our open orders, so a partial fill has moved the position before any strategy
        judges the candle."""
        self._before_closed = catch_up

    def timeframe(self, symbol: str) -> str:
        return LIVE_TIMEFRAME

    async def start(
        self,
        orders: OrderManager,
        risk: RiskEngine,
        valuator: Valuator,
        kill_switch: KillSwitch,
        *,
        run_feed: bool = True,
    ) -> None:
        for symbol in self.markets:
            await self._history(orders, symbol)
        if run_feed:
            self._stop.clear()
            self._task = asyncio.create_task(
                self._poll(orders, risk, valuator, kill_switch), name="market-live"
            )

    async def stop(self) -> None:
        await super().stop()
        if self._close_source:
            await self._source.close()

    async def poll_once(self, orders: OrderManager) -> None:
        """One round over every market (the background loop's step; tests call it)."""
        for symbol in self.markets:
            candles = await self._source.fetch_candles(symbol, LIVE_TIMEFRAME, limit=POLL_CANDLES)
            await self._take(orders, symbol, candles)

    # -- internals ------------------------------------------------------------------------
    async def _history(self, orders: OrderManager, symbol: str) -> None:
        try:
            candles = await self._source.fetch_candles(
                symbol, LIVE_TIMEFRAME, limit=HISTORY_ON_START + 1
            )
        except DomainError as error:
            log.warning("live_history_failed", symbol=symbol, code=error.code, detail=error.detail)
            return
        closed, forming = _split(candles)
        if closed:
            await self._repo.upsert_candles(closed)
            self._last_closed[symbol] = closed[-1].opened_at
            await orders.on_candles([closed[-1]])
        if forming is not None:
            await orders.on_candles([forming])

    async def _take(self, orders: OrderManager, symbol: str, candles: Sequence[Candle]) -> None:
        closed, forming = _split(candles)
        seen = self._last_closed.get(symbol)
        fresh = [c for c in closed if seen is None or c.opened_at > seen]
        if fresh:
            self._last_closed[symbol] = fresh[-1].opened_at
            if self._before_closed is not None:  # fills first, then what strategies see
                await self._before_closed()
            await self._deliver(orders, fresh)
        if forming is not None:
            await orders.on_candles([forming])
            self._updated[symbol] = datetime.now(UTC)
            await self._tell(self._price_listeners, [forming])

    async def _poll(
        self,
        orders: OrderManager,
        risk: RiskEngine,
        valuator: Valuator,
        kill_switch: KillSwitch,
    ) -> None:
        last_prune = time.monotonic()
        while not self._stop.is_set():
            try:
                await self.poll_once(orders)
                await self._housekeep(orders, risk, valuator, kill_switch)
                if time.monotonic() - last_prune >= 60.0:
                    last_prune = time.monotonic()
                    await self._prune()
            except asyncio.CancelledError:
                raise
            except DomainError as error:  # the exchange is down: the breaker says so
                log.warning("live_feed_failed", code=error.code, detail=error.detail)
            except Exception:
                log.exception("live_feed_tick_failed")
            await wait_or_stop(self._stop, self._poll_seconds)

    async def _prune(self) -> None:
        keep = timedelta(seconds=TIMEFRAME_SECONDS[LIVE_TIMEFRAME] * KEEP_CANDLES)
        for symbol, last in self._last_closed.items():
            await self._repo.prune_candles(symbol, LIVE_TIMEFRAME, last - keep)


def _split(candles: Sequence[Candle]) -> tuple[list[Candle], Candle | None]:
    """The closed candles and the one still forming (the last, if its minute is not over)."""
    if not candles:
        return [], None
    ordered = sorted(candles, key=lambda c: c.opened_at)
    last = ordered[-1]
    span = timedelta(seconds=TIMEFRAME_SECONDS[last.timeframe])
    if last.opened_at + span > datetime.now(UTC):
        return ordered[:-1], last
    return ordered, None
