"""The indicator wrappers give TA-Lib's numbers, on the shapes and names we promise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

import tradedeck.marketdata as marketdata_package
from tradedeck.domain.errors import InvalidInput
from tradedeck.marketdata.loaders import load_candles
from tradedeck.strategies import indicators
from tradedeck.strategies.base import candle_frame

DATA = Path(marketdata_package.__file__).parent / "data"


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return candle_frame(load_candles(DATA / "ftx-btc-perp-1m.csv", symbol="BTC-PERP"))


def same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=0, equal_nan=True)


def test_each_wrapper_is_talib_itself(btc: pd.DataFrame) -> None:
    o, h, lo, c, v = (btc[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    same(indicators.sma(c, 50), talib.SMA(c, timeperiod=50))
    same(indicators.ema(c, 21), talib.EMA(c, timeperiod=21))
    same(indicators.rsi(c, 7), talib.RSI(c, timeperiod=7))
    for ours, theirs in zip(
        indicators.macd(c, 8, 21, 5),
        talib.MACD(c, fastperiod=8, slowperiod=21, signalperiod=5),
        strict=True,
    ):
        same(ours, theirs)
    for ours, theirs in zip(
        indicators.bollinger(c, 30, 2.5),
        talib.BBANDS(c, timeperiod=30, nbdevup=2.5, nbdevdn=2.5),
        strict=True,
    ):
        same(ours, theirs)
    same(indicators.atr(h, lo, c, 10), talib.ATR(h, lo, c, timeperiod=10))
    same(indicators.adx(h, lo, c, 14), talib.ADX(h, lo, c, timeperiod=14))
    k, d = indicators.stochastic(h, lo, c, 14, 3, 3)
    tk, td = talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowd_period=3)
    same(k, tk)
    same(d, td)
    same(indicators.obv(c, v), talib.OBV(c, v))
    same(
        indicators.candle_patterns(btc, ["CDLENGULFING"])["CDLENGULFING"],
        talib.CDLENGULFING(o, h, lo, c),
    )


def test_oscillators_stay_in_range_and_bands_stay_ordered(btc: pd.DataFrame) -> None:
    c = btc["close"].to_numpy()
    rsi = indicators.rsi(c)
    assert np.isnan(rsi[:14]).all() and not np.isnan(rsi[14:]).any()
    assert rsi[14:].min() >= 0 and rsi[14:].max() <= 100
    upper, middle, lower = indicators.bollinger(c)
    ok = ~np.isnan(middle)
    assert (upper[ok] >= middle[ok]).all() and (middle[ok] >= lower[ok]).all()
    k, d = indicators.stochastic(btc["high"], btc["low"], btc["close"])
    assert np.nanmin(d) >= -1e-9 and np.nanmax(d) <= 100 + 1e-9
    assert np.nanmin(k) >= -1e-9 and np.nanmax(k) <= 100 + 1e-9


def test_moving_averages_of_a_flat_market_are_the_price() -> None:
    flat = np.full(100, 42.5)
    assert indicators.sma(flat, 10)[9:].tolist() == [42.5] * 91
    np.testing.assert_allclose(indicators.ema(flat, 10)[9:], 42.5)


def test_obv_moves_by_the_volume_in_the_direction_of_the_close() -> None:
    close = np.array([10.0, 11.0, 11.0, 9.0, 12.0])
    volume = np.array([5.0, 3.0, 7.0, 2.0, 4.0])
    assert np.diff(indicators.obv(close, volume)).tolist() == [3.0, 0.0, -2.0, 4.0]


def test_volume_spike_is_measured_against_the_candles_before() -> None:
    volume = np.full(40, 100.0)
    volume[30] = 350.0
    ratio = indicators.volume_ratio(volume, 20)
    assert np.isnan(ratio[:20]).all()
    assert ratio[30] == pytest.approx(3.5)
    spikes = indicators.volume_spike(volume, 20, threshold=3.0)
    assert spikes.nonzero()[0].tolist() == [30]
    assert not indicators.volume_spike(volume, 20, threshold=4.0).any()


def test_no_volume_to_compare_against_is_no_spike() -> None:
    volume = np.zeros(30)
    volume[-1] = 5.0
    assert np.isnan(indicators.volume_ratio(volume, 10)[-1])
    assert not indicators.volume_spike(volume, 10).any()


def test_all_talib_candlestick_patterns_are_available(btc: pd.DataFrame) -> None:
    names = indicators.pattern_names()
    assert len(names) == len(talib.get_function_groups()["Pattern Recognition"]) >= 60
    patterns = indicators.candle_patterns(btc)
    assert list(patterns.columns) == list(names)
    assert patterns.index.equals(btc.index)
    assert set(np.unique(patterns.to_numpy())) <= {-200, -100, -80, 0, 80, 100, 200}
    assert (patterns["CDLDOJI"] != 0).sum() > 100  # doji are common on 1m candles


def test_pattern_names_are_accepted_loosely_and_unknown_ones_refused(btc: pd.DataFrame) -> None:
    chosen = indicators.candle_patterns(btc.iloc[:200], ["doji", "cdl_hammer", "CDLENGULFING"])
    assert list(chosen.columns) == ["CDLDOJI", "CDLHAMMER", "CDLENGULFING"]
    with pytest.raises(InvalidInput, match="unknown candlestick pattern 'rocket'") as caught:
        indicators.candle_patterns(btc, ["rocket"])
    assert "CDLDOJI" in caught.value.detail


def test_add_indicators_names_columns_by_spec(btc: pd.DataFrame) -> None:
    frame = btc.iloc[:500].copy()
    indicators.add_indicators(
        frame, ["rsi", "sma:50", "macd", "bollinger:20,2.5", "volume_spike", "patterns:doji"]
    )
    added = set(frame.columns) - {"open", "high", "low", "close", "volume"}
    assert added == {
        "rsi",
        "sma_50",
        "macd",
        "macd_signal",
        "macd_hist",
        "bb_upper_20_2p5",
        "bb_middle_20_2p5",
        "bb_lower_20_2p5",
        "volume_ratio",
        "volume_spike",
        "CDLDOJI",
    }
    same(frame["sma_50"].to_numpy(), talib.SMA(frame["close"].to_numpy(), timeperiod=50))
    assert frame["volume_spike"].dtype == np.bool_


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("vwap", "unknown indicator 'vwap'"),
        ("rsi:abc", "'abc' is not a number"),
        ("rsi:1", "period must be an integer >= 2"),
        ("sma:10.5", "periods are whole numbers"),
        ("macd:26,12", "fast \\(26\\) must be shorter than slow \\(12\\)"),
        ("rsi:7,8", "takes at most 1 arguments"),
        ("bollinger:20,0", "stddev must be positive"),
    ],
)
def test_a_bad_spec_is_refused_and_changes_nothing(
    btc: pd.DataFrame, spec: str, message: str
) -> None:
    frame = btc.iloc[:100].copy()
    with pytest.raises(InvalidInput, match=message):
        indicators.add_indicators(frame, ["ema", spec])
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
