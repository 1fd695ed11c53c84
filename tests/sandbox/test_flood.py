"""Flood control: 429 with retry_after when a bot sends too fast, and success once it waits."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from tradedeck.sandbox import BotApiEmulator, FloodLimits

from .conftest import SESSION_LOOP, TOKEN, FakeClock

pytestmark = SESSION_LOOP


@pytest.fixture
def emulator(clock: FakeClock) -> BotApiEmulator:
    return BotApiEmulator(limits=FloodLimits(), clock=clock)


async def test_per_chat_burst_then_retry_after_is_honoured(
    bot: Bot, emulator: BotApiEmulator, clock: FakeClock, alice_chat: int
) -> None:
    for n in range(3):  # the burst Telegram tolerates
        await bot.send_message(alice_chat, f"update {n}")
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(alice_chat, "one too many")
    assert flood.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in flood.value.message

    clock.advance(flood.value.retry_after)
    await bot.send_message(alice_chat, "after waiting")
    texts = [m.text for m in emulator.messages(TOKEN, alice_chat)]
    assert texts == ["update 0", "update 1", "update 2", "after waiting"]
    refused = [c for c in emulator.calls(TOKEN) if c.status == 429]
    assert len(refused) == 1 and refused[0].params["text"] == "one too many"


async def test_edits_count_against_the_chat(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    sent = await bot.send_message(alice_chat, "price 1")
    await bot.edit_message_text("price 2", chat_id=alice_chat, message_id=sent.message_id)
    await bot.edit_message_text("price 3", chat_id=alice_chat, message_id=sent.message_id)
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("price 4", chat_id=alice_chat, message_id=sent.message_id)
    assert emulator.messages(TOKEN, alice_chat)[-1].text == "price 3"


async def test_group_limit_is_per_minute(
    bot: Bot, emulator: BotApiEmulator, clock: FakeClock
) -> None:
    emulator.open_group(-200, "Desk")
    for _ in range(20):
        await bot.send_message(-200, "signal")
        clock.advance(1.0)  # slow enough for the per-chat bucket, not for the group
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(-200, "signal")
    assert flood.value.retry_after == 40  # the first of the twenty leaves the window at t+60
