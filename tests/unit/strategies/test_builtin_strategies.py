"""Each built-in strategy signals on real candles, and refuses nonsense parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tradedeck.marketdata as marketdata_package
from tradedeck.domain.errors import InvalidInput
from tradedeck.marketdata.loaders import load_candles
from tradedeck.strategies.base import Strategy, candle_frame
from tradedeck.strategies.builtin.bollinger_breakout import BollingerBreakout
from tradedeck.strategies.builtin.macd_trend import MacdTrend
from tradedeck.strategies.builtin.rsi_reversion import RsiReversion
from tradedeck.strategies.builtin.sma_cross import SmaCross

DATA = Path(marketdata_package.__file__).parent / "data"
BUILTINS: list[type[Strategy]] = [SmaCross, RsiReversion, BollingerBreakout, MacdTrend]


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return candle_frame(load_candles(DATA / "ftx-btc-perp-1m.csv", symbol="BTC-PERP"))


@pytest.fixture(scope="module")
def eth() -> pd.DataFrame:
    return candle_frame(load_candles(DATA / "binance-5m-2018" / "ETH_BTC-5m.feather"))


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda c: c.name)
def test_builtin_signals_on_real_candles(cls: type[Strategy], btc: pd.DataFrame) -> None:
    strategy = cls()
    signals = strategy.signals(btc.copy())
    assert len(signals) == len(btc)
    assert 50 < signals.entry.sum() < len(btc) / 10
    assert 50 < signals.exit.sum() < len(btc) / 5
    assert not (signals.entry & signals.exit).any()
    assert not signals.entry[: strategy.warmup].any() and not signals.exit[: strategy.warmup].any()
    assert signals.strength.min() >= -1 and signals.strength.max() <= 1
    assert np.isfinite(signals.strength).all()


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda c: c.name)
def test_builtin_signals_on_another_market(cls: type[Strategy], eth: pd.DataFrame) -> None:
    signals = cls().signals(eth.copy())
    assert signals.entry.any() and signals.exit.any()


def test_sma_cross_keeps_its_reference_count(btc: pd.DataFrame) -> None:
    assert SmaCross().signals(btc.copy()).entry.sum() == 945


@pytest.mark.parametrize("cls", [RsiReversion, BollingerBreakout, MacdTrend], ids=lambda c: c.name)
def test_strength_is_graded_not_just_the_signals(cls: type[Strategy], btc: pd.DataFrame) -> None:
    strength = cls().signals(btc.copy()).strength
    distinct = np.unique(np.round(strength, 3))
    assert len(distinct) > 100


def test_rsi_reversion_enters_on_the_turn_out_of_oversold(btc: pd.DataFrame) -> None:
    strategy = RsiReversion({"period": 14, "oversold": 25, "overbought": 75})
    signals = strategy.signals(btc.copy())
    rsi = signals.frame["rsi"].to_numpy()
    at = np.flatnonzero(signals.entry)
    assert (rsi[at] >= 25).all() and (rsi[at - 1] < 25).all()
    out = np.flatnonzero(signals.exit)
    assert (rsi[out] >= 75).all() and (rsi[out - 1] < 75).all()
    deeply_oversold = rsi <= 25
    assert (signals.strength[deeply_oversold] == 1).all()


def test_tighter_rsi_bands_trade_less(btc: pd.DataFrame) -> None:
    loose = RsiReversion({"oversold": 35, "overbought": 65}).signals(btc.copy())
    tight = RsiReversion({"oversold": 20, "overbought": 80}).signals(btc.copy())
    assert tight.entry.sum() < loose.entry.sum()


def test_bollinger_breakout_enters_on_the_close_above_the_upper_band(btc: pd.DataFrame) -> None:
    signals = BollingerBreakout({"period": 20, "stddev": 2}).signals(btc.copy())
    frame = signals.frame
    at = np.flatnonzero(signals.entry)
    assert (frame["close"].to_numpy()[at] > frame["bb_upper"].to_numpy()[at]).all()
    assert (signals.strength[at] == 1).all()


def test_macd_adx_filter_only_removes_entries(btc: pd.DataFrame) -> None:
    plain = MacdTrend().signals(btc.copy())
    filtered = MacdTrend({"adx_min": 30}).signals(btc.copy())
    assert 0 < filtered.entry.sum() < plain.entry.sum()
    assert not (filtered.entry & ~plain.entry).any()
    assert (filtered.frame["adx"].to_numpy()[filtered.entry] >= 30).all()


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (RsiReversion, {"oversold": 70, "overbought": 30}, "oversold \\(70\\) must be below"),
        (RsiReversion, {"period": 1}, "period: Input should be greater than or equal to 2"),
        (BollingerBreakout, {"stddev": 0}, "stddev: Input should be greater than 0"),
        (MacdTrend, {"fast": 30, "slow": 20}, "fast \\(30\\) must be shorter than slow \\(20\\)"),
        (MacdTrend, {"adx_min": 101}, "adx_min: Input should be less than or equal to 100"),
        (SmaCross, {"fats": 5}, "fats: Extra inputs are not permitted"),
        (SmaCross, {"stop_loss": 1.5}, "stop_loss: Input should be less than 1"),
        (BollingerBreakout, {"period": "twenty"}, "period: Input should be a valid integer"),
    ],
)
def test_bad_params_are_refused_naming_the_strategy_and_the_field(
    cls: type[Strategy], params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        cls(params)
    assert caught.value.code == "invalid_params"
    assert caught.value.detail.startswith(f"{cls.name}: ")


def test_text_params_are_coerced_like_a_command_line() -> None:
    strategy = MacdTrend({"fast": "8", "slow": "21", "adx_min": "20", "stop_loss": "0.02"})
    assert strategy.params.model_dump()["fast"] == 8
    assert strategy.warmup == max(21 + 9 - 1, 2 * 14)
