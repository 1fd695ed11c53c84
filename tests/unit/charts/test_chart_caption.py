"""The /chart caption and buttons: valid Telegram HTML within limits, readable numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradedeck.bot.callbacks import ChartOpen
from tradedeck.bot.routers.chart import caption, timeframe_choices
from tradedeck.charts.frames import usable_timeframes
from tradedeck.charts.service import ChartSummary
from tradedeck.sandbox.content import CAPTION_LIMIT
from tradedeck.sandbox.html_rules import parse_html


def summary(**changes: object) -> ChartSummary:
    values: dict[str, object] = {
        "symbol": "ETH/BTC",
        "quote": "BTC",
        "timeframe": "1h",
        "candles": 120,
        "opened_at": datetime(2024, 3, 4, 13, 0, tzinfo=UTC),
        "last": Decimal("0.10412000"),
        "change_pct": Decimal("-1.25"),
        "sma": ((20, Decimal("0.10400000")), (50, Decimal("0.10432100"))),
        "rsi_period": 14,
        "rsi": Decimal("71.3"),
        **changes,
    }
    return ChartSummary(**values)  # type: ignore[arg-type]


def test_caption_reads_like_a_trader_expects() -> None:
    html = caption(summary())
    text = parse_html(html).text  # raises if Telegram would refuse the HTML
    assert len(text) <= CAPTION_LIMIT
    assert text.splitlines() == [
        "📈 ETH/BTC · 1h · 120 candles",
        "Last 0.10412 BTC · 🔴 -1.25 % over the chart",
        "SMA20 0.104 · SMA50 0.104321",
        "RSI14 71.3 (overbought)",
        "last candle 2024-03-04 13:00 UTC",
    ]
    assert "<b>ETH/BTC</b>" in html and "<b>0.10412</b>" in html


def test_caption_while_indicators_warm_up() -> None:
    text = parse_html(
        caption(summary(sma=((20, None),), rsi=None, change_pct=Decimal("2.00")))
    ).text
    assert "🟢 +2.00 %" in text and "SMA20 -" in text and "RSI14 -" in text
    assert "RSI14 25.0 (oversold)" in parse_html(caption(summary(rsi=Decimal("25.0")))).text
    plain = caption(summary(sma=(), rsi_period=None, rsi=None))
    assert "SMA" not in plain and "RSI" not in plain


def test_timeframe_buttons() -> None:
    assert timeframe_choices(usable_timeframes("5m"), "5m") == ["5m", "15m", "1h", "4h"]
    assert timeframe_choices(usable_timeframes("1m"), "1m") == ["1m", "5m", "15m", "1h"]
    assert timeframe_choices(usable_timeframes("1h"), "1h") == ["1h", "4h", "1d", "1w"]
    # A timeframe typed by hand stays visible, in order.
    assert timeframe_choices(usable_timeframes("5m"), "30m") == ["5m", "15m", "30m", "1h"]


def test_chart_button_data_fits_telegram() -> None:
    longest = ChartOpen(symbol="A" * 16 + "/" + "B" * 16, timeframe="12h").pack()
    assert len(longest.encode()) <= 64
    assert ChartOpen.unpack(longest) == ChartOpen(symbol="A" * 16 + "/" + "B" * 16, timeframe="12h")
