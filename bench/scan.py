"""Benchmark: one market scan of 100 markets x 1,000 candles, target under 1 s.

The markets are cut from the bundled 5m recordings (ten pairs, ten windows of 1,000
candles each, starting 500 candles apart), so prices and volumes are real. Each market
gets the scanner's five TA-Lib indicators (RSI, MACD, Bollinger Bands, ATR, ADX) and the
signals of every built-in strategy. Two figures:

* compute: the CPU part of a scan (frames, indicators, strategies, scores), what the
  scanner runs in its worker thread;
* full scan: ``Scanner.scan()`` end to end on SQLite: read 100 x 1,000 candles from the
  candles table, compute, rank, store the scan and its 100 results.

Prints figures; asserts nothing.

    python bench/scan.py [--markets 100] [--candles 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from tradedeck.domain.candles import ms_to_datetime
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.notify.events import InProcessBus
from tradedeck.storage import models as m
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.scans import CandleArrays, ScanStore
from tradedeck.strategies.registry import BUILTIN_STRATEGIES, StrategyRegistry
from tradedeck.strategies.scanner import SCAN_INDICATORS, ScanConfig, Scanner, _Input, analyse_all


def markets(count: int, candles: int) -> dict[str, CandleSeries]:
    """``count`` markets of ``candles`` 5m candles, cut from the bundled recordings."""
    sources = [load_bundled_series(b) for b in load_bundled_catalog() if b.timeframe == "5m"]
    found: dict[str, CandleSeries] = {}
    window = 0
    while len(found) < count:
        for series in sources:
            start = window * (candles // 2)
            if start + candles > len(series):
                continue
            base = series.symbol.split("/")[0]
            found[f"{base}{window:02d}/BTC"] = series.slice(start, start + candles)
            if len(found) == count:
                break
        window += 1
        if window * (candles // 2) > max(len(s) for s in sources):
            raise SystemExit(f"the bundled data holds fewer than {count} windows of {candles}")
    return found


def as_arrays(series: CandleSeries) -> CandleArrays:
    return CandleArrays(
        ts=series.ts.copy(),
        open=series.open.copy(),
        high=series.high.copy(),
        low=series.low.copy(),
        close=series.close.copy(),
        volume=series.volume.copy(),
    )


def timed(repeat: int, run: object) -> list[float]:
    assert callable(run)
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label:<11} median {statistics.median(times) * 1000:7.1f} ms   "
        f"best {min(times) * 1000:7.1f} ms   worst {max(times) * 1000:7.1f} ms   "
        f"({len(times)} runs)"
    )


async def full_scan(series: dict[str, CandleSeries], repeat: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        rows = [
            {
                "symbol": symbol,
                "timeframe": "5m",
                "opened_at": ms_to_datetime(int(s.ts[i])),
                "open": float(s.open[i]),
                "high": float(s.high[i]),
                "low": float(s.low[i]),
                "close": float(s.close[i]),
                "volume": float(s.volume[i]),
            }
            for symbol, s in series.items()
            for i in range(len(s))
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(m.candles), rows)
        universe = dict.fromkeys(series, "5m")
        scanner = Scanner(
            ScanStore(engine),
            StrategyRegistry(),
            ScanConfig(candles=len(next(iter(series.values())))),
            lambda: universe,
            InProcessBus(),
        )
        times = []
        try:
            for _ in range(repeat):
                begin = time.perf_counter()
                run = await scanner.scan()
                times.append(time.perf_counter() - begin)
                assert run.markets == len(series) and run.failures == 0, run
        finally:
            await engine.dispose()
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markets", type=int, default=100)
    parser.add_argument("--candles", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    series = markets(args.markets, args.candles)
    inputs = [_Input(symbol, "5m", "5m", as_arrays(s)) for symbol, s in series.items()]
    strategies = [cls() for cls in BUILTIN_STRATEGIES]
    now = datetime.now(UTC)
    print(
        f"{len(series)} markets x {args.candles} candles · indicators: "
        f"{', '.join(SCAN_INDICATORS)} · strategies: {', '.join(s.name for s in strategies)}"
    )
    analyse_all(inputs[:2], strategies, 0.5, now)  # warm-up: imports, TA-Lib init
    report("compute", timed(args.repeat, lambda: analyse_all(inputs, strategies, 0.5, now)))
    report("full scan", asyncio.run(full_scan(series, args.repeat)))


if __name__ == "__main__":
    main()
