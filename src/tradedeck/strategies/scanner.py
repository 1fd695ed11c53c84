"""The market scanner: every market and timeframe through the indicators and strategies,
ranked by how strong a view the strategies take on the last closed candle.

Ranking rule. For each market and timeframe, every configured strategy gives a strength
in [-1, 1] on the last closed candle (positive leans long, negative leans out). The
market's **score** is the strongest of those views, the one with the largest absolute
value (on a tie the strategy listed first wins), and **strategy** names who gave it. The
**signal** is ``buy`` when the score reaches the strong threshold, ``sell`` when it
reaches minus the threshold, ``none`` otherwise. Markets are ranked by absolute score,
then longs before exits, then symbol and timeframe; failed markets come last.

A new strong signal (a score beyond the threshold that the market did not have in the
last announced scan, or had the other way) is published on the bus as ``scan.signal``.
A scanner without a bus (`tradedeck scan` from the shell, where nobody listens) stores
its scans as not announced, so the app's next scan still pushes what that one found.

All CPU work of a scan (frames, resampling, TA-Lib, strategy rules) runs in one worker
thread per scan, vectorised, so the event loop only waits on the database. A market that
cannot be scanned (no candles, bad data, a strategy raising) is stored as failed with the
reason and never fails the scan; the revalidation job rescans failed markets sooner.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import structlog

from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import normalize_symbol
from tradedeck.domain.roles import Actor, Permission
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.storage.scans import (
    FULL,
    REVALIDATE,
    CandleArrays,
    HistoryEntry,
    ScanKind,
    ScanResult,
    ScanRun,
    ScanStore,
)
from tradedeck.strategies import indicators
from tradedeck.strategies.base import FloatArray, Strategy, candle_frame
from tradedeck.strategies.registry import BUILTIN_STRATEGIES, StrategyRegistry, failure_location

log = structlog.get_logger(__name__)

SCAN_INDICATORS = ("rsi", "macd_hist", "bb_pct", "atr_pct", "adx")
"""The five indicator readings stored with every result, on the last closed candle
(TA-Lib, default periods): RSI 14; the MACD 12/26/9 histogram; where the close sits in
the Bollinger Bands 20/2 (0 = lower band, 1 = upper); ATR 14 as % of the close; ADX 14."""

MIN_CANDLES = 30
MAX_BASE_CANDLES = 20_000
Pair = tuple[str, str]  # (symbol, timeframe)


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """What to scan: ``markets``/``timeframes`` empty mean all markets / each market's own
    recorded timeframe, all built-in strategies; ``candles`` is how many candles of the
    scanned timeframe to use."""

    markets: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    strong: float = 0.5
    candles: int = 300
    retention: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class LatestScan:
    """The newest full scan (``run``) and its ranked results, revalidations laid over."""

    run: ScanRun | None
    results: list[ScanResult]

    @property
    def markets(self) -> int:
        return len({r.symbol for r in self.results})

    @property
    def failures(self) -> int:
        """Results failed now (the run's own count predates any revalidation)."""
        return sum(1 for r in self.results if r.failed)


@dataclass(frozen=True, slots=True)
class _Input:
    symbol: str
    timeframe: str
    base: str
    candles: CandleArrays | None
    error: str | None = None


# -- pure rules (no I/O) ---------------------------------------------------------------------
def signal_for(score: float, strong: float) -> str:
    if score >= strong:
        return "buy"
    if score <= -strong:
        return "sell"
    return "none"


def is_strong(result: ScanResult | None, strong: float) -> bool:
    return result is not None and not result.failed and abs(result.score) >= strong


def rank(results: Sequence[ScanResult]) -> list[ScanResult]:
    """Strongest view first (by absolute score, longs before exits), failures last."""
    return sorted(
        results,
        key=lambda r: (r.failed, -abs(r.score), -r.score, r.symbol, r.timeframe),
    )


def new_strong_signals(
    previous: Mapping[Pair, ScanResult], current: Sequence[ScanResult], strong: float
) -> list[ScanResult]:
    """Results strong now that were not strong, or were strong the other way, before."""
    found = []
    for result in current:
        if not is_strong(result, strong):
            continue
        before = previous.get(result.key)
        if (
            before is not None
            and is_strong(before, strong)
            and math.copysign(1.0, before.score) == math.copysign(1.0, result.score)
        ):
            continue
        found.append(result)
    return found


def resample(frame: pd.DataFrame, base: str, target: str) -> pd.DataFrame:
    """Candles of ``base`` aggregated into ``target`` buckets aligned to the epoch; a first
    or last bucket with missing candles (history cut, candle still forming) is dropped."""
    if target == base:
        return frame
    base_s, target_s = TIMEFRAME_SECONDS[base], TIMEFRAME_SECONDS[target]
    if target_s < base_s or target_s % base_s:
        raise InvalidInput(
            "unsupported_timeframe", f"{target} candles cannot be built from {base} candles"
        )
    grouped = frame.resample(f"{target_s}s", label="left", closed="left", origin="epoch")
    out = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = grouped["close"].count().to_numpy()
    out = out.assign(_n=counts)
    out = out[out["_n"] > 0]
    full = target_s // base_s
    if len(out) and out["_n"].iloc[-1] < full:
        out = out.iloc[:-1]
    if len(out) and out["_n"].iloc[0] < full:
        out = out.iloc[1:]
    out = out.drop(columns="_n")
    out.index.name = "time"
    return out


def _final(values: FloatArray) -> float | None:
    value = float(values[-1])
    return value if math.isfinite(value) else None


def indicator_values(frame: pd.DataFrame) -> dict[str, float | None]:
    """The five indicators' readings on the last candle, in units a trader reads.

    Computed on the raw columns rather than added to the frame: inserting columns costs
    pandas more than TA-Lib takes to compute them.
    """
    high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
    closes = frame["close"].to_numpy()
    close = _final(closes)
    upper_band, _, lower_band = indicators.bollinger(closes)
    upper, lower = _final(upper_band), _final(lower_band)
    atr = _final(indicators.atr(high, low, closes))
    bb_pct = None
    if upper is not None and lower is not None and close is not None and upper > lower:
        bb_pct = (close - lower) / (upper - lower)
    atr_pct = atr / close * 100 if atr is not None and close else None
    values = {
        "rsi": _final(indicators.rsi(closes)),
        "macd_hist": _final(indicators.macd(closes)[2]),
        "bb_pct": bb_pct,
        "atr_pct": atr_pct,
        "adx": _final(indicators.adx(high, low, closes)),
    }
    return {name: values[name] for name in SCAN_INDICATORS}


def analyse(
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    strategies: Sequence[Strategy],
    strong: float,
) -> ScanResult:
    """Indicators and every strategy's view on the frame's last candle; never raises for
    a strategy's fault, which makes the market failed with ``file:line`` of the error."""
    if len(frame) < MIN_CANDLES:
        return ScanResult(
            symbol,
            timeframe,
            error=f"only {len(frame)} closed {timeframe} candles, {MIN_CANDLES} needed",
        )
    values = indicator_values(frame)
    best: tuple[float, str] | None = None
    for strategy in strategies:
        try:
            strength = float(strategy.signals(frame.copy()).strength[-1])
        except Exception as error:
            return ScanResult(
                symbol,
                timeframe,
                indicators=values,
                last_close=float(frame["close"].iloc[-1]),
                candle_time=frame.index[-1].to_pydatetime(),
                error=f"strategy {strategy.name} failed: {failure_location(error, strategy)}",
            )
        if best is None or abs(strength) > abs(best[0]):
            best = (strength, strategy.name)
    score, chosen = best if best is not None else (0.0, None)
    return ScanResult(
        symbol=symbol,
        timeframe=timeframe,
        score=score,
        signal=signal_for(score, strong),
        strategy=chosen,
        indicators=values,
        last_close=float(frame["close"].iloc[-1]),
        candle_time=frame.index[-1].to_pydatetime(),
    )


def frame_of(candles: CandleArrays, symbol: str, base: str, now: datetime) -> pd.DataFrame:
    """The closed candles as a strategy frame; a candle still forming at ``now`` is left out."""
    series = CandleSeries(
        ts=candles.ts,
        open=candles.open,
        high=candles.high,
        low=candles.low,
        close=candles.close,
        volume=candles.volume,
        symbol=symbol,
        timeframe=base,
    )
    columns = (series.open, series.high, series.low, series.close, series.volume)
    if not all(bool(np.isfinite(c).all()) for c in columns):
        raise ValueError("candles contain NaN or infinite values")
    frame = candle_frame(series)
    # Plain object column labels: pandas 3 infers Arrow-backed strings, and every column a
    # strategy adds would then rebuild an Arrow array (most of a scan's time, measured).
    frame.columns = pd.Index(list(frame.columns), dtype=object)
    cutoff = int(now.timestamp() * 1000) - TIMEFRAME_SECONDS[base] * 1000
    closed: pd.DataFrame = frame.iloc[: int(np.searchsorted(series.ts, cutoff, side="right"))]
    return closed


def analyse_all(
    inputs: Sequence[_Input], strategies: Sequence[Strategy], strong: float, now: datetime
) -> list[ScanResult]:
    """The CPU part of a scan, for a worker thread: one result per input, in order."""
    results = []
    for item in inputs:
        if item.error is not None or item.candles is None:
            results.append(ScanResult(item.symbol, item.timeframe, error=item.error))
            continue
        try:
            if len(item.candles) == 0:
                raise ValueError(f"no {item.base} candles stored yet")
            frame = resample(
                frame_of(item.candles, item.symbol, item.base, now), item.base, item.timeframe
            )
            results.append(analyse(item.symbol, item.timeframe, frame, strategies, strong))
        except Exception as error:
            results.append(
                ScanResult(item.symbol, item.timeframe, error=f"{type(error).__name__}: {error}")
            )
    return results


# -- the service -------------------------------------------------------------------------------
class Scanner:
    """Scans on the scheduler's call; answers readers from storage, with permissions."""

    def __init__(
        self,
        store: ScanStore,
        registry: StrategyRegistry,
        config: ScanConfig,
        universe: Callable[[], Mapping[str, str]],
        bus: EventBus | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._registry = registry
        self._config = config
        self._universe = universe
        self._bus = bus
        self._clock = clock
        builtin = tuple(s.name for s in BUILTIN_STRATEGIES if s.name in registry.names())
        names = config.strategies or builtin
        self._strategy_names = tuple(registry.get(n).name for n in names)  # fails fast
        self._markets: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.refresh_universe()

    @property
    def config(self) -> ScanConfig:
        return self._config

    @property
    def strategy_names(self) -> tuple[str, ...]:
        return self._strategy_names

    def markets(self) -> dict[str, str]:
        """The markets scanned, with the timeframe their candles are recorded in."""
        return dict(self._markets)

    def refresh_universe(self) -> list[str]:
        """Re-read the market list (new assets appear); returns the markets added."""
        known = dict(self._universe())
        wanted = self._config.markets or tuple(known)
        missing = [s for s in wanted if s not in known]
        if missing:
            log.warning("scan_markets_unknown", markets=missing)
        chosen = {s: known[s] for s in wanted if s in known}
        added = sorted(set(chosen) - set(self._markets))
        removed = sorted(set(self._markets) - set(chosen))
        if self._markets and (added or removed):
            log.info("scan_markets_changed", added=added, removed=removed)
        self._markets = chosen
        return added

    async def refresh_markets(self) -> list[str]:
        return self.refresh_universe()

    def pairs(self) -> list[Pair]:
        """Every (market, timeframe) the configuration asks for that the data allows."""
        found = []
        for symbol, base in self._markets.items():
            for timeframe in self._config.timeframes or (base,):
                seconds, base_s = TIMEFRAME_SECONDS[timeframe], TIMEFRAME_SECONDS[base]
                if seconds >= base_s and seconds % base_s == 0:
                    found.append((symbol, timeframe))
        return found

    async def scan(self) -> ScanRun:
        """A full scan of every market and timeframe; stored, and strong signals pushed."""
        return await self._scan(FULL, self.pairs())

    async def revalidate(self) -> ScanRun | None:
        """Rescan only the markets that failed in the latest scan (None: nothing failed)."""
        _, results = await self._store.latest()
        wanted = set(self.pairs())
        failed = [r.key for r in results if r.failed and r.key in wanted]
        if not failed:
            return None
        return await self._scan(REVALIDATE, failed)

    async def prune(self) -> int:
        return await self._store.prune(self._clock() - self._config.retention)

    async def latest(self, actor: Actor) -> LatestScan:
        actor.require(Permission.READ)
        run, results = await self._store.latest()
        return LatestScan(run, rank(results))

    async def history(
        self, actor: Actor, symbol: str, timeframe: str | None = None, limit: int = 50
    ) -> list[HistoryEntry]:
        actor.require(Permission.READ)
        symbol = normalize_symbol(symbol)
        if timeframe is not None and timeframe not in TIMEFRAME_SECONDS:
            raise InvalidInput("invalid_timeframe", f"unknown timeframe {timeframe!r}")
        if not 1 <= limit <= 1000:
            raise InvalidInput("invalid_limit", "limit must be between 1 and 1000")
        if symbol not in self._markets:
            raise InvalidInput("unknown_symbol", f"{symbol} is not among the scanned markets")
        return await self._store.history(symbol, timeframe, limit)

    # -- internals ---------------------------------------------------------------------------
    async def _scan(self, kind: ScanKind, pairs: Sequence[Pair]) -> ScanRun:
        async with self._lock:  # the full scan and a revalidation never interleave
            started = self._clock()
            inputs = [await self._input(symbol, timeframe) for symbol, timeframe in pairs]
            strategies = [self._registry.create(name) for name in self._strategy_names]
            results = await asyncio.to_thread(
                analyse_all, inputs, strategies, self._config.strong, started
            )
            _, previous = await self._store.latest(announced_only=True)
            run = await self._store.record(
                kind,
                started,
                self._clock(),
                sorted({t for _, t in pairs}, key=lambda t: TIMEFRAME_SECONDS[t]),
                results,
                announced=self._bus is not None,
            )
        if self._bus is not None:
            before = {r.key: r for r in previous}
            for result in new_strong_signals(before, results, self._config.strong):
                await self._bus.publish(_signal_event(run, result))
        log.info(
            "scan_finished", kind=kind, scan_id=run.id, markets=run.markets, failures=run.failures
        )
        return run

    async def _input(self, symbol: str, timeframe: str) -> _Input:
        base = self._markets.get(symbol)
        if base is None:
            return _Input(symbol, timeframe, "?", None, "the market is no longer listed")
        factor = TIMEFRAME_SECONDS[timeframe] // TIMEFRAME_SECONDS[base]
        wanted = min((self._config.candles + 1) * factor, MAX_BASE_CANDLES)
        try:
            candles = await self._store.candles(symbol, base, wanted)
        except Exception as error:
            log.exception("scan_candles_unreadable", symbol=symbol)
            return _Input(symbol, timeframe, base, None, f"candles unreadable: {error}")
        return _Input(symbol, timeframe, base, candles)


def _signal_event(run: ScanRun, result: ScanResult) -> Event:
    return Event(
        type=EventType.SCAN_SIGNAL,
        data={
            "scan_id": run.id,
            "symbol": result.symbol,
            "timeframe": result.timeframe,
            "signal": result.signal,
            "score": round(result.score, 4),
            "strategy": result.strategy,
            "last_close": result.last_close,
            "rsi": result.indicators.get("rsi"),
            "candle_time": result.candle_time.isoformat() if result.candle_time else None,
        },
    )
