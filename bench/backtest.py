"""Benchmark: backtest speed in candles per second, warm and as a cold command.

`sma_cross` (10/30, fixed amount 1, no fee, no slippage) on the bundled 45,031-candle 1m
BTC-PERP series, and on a 500,000-candle series built from it: the series repeated, each
copy's prices scaled so it opens where the previous copy closed, its times shifted to
follow on. Figures:

- warm: ``run_backtest`` in this process, data loaded, after one untimed warm-up run,
  best of a few runs (wall-clock, and its CPU time), with the garbage collector tuned as
  ``tradedeck run`` tunes it (the API and Telegram backtests run in that process);
- cold: the whole ``tradedeck backtest`` command in a fresh process (start-up, imports,
  loading the file, the run, the table): best wall-clock, and its CPU time, which is the
  fairer figure when other work shares the cores;
- backtrader (when installed) on the same 45k series in this process, with its own SMA
  and CrossOver and its default next-open broker (the 500k series too with --backtrader
  all; that takes about a minute).

Prints figures; asserts nothing.

    python bench/backtest.py [--repeat 3] [--backtrader 45k|all|none]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from tradedeck import marketdata, native
from tradedeck.backtest.engine import BacktestConfig, run_backtest
from tradedeck.cli import tune_garbage_collector
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.marketdata.loaders import CandleSeries
from tradedeck.strategies.base import candle_frame
from tradedeck.strategies.builtin.sma_cross import SmaCross

BIG = 500_000
BUNDLED_FILE = "ftx-btc-perp-1m.csv"
CASH = Decimal(10**9)


def chained(series: CandleSeries, length: int) -> CandleSeries:
    """``series`` repeated up to ``length`` candles, each copy continuing the last."""
    n = len(series)
    copies = -(-length // n)
    step = int(series.ts[-1] - series.ts[0]) + series.timeframe_ms
    columns: dict[str, list[Any]] = {k: [] for k in ("ts", "open", "high", "low", "close")}
    scale = 1.0
    for k in range(copies):
        if k:
            scale *= float(series.close[-1]) / float(series.open[0])
        columns["ts"].append(series.ts + k * step)
        for name in ("open", "high", "low", "close"):
            columns[name].append(np.round(getattr(series, name) * scale, 1))
    joined = {name: np.concatenate(parts)[:length] for name, parts in columns.items()}
    return CandleSeries(
        ts=joined["ts"],
        open=joined["open"],
        high=np.maximum(joined["high"], np.maximum(joined["open"], joined["close"])),
        low=np.minimum(joined["low"], np.minimum(joined["open"], joined["close"])),
        close=joined["close"],
        volume=np.tile(series.volume, copies)[:length],
        symbol=series.symbol,
        timeframe=series.timeframe,
    )


def write_feather(series: CandleSeries, path: Path) -> None:
    table = pa.table(
        {
            "date": pa.array(np.asarray(series.ts), type=pa.timestamp("ms", tz="UTC")),
            "open": np.asarray(series.open),
            "high": np.asarray(series.high),
            "low": np.asarray(series.low),
            "close": np.asarray(series.close),
            "volume": np.asarray(series.volume),
        }
    )
    feather.write_feather(table, str(path))


def warm(series: CandleSeries, config: BacktestConfig, repeat: int) -> tuple[float, float, int]:
    """Best wall-clock and best CPU seconds of ``run_backtest`` alone (the series is loaded,
    the code imported), after one untimed warm-up run."""
    run_backtest(series, SmaCross({"fast": 10, "slow": 30}), config)
    best = best_cpu = float("inf")
    trades = 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = run_backtest(series, SmaCross({"fast": 10, "slow": 30}), config)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
        trades = result.metrics.trades
    return best, best_cpu, trades


def cold(path: Path, repeat: int) -> tuple[float, float]:
    """Best wall-clock seconds of the whole command, and its CPU seconds (user + system):
    on a shared machine the CPU figure is the one that does not depend on the neighbours."""
    command = [
        sys.executable, "-m", "tradedeck", "backtest",
        "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30",
        "--data", str(path), "--symbol", "BTC/USDT",
        "--fee", "0", "--slippage", "0", "--amount", "1", "--cash", str(CASH),
    ]  # fmt: skip
    best = best_cpu = float("inf")
    with tempfile.TemporaryDirectory() as workdir:  # no .env of a checkout is read
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, cwd=workdir, check=True, capture_output=True)
            best = min(best, time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            best_cpu = min(best_cpu, cpu)
    return best, best_cpu


def backtrader_seconds(series: CandleSeries) -> tuple[float, int] | None:
    try:
        import backtrader as bt
    except ImportError:
        return None
    closed: list[int] = []

    class Cross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            fast = bt.indicators.SMA(self.data.close, period=10)
            slow = bt.indicators.SMA(self.data.close, period=30)
            self.cross = bt.indicators.CrossOver(fast, slow)

        def notify_trade(self, trade: Any) -> None:
            if trade.isclosed:
                closed.append(1)

        def next(self) -> None:
            if not self.position:
                if self.cross[0] > 0:
                    self.buy(size=1)
            elif self.cross[0] < 0:
                self.close()

    frame = candle_frame(series)
    assert isinstance(frame.index, pd.DatetimeIndex)
    frame.index = frame.index.tz_convert(None)
    started = time.perf_counter()
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(float(CASH))
    cerebro.run()
    return time.perf_counter() - started, len(closed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--backtrader", choices=("45k", "all", "none"), default="45k")
    args = parser.parse_args()

    tune_garbage_collector()  # as `tradedeck run`, whose worker threads run the backtests
    bundled = next(b for b in load_bundled_catalog() if b.file == BUNDLED_FILE)
    small = load_bundled_series(bundled)
    big = chained(small, BIG)
    config = BacktestConfig(
        market=bundled.market,
        cash=CASH,
        fee_rate=Decimal(0),
        slippage_bps=Decimal(0),
        amount=Decimal(1),
    )
    rows: list[tuple[str, int, float, int | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big_file = Path(tmp) / "BTC_USDT-1m.feather"
        write_feather(big, big_file)
        data_dir = Path(marketdata.__file__).parent / "data"
        for label, series, path in (
            ("45k", small, data_dir / BUNDLED_FILE),
            ("500k", big, big_file),
        ):
            seconds, cpu_seconds, trades = warm(series, config, args.repeat)
            rows.append((f"tradedeck warm, {label}", len(series), seconds, trades))
            rows.append((f"  (its CPU time, {label})", len(series), cpu_seconds, None))
            wall, cpu = cold(path, args.repeat)
            rows.append((f"tradedeck cold command, {label}", len(series), wall, None))
            rows.append((f"  (its CPU time, {label})", len(series), cpu, None))
        if args.backtrader != "none":
            targets = [("45k", small)] + ([("500k", big)] if args.backtrader == "all" else [])
            for label, series in targets:
                measured = backtrader_seconds(series)
                if measured is None:
                    print("backtrader is not installed: pip install -e '.[bench]'")
                    break
                rows.append((f"backtrader, {label}", len(series), measured[0], measured[1]))

    built = [m for m in native.MODULES if native.is_compiled(m)]
    print(
        f"trading path: {len(built)} of {len(native.MODULES)} modules compiled with mypyc"
        + ("" if built else " (interpreted: `make venv` compiles them)")
    )
    print(f"{'run':<32} {'candles':>9} {'seconds':>9} {'candles/s':>12} {'trades':>7}")
    for name, candles, seconds, closed in rows:
        print(
            f"{name:<32} {candles:>9,} {seconds:>9.3f} {candles / seconds:>12,.0f} "
            f"{'' if closed is None else closed:>7}"
        )


if __name__ == "__main__":
    main()
