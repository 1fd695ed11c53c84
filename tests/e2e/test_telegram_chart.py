"""/chart on Telegram, end to end: the photo arrives with its caption, the timeframe and
Refresh buttons replace it in place, and the market picker and bad input behave."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from tests.e2e.conftest import ALICE, VIC, BotWorld, labels
from tests.integration.charts.history import seed_history
from tradedeck.bot.callbacks import ChartOpen
from tradedeck.sandbox.models import SentMessage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
async def history(world: BotWorld) -> None:
    await seed_history(world.services, ["ETH/BTC", "LTC/BTC", "BTC/USDT"])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_chart_photo(message: SentMessage) -> None:
    assert message.photo is not None, message.text
    width, height = png_size(message.photo.data)
    assert (message.photo.width, message.photo.height) == (width, height)
    assert 1200 <= width <= 1500 and 700 <= height <= 900


async def test_chart_photo_with_caption_and_timeframe_buttons(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/chart ETH/BTC")
    chart = await alice.next_message(lambda m: m.photo is not None)
    assert_chart_photo(chart)
    assert chart.text.startswith("📈 ETH/BTC · 5m · 120 candles")
    last = world.services.orders.exchange.last_candle("ETH/BTC")
    assert last is not None
    price_line = chart.text.splitlines()[1]
    assert price_line.startswith("Last ") and " BTC · " in price_line
    assert Decimal(price_line.split()[1]) == last.close
    assert "SMA20 " in chart.text and "SMA50 " in chart.text and "RSI14 " in chart.text
    assert "<b>ETH/BTC</b>" in chart.html
    assert labels(chart) == ["• 5m •", "15m", "1h", "4h", "🔄 Refresh"]
    first_photo = chart.photo
    assert first_photo is not None

    await alice.press("1h", message=chart)
    hourly = await alice.next_message(lambda m: m.message_id == chart.message_id)
    assert hourly.edited
    assert_chart_photo(hourly)
    assert hourly.photo is not None and hourly.photo.data != first_photo.data
    assert hourly.text.startswith("📈 ETH/BTC · 1h · ")
    assert "• 1h •" in labels(hourly) and "5m" in labels(hourly)

    await alice.press("🔄 Refresh", message=hourly)
    await world.settle()
    refreshed = next(m for m in alice.messages() if m.message_id == chart.message_id)
    assert refreshed.text.startswith("📈 ETH/BTC · 1h · ")
    photos = [m for m in alice.messages() if m.photo is not None]
    assert len(photos) == 1  # switching and refreshing replaced the photo, never added one


async def test_chart_without_arguments_offers_the_markets(world: BotWorld) -> None:
    vic = world.user(VIC)  # a viewer may look at charts
    await vic.send("/chart")
    picker = await vic.next_message()
    assert "Which chart?" in picker.text
    assert {"ETH/BTC", "LTC/BTC", "ADA/BTC", "BTC/USDT"} <= set(labels(picker))
    await vic.press("BTC/USDT", message=picker)
    chart = await vic.next_message(lambda m: m.photo is not None)
    assert_chart_photo(chart)
    assert chart.text.startswith("📈 BTC/USDT · 1m · ")
    assert labels(chart)[0] == "• 1m •"


async def test_a_chart_button_from_elsewhere_opens_the_chart(world: BotWorld) -> None:
    """What a /scan result's button does: a ChartOpen on a text message of the bot's."""
    alice = world.user(ALICE)
    await alice.send("/start")  # alice has started the bot, so it may write to her
    await alice.next_message()
    data = ChartOpen(symbol="LTC/BTC", timeframe="15m").pack()
    assert len(data.encode()) <= 64
    button = InlineKeyboardButton(text="📈 LTC/BTC 15m", callback_data=data)
    await world.runtime.bot.send_message(
        ALICE.id,
        "Strong signal on LTC/BTC",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )
    await alice.press("📈 LTC/BTC 15m")
    chart = await alice.next_message(lambda m: m.photo is not None)
    assert_chart_photo(chart)
    assert chart.text.startswith("📈 LTC/BTC · 15m · ")
    assert "• 15m •" in labels(chart)


async def test_bad_chart_requests_get_a_clear_answer_and_no_photo(world: BotWorld) -> None:
    alice = world.user(ALICE)
    await alice.send("/chart NOPE/BTC")
    reply = await alice.next_message()
    assert reply.text.startswith("❌") and "NOPE/BTC" in reply.text
    await alice.send("/chart ETH/BTC 1m")
    reply = await alice.next_message()
    assert "recorded in 5m candles" in reply.text and "not 1m" in reply.text
    await alice.send("/chart ETH/BTC 7m")
    reply = await alice.next_message()
    assert "unknown timeframe '7m'" in reply.text
    await alice.send("/chart ETH/BTC 1h extra")
    reply = await alice.next_message()
    assert reply.text.startswith("Usage: /chart SYMBOL [TIMEFRAME]")
    await world.settle()
    assert not any(m.photo is not None for m in alice.messages())
