"""Technical indicators, all computed by TA-Lib over whole float64 columns.

TA-Lib is the reference implementation traders compare against, and its C loops are
fast: a 45k-candle column takes microseconds per indicator. These wrappers only fix the
types (contiguous float64 in, float64 out, NaN where the lookback is not yet filled),
name the outputs, and add the one thing TA-Lib has no function for (a volume spike is a
ratio to TA-Lib's own SMA). Nothing here loops over candles.

:func:`add_indicators` takes short specs (``"rsi"``, ``"sma:50"``, ``"macd:8,21,5"``) so a
scanner, a chart or a command line can name a set of indicators as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib

from tradedeck.domain.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike


def _f64(values: ArrayLike) -> FloatArray:
    """What TA-Lib's C functions need: one contiguous float64 vector (no copy if it is)."""
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"an indicator takes a 1-D column, got shape {array.shape}")
    return array


def _period(name: str, value: int, minimum: int = 2) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInput("invalid_params", f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def sma(values: ArrayLike, period: int = 20) -> FloatArray:
    """Simple moving average."""
    return np.asarray(talib.SMA(_f64(values), timeperiod=_period("period", period)))


def ema(values: ArrayLike, period: int = 20) -> FloatArray:
    """Exponential moving average (seeded by TA-Lib with the SMA of the first period)."""
    return np.asarray(talib.EMA(_f64(values), timeperiod=_period("period", period)))


def rsi(close: ArrayLike, period: int = 14) -> FloatArray:
    """Wilder's relative strength index, 0..100."""
    return np.asarray(talib.RSI(_f64(close), timeperiod=_period("period", period)))


def macd(
    close: ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, its signal line and the histogram (line minus signal)."""
    fast, slow = _period("fast", fast), _period("slow", slow)
    if fast >= slow:
        raise InvalidInput("invalid_params", f"fast ({fast}) must be shorter than slow ({slow})")
    line, sig, hist = talib.MACD(
        _f64(close), fastperiod=fast, slowperiod=slow, signalperiod=_period("signal", signal, 1)
    )
    return np.asarray(line), np.asarray(sig), np.asarray(hist)


def bollinger(
    close: ArrayLike, period: int = 20, stddev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands: upper, middle (the SMA) and lower, ``stddev`` deviations apart."""
    if not np.isfinite(stddev) or stddev <= 0:
        raise InvalidInput("invalid_params", f"stddev must be positive, got {stddev}")
    upper, middle, lower = talib.BBANDS(
        _f64(close),
        timeperiod=_period("period", period),
        nbdevup=float(stddev),
        nbdevdn=float(stddev),
    )
    return np.asarray(upper), np.asarray(middle), np.asarray(lower)


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Average true range (Wilder smoothing), in price units."""
    return np.asarray(
        talib.ATR(_f64(high), _f64(low), _f64(close), timeperiod=_period("period", period, 1))
    )


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> FloatArray:
    """Average directional index, 0..100: how strong the trend is, not which way."""
    return np.asarray(
        talib.ADX(_f64(high), _f64(low), _f64(close), timeperiod=_period("period", period))
    )


def stochastic(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    k_period: int = 14,
    k_smooth: int = 3,
    d_period: int = 3,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic oscillator %K and %D, 0..100."""
    k, d = talib.STOCH(
        _f64(high),
        _f64(low),
        _f64(close),
        fastk_period=_period("k_period", k_period, 1),
        slowk_period=_period("k_smooth", k_smooth, 1),
        slowd_period=_period("d_period", d_period, 1),
    )
    return np.asarray(k), np.asarray(d)


def obv(close: ArrayLike, volume: ArrayLike) -> FloatArray:
    """On-balance volume: volume added on up closes, subtracted on down closes."""
    return np.asarray(talib.OBV(_f64(close), _f64(volume)))


def volume_ratio(volume: ArrayLike, period: int = 20) -> FloatArray:
    """Each candle's volume over the TA-Lib SMA of the ``period`` candles *before* it.

    The average excludes the candle itself so a spike does not dampen its own yardstick.
    NaN until the average exists, or where it is zero (no trades to compare against).
    """
    vol = _f64(volume)
    average = np.full_like(vol, np.nan)
    if vol.shape[0] > 1:
        average[1:] = talib.SMA(vol[:-1], timeperiod=_period("period", period))
    ratio = np.full_like(vol, np.nan)
    np.divide(vol, average, out=ratio, where=average > 0)
    return ratio


def volume_spike(volume: ArrayLike, period: int = 20, threshold: float = 2.0) -> BoolArray:
    """True where volume is at least ``threshold`` times its recent average."""
    if not np.isfinite(threshold) or threshold <= 0:
        raise InvalidInput("invalid_params", f"threshold must be positive, got {threshold}")
    ratio = volume_ratio(volume, period)
    with np.errstate(invalid="ignore"):
        return np.asarray(ratio >= threshold, dtype=np.bool_)


@cache
def pattern_names() -> tuple[str, ...]:
    """Every TA-Lib candlestick pattern function (``CDLDOJI``, ``CDLENGULFING``, ...)."""
    groups: dict[str, list[str]] = talib.get_function_groups()  # type: ignore[no-untyped-call]
    return tuple(sorted(groups["Pattern Recognition"]))


def _pattern_name(name: str) -> str:
    key = name.strip().upper().replace("_", "")
    if not key.startswith("CDL"):
        key = "CDL" + key
    if key not in pattern_names():
        raise InvalidInput(
            "unknown_pattern",
            f"unknown candlestick pattern {name!r}; known: {', '.join(pattern_names())}",
        )
    return key


def candle_patterns(frame: pd.DataFrame, names: Iterable[str] | None = None) -> pd.DataFrame:
    """TA-Lib's candlestick patterns on an OHLC frame, one int column per pattern.

    Values are TA-Lib's: the sign is the direction (positive bullish, negative bearish),
    100 a pattern, 200 a confirmed one (CDLHIKKAKE), 80 a weaker form (CDLENGULFING and
    CDLHARAMI when the bodies only touch), 0 none. Columns are the TA-Lib names; ``names``
    accepts them in any case, with or without the ``CDL`` prefix (``"doji"``,
    ``"CDLENGULFING"``). None = all.
    """
    chosen = pattern_names() if names is None else tuple(_pattern_name(n) for n in names)
    o, h, lo, c = (_f64(frame[col].to_numpy()) for col in ("open", "high", "low", "close"))
    columns = {name: np.asarray(getattr(talib, name)(o, h, lo, c)) for name in chosen}
    return pd.DataFrame(columns, index=frame.index)


Columns = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True, slots=True)
class _Indicator:
    """One spec name: its default arguments and how it turns a frame into columns."""

    defaults: tuple[float, ...]
    outputs: tuple[str, ...]
    compute: Callable[[pd.DataFrame, Sequence[Any]], tuple[npt.NDArray[Any], ...]]
    help: str
    whole: int = 0  # how many leading arguments are periods (whole numbers)


def _col(frame: pd.DataFrame, name: str) -> FloatArray:
    return _f64(frame[name].to_numpy())


def _hlc(frame: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    return _col(frame, "high"), _col(frame, "low"), _col(frame, "close")


INDICATORS: Final[dict[str, _Indicator]] = {
    "sma": _Indicator(
        (20,), ("sma",), lambda f, a: (sma(_col(f, "close"), a[0]),), "sma[:period=20]", 1
    ),
    "ema": _Indicator(
        (20,), ("ema",), lambda f, a: (ema(_col(f, "close"), a[0]),), "ema[:period=20]", 1
    ),
    "rsi": _Indicator(
        (14,), ("rsi",), lambda f, a: (rsi(_col(f, "close"), a[0]),), "rsi[:period=14]", 1
    ),
    "macd": _Indicator(
        (12, 26, 9),
        ("macd", "macd_signal", "macd_hist"),
        lambda f, a: macd(_col(f, "close"), *a),
        "macd[:fast=12,slow=26,signal=9]",
        3,
    ),
    "bollinger": _Indicator(
        (20, 2.0),
        ("bb_upper", "bb_middle", "bb_lower"),
        lambda f, a: bollinger(_col(f, "close"), a[0], a[1]),
        "bollinger[:period=20,stddev=2]",
        1,
    ),
    "atr": _Indicator((14,), ("atr",), lambda f, a: (atr(*_hlc(f), a[0]),), "atr[:period=14]", 1),
    "adx": _Indicator((14,), ("adx",), lambda f, a: (adx(*_hlc(f), a[0]),), "adx[:period=14]", 1),
    "stochastic": _Indicator(
        (14, 3, 3),
        ("stoch_k", "stoch_d"),
        lambda f, a: stochastic(*_hlc(f), *a),
        "stochastic[:k_period=14,k_smooth=3,d_period=3]",
        3,
    ),
    "obv": _Indicator(
        (), ("obv",), lambda f, a: (obv(_col(f, "close"), _col(f, "volume")),), "obv"
    ),
    "volume_spike": _Indicator(
        (20, 2.0),
        ("volume_ratio", "volume_spike"),
        lambda f, a: (
            ratio := volume_ratio(_col(f, "volume"), a[0]),
            np.asarray(np.nan_to_num(ratio, nan=0.0) >= a[1]),
        ),
        "volume_spike[:period=20,threshold=2]",
        1,
    ),
}


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput("invalid_params", f"{spec!r}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise InvalidInput("invalid_params", f"{spec!r}: {text!r} is not a finite number")
    return value


def parse_spec(spec: str) -> tuple[str, tuple[float, ...], tuple[str, ...]]:
    """``"macd:8,21,5"`` → (name, arguments, column names).

    Defaults give plain column names (``rsi``); explicit arguments are appended to them
    (``rsi_7``, ``macd_8_21_5``), so several variants can sit in one frame.
    """
    name, _, raw = spec.strip().lower().partition(":")
    indicator = INDICATORS.get(name)
    if indicator is None:
        raise InvalidInput(
            "unknown_indicator",
            f"unknown indicator {spec!r}; known: {', '.join(i.help for i in INDICATORS.values())}",
        )
    given = tuple(_number(part, spec) for part in raw.split(",")) if raw.strip() else ()
    if len(given) > len(indicator.defaults):
        raise InvalidInput(
            "invalid_params",
            f"{spec!r} takes at most {len(indicator.defaults)} arguments: {indicator.help}",
        )
    args = given + indicator.defaults[len(given) :]
    whole = indicator.whole
    if any(value != int(value) for value in args[:whole]):
        raise InvalidInput("invalid_params", f"{spec!r}: periods are whole numbers")
    args = tuple(int(value) for value in args[:whole]) + args[whole:]
    suffix = "".join(f"_{_short(v)}" for v in args) if given else ""
    return name, args, tuple(out + suffix for out in indicator.outputs)


def _short(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}".replace(".", "p")


def add_indicators(frame: pd.DataFrame, specs: Iterable[str]) -> pd.DataFrame:
    """Add the columns of each spec (see :data:`INDICATORS`) to ``frame`` and return it.

    ``"patterns"`` adds every TA-Lib candlestick pattern; ``"patterns:doji,hammer"`` some.
    Every column is computed before any is added, so a bad spec changes nothing.
    """
    plan: list[tuple[str, tuple[float, ...], tuple[str, ...]]] = []
    patterns: list[str | None] = []
    for spec in specs:
        name, _, raw = spec.strip().partition(":")
        if name.lower() == "patterns":
            chosen = [_pattern_name(p) for p in raw.split(",") if p.strip()]
            if chosen:
                patterns.extend(chosen)
            else:
                patterns.append(None)
            continue
        plan.append(parse_spec(spec))
    computed: dict[str, npt.NDArray[Any]] = {}
    for name, args, columns in plan:
        outputs = INDICATORS[name].compute(frame, args)  # raises before anything is added
        computed.update(zip(columns, outputs, strict=True))
    if patterns:
        chosen_patterns = None if None in patterns else [p for p in patterns if p is not None]
        found = candle_patterns(frame, chosen_patterns)
        computed.update((column, found[column].to_numpy()) for column in found.columns)
    for column, values in computed.items():
        frame[column] = values
    return frame
