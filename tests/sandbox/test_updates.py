"""How user actions reach the bot: getUpdates long polling, or a webhook over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from fastapi import FastAPI, Request, Response

from tradedeck.sandbox import BotApiEmulator, SandboxUser

from .conftest import ALICE, SESSION_LOOP, TOKEN, serve_app

pytestmark = SESSION_LOOP


class Receiver:
    """A tiny webhook endpoint that records what Telegram posts, failing the first N times."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self.failures_left = 0
        self.reply: dict[str, Any] | None = None
        self.app = FastAPI()
        self.app.post("/hook")(self.hook)

    async def hook(self, request: Request) -> Response:
        if self.failures_left > 0:
            self.failures_left -= 1
            return Response(status_code=500)
        self.updates.append(await request.json())
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        if self.reply is not None:
            return Response(json.dumps(self.reply), media_type="application/json")
        return Response(status_code=200)


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    served = await serve_app(target.app)
    try:
        yield target, f"{served.url}/hook"
    finally:
        await served.stop()


async def test_long_poll_returns_when_a_user_writes(bot: Bot, emulator: BotApiEmulator) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()  # nothing yet: the call is waiting, not returning empty
    update_id = await emulator.user_sends(TOKEN, ALICE, "/balance@sandbox_123456789_bot BTC")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.text == "/balance@sandbox_123456789_bot BTC"
    assert message.from_user is not None and message.from_user.first_name == "Alice"
    assert message.chat.id == ALICE.id and message.chat.type == "private"
    assert message.entities is not None
    assert (message.entities[0].type, message.entities[0].length) == ("bot_command", 30)


async def test_offset_confirms_and_timeout_zero_returns_at_once(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    first = await emulator.user_sends(TOKEN, ALICE, "one")
    second = await emulator.user_sends(TOKEN, ALICE, "two")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert await bot.get_updates(offset=second + 1) == []


async def test_group_messages_and_callback_updates(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.open_group(-100, "Desk")
    await emulator.user_sends(TOKEN, ALICE, "/start", chat_id=-100)
    vote = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Y", callback_data="y")]]
    )
    sent = await bot.send_message(-100, "vote", reply_markup=vote)
    query_id = await emulator.user_presses(TOKEN, ALICE, -100, sent.message_id, "y")
    updates = await bot.get_updates()
    assert updates[0].message is not None and updates[0].message.chat.type == "group"
    callback = updates[1].callback_query
    assert callback is not None and callback.id == query_id and callback.data == "y"
    assert callback.message is not None and callback.message.message_id == sent.message_id


async def test_allowed_updates_filters_new_updates(bot: Bot, emulator: BotApiEmulator) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    await emulator.user_sends(TOKEN, ALICE, "ignored")
    assert await bot.get_updates() == []


async def test_webhook_delivers_with_secret_and_blocks_get_updates(
    bot: Bot, emulator: BotApiEmulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.set_webhook(url, secret_token="s3cret_token")
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
        await poll
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method"):
        await bot.get_updates()

    first = await emulator.user_sends(TOKEN, ALICE, "hello")
    second = await emulator.user_sends(TOKEN, ALICE, "again")
    await emulator.wait_idle()
    assert [u["update_id"] for u in target.updates] == [first, second]
    assert target.secrets == ["s3cret_token", "s3cret_token"]
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 0)


async def test_webhook_retries_and_reports_errors(
    bot: Bot, emulator: BotApiEmulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.failures_left = 2
    await bot.set_webhook(url)
    update_id = await emulator.user_sends(TOKEN, ALICE, "hello")
    await emulator.wait_idle()
    assert [u["update_id"] for u in target.updates] == [update_id]
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_webhook_reply_method_is_executed(
    bot: Bot, emulator: BotApiEmulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.reply = {"method": "sendMessage", "chat_id": ALICE.id, "text": "<b>pong</b>"}
    target.reply["parse_mode"] = "HTML"
    await bot.set_webhook(url)
    await emulator.user_sends(TOKEN, ALICE, "ping")
    reply = await emulator.wait_for_message(TOKEN, ALICE.id, lambda m: m.text == "pong")
    assert reply.html == "<b>pong</b>"


async def test_unreachable_webhook_keeps_updates_for_get_updates_after_delete(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    await bot.set_webhook("http://127.0.0.1:9/nothing-listens-here")
    update_id = await emulator.user_sends(TOKEN, ALICE, "hello")
    await asyncio.sleep(0.1)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Connection refused"
    assert info.pending_update_count == 1
    await bot.delete_webhook()
    await emulator.wait_idle()
    assert [u.update_id for u in await bot.get_updates()] == [update_id]


async def test_drop_pending_updates(bot: Bot, emulator: BotApiEmulator) -> None:
    await emulator.user_sends(TOKEN, ALICE, "old news")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


async def test_second_poller_ends_the_first_with_conflict(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    await emulator.user_sends(TOKEN, SandboxUser(7, "Eve"), "hi")
    assert len(await asyncio.wait_for(second, 2)) == 1
