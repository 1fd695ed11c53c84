"""The PNG renderers: valid phone-sized images, the overlays really drawn, clear refusals,
and nothing left behind in pyplot."""

from __future__ import annotations

import io
import struct
import threading
from datetime import UTC, datetime, timedelta

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib import colors
from PIL import Image

from tradedeck.charts import render
from tradedeck.charts.overlays import PLAIN, Overlays
from tradedeck.charts.render import candle_chart, drawdown, equity_chart
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.strategies.base import candle_frame

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


def count_color(data: bytes, color: str) -> int:
    rgb = np.array([round(c * 255) for c in colors.to_rgb(color)], dtype=np.uint8)
    return int(np.all(pixels(data) == rgb, axis=2).sum())


@pytest.fixture(scope="module")
def eth() -> pd.DataFrame:
    bundled = next(b for b in load_bundled_catalog() if b.symbol == "ETH/BTC")
    return candle_frame(load_bundled_series(bundled)).iloc[-200:]


def test_candle_chart_is_a_phone_sized_png(eth: pd.DataFrame) -> None:
    data = candle_chart(eth, title="ETH/BTC · 5m")
    width, height = png_size(data)
    # 10×6 in at 150 dpi is 1500×900 px; the tight crop trims only the empty margin.
    assert 1200 <= width <= 1500 and 700 <= height <= 900
    assert abs(width / height - 10 / 6) < 0.1
    assert pixels(data).shape == (height, width, 3)
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"  # complete, not truncated


def test_overlays_are_drawn(eth: pd.DataFrame) -> None:
    plain = candle_chart(eth, title="ETH/BTC", overlays=PLAIN)
    full = candle_chart(eth, title="ETH/BTC", overlays=Overlays(sma=(20, 50), rsi=14))
    sma20, sma50 = render.LINE_COLORS[0], render.LINE_COLORS[1]
    assert count_color(plain, sma20) == 0 and count_color(plain, render.RSI_COLOR) == 0
    assert count_color(full, sma20) > 500 and count_color(full, sma50) > 500
    assert count_color(full, render.RSI_COLOR) > 300
    # Candles of both colours in either case.
    for chart in (plain, full):
        assert count_color(chart, render.UP) > 200 and count_color(chart, render.DOWN) > 200


def test_entry_and_exit_markers(eth: pd.DataFrame) -> None:
    entries = np.zeros(len(eth), dtype=bool)
    exits = np.zeros(len(eth), dtype=bool)
    entries[[40, 120]] = True
    exits[[80, 160]] = True
    unmarked = candle_chart(eth, title="t", overlays=PLAIN)
    marked = candle_chart(eth, title="t", overlays=PLAIN, entries=entries, exits=exits)
    assert count_color(marked, render.UP) > count_color(unmarked, render.UP) + 100
    assert count_color(marked, render.DOWN) > count_color(unmarked, render.DOWN) + 100


def test_strategy_columns_are_drawn(eth: pd.DataFrame) -> None:
    frame = eth.copy()
    frame["fast"] = frame["close"].rolling(5).mean()
    drawn = candle_chart(frame, title="t", overlays=Overlays(sma=(), columns=("fast",)))
    assert count_color(drawn, render.LINE_COLORS[0]) > 500
    with pytest.raises(ValueError, match="no column 'slow'"):
        candle_chart(frame, title="t", overlays=Overlays(columns=("slow",)))


def test_short_frames_leave_out_what_they_cannot_compute(eth: pd.DataFrame) -> None:
    short = eth.iloc[-30:]  # SMA 50 and RSI 14 need more, SMA 20 has 11 values
    data = candle_chart(short, title="t", overlays=Overlays(sma=(20, 50), rsi=None))
    png_size(data)
    assert count_color(data, render.LINE_COLORS[0]) > 0
    assert count_color(data, render.LINE_COLORS[1]) == 0


def test_bad_frames_are_refused(eth: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 2 candles"):
        candle_chart(eth.iloc[:1], title="t")
    naive = eth.copy()
    naive.index = naive.index.tz_localize(None)
    with pytest.raises(ValueError, match="UTC DatetimeIndex"):
        candle_chart(naive, title="t")
    with pytest.raises(ValueError, match="columns volume"):
        candle_chart(eth.drop(columns=["volume"]), title="t")
    with pytest.raises(ValueError, match="one flag per candle"):
        candle_chart(eth, title="t", entries=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="at least 2"):
        Overlays(sma=(1,))


def test_figures_never_reach_pyplot(eth: pd.DataFrame) -> None:
    before = plt.get_fignums()
    candle_chart(eth, title="t")
    equity_chart(np.array([0, 60_000], dtype=np.int64), [1.0, 2.0], title="t")
    assert plt.get_fignums() == before


def test_concurrent_callers_get_whole_images(eth: pd.DataFrame) -> None:
    """matplotlib is not thread-safe; the renderer serialises, so threads still get PNGs."""
    expected = candle_chart(eth, title="ETH/BTC")
    results: list[bytes] = []

    def draw() -> None:
        results.append(candle_chart(eth, title="ETH/BTC"))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_drawdown_from_the_running_peak() -> None:
    result = drawdown(np.array([100.0, 120.0, 90.0, 130.0, 65.0]))
    assert result.tolist() == [0.0, 0.0, -25.0, 0.0, -50.0]


def test_equity_chart_from_datetimes_or_epoch_ms() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    equity = 1000 * np.cumprod(1 + np.random.default_rng(7).normal(0, 0.01, 300))
    times = [start + timedelta(hours=k) for k in range(300)]
    by_datetime = equity_chart(times, list(equity), title="SMA cross")
    by_ms = equity_chart(
        np.array([int(t.timestamp() * 1000) for t in times], dtype=np.int64),
        equity,
        title="SMA cross",
    )
    width, height = png_size(by_datetime)
    assert 1200 <= width <= 1500 and 700 <= height <= 900
    assert by_ms == by_datetime
    assert count_color(by_datetime, render.EQUITY) > 500
    assert count_color(by_datetime, render.DOWN) > 500  # the drawdown panel


def test_equity_chart_refusals() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="at least 2 points"):
        equity_chart([start], [1.0], title="t")
    with pytest.raises(ValueError, match="timezone-aware"):
        equity_chart([datetime(2024, 1, 1), datetime(2024, 1, 2)], [1.0, 2.0], title="t")
    with pytest.raises(ValueError, match="3 times for 2 equity values"):
        equity_chart([start] * 3, [1.0, 2.0], title="t")
    with pytest.raises(ValueError, match="finite"):
        equity_chart([start, start + timedelta(1)], [1.0, float("nan")], title="t")
    with pytest.raises(ValueError, match="int64 epoch ms"):
        equity_chart(np.array([0.5, 1.5]), [1.0, 2.0], title="t")
