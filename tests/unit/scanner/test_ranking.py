"""The scanner's rules without I/O: the score and signal of a market, the ranking, what
counts as a new strong signal, resampling, and a market failing on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.storage.scans import CandleArrays, ScanResult
from tradedeck.strategies.base import BoolArray, FloatArray, Strategy, candle_frame
from tradedeck.strategies.builtin.sma_cross import SmaCross
from tradedeck.strategies.scanner import (
    _Input,
    analyse,
    analyse_all,
    new_strong_signals,
    rank,
    resample,
    signal_for,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class Fixed(Strategy):
    """A strategy whose view on every candle is ``value``."""

    name = "fixed"
    value = 0.0

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def entry(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(False, index=frame.index)

    def exit(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(False, index=frame.index)

    def strength(self, frame: pd.DataFrame, entry: BoolArray, exit: BoolArray) -> FloatArray:
        return np.full(len(frame), self.value)


def fixed(name: str, value: float) -> Strategy:
    cls = type(name, (Fixed,), {"name": name, "value": value})
    return cls()


class Broken(Fixed):
    name = "broken"

    def populate(self, frame: pd.DataFrame) -> pd.DataFrame:
        raise ZeroDivisionError("bad luck")


def eth_frame(count: int = 200) -> pd.DataFrame:
    bundled = next(b for b in load_bundled_catalog() if b.symbol == "ETH/BTC")
    return candle_frame(load_bundled_series(bundled).slice(0, count))


def result(symbol: str, score: float, error: str | None = None) -> ScanResult:
    return ScanResult(symbol, "5m", score=score, signal=signal_for(score, 0.5), error=error)


def test_score_is_the_strongest_view_and_names_its_strategy() -> None:
    frame = eth_frame()
    found = analyse(
        "ETH/BTC", "5m", frame, [fixed("mild", 0.3), fixed("bear", -0.8), fixed("bull", 0.6)], 0.5
    )
    assert found.score == pytest.approx(-0.8)
    assert found.strategy == "bear" and found.signal == "sell" and not found.failed
    assert found.last_close == pytest.approx(float(frame["close"].iloc[-1]))
    assert found.candle_time == frame.index[-1].to_pydatetime()
    assert set(found.indicators) == {"rsi", "macd_hist", "bb_pct", "atr_pct", "adx"}
    rsi = found.indicators["rsi"]
    assert rsi is not None and 0 <= rsi <= 100


def test_a_tie_goes_to_the_strategy_listed_first() -> None:
    found = analyse("ETH/BTC", "5m", eth_frame(), [fixed("a", 0.7), fixed("b", -0.7)], 0.5)
    assert found.strategy == "a" and found.signal == "buy"


def test_signal_thresholds() -> None:
    assert signal_for(0.5, 0.5) == "buy"
    assert signal_for(-0.5, 0.5) == "sell"
    assert signal_for(0.49, 0.5) == "none"
    assert signal_for(0.0, 0.5) == "none"


def test_ranking_by_strength_longs_first_failures_last() -> None:
    ranked = rank(
        [
            result("A/BTC", 0.2),
            result("B/BTC", -0.9),
            result("C/BTC", 0.9),
            result("D/BTC", 0.0, error="no candles"),
            result("E/BTC", 0.5),
        ]
    )
    assert [r.symbol for r in ranked] == ["C/BTC", "B/BTC", "E/BTC", "A/BTC", "D/BTC"]


def test_new_strong_signals_only_when_they_were_not_strong_before() -> None:
    previous = {
        r.key: r
        for r in [
            result("A/BTC", 0.9),  # strong before, strong now: not new
            result("B/BTC", 0.1),  # weak before, strong now: new
            result("C/BTC", 0.8),  # strong long before, strong exit now: new
            result("E/BTC", 0.9, error="no candles"),  # failed before: new
        ]
    }
    current = [
        result("A/BTC", 0.95),
        result("B/BTC", 0.7),
        result("C/BTC", -0.6),
        result("D/BTC", 0.6),  # never seen: new
        result("E/BTC", 0.9),
        result("F/BTC", 0.2),  # weak: never pushed
    ]
    fresh = new_strong_signals(previous, current, 0.5)
    assert [r.symbol for r in fresh] == ["B/BTC", "C/BTC", "D/BTC", "E/BTC"]


def test_a_raising_strategy_fails_only_that_market_with_where_it_broke() -> None:
    found = analyse("ETH/BTC", "5m", eth_frame(), [fixed("ok", 0.4), Broken()], 0.5)
    assert found.failed and found.error is not None
    assert "broken" in found.error and "ZeroDivisionError: bad luck" in found.error
    assert "test_ranking.py:" in found.error  # file:line of the raise


def test_too_few_candles_fail_the_market_with_a_reason() -> None:
    found = analyse("ETH/BTC", "5m", eth_frame(10), [SmaCross()], 0.5)
    assert found.failed and found.error == "only 10 closed 5m candles, 30 needed"


def arrays(frame: pd.DataFrame) -> CandleArrays:
    ts = frame.index.as_unit("ms").asi8.astype(np.int64)
    return CandleArrays(
        ts=ts,
        open=frame["open"].to_numpy(),
        high=frame["high"].to_numpy(),
        low=frame["low"].to_numpy(),
        close=frame["close"].to_numpy(),
        volume=frame["volume"].to_numpy(),
    )


def test_analyse_all_isolates_bad_markets() -> None:
    good = arrays(eth_frame())
    bad_close = good.close.copy()
    bad_close[50] = np.nan
    bad = CandleArrays(good.ts, good.open, good.high, good.low, bad_close, good.volume)
    empty = CandleArrays(good.ts[:0], good.open[:0], good.high[:0], good.low[:0],
                         good.close[:0], good.volume[:0])  # fmt: skip
    results = analyse_all(
        [
            _Input("ETH/BTC", "5m", "5m", good),
            _Input("BAD/BTC", "5m", "5m", bad),
            _Input("NONE/BTC", "5m", "5m", empty),
            _Input("GONE/BTC", "5m", "5m", None, "the market is no longer listed"),
        ],
        [SmaCross()],
        0.5,
        NOW,
    )
    assert [r.failed for r in results] == [False, True, True, True]
    assert results[1].error is not None and "NaN" in results[1].error
    assert results[2].error is not None and "no 5m candles" in results[2].error
    assert results[3].error == "the market is no longer listed"


def test_a_candle_still_forming_is_not_scanned() -> None:
    frame = eth_frame(100)
    last_open = frame.index[-1].to_pydatetime()
    # at this moment the last candle is still open: the previous one is the last closed
    during = analyse_all(
        [_Input("ETH/BTC", "5m", "5m", arrays(frame))],
        [SmaCross()],
        0.5,
        last_open + timedelta(minutes=2),
    )[0]
    assert during.candle_time == frame.index[-2].to_pydatetime()


def test_resample_to_a_larger_timeframe_drops_incomplete_buckets() -> None:
    frame = eth_frame(12 * 10 + 5)  # 5m candles
    offset = (frame.index[0].minute // 5) % 12
    hourly = resample(frame, "5m", "1h")
    assert (hourly.index.minute == 0).all()
    assert all(hourly.index[1:] - hourly.index[:-1] == pd.Timedelta(hours=1))
    first = hourly.index[0]
    inside = frame[(frame.index >= first) & (frame.index < first + pd.Timedelta(hours=1))]
    assert len(inside) == 12
    assert hourly["open"].iloc[0] == inside["open"].iloc[0]
    assert hourly["close"].iloc[0] == inside["close"].iloc[-1]
    assert hourly["high"].iloc[0] == inside["high"].max()
    assert hourly["low"].iloc[0] == inside["low"].min()
    assert hourly["volume"].iloc[0] == pytest.approx(inside["volume"].sum())
    expected = (len(frame) - ((12 - offset) % 12)) // 12
    assert len(hourly) == expected
