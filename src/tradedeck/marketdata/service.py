"""The market that moves: replays bundled real candles into the paper exchange.

Each tick the replay's new candles go to the order manager (which matches resting
orders against them) and into the candle store. Every few seconds the service also
re-reads the kill switch (another process may have set it) and shows the risk engine
the current equity, which is how the daily drawdown guard trips by itself. The replay
position is saved, so a restart resumes where the market was instead of jumping back.

A first start does not begin at the start of the recordings, where no market has a past:
it begins where every market has ``HISTORY_ON_START`` closed candles, stores them at once
as history and plays on live from there, so charts, scans and strategies have candles from
the first second, as on an exchange that has been trading all along.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from tradedeck.config import Settings
from tradedeck.domain.candles import TIMEFRAME_SECONDS, Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market
from tradedeck.marketdata.catalog import BundledMarket, load_bundled_catalog, load_bundled_series
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.marketdata.replay import ReplayFeed
from tradedeck.ops.waiting import wait_or_stop
from tradedeck.storage.repository import Repository
from tradedeck.trading.killswitch import KillSwitch
from tradedeck.trading.order_manager import OrderManager
from tradedeck.trading.risk import RiskEngine
from tradedeck.trading.valuation import Valuator

log = structlog.get_logger(__name__)

OFFSET_KEY = "replay_offset_seconds"
KEEP_CANDLES = 1000
HISTORY_ON_START = 400
"""Closed candles per market stored on start: a default scan (``TRADEDECK_SCAN_CANDLES``
300, plus the candle before) and a 120-candle chart find enough, in every timeframe."""

CandleListener = Callable[[list[Candle]], Awaitable[None]]


class MarketDataService:
    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        bundled: list[BundledMarket],
        series: list[CandleSeries],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._bundled = {b.symbol: b for b in bundled}
        self._series = series
        self._clock = clock
        self._feed: ReplayFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._updated: dict[str, datetime] = {}
        self.markets: dict[str, Market] = {b.symbol: b.market for b in bundled}
        self._candle_listeners: list[CandleListener] = []
        self._price_listeners: list[CandleListener] = []

    @classmethod
    async def load(cls, settings: Settings, repository: Repository) -> MarketDataService:
        """Read the bundled catalog and candles off the event loop."""
        bundled = load_bundled_catalog()
        if settings.markets:
            known = {b.symbol for b in bundled}
            unknown = [s for s in settings.markets if s not in known]
            if unknown:
                raise InvalidInput(
                    "unknown_market",
                    f"TRADEDECK_MARKETS names unknown markets: {', '.join(unknown)}",
                )
            bundled = [b for b in bundled if b.symbol in settings.markets]
        series = await asyncio.to_thread(lambda: [load_bundled_series(b) for b in bundled])
        return cls(settings, repository, bundled, series)

    def timeframe(self, symbol: str) -> str:
        return self._bundled[symbol].timeframe

    def updated_at(self, symbol: str) -> datetime | None:
        return self._updated.get(symbol)

    async def start(
        self,
        orders: OrderManager,
        risk: RiskEngine,
        valuator: Valuator,
        kill_switch: KillSwitch,
        *,
        run_feed: bool = True,
    ) -> None:
        offset = await self._start_offset()
        # A market standing still (tests drive candles themselves) keeps its replay time
        # too: otherwise the offset saved at stop runs ahead of the candles delivered, and
        # the next start primes a replayed candle in the middle of them.
        clock = self._clock if run_feed else _standing_still
        self._feed = ReplayFeed(
            self._series, speed=self._settings.replay_speed, clock=clock, start_offset=offset
        )
        await self._store_history(offset)
        first = self._feed.prime()
        await self._deliver(orders, first)
        if run_feed:
            self._stop.clear()
            self._task = asyncio.create_task(
                self._run(orders, risk, valuator, kill_switch), name="market-replay"
            )

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._feed is not None:
            with contextlib.suppress(Exception):
                await self._save_offset()

    async def _deliver(self, orders: OrderManager, candles: list[Candle]) -> None:
        if not candles:
            return
        await orders.on_candles(candles)
        await self._repo.upsert_candles(candles)
        now = datetime.now(UTC)
        for candle in candles:
            self._updated[candle.symbol] = now
        await self._tell(self._price_listeners, candles)
        await self._tell(self._candle_listeners, candles)

    @staticmethod
    async def _tell(listeners: list[CandleListener], candles: list[Candle]) -> None:
        for listener in listeners:
            try:
                await listener(candles)
            except Exception:  # a listener's bug must never stop the market
                name = getattr(listener, "__qualname__", repr(listener))
                log.exception("candle_listener_failed", listener=name)

    def on_closed_candles(self, listener: CandleListener) -> None:
        """Call ``listener`` with each batch of closed candles, after the order manager
        matched them and they were stored (the live strategy runner listens here)."""
        self._candle_listeners.append(listener)

    def on_prices(self, listener: CandleListener) -> None:
        """Call ``listener`` with every candle the market delivers, closed or still forming,
        right after the order manager saw it (trailing stops listen: every price counts)."""
        self._price_listeners.append(listener)

    async def deliver(self, orders: OrderManager, candles: list[Candle]) -> None:
        """Feed candles from outside the replay (a live feed, tests) the replay's way."""
        await self._deliver(orders, candles)

    async def _run(
        self,
        orders: OrderManager,
        risk: RiskEngine,
        valuator: Valuator,
        kill_switch: KillSwitch,
    ) -> None:
        assert self._feed is not None
        last_housekeeping = 0.0
        last_prune = time.monotonic()
        while not self._stop.is_set():
            try:
                await self._deliver(orders, self._feed.advance())
                now = time.monotonic()
                if now - last_housekeeping >= 2.0:
                    last_housekeeping = now
                    await self._housekeep(orders, risk, valuator, kill_switch)
                    await self._save_offset()
                if now - last_prune >= 60.0:
                    last_prune = now
                    await self._prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market_replay_tick_failed")
            await wait_or_stop(self._stop, 0.25)

    @staticmethod
    async def _housekeep(
        orders: OrderManager, risk: RiskEngine, valuator: Valuator, kill_switch: KillSwitch
    ) -> None:
        """Re-read the kill switch (another process may have set it) and show the risk
        engine the equity, so the daily drawdown guard trips by itself."""
        await kill_switch.refresh()
        await risk.observe_equity(valuator.equity(orders.exchange.balances()).total)

    async def _start_offset(self) -> float:
        """Where the replay resumes: the saved position, but never before the point where
        every market has its history (a first start, a database from before this rule,
        or a market of a longer timeframe added since: time then jumps forward, never back).
        """
        warm = ReplayFeed.warm_start(self._series, HISTORY_ON_START)
        saved = await self._repo.get_setting(OFFSET_KEY)
        return max(float(saved), warm) if saved else warm

    async def _save_offset(self) -> None:
        assert self._feed is not None
        await self._repo.set_setting(OFFSET_KEY, f"{self._feed.replay_seconds():.3f}", "replay")

    async def _store_history(self, offset: float) -> None:
        """Give charts and the candles API recent history before the first live candle."""
        for series in self._series:
            history = ReplayFeed.history(series, offset, HISTORY_ON_START)
            if history:
                await self._repo.upsert_candles(history)

    async def _prune(self) -> None:
        for symbol, bundled in self._bundled.items():
            seen = self._feed.current(symbol) if self._feed else None
            if seen is None:
                continue
            keep = timedelta(seconds=TIMEFRAME_SECONDS[bundled.timeframe] * KEEP_CANDLES)
            await self._repo.prune_candles(symbol, bundled.timeframe, seen.opened_at - keep)


def _standing_still() -> float:
    return 0.0
