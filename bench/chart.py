"""Benchmark: milliseconds per chart, and what rendering does to the process's memory.

Renders candle charts of the bundled ETH/BTC 5m candles (a window sliding through the
recording, so no two charts are the same) with the default overlays: SMA 20/50, Bollinger
20, volume and RSI 14, as /chart and the REST API draw them. Then a few equity charts.
Prints p50/p99 per chart, PNG sizes and RSS (VmRSS) after the warm-up, after 50 charts
and at the end (tests/unit/charts/test_chart_memory.py checks 2,000); asserts nothing.

    python bench/chart.py [--charts 100] [--candles 200] [--equity 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from tradedeck.charts.overlays import Overlays
from tradedeck.charts.render import candle_chart, equity_chart
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.strategies.base import candle_frame

WARMUP = 5
BASELINE_AFTER = 50  # RSS settles within the first few dozen charts (arenas, caches)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=100)
    parser.add_argument("--candles", type=int, default=200)
    parser.add_argument("--equity", type=int, default=20)
    args = parser.parse_args()

    bundled = next(b for b in load_bundled_catalog() if b.symbol == "ETH/BTC")
    frame = candle_frame(load_bundled_series(bundled))
    overlays = Overlays()
    for k in range(WARMUP):  # fonts, caches and the worker's first allocations
        candle_chart(frame.iloc[k : k + args.candles], title="warm-up", overlays=overlays)
    after_warmup = rss_mb()

    times: list[float] = []
    sizes: list[int] = []
    baseline = float("nan")
    for k in range(args.charts):
        start = (k * 37) % (len(frame) - args.candles)
        window = frame.iloc[start : start + args.candles]
        began = time.perf_counter()
        png = candle_chart(window, title=f"ETH/BTC · 5m · {k}", overlays=overlays)
        times.append((time.perf_counter() - began) * 1000)
        sizes.append(len(png))
        if k + 1 == BASELINE_AFTER:
            baseline = rss_mb()
    after_candles = rss_mb()

    rng = np.random.default_rng(1)
    equity_times: list[float] = []
    stamps = np.arange(2000, dtype=np.int64) * 3_600_000 + 1_700_000_000_000
    for _ in range(args.equity):
        curve = 10_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, stamps.shape[0]))
        began = time.perf_counter()
        equity_chart(stamps, curve, title="equity")
        equity_times.append((time.perf_counter() - began) * 1000)

    print(f"candle charts: {args.charts} × {args.candles} candles, SMA 20/50 + BB 20 + vol + RSI")
    print(
        f"  ms per chart: p50 {percentile(times, 50):.0f}  p99 {percentile(times, 99):.0f}  "
        f"mean {statistics.fmean(times):.0f}  min {min(times):.0f}  max {max(times):.0f}"
    )
    print(f"  PNG: mean {statistics.fmean(sizes) / 1024:.0f} KiB")
    if equity_times:
        print(
            f"equity charts: {args.equity} × {stamps.shape[0]} points: "
            f"p50 {percentile(equity_times, 50):.0f} ms  p99 {percentile(equity_times, 99):.0f} ms"
        )
    print(
        f"RSS: {after_warmup:.1f} MiB after {WARMUP} warm-up charts, {baseline:.1f} MiB after "
        f"{BASELINE_AFTER} more, {after_candles:.1f} MiB after {args.charts} "
        f"({after_candles - baseline:+.1f} MiB since chart {BASELINE_AFTER}); "
        f"{rss_mb():.1f} MiB after the equity charts"
    )


if __name__ == "__main__":
    main()
