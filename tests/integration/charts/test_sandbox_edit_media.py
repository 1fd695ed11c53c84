"""The sandbox's editMessageMedia, which chart buttons use to swap a photo in place,
driven by a real aiogram Bot over HTTP as the live Bot API would be."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
)

from tests.conftest import Served, bound_socket
from tradedeck.sandbox import BotApiEmulator, FloodLimits, SandboxUser, create_sandbox_app

TOKEN = "123456789:chart-sandbox-token"
ALICE = SandboxUser(2001, "Alice")


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def keyboard(label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=label)]]
    )


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[BotApiEmulator, Bot]]:
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    served = Served(create_sandbox_app(emulator), bound_socket())
    await served.start()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(served.url)))
    await emulator.user_sends(TOKEN, ALICE, "/start")
    try:
        yield emulator, bot
    finally:
        await bot.session.close()
        await served.stop()
        await emulator.close()


async def test_photo_is_replaced_with_caption_and_keyboard(
    sandbox: tuple[BotApiEmulator, Bot],
) -> None:
    emulator, bot = sandbox
    first, second = png(40, 30), png(60, 36)
    sent = await bot.send_photo(
        ALICE.id,
        BufferedInputFile(first, filename="a.png"),
        caption="<b>5m</b>",
        parse_mode="HTML",
        reply_markup=keyboard("1h"),
    )
    edited = await bot.edit_message_media(
        InputMediaPhoto(
            media=BufferedInputFile(second, filename="b.png"),
            caption="<b>1h</b> chart",
            parse_mode="HTML",
        ),
        chat_id=ALICE.id,
        message_id=sent.message_id,
        reply_markup=keyboard("5m"),
    )
    assert not isinstance(edited, bool) and edited.photo is not None
    assert (edited.photo[-1].width, edited.photo[-1].height) == (60, 36)
    assert edited.caption == "1h chart" and edited.edit_date is not None

    messages = emulator.messages(TOKEN, ALICE.id)
    shown = next(m for m in messages if m.message_id == sent.message_id)
    assert shown.photo is not None and shown.photo.data == second
    assert shown.html == "<b>1h</b> chart" and shown.edited
    assert [b.text for b in shown.all_buttons()] == ["5m"]
    assert sum(1 for m in messages if m.photo is not None) == 1

    # The same file, caption and keyboard again: Telegram says nothing changed.
    assert edited.photo is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_media(
            InputMediaPhoto(
                media=edited.photo[-1].file_id, caption="<b>1h</b> chart", parse_mode="HTML"
            ),
            chat_id=ALICE.id,
            message_id=sent.message_id,
            reply_markup=keyboard("5m"),
        )


async def test_refusals_leave_the_message_as_it_was(sandbox: tuple[BotApiEmulator, Bot]) -> None:
    emulator, bot = sandbox
    original = png(40, 30)
    photo = await bot.send_photo(ALICE.id, BufferedInputFile(original, filename="a.png"))
    text = await bot.send_message(ALICE.id, "just text")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.edit_message_media(
            InputMediaPhoto(media=BufferedInputFile(b"not an image", filename="x.png")),
            chat_id=ALICE.id,
            message_id=photo.message_id,
        )
    with pytest.raises(TelegramBadRequest, match="no media in the message"):
        await bot.edit_message_media(
            InputMediaPhoto(media=BufferedInputFile(png(4, 3), filename="y.png")),
            chat_id=ALICE.id,
            message_id=text.message_id,
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_media(
            InputMediaPhoto(media=BufferedInputFile(png(4, 3), filename="y.png")),
            chat_id=ALICE.id,
            message_id=9999,
        )
    shown = next(m for m in emulator.messages(TOKEN, ALICE.id) if m.message_id == photo.message_id)
    assert shown.photo is not None and shown.photo.data == original and not shown.edited

    # A photo may become a document, as live.
    report = await bot.edit_message_media(
        InputMediaDocument(media=BufferedInputFile(b"a,b\n1,2\n", filename="r.csv")),
        chat_id=ALICE.id,
        message_id=photo.message_id,
    )
    assert not isinstance(report, bool) and report.document is not None
    assert report.document.file_name == "r.csv" and report.photo is None
