"""TelegramUser driving a real aiogram Dispatcher that long-polls the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from tradedeck.sandbox import BotApiEmulator, TelegramUser, UserActionError

from .conftest import ALICE, BOB, SESSION_LOOP, TOKEN

pytestmark = SESSION_LOOP

MENU = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Buy BTC", callback_data="buy:BTC"),
            InlineKeyboardButton(text="Help", url="https://example.com/help"),
        ]
    ]
)


def trading_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("<b>Welcome</b>, pick one:", parse_mode="HTML", reply_markup=MENU)

    @router.callback_query(F.data == "buy:BTC")
    async def buy(query: CallbackQuery) -> None:
        await query.answer("Order placed")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Bought <code>0.1 BTC</code>", parse_mode="HTML")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"You said: {message.text}")

    return router


@pytest_asyncio.fixture(loop_scope="session")
async def polling_bot(bot: Bot) -> AsyncIterator[Bot]:
    dispatcher = Dispatcher()
    dispatcher.include_router(trading_router())
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    try:
        yield bot
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(task, 5)


async def test_conversation_with_buttons_and_edits(
    polling_bot: Bot, emulator: BotApiEmulator
) -> None:
    alice = TelegramUser(emulator, TOKEN, ALICE)
    await alice.send("/start")
    welcome = await alice.next_message()
    assert welcome.html == "<b>Welcome</b>, pick one:"
    assert [b.text for b in welcome.all_buttons()] == ["Buy BTC", "Help"]

    query_id = await alice.press("Buy BTC")
    edited = await alice.next_message(lambda m: m.edited)
    assert edited.message_id == welcome.message_id
    assert edited.html == "Bought <code>0.1 BTC</code>"
    assert edited.buttons == ()  # edit_text without a keyboard removes it
    assert emulator.callback_answers(TOKEN)[query_id]["text"] == "Order placed"

    await alice.send("hello")
    assert (await alice.next_message()).text == "You said: hello"


async def test_next_message_ignores_what_came_before_the_action(
    polling_bot: Bot, emulator: BotApiEmulator
) -> None:
    bob = TelegramUser(emulator, TOKEN, BOB)
    await bob.send("first")
    assert (await bob.next_message()).text == "You said: first"
    await bob.send("second")
    assert (await bob.next_message()).text == "You said: second"
    assert [m.text for m in bob.messages()] == ["You said: first", "You said: second"]
    assert bob.last_message() == bob.messages()[-1]


async def test_pressing_a_button_that_does_not_exist_fails(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    alice = TelegramUser(emulator, TOKEN, ALICE)
    with pytest.raises(UserActionError, match="has a button 'Sell'"):
        await alice.press("Sell")
    sent = await bot.send_message(alice_chat, "menu", reply_markup=MENU)
    with pytest.raises(UserActionError, match="has a button 'Sell'"):
        await alice.press("Sell")
    with pytest.raises(UserActionError, match="it sends no callback"):
        await alice.press("Help")
    with pytest.raises(UserActionError, match="no button with callback_data 'sell:BTC'"):
        await emulator.user_presses(TOKEN, ALICE, alice_chat, sent.message_id, "sell:BTC")
    with pytest.raises(UserActionError, match="is not in chat"):
        await emulator.user_presses(TOKEN, BOB, alice_chat, sent.message_id, "buy:BTC")
    assert await alice.press("buy:BTC", message=emulator.messages(TOKEN, alice_chat)[-1])


async def test_wait_for_message_times_out_with_a_useful_report(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    await bot.send_message(alice_chat, "something else")
    with pytest.raises(TimeoutError, match="'something else'"):
        await emulator.wait_for_message(TOKEN, alice_chat, lambda m: "Balance" in m.text, 0.05)


async def test_forged_press_lets_security_tests_send_what_no_button_carries(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    sent = await bot.send_message(alice_chat, "menu", reply_markup=MENU)
    query_id = await emulator.forged_press(TOKEN, BOB, alice_chat, sent.message_id, "buy:ALL")
    update = (await bot.get_updates())[-1]
    assert update.callback_query is not None
    assert (update.callback_query.data, update.callback_query.from_user.id) == ("buy:ALL", BOB.id)
    assert await bot.answer_callback_query(query_id, text="Not yours")
    assert emulator.callback_answers(TOKEN)[query_id]["text"] == "Not yours"
