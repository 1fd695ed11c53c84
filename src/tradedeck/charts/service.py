"""ChartService: the charts every face asks for, drawn off the event loop.

The REST API, the bot, the backtester and the scanner all get their images here. Candle
charts read the same candle store as ``/api/v1/candles`` (so a chart never shows a price
the API does not), aggregated to a larger timeframe when asked. Rendering is CPU work
under a process-wide matplotlib lock, so it runs in one dedicated worker thread: the loop
stays responsive, charts never contend for the lock, and a burst of requests queues in
order instead of piling up threads. A small cache answers a repeated request (a Refresh
press on a market that has not moved) without drawing again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradedeck.charts import overlays as ind
from tradedeck.charts.frames import check_timeframe, frame_of, resample, usable_timeframes
from tradedeck.charts.overlays import Overlays
from tradedeck.charts.render import Times, candle_chart, equity_chart
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput, NotFound, Unavailable
from tradedeck.domain.markets import Market
from tradedeck.domain.money import from_float, quantize_nearest
from tradedeck.domain.roles import Actor, Permission
from tradedeck.marketdata.service import MarketDataService
from tradedeck.storage.repository import Repository
from tradedeck.trading.order_manager import OrderManager

T = TypeVar("T")
BoolArray = npt.NDArray[np.bool_]

DEFAULT_LIMIT: Final = 120
MIN_LIMIT: Final = 10
MAX_LIMIT: Final = 500
# Candles read for one chart at most; a long timeframe over short candles shows fewer bars.
MAX_STORED: Final = 5000
MAX_PENDING: Final = 16
CACHE_SIZE: Final = 16


@dataclass(frozen=True, slots=True)
class ChartSummary:
    """The numbers a caption needs, from the same candles and indicators as the image.

    ``change_pct`` is over the whole chart (first open to last close). Indicator values
    are None while the chart is too short for them.
    """

    symbol: str
    quote: str
    timeframe: str
    candles: int
    opened_at: datetime
    last: Decimal
    change_pct: Decimal
    sma: tuple[tuple[int, Decimal | None], ...]
    rsi_period: int | None
    rsi: Decimal | None


@dataclass(frozen=True, slots=True)
class ChartImage:
    png: bytes
    summary: ChartSummary


class ChartService:
    """Charts for every face. :meth:`candles` reads market data, so it checks the actor's
    READ permission; :meth:`render` and :meth:`equity` only draw data the caller already
    holds (and was allowed to get), so they take no actor."""

    def __init__(
        self,
        orders: OrderManager,
        marketdata: MarketDataService,
        repository: Repository,
        *,
        overlays: Overlays | None = None,
    ) -> None:
        self._orders = orders
        self._marketdata = marketdata
        self._repo = repository
        self.overlays = overlays or Overlays()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")
        self._pending = 0
        self._closed = False
        self._cache: OrderedDict[tuple[object, ...], ChartImage] = OrderedDict()

    def timeframes(self, symbol: str) -> list[str]:
        """The timeframes ``symbol`` can be charted in, smallest (as recorded) first."""
        market = self._orders.market(symbol)
        return usable_timeframes(self._marketdata.timeframe(market.symbol))

    def native_timeframe(self, symbol: str) -> str:
        return self._marketdata.timeframe(self._orders.market(symbol).symbol)

    async def candles(
        self,
        actor: Actor,
        symbol: str,
        timeframe: str | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
    ) -> ChartImage:
        """The candle chart of ``symbol``'s latest ``limit`` candles of ``timeframe``
        (default: as recorded), with the default overlays and its summary."""
        actor.require(Permission.READ)
        if not MIN_LIMIT <= limit <= MAX_LIMIT:
            raise InvalidInput(
                "invalid_limit", f"limit must be from {MIN_LIMIT} to {MAX_LIMIT}, got {limit}"
            )
        market = self._orders.market(symbol)
        native = self._marketdata.timeframe(market.symbol)
        wanted = timeframe or native
        factor = check_timeframe(wanted, native, market.symbol)
        stored = await self._repo.list_candles(
            market.symbol, native, limit=min((limit + 1) * factor, MAX_STORED)
        )
        if len(stored) < 2:
            raise NotFound("no_candles", f"no {native} candles of {market.symbol} are stored yet")
        last = stored[-1]  # by value: a forming candle's prices move while its time stays
        key = (
            market.symbol, wanted, limit, len(stored), stored[0].opened_at,
            (last.opened_at, last.open, last.high, last.low, last.close, last.volume),
        )  # fmt: skip
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        image = await self._run(self._draw, stored, market, wanted, native, limit)
        self._cache[key] = image
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return image

    async def render(
        self,
        frame: pd.DataFrame,
        *,
        title: str,
        overlays: Overlays | None = None,
        entries: BoolArray | None = None,
        exits: BoolArray | None = None,
    ) -> bytes:
        """A candle chart of a frame the caller already holds (a backtest's or a scan's,
        e.g. ``Signals.frame`` with ``Signals.entry``/``exit`` as markers)."""
        return await self._run(
            partial(
                candle_chart,
                frame,
                title=title,
                overlays=overlays or self.overlays,
                entries=entries,
                exits=exits,
            )
        )

    async def equity(self, times: Times, equity: Sequence[Decimal | float], *, title: str) -> bytes:
        """A backtest's equity curve and drawdown; ``times`` UTC datetimes or epoch ms."""
        return await self._run(partial(equity_chart, times, equity, title=title))

    async def stop(self) -> None:
        """Refuse new charts; one being drawn finishes in the worker, which then exits."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise Unavailable("charts_stopped", "the chart service is shutting down")
        if self._pending >= MAX_PENDING:
            raise Unavailable("charts_busy", "too many charts are being drawn; try again shortly")
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, partial(_checked, fn, *args))
        finally:
            self._pending -= 1

    def _draw(
        self, stored: list[Candle], market: Market, timeframe: str, native: str, limit: int
    ) -> ChartImage:
        frame = resample(frame_of(stored), timeframe, native=native).iloc[-limit:]
        if len(frame) < 2:
            raise NotFound(
                "not_enough_candles",
                f"{market.symbol} has {len(frame)} whole {timeframe} candle(s) stored so far; "
                f"try a smaller timeframe",
            )
        png = candle_chart(
            frame, title=f"{market.symbol} · {timeframe} · UTC", overlays=self.overlays
        )
        return ChartImage(png=png, summary=summarize(frame, market, timeframe, self.overlays))


def _checked(fn: Callable[..., T], *args: object) -> T:
    """Data a chart cannot show is a clear refusal for the face, not a crash."""
    try:
        return fn(*args)
    except ValueError as error:
        raise InvalidInput("invalid_chart", str(error)) from None


def summarize(
    frame: pd.DataFrame, market: Market, timeframe: str, overlays: Overlays
) -> ChartSummary:
    """Last price, change over the chart, and the latest SMA/RSI values, rounded to the
    market's price tick (RSI to one decimal)."""
    close = ind.closes(frame)
    first_open = float(frame["open"].iloc[0])
    change = (close[-1] / first_open - 1.0) * 100.0 if first_open else 0.0

    def price(value: float | None) -> Decimal | None:
        return None if value is None else quantize_nearest(from_float(value), market.price_tick)

    sma = tuple((p, price(ind.last_defined(ind.sma(close, p)))) for p in overlays.sma)
    rsi = ind.last_defined(ind.rsi(close, overlays.rsi)) if overlays.rsi is not None else None
    last = price(float(close[-1]))
    assert last is not None
    opened = frame.index[-1]
    return ChartSummary(
        symbol=market.symbol,
        quote=market.quote,
        timeframe=timeframe,
        candles=len(frame),
        opened_at=opened.to_pydatetime() if isinstance(opened, pd.Timestamp) else opened,
        last=last,
        change_pct=Decimal(f"{change:.2f}"),
        sma=sma,
        rsi_period=overlays.rsi,
        rsi=None if rsi is None else Decimal(f"{rsi:.1f}"),
    )
