"""A real aiogram Bot against the emulator over HTTP: what Telegram accepts, and what it refuses."""

from __future__ import annotations

import httpx
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from tradedeck.sandbox import BotApiEmulator, TelegramUser

from .conftest import ALICE, BOB, SESSION_LOOP, TOKEN, make_bot, png

pytestmark = SESSION_LOOP

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Buy", callback_data="buy:BTC")],
        [InlineKeyboardButton(text="Docs", url="https://example.com/docs")],
    ]
)


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "sandbox_123456789_bot"


async def test_malformed_token_is_unauthorized(sandbox_url: str) -> None:
    bad = make_bot(sandbox_url, token="123:short")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await bad.get_me()
    finally:
        await bad.session.close()


async def test_unknown_method_is_not_found(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        response = await client.post(f"/bot{TOKEN}/sendTelepathy", json={"chat_id": 1})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_html_message_with_keyboard_reads_back_through_the_driver(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    sent = await bot.send_message(
        alice_chat,
        "<b>Balance</b>: 1 &lt; 2 <a href='https://example.com'>details</a>",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
        disable_notification=True,
    )
    assert sent.text == "Balance: 1 < 2 details"
    assert sent.entities is not None and sent.entities[0].type == "bold"

    message = TelegramUser(emulator, TOKEN, ALICE).last_message()
    assert message is not None and message.message_id == sent.message_id
    assert message.text == "Balance: 1 < 2 details"
    assert message.html == '<b>Balance</b>: 1 &lt; 2 <a href="https://example.com/">details</a>'
    assert message.disable_notification
    assert [[b.text for b in row] for row in message.buttons] == [["Buy"], ["Docs"]]
    buy = message.button("Buy")
    assert buy is not None and buy.callback_data == "buy:BTC"


async def test_json_bodies_are_accepted_too(
    sandbox_url: str, emulator: BotApiEmulator, alice_chat: int
) -> None:
    body = {"chat_id": alice_chat, "text": "hi", "reply_markup": KEYBOARD.model_dump()}
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        response = await client.post(f"/bot{TOKEN}/sendMessage", json=body)
    assert response.json()["ok"], response.text
    assert emulator.messages(TOKEN, alice_chat)[-1].button("Buy") is not None


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("", None, "Bad Request: message text is empty"),
        ("  \n ", None, "Bad Request: message text is empty"),
        ("<b></b>", "HTML", "Bad Request: message text is empty"),
        ("x" * 4097, None, "Bad Request: message is too long"),
        (
            "<blink>hi</blink>",
            "HTML",
            'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0',
        ),
        (
            "<b>open",
            "HTML",
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            "<b>x</i>",
            "HTML",
            "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, "
            'expected "</b>", found "</i>"',
        ),
        (
            "price < 5",
            "HTML",
            'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 6',
        ),
        (
            "P&L",
            "HTML",
            "Bad Request: can't parse entities: Character '&' at byte offset 1 "
            "must be escaped as &amp;",
        ),
    ],
)
async def test_text_rules(
    bot: Bot, alice_chat: int, text: str, parse_mode: str | None, description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(alice_chat, text, parse_mode=parse_mode)
    assert refused.value.message == description


async def test_length_counts_visible_text_after_entities(bot: Bot, alice_chat: int) -> None:
    text = "<b>" + "x" * 4096 + "</b>"  # 4103 characters of source, 4096 visible
    sent = await bot.send_message(alice_chat, text, parse_mode="HTML")
    assert sent.text is not None and len(sent.text) == 4096


@pytest.mark.parametrize("data", ["", "x" * 65, "é" * 33])
async def test_callback_data_must_be_1_to_64_bytes(bot: Bot, alice_chat: int, data: str) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data=data)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(alice_chat, "pick", reply_markup=markup)


async def test_unknown_chat_and_strangers_are_refused(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(424242, "hello")
    await emulator.user_sends("987654321:another-bot-token", BOB, "/start")  # Bob knows another bot
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(BOB.id, "hello")
    emulator.user_blocks_bot(TOKEN, ALICE)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(alice_chat, "hello")


async def test_a_user_who_opened_the_bot_can_be_written_to_first(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    with pytest.raises(TelegramForbiddenError):
        await emulator.user_sends("987654321:another-bot-token", BOB, "/start")
        await bot.send_message(BOB.id, "fill")
    emulator.user_opened(TOKEN, BOB)
    sent = await bot.send_message(BOB.id, "your order filled")
    assert [m.text for m in emulator.messages(TOKEN, BOB.id)] == ["your order filled"]
    assert sent.chat.id == BOB.id


async def test_edit_text_then_not_modified(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    sent = await bot.send_message(alice_chat, "Order <b>pending</b>", parse_mode="HTML")
    edited = await bot.edit_message_text(
        "Order <b>filled</b>",
        chat_id=alice_chat,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    current = emulator.messages(TOKEN, alice_chat)[-1]
    assert (current.html, current.edited) == ("Order <b>filled</b>", True)

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.edit_message_text(
            "Order <b>filled</b>",
            chat_id=alice_chat,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=KEYBOARD,
        )
    assert refused.value.message == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    # Same text without reply_markup is a change: it removes the keyboard, as on Telegram.
    await bot.edit_message_text(
        "Order <b>filled</b>", chat_id=alice_chat, message_id=sent.message_id, parse_mode="HTML"
    )
    assert emulator.messages(TOKEN, alice_chat)[-1].buttons == ()


async def test_markup_only_edits_and_missing_messages(bot: Bot, alice_chat: int) -> None:
    sent = await bot.send_message(alice_chat, "menu")
    await bot.edit_message_reply_markup(
        chat_id=alice_chat, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=alice_chat, message_id=sent.message_id, reply_markup=KEYBOARD
        )
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice_chat, message_id=999)
    assert await bot.delete_message(alice_chat, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to delete not found"):
        await bot.delete_message(alice_chat, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice_chat, message_id=sent.message_id)


async def test_reply_to_a_missing_message_is_refused(bot: Bot, alice_chat: int) -> None:
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(alice_chat, "re", reply_parameters=ReplyParameters(message_id=77))
    original = await bot.send_message(alice_chat, "original")
    reply = await bot.send_message(
        alice_chat, "re", reply_parameters=ReplyParameters(message_id=original.message_id)
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == original.message_id


async def test_photo_and_document_uploads(
    bot: Bot, emulator: BotApiEmulator, sandbox_url: str, alice_chat: int
) -> None:
    chart = png(40, 30)
    photo = await bot.send_photo(
        alice_chat,
        BufferedInputFile(chart, filename="chart.png"),
        caption="<i>BTC</i> 24h",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (40, 30)
    assert photo.caption == "BTC 24h"

    report = await bot.send_document(
        alice_chat, BufferedInputFile(b"date,pnl\n2024-01-01,5\n", filename="pnl.csv")
    )
    assert report.document is not None and report.document.file_name == "pnl.csv"

    photo_message, document_message = emulator.messages(TOKEN, alice_chat)[-2:]
    assert photo_message.photo is not None and photo_message.photo.data == chart
    assert photo_message.text == "BTC 24h" and photo_message.html == "<i>BTC</i> 24h"
    assert document_message.document is not None
    assert document_message.document.mime_type == "text/csv"

    again = await bot.send_photo(alice_chat, photo.photo[-1].file_id)  # by file_id, no upload
    assert again.photo is not None and again.photo[-1].file_id == photo.photo[-1].file_id

    file = await bot.get_file(report.document.file_id)
    assert file.file_path is not None
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        downloaded = await client.get(f"/file/bot{TOKEN}/{file.file_path}")
    assert downloaded.content == b"date,pnl\n2024-01-01,5\n"


async def test_media_rules(bot: Bot, alice_chat: int) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: message caption is too long"):
        await bot.send_photo(alice_chat, BufferedInputFile(png(), "a.png"), caption="c" * 1025)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(alice_chat, BufferedInputFile(b"not an image", "a.png"))
    with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
        await bot.send_photo(alice_chat, BufferedInputFile(png(2000, 20), "wide.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(alice_chat, "AgACnot-a-real-file-id")


async def test_callback_answers_once(bot: Bot, emulator: BotApiEmulator, alice_chat: int) -> None:
    sent = await bot.send_message(alice_chat, "Confirm?", reply_markup=KEYBOARD)
    query_id = await emulator.user_presses(TOKEN, ALICE, alice_chat, sent.message_id, "buy:BTC")
    assert await bot.answer_callback_query(query_id, text="Bought", show_alert=True)
    assert emulator.callback_answers(TOKEN)[query_id]["text"] == "Bought"
    expected = "query is too old and response timeout expired or query ID is invalid"
    with pytest.raises(TelegramBadRequest, match=expected):
        await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest, match=expected):
        await bot.answer_callback_query("123")


async def test_commands_are_stored_per_scope(bot: Bot, alice_chat: int) -> None:
    everyone = [BotCommand(command="start", description="Start")]
    admins = [*everyone, BotCommand(command="kill", description="Stop all trading")]
    await bot.set_my_commands(everyone)
    await bot.set_my_commands(admins, scope=BotCommandScopeChat(chat_id=alice_chat))
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=alice_chat))
    assert [c.command for c in scoped] == ["start", "kill"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    # A per-user menu needs the user to have written to the bot first, as on Telegram.
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.set_my_commands(admins, scope=BotCommandScopeChat(chat_id=BOB.id))
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_chat_action_and_calls_log(
    bot: Bot, emulator: BotApiEmulator, alice_chat: int
) -> None:
    assert await bot.send_chat_action(alice_chat, "typing")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(alice_chat, "")
    calls = emulator.calls(TOKEN)
    assert [(c.method, c.status) for c in calls] == [
        ("sendChatAction", 200),
        ("sendMessage", 400),
    ]
    assert calls[0].params["action"] == "typing"
    assert not [c for c in calls if c.method == "sendMessage" and c.ok]  # nothing was sent
    assert emulator.messages(TOKEN, alice_chat) == []


async def test_markdown_is_refused_rather_than_left_unchecked(bot: Bot, alice_chat: int) -> None:
    with pytest.raises(TelegramBadRequest, match="only emulates parse_mode HTML"):
        await bot.send_message(alice_chat, "*bold*", parse_mode="MarkdownV2")


async def test_get_with_query_string_works(sandbox_url: str, alice_chat: int) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        me = await client.get(f"/bot{TOKEN}/getMe")
        sent = await client.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": 1001, "text": "q"})
    assert me.json()["result"]["id"] == 123456789
    assert sent.json()["result"]["text"] == "q"
